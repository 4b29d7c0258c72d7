"""Pooling kernels on ndarrays: max, average and adaptive pooling over the trailing axes.

Fixed-window pooling reads every window through one strided view of the padded input,
``windows[n, c, *out, *k] = xpad[n, c, out*stride + k*dilation]``, so there is no Python
loop over pixels. Adaptive pooling is separable: a box mean (or max) is a sequence of
1-d means (or maxima), one axis at a time.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["pool_output_size", "window_view", "max_pool", "max_pool_backward", "avg_pool",
           "avg_pool_backward", "adaptive_ranges", "adaptive_avg_pool",
           "adaptive_avg_pool_backward", "adaptive_max_pool", "max_unpool"]


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """PyTorch's pooling output size; with ceil_mode the last window must start inside the
    input or the left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def window_view(xpad: np.ndarray, out: tuple[int, ...], kernel: tuple[int, ...],
                stride: tuple[int, ...], dilation: tuple[int, ...]) -> np.ndarray:
    """A read-only view ``(*lead, *out, *kernel)`` of every pooling window of ``xpad``."""
    nd = len(kernel)
    lead = xpad.shape[:-nd]
    s = xpad.strides
    strides = s[:-nd] + tuple(s[-nd + i] * stride[i] for i in range(nd)) + tuple(
        s[-nd + i] * dilation[i] for i in range(nd))
    return as_strided(xpad, lead + tuple(out) + tuple(kernel), strides, writeable=False)


def _pad_for_windows(x: np.ndarray, out: tuple[int, ...], kernel: tuple[int, ...],
                     stride: tuple[int, ...], padding: tuple[int, ...],
                     dilation: tuple[int, ...], fill: float) -> np.ndarray:
    """Pad by ``padding`` on the left and as much on the right as the last window reads."""
    nd = len(kernel)
    widths = [(0, 0)] * (x.ndim - nd)
    for i in range(nd):
        need = (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        widths.append((padding[i], max(need - x.shape[-nd + i] - padding[i], 0)))
    if not any(lo or hi for lo, hi in widths):
        return x
    return np.pad(x, widths, mode="constant", constant_values=fill)


def _output_shape(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                  padding: tuple[int, ...], dilation: tuple[int, ...],
                  ceil_mode: bool) -> tuple[int, ...]:
    nd = len(kernel)
    return tuple(pool_output_size(x.shape[-nd + i], kernel[i], stride[i], padding[i],
                                  dilation[i], ceil_mode) for i in range(nd))


def max_pool(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
             padding: tuple[int, ...], dilation: tuple[int, ...],
             ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window, and the flat index (over the spatial axes) of the first max.

    Returns ``(values, indices)`` of shape ``(*lead, *out)``; indices count positions in the
    unpadded input, row-major, as PyTorch's ``return_indices`` does.
    """
    nd = len(kernel)
    out = _output_shape(x, kernel, stride, padding, dilation, ceil_mode)
    fill = -np.inf if x.dtype.kind in "fc" else np.iinfo(x.dtype).min
    xpad = _pad_for_windows(x, out, kernel, stride, padding, dilation, fill)
    windows = window_view(xpad, out, kernel, stride, dilation)
    # (*lead, *out, *kernel) -> (*lead, *out, prod(kernel)); sizes spelt out, not -1, so
    # that an empty batch reshapes too
    flat = windows.reshape(windows.shape[: x.ndim] + (math.prod(kernel),))
    arg = np.argmax(flat, axis=-1)
    if x.dtype.kind in "fc":  # a NaN in a window wins, as in PyTorch
        nan = np.isnan(flat)
        has_nan = nan.any(axis=-1)
        if has_nan.any():
            arg = np.where(has_nan, np.argmax(nan, axis=-1), arg)
    values = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    # window tap -> input coordinate, per spatial axis
    taps = np.unravel_index(arg, kernel)
    index = np.zeros(arg.shape, dtype=np.int64)
    for i in range(nd):
        shape = [1] * arg.ndim
        shape[x.ndim - nd + i] = out[i]
        start = (np.arange(out[i]) * stride[i] - padding[i]).reshape(shape)
        coord = start + taps[i] * dilation[i]
        index = index * x.shape[-nd + i] + coord
    return np.ascontiguousarray(values), index


def max_pool_backward(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...],
                      nd: int) -> np.ndarray:
    """Send each output gradient to the input element its max came from (summing repeats).

    ``indices`` are flat positions over the last ``nd`` axes, as :func:`max_pool` returns.
    """
    lead = math.prod(input_shape[: len(input_shape) - nd])
    spatial = math.prod(input_shape[len(input_shape) - nd:])
    g = np.zeros((lead, spatial), dtype=grad.dtype)
    rows = np.arange(lead)[:, None]
    per_row = math.prod(indices.shape[indices.ndim - nd:])  # explicit: lead may be 0
    np.add.at(g, (rows, indices.reshape(lead, per_row)), grad.reshape(lead, per_row))
    return g.reshape(input_shape)


def _divisor(shape: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...],
             stride: tuple[int, ...], padding: tuple[int, ...], count_include_pad: bool,
             divisor_override: int | None) -> np.ndarray | int:
    """How many elements each average divides by, per output position (spatial axes only).

    With ``count_include_pad`` PyTorch counts the padding but not the overhang that
    ``ceil_mode`` adds past it; without, only real input elements count.
    """
    if divisor_override is not None:
        return divisor_override
    nd = len(kernel)
    counts = np.ones((), dtype=np.int64)
    for i in range(nd):
        start = np.arange(out[i]) * stride[i] - padding[i]
        end = start + kernel[i]
        if count_include_pad:
            n = np.minimum(end, shape[i] + padding[i]) - start
        else:
            n = np.minimum(end, shape[i]) - np.maximum(start, 0)
        counts = np.multiply.outer(counts, n)
    return counts


def avg_pool(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
             padding: tuple[int, ...], ceil_mode: bool, count_include_pad: bool,
             divisor_override: int | None) -> np.ndarray:
    """Mean over each window of the zero-padded input (see :func:`_divisor` for the count)."""
    nd = len(kernel)
    ones = (1,) * nd
    out = _output_shape(x, kernel, stride, padding, ones, ceil_mode)
    xpad = _pad_for_windows(x, out, kernel, stride, padding, ones, 0)
    windows = window_view(xpad, out, kernel, stride, ones)
    total = windows.sum(axis=tuple(range(x.ndim, x.ndim + nd)))
    divisor = _divisor(x.shape[-nd:], out, kernel, stride, padding, count_include_pad,
                       divisor_override)
    if x.dtype.kind in "iu":
        # integer averages truncate toward zero (C division), exactly, without a float
        # round trip that would lose int64 precision
        q = np.abs(total) // np.abs(divisor)
        return (np.sign(total) * np.sign(divisor) * q).astype(x.dtype, copy=False)
    return (total / divisor).astype(x.dtype, copy=False)


def avg_pool_backward(grad: np.ndarray, input_shape: tuple[int, ...],
                      kernel: tuple[int, ...], stride: tuple[int, ...],
                      padding: tuple[int, ...], ceil_mode: bool, count_include_pad: bool,
                      divisor_override: int | None) -> np.ndarray:
    """Spread each output gradient evenly (by the same divisor) over its window."""
    nd = len(kernel)
    out = grad.shape[-nd:]
    divisor = _divisor(input_shape[-nd:], out, kernel, stride, padding, count_include_pad,
                       divisor_override)
    share = grad / divisor
    padded = [input_shape[-nd + i] + padding[i] + max(
        (out[i] - 1) * stride[i] + kernel[i] - input_shape[-nd + i] - padding[i], 0)
        for i in range(nd)]
    gpad = np.zeros(tuple(input_shape[:-nd]) + tuple(padded), dtype=grad.dtype)
    for tap in np.ndindex(*kernel):
        region = tuple(slice(t, t + stride[i] * (out[i] - 1) + 1, stride[i])
                       for i, t in enumerate(tap))
        gpad[(Ellipsis,) + region] += share
    crop = tuple(slice(padding[i], padding[i] + input_shape[-nd + i]) for i in range(nd))
    return np.ascontiguousarray(gpad[(Ellipsis,) + crop])


def adaptive_ranges(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Window ``i`` covers ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _axis_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size) averaging matrix of one axis of adaptive average pooling."""
    start, end = adaptive_ranges(size, out)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool(x: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
    """Average over adaptive windows: one small matrix product per pooled axis."""
    nd = len(out)
    y = x
    for i in range(nd):
        axis = x.ndim - nd + i
        m = _axis_matrix(x.shape[axis], out[i], x.dtype)
        y = np.moveaxis(np.tensordot(y, m, axes=([axis], [1])), -1, axis)
    return np.ascontiguousarray(y)


def adaptive_avg_pool_backward(grad: np.ndarray, input_shape: tuple[int, ...],
                               nd: int) -> np.ndarray:
    """The adjoint of :func:`adaptive_avg_pool`: the transposed matrices, axis by axis."""
    g = grad
    for axis in range(grad.ndim - nd, grad.ndim):
        m = _axis_matrix(input_shape[axis], grad.shape[axis], grad.dtype)
        g = np.moveaxis(np.tensordot(g, m, axes=([axis], [0])), -1, axis)
    return np.ascontiguousarray(g)


def adaptive_max_pool(x: np.ndarray, out: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Max over adaptive windows and the flat spatial index of the first max (row-major).

    Separable: reduce the innermost pooled axis first, then outward, carrying the argmax
    coordinates, so ties resolve to the first element in row-major order as in PyTorch.
    """
    nd = len(out)
    if any(o == 0 for o in out):  # nothing to reduce: empty values and indices
        shape = x.shape[: x.ndim - nd] + tuple(out)
        return np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    values = x
    coords: list[np.ndarray] = []  # per reduced axis, the input coordinate of the max
    for i in range(nd - 1, -1, -1):
        axis = x.ndim - nd + i
        start, end = adaptive_ranges(x.shape[axis], out[i])
        moved = np.moveaxis(values, axis, -1)
        pieces_v, pieces_i = [], []
        for lo, hi in zip(start, end, strict=True):
            window = moved[..., lo:hi]
            arg = np.argmax(window, axis=-1)
            if window.dtype.kind in "fc":
                nan = np.isnan(window)
                arg = np.where(nan.any(axis=-1), np.argmax(nan, axis=-1), arg)
            pieces_v.append(np.take_along_axis(window, arg[..., None], axis=-1)[..., 0])
            pieces_i.append(arg + lo)
        chosen = np.stack(pieces_i, axis=-1)  # (..., out_i) coordinate along this axis
        # carry the already-chosen inner coordinates along with the max
        coords = [_select_along(c, axis, chosen) for c in coords]
        coords.insert(0, np.moveaxis(chosen, -1, axis))
        values = np.moveaxis(np.stack(pieces_v, axis=-1), -1, axis)
    index = np.zeros(values.shape, dtype=np.int64)
    for i, c in enumerate(coords):
        index = index * x.shape[x.ndim - nd + i] + c
    return np.ascontiguousarray(values), index


def _select_along(c: np.ndarray, axis: int, chosen: np.ndarray) -> np.ndarray:
    """Pick, for each output position along ``axis``, the entry of ``c`` at ``chosen``."""
    moved = np.moveaxis(c, axis, -1)
    return np.moveaxis(np.take_along_axis(moved, chosen, axis=-1), -1, axis)


def max_unpool(x: np.ndarray, indices: np.ndarray, output_spatial: tuple[int, ...]
               ) -> np.ndarray:
    """Place each value at its flat spatial index in zeros of the output size."""
    nd = len(output_spatial)
    lead = x.shape[: x.ndim - nd]
    rows = math.prod(lead)
    out = np.zeros((rows, math.prod(output_spatial)), dtype=x.dtype)
    per_row = math.prod(x.shape[x.ndim - nd:])  # explicit: rows may be 0
    out[np.arange(rows)[:, None], indices.reshape(rows, per_row)] = x.reshape(rows, per_row)
    return out.reshape(lead + tuple(output_spatial))
