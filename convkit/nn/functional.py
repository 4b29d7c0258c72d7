"""``convkit.nn.functional``: PyTorch's functional API (convolution, so far).

``conv1d``/``conv2d``/``conv3d`` are thin wrappers that check the rank and call the one
N-d :func:`conv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.ops.conv import convolution

__all__ = ["conv", "conv1d", "conv2d", "conv3d"]


def _ntuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, Sequence) and len(value) == n and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    if isinstance(value, Sequence) and len(value) == 1 and isinstance(value[0], int):
        return (value[0],) * n
    raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def _resolve_padding(padding: Any, n: int, kernel: tuple[int, ...], dilation: tuple[int, ...],
                     stride: tuple[int, ...], op: str) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride})")
            pairs = []
            for k, d in zip(kernel, dilation, strict=True):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{op}: Invalid padding string {padding!r}, should be one of "
                         "{'valid', 'same'}")
    pads = _ntuple(padding, n, "padding", op)
    if any(p < 0 for p in pads):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={pads}")
    return tuple((p, p) for p in pads)


def conv(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
         padding: Any = 0, dilation: Any = 1, groups: int = 1, *, op: str = "conv") -> Tensor:
    """N-d cross-correlation (PyTorch's convolution; the kernel is not flipped).

    Shape:
        input ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``; weight
        ``(C_out, C_in/groups, *kernel)``; output ``(N, C_out, *out)`` with
        ``out = floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``.
    """
    n = weight.ndim - 2
    if n < 1:
        raise RuntimeError(f"{op}: weight must have at least 3 dims (out_channels, "
                           f"in_channels/groups, *kernel), got shape {list(weight.shape)}")
    unbatched = input.ndim == n + 1
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}: Expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
                           f"but got input of size: {list(input.shape)}")
    x = input.unsqueeze(0) if unbatched else input
    stride_t = _ntuple(stride, n, "stride", op)
    dilation_t = _ntuple(dilation, n, "dilation", op)
    if any(s <= 0 for s in stride_t):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride_t}")
    if any(d <= 0 for d in dilation_t):
        raise RuntimeError(f"{op}: dilation should be greater than zero, got {dilation_t}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    if weight.shape[0] % groups:
        raise RuntimeError(f"{op}: groups ({groups}) must divide out_channels "
                           f"(weight.shape[0] = {weight.shape[0]})")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"{op}: expected input with {weight.shape[1] * groups} channels "
                           f"(weight.shape[1] = {weight.shape[1]} x groups = {groups}), but got "
                           f"input of size {list(input.shape)}")
    kernel = tuple(weight.shape[2:])
    pairs = _resolve_padding(padding, n, kernel, dilation_t, stride_t, op)
    for axis, (size, k, d, (lo, hi)) in enumerate(zip(x.shape[2:], kernel, dilation_t, pairs,
                                                       strict=True)):
        if size + lo + hi < d * (k - 1) + 1:
            raise RuntimeError(f"{op}: Kernel size can't be greater than actual input size: "
                               f"spatial dim {axis} has padded size {size + lo + hi} but the "
                               f"dilated kernel spans {d * (k - 1) + 1}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"{op}: expected bias of shape [{weight.shape[0]}], got "
                           f"{list(bias.shape)}")
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not weight.dtype):
        raise RuntimeError(f"{op}: Input type ({x.type()}) and weight type ({weight.type()}) "
                           "should be the same")
    out = convolution(x, weight, bias, stride_t, pairs, dilation_t, groups)
    return out.squeeze(0) if unbatched else out


def _fixed_rank(n: int) -> Any:
    def conv_nd(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
        if weight.ndim != n + 2:
            raise RuntimeError(f"conv{n}d: weight must be {n + 2}-dimensional (out_channels, "
                               f"in_channels/groups, {n} kernel dims), got shape "
                               f"{list(weight.shape)}")
        return conv(input, weight, bias, stride, padding, dilation, groups, op=f"conv{n}d")

    conv_nd.__name__ = conv_nd.__qualname__ = f"conv{n}d"
    conv_nd.__doc__ = (f"{n}-d cross-correlation; see :func:`conv` for shapes and the "
                       "output-size formula.")
    return conv_nd


conv1d = _fixed_rank(1)
conv2d = _fixed_rank(2)
conv3d = _fixed_rank(3)
