"""``convkit.nn.functional`` convolutions over dask arrays chunked along batch and space.

Every argument is validated once by the in-memory function itself, called on an empty
batch ``(0, C, *spatial)`` of the real spatial size: the errors (classes and messages) are
PyTorch's, and the output shape and dtype come for free. The work is then done blockwise by
the same in-memory functions (numpy in, numpy out, under ``no_grad``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

import convkit.nn.functional as F
from convkit import Tensor, from_numpy, no_grad
from convkit.dask._chunks import plan_transposed_axis
from convkit.dask._core import NUMPY_PAD_MODES, as_dask, da, halo_map, shared, windowed

__all__ = ["conv", "conv1d", "conv2d", "conv3d", "conv_transpose", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tensor(value: Any) -> Any:
    if value is None or isinstance(value, Tensor):
        return value
    return from_numpy(np.ascontiguousarray(value))


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    """An int or a sequence of 1 or n ints (already validated by the in-memory call) as n."""
    values = (value,) if isinstance(value, int | np.integer) else tuple(value)
    return tuple(int(v) for v in (values * n if len(values) == 1 else values))


def _numpy(value: Any) -> np.ndarray | None:
    return None if value is None else value.detach().numpy()


def _probe(x: da.Array, n: int) -> Any:
    """An empty batch with the input's channels and spatial size (and dtype)."""
    return from_numpy(np.empty((0, *x.shape[-(n + 1):]), dtype=x.dtype))


@contextlib.contextmanager
def _naming_the_input(probe: Any, x: da.Array) -> Iterator[None]:
    """Errors raised on the empty-batch probe name the user's input shape, not the probe's
    (same exception class, same message otherwise)."""
    try:
        yield
    except (RuntimeError, ValueError) as error:
        shown, real = str(list(probe.shape)), str(list(x.shape))
        if shown not in str(error):
            raise
        raise type(error)(str(error).replace(shown, real)).with_traceback(
            error.__traceback__) from None


def _batched(x: da.Array, n: int, op: str) -> tuple[da.Array, bool]:
    """``x`` as ``(N, C, *spatial)``; whether it came unbatched ``(C, *spatial)``."""
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise RuntimeError(f"{op}: Expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
                           f"but got input of size: {list(x.shape)}")
    return x, False


# ----------------------------------------------------------------------------- blocks
def _conv_block(block: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                stride: tuple[int, ...], dilation: tuple[int, ...], groups: int
                ) -> np.ndarray:
    """In-memory, unpadded convolution of one block (halo included)."""
    with no_grad():
        out = F.conv(_tensor(block), _tensor(weight), _tensor(bias), stride, 0, dilation,
                     groups)
    return out.numpy()


def _conv_transpose_block(block: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                          stride: tuple[int, ...], dilation: tuple[int, ...], groups: int,
                          windows: tuple[tuple[tuple[int, int], ...], ...],
                          block_info: Any = None) -> np.ndarray:
    """Uncropped transposed convolution of one block, cut to the block's output window.

    ``windows[axis][j] = (offset, length)`` of block ``j``'s outputs inside this block's
    uncropped result; outputs past the result's end (``output_padding``) receive no input.
    """
    location = block_info[None]["chunk-location"][2:]
    with no_grad():
        full = F.conv_transpose(_tensor(block), _tensor(weight), None, stride, 0, 0, groups,
                                dilation).numpy()  # (nb, C_out, *uncropped)
    lengths = tuple(windows[a][j][1] for a, j in enumerate(location))
    out = np.zeros(full.shape[:2] + lengths, dtype=full.dtype)
    source, target = [slice(None)] * 2, [slice(None)] * 2
    for axis, j in enumerate(location):
        offset, length = windows[axis][j]
        stop = min(offset + length, full.shape[2 + axis])
        source.append(slice(offset, stop))
        target.append(slice(0, max(stop - offset, 0)))
    out[tuple(target)] = full[tuple(source)]
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * len(lengths))
    return out


def _transpose_whole_block(block: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           stride: tuple[int, ...], padding: tuple[int, ...],
                           output_padding: tuple[int, ...], groups: int,
                           dilation: tuple[int, ...], padding_mode: str) -> np.ndarray:
    """In-memory transposed convolution of a batch block with whole spatial axes."""
    with no_grad():
        return F.conv_transpose(_tensor(block), _tensor(weight), _tensor(bias), stride,
                                padding, output_padding, groups, dilation,
                                padding_mode=padding_mode).numpy()


# ----------------------------------------------------------------------------- conv
def _conv(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
          groups: int, padding_mode: str, allow_rechunk: bool, n: int | None, op: str
          ) -> da.Array:
    x = as_dask(input, op)
    weight, bias = _tensor(weight), _tensor(bias)
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {list(_PADDING_MODES)}, but got "
                         f"padding_mode='{padding_mode}'")
    rank = weight.ndim - 2 if n is None else n
    if n is not None and weight.ndim != n + 2:
        raise RuntimeError(f"{op}: weight must be {n + 2}-dimensional (out_channels, "
                           f"in_channels/groups, {n} kernel dims), got shape "
                           f"{list(weight.shape)}")
    x, unbatched = _batched(x, rank, op)
    probe = _probe(x, rank)
    # the in-memory function on an empty batch: PyTorch's checks, output shape and dtype
    with _naming_the_input(probe, x), no_grad():
        pairs = F.resolve_padding(padding, probe, weight, stride, dilation, op)
        if padding_mode == "zeros":
            strict_call = F.conv if n is None else getattr(F, f"conv{n}d")
            expected = strict_call(probe, weight, bias, stride, padding, dilation, groups)
        else:
            padded = F.pad_pairs(probe, pairs, padding_mode)
            expected = F.conv(padded, weight, bias, stride, 0, dilation, groups)
    stride_t, dilation_t = _ntuple(stride, rank), _ntuple(dilation, rank)
    kernel = tuple(weight.shape[2:])
    windows = {2 + a: (pairs[a], dilation_t[a] * (kernel[a] - 1) + 1, stride_t[a])
               for a in range(rank)}
    # every block needs all input channels of its groups: keep the channel axis whole
    x = x.rechunk({1: -1})
    block_fn = functools.partial(_conv_block, stride=stride_t, dilation=dilation_t,
                                 groups=groups)
    out = windowed(x, windows, NUMPY_PAD_MODES[padding_mode], 0, block_fn,
                   {1: (expected.shape[1],)}, expected.numpy().dtype, allow_rechunk, op,
                   block_args=(shared(_numpy(weight)), shared(_numpy(bias))))
    return out[0] if unbatched else out


def conv(input: da.Array, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
         dilation: Any = 1, groups: int = 1, *, padding_mode: str = "zeros",
         allow_rechunk: bool = False) -> da.Array:
    """N-d cross-correlation of a dask array, as :func:`convkit.nn.functional.conv`.

    Shape:
        input ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``, chunked anyhow along batch and
        space (the channel axis is made whole); weight ``(C_out, C_in/groups, *kernel)``
        (ndarray or Tensor); output ``(N, C_out, *out)`` with, per axis,
        ``out = floor((in + lo + hi - dilation*(kernel-1) - 1) / stride) + 1``; the output
        keeps the batch chunks, and each output spatial chunk holds the outputs whose window
        starts in the corresponding input chunk.

    ``padding_mode`` ('zeros', 'reflect', 'replicate', 'circular') pads the true edges of the
    whole array, as the ``ConvNd`` modules do. Each block reads a halo of
    ``dilation*(kernel-1) + 1 - stride`` samples from its right neighbour; a halo larger than
    every chunk of the axis is a ValueError unless ``allow_rechunk=True`` (chunks smaller than
    the halo, such as a ragged last chunk, are merged into a neighbour automatically).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, padding_mode,
                 allow_rechunk, None, "conv")


def _fixed_rank(n: int) -> Any:
    def conv_nd(input: da.Array, weight: Any, bias: Any = None, stride: Any = 1,
                padding: Any = 0, dilation: Any = 1, groups: int = 1, *,
                padding_mode: str = "zeros", allow_rechunk: bool = False) -> da.Array:
        return _conv(input, weight, bias, stride, padding, dilation, groups, padding_mode,
                     allow_rechunk, n, f"conv{n}d")

    conv_nd.__name__ = conv_nd.__qualname__ = f"conv{n}d"
    conv_nd.__doc__ = (f"{n}-d cross-correlation of a dask array with PyTorch's signature and "
                       f"checks (plus ``padding_mode``, as in ``Conv{n}d``); see :func:`conv`.")
    return conv_nd


conv1d = _fixed_rank(1)
conv2d = _fixed_rank(2)
conv3d = _fixed_rank(3)


# ----------------------------------------------------------------------------- transposed
def _conv_transpose(input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                    output_padding: Any, groups: int, dilation: Any, padding_mode: str,
                    allow_rechunk: bool, n: int | None, op: str) -> da.Array:
    x = as_dask(input, op)
    weight, bias = _tensor(weight), _tensor(bias)
    rank = weight.ndim - 2 if n is None else n
    if n is not None and weight.ndim != n + 2:
        raise RuntimeError(f"{op}: weight must be {n + 2}-dimensional (in_channels, "
                           f"out_channels/groups, {n} kernel dims), got shape "
                           f"{list(weight.shape)}")
    x, unbatched = _batched(x, rank, op)
    probe = _probe(x, rank)
    with _naming_the_input(probe, x), no_grad():
        if n is None:
            expected = F.conv_transpose(probe, weight, bias, stride, padding, output_padding,
                                        groups, dilation, padding_mode=padding_mode)
        else:
            expected = getattr(F, f"conv_transpose{n}d")(probe, weight, bias, stride,
                                                         padding, output_padding, groups,
                                                         dilation)
    dtype = expected.numpy().dtype
    stride_t = _ntuple(stride, rank)
    dilation_t = _ntuple(dilation, rank)
    padding_t = _ntuple(padding, rank)
    out_pad = _ntuple(output_padding, rank)
    x = x.rechunk({1: -1})
    weight_key, bias_key = shared(_numpy(weight)), shared(_numpy(bias))
    out_spatial = tuple(expected.shape[2:])
    if padding_mode != "zeros":
        # the mode pads the zero-spread input of the whole array (its far edge included):
        # chunk over the batch only
        x = x.rechunk({2 + a: -1 for a in range(rank)})
        block_fn = functools.partial(_transpose_whole_block, stride=stride_t,
                                     padding=padding_t, output_padding=out_pad, groups=groups,
                                     dilation=dilation_t, padding_mode=padding_mode)
        chunks = (x.chunks[0], (expected.shape[1],)) + tuple((s,) for s in out_spatial)
        out = da.map_blocks(block_fn, x, weight_key, bias_key, chunks=chunks, dtype=dtype,
                            meta=np.empty((0,) * x.ndim, dtype=dtype))
        return out[0] if unbatched else out
    kernel = tuple(weight.shape[2:])
    plans, windows = [], []
    for a in range(rank):
        plan, axis_windows = plan_transposed_axis(
            x.chunks[2 + a], padding_t[a], dilation_t[a] * (kernel[a] - 1) + 1, stride_t[a],
            out_spatial[a], allow_rechunk, op, 2 + a)
        plans.append(plan)
        windows.append(axis_windows)
    # blocks cut on the input side, a left halo each, no padding at the edges
    axes = {2 + a: (np.arange(x.shape[2 + a]), 0, p.in_chunks, p.depth)
            for a, p in enumerate(plans)}
    block_fn = functools.partial(_conv_transpose_block, stride=stride_t, dilation=dilation_t,
                                 groups=groups, windows=tuple(windows))
    chunks = (x.chunks[0], (expected.shape[1],)) + tuple(p.out_chunks for p in plans)
    out = halo_map(block_fn, x, axes, 0, (weight_key, bias_key), chunks, dtype,
                   with_location=True)
    return out[0] if unbatched else out


def conv_transpose(input: da.Array, weight: Any, bias: Any = None, stride: Any = 1,
                   padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                   dilation: Any = 1, *, padding_mode: str = "zeros",
                   allow_rechunk: bool = False) -> da.Array:
    """N-d transposed convolution of a dask array, as
    :func:`convkit.nn.functional.conv_transpose`.

    Shape:
        input ``(N, C_in, *in)`` or ``(C_in, *in)``; weight ``(C_in, C_out/groups, *kernel)``;
        output ``(N, C_out, *out)`` with ``out = (in-1)*stride - 2*padding +
        dilation*(kernel-1) + output_padding + 1``.

    With ``padding_mode='zeros'`` the spatial axes stay chunked: output chunk ``j`` covers
    ``[b_j*stride - padding, b_{j+1}*stride - padding)`` for input chunk boundaries ``b`` and
    reads a left halo of ``(dilation*(kernel-1)) // stride`` input samples. Other padding
    modes pad the far edges of the whole input, so the spatial axes are made whole and only
    the batch stays chunked.
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, padding_mode, allow_rechunk, None, "conv_transpose")


def _fixed_rank_transpose(n: int) -> Any:
    def conv_transpose_nd(input: da.Array, weight: Any, bias: Any = None, stride: Any = 1,
                          padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                          dilation: Any = 1, *, allow_rechunk: bool = False) -> da.Array:
        return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                               dilation, "zeros", allow_rechunk, n, f"conv_transpose{n}d")

    conv_transpose_nd.__name__ = conv_transpose_nd.__qualname__ = f"conv_transpose{n}d"
    conv_transpose_nd.__doc__ = (f"{n}-d transposed convolution of a dask array with "
                                 "PyTorch's signature; see :func:`conv_transpose`.")
    return conv_transpose_nd


conv_transpose1d = _fixed_rank_transpose(1)
conv_transpose2d = _fixed_rank_transpose(2)
conv_transpose3d = _fixed_rank_transpose(3)
