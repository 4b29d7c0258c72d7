"""Resampling and channel rearrangement: ``interpolate`` (nearest, nearest-exact, linear
over any number of spatial dims), ``pixel_shuffle``, ``pixel_unshuffle``,
``channel_shuffle``.

Interpolation is separable: each spatial axis is resampled in turn by gathering rows
(an indexing op, whose backward scatters-adds) and, for the linear modes, blending the two
neighbours. Bilinear and trilinear are linear along each axis, so the axis-by-axis result
equals PyTorch's bilinear/trilinear kernels. Source coordinates follow PyTorch's
``area_pixel_compute_source_index`` and ``nearest_idx``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor
from convkit.ops import creation
from convkit.ops import shape as S

__all__ = ["interpolate_nd", "output_size_and_scales", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def output_size_and_scales(input: Tensor, size: Any, scale_factor: Any,
                           recompute_scale_factor: bool | None
                           ) -> tuple[list[int], list[float | None]]:
    """Output spatial size and the scale each axis's source coordinate uses (None: in/out)."""
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, Sequence):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and output "
                    f"size of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and output size in (o1, o2, ...,oK) format.")
            out = [int(s) for s in size]
        else:
            out = [int(size)] * dim
        return out, [None] * dim
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, Sequence):
        if len(scale_factor) != dim:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial dimensions, but "
                f"got input with spatial dimensions of {list(input.shape[2:])} and "
                f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, C, "
                "d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * dim
    out = [math.floor(n * s) for n, s in zip(input.shape[2:], scales, strict=True)]
    return out, ([None] * dim if recompute_scale_factor else list(scales))


def _scale(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> float:
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _take(x: Tensor, axis: int, index: np.ndarray) -> Tensor:
    """``x`` gathered along ``axis`` at ``index`` (1-d); backward scatter-adds."""
    idx = creation.from_numpy(np.ascontiguousarray(index, dtype=np.int64))
    return x[(slice(None),) * axis + (idx,)]


def _nearest_axis(x: Tensor, axis: int, n_out: int, scale: float | None, exact: bool) -> Tensor:
    n_in = x.shape[axis]
    if n_in == n_out:
        return x
    s = np.float32(_scale(n_in, n_out, scale, False))
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor(((dst + np.float32(0.5)) if exact else dst) * s).astype(np.int64)
    return _take(x, axis, np.minimum(src, n_in - 1))


def _linear_axis(x: Tensor, axis: int, n_out: int, scale: float | None,
                 align_corners: bool) -> Tensor:
    n_in = x.shape[axis]
    s = _scale(n_in, n_out, scale, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = dst * s if align_corners else np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    lam = np.minimum(src - i0, 1.0)
    i1 = i0 + (i0 < n_in - 1)
    shape = [1] * x.ndim
    shape[axis] = n_out
    w1 = creation.from_numpy(lam.astype(x.dtype.np).reshape(shape))
    w0 = creation.from_numpy((1.0 - lam).astype(x.dtype.np).reshape(shape))
    return _take(x, axis, i0) * w0 + _take(x, axis, i1) * w1


def interpolate_nd(input: Tensor, size: Any = None, scale_factor: Any = None,
                   mode: str = "nearest", align_corners: bool | None = None,
                   recompute_scale_factor: bool | None = None) -> Tensor:
    """Resample the spatial dims of ``input`` (N, C, *spatial); see the module docstring."""
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode]}D input")
    if mode not in ("nearest", "nearest-exact", *_LINEAR) or input.ndim < 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: {_MODES} (got {mode})")
    out_size, scales = output_size_and_scales(input, size, scale_factor,
                                              recompute_scale_factor)
    if any(n <= 0 for n in out_size):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, out_size))})")
    x = input
    for i, (n_out, scale) in enumerate(zip(out_size, scales, strict=True)):
        if mode in _LINEAR:
            x = _linear_axis(x, 2 + i, n_out, scale, bool(align_corners))
        else:
            x = _nearest_axis(x, 2 + i, n_out, scale, mode == "nearest-exact")
    return x if x is not input else S.clone(input)


def _check_factor(name: str, what: str, factor: int) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"{name}(): argument '{what}' must be int, not {type(factor).__name__}")
    if factor <= 0:
        raise RuntimeError(f"{name} expects a positive {what}, but got {factor}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``."""
    _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    r = upscale_factor
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    b = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)  # (*, C, r, r, H, W)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)  # (*, C, H, r, W, r)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``: the inverse of :func:`pixel_shuffle`."""
    _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    r = downscale_factor
    *batch, c, h, w = input.shape
    for name, n, k in (("height", h, -2), ("width", w, -1)):
        if n % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({k})={n} is not divisible "
                               f"by {r}")
    b = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)  # (*, C, H, r, W, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)  # (*, C, r, r, H, W)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, C, *) -> (N, C, *)`` with channel ``g * (C/g) + k`` moved to ``k * g + g``."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape((n, groups, c // groups) + rest)  # (N, g, C/g, *)
    return S.transpose(x, 1, 2).reshape((n, c) + rest)
