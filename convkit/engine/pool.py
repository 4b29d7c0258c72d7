"""Pooling kernels on ndarrays: max, average and adaptive pooling over the trailing axes.

Fixed windows are a family of strided taps: tap ``k`` of output ``o`` reads input
``o*stride - padding + k*dilation``. Every kernel here works tap by tap on whole strided
slices, each tap restricted to the outputs whose element at that tap lies inside the
input, so padding is never materialised and there is no Python loop over pixels:

* box maxima and sums are separable: one 1-d pass per spatial axis;
* max pooling's arg-max is kept as the winning tap per output (a small int), found by
  one comparison per tap against the maxima, and turned into PyTorch's flat indices
  only when asked (:func:`tap_to_index`); its gradient is one masked add per tap;
* NumPy runs strided inner loops several times slower than contiguous ones, so a last
  axis with stride > 1 is first split into its stride phases (:func:`_split_phases`).

When numba is installed (``convkit[fast]``) max pooling in float32/float64 runs compiled
kernels instead (:mod:`convkit.engine._numba`). Adaptive pooling is separable too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["pool_output_size", "window_view", "max_pool", "max_pool_values", "max_pool_argmax",
           "tap_to_index", "max_pool_tap_backward", "max_pool_backward", "avg_pool",
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


def _output_shape(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                  padding: tuple[int, ...], dilation: tuple[int, ...],
                  ceil_mode: bool) -> tuple[int, ...]:
    nd = len(kernel)
    return tuple(pool_output_size(x.shape[-nd + i], kernel[i], stride[i], padding[i],
                                  dilation[i], ceil_mode) for i in range(nd))


def max_pool(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
             padding: tuple[int, ...], dilation: tuple[int, ...],
             ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window, and the flat index (over the spatial axes) of PyTorch's max.

    Returns ``(values, indices)`` of shape ``(*lead, *out)``; indices count positions in the
    unpadded input, row-major, as PyTorch's ``return_indices`` does (see
    :func:`max_pool_argmax` for which element of a window wins).
    """
    values, tap = max_pool_argmax(x, kernel, stride, padding, dilation, ceil_mode)
    return values, tap_to_index(tap, x.shape[x.ndim - len(kernel):], kernel, stride, padding,
                                dilation)


def _tap_dtype(kernel: tuple[int, ...]) -> np.dtype:
    """The smallest integer type the numba kernels accept that holds every window tap."""
    return np.dtype(np.uint8 if math.prod(kernel) < 256 else np.int32)


def _lowest(dtype: np.dtype) -> np.generic:
    """The padding value of max pooling: below (or equal to) every element."""
    return dtype.type(-np.inf) if dtype.kind in "fc" else np.iinfo(dtype).min


def _tap_range(size: int, out: int, stride: int, pad: int, dilation: int,
               tap: int) -> tuple[int, int, int]:
    """Outputs ``[lo, hi)`` whose window reads an input element at ``tap`` (on one axis),
    and the input coordinate the first of them reads."""
    offset = tap * dilation - pad  # input coordinate read by output 0
    lo = max(0, -(offset // stride))  # ceil(-offset / stride) when offset < 0
    hi = min(out, (size - 1 - offset) // stride + 1) if size - 1 - offset >= 0 else 0
    return lo, max(lo, hi), lo * stride + offset


def _tap_regions(x_spatial: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...],
                 stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...],
                 phased: bool = False) -> list[tuple[int, tuple[slice, ...], tuple[Any, ...]]]:
    """For each window tap (row-major) that reads some input: ``(tap, out slices, input
    index)``, the outputs whose window holds an input element at that tap, and the strided
    input elements they read, over the spatial axes. Padding is never read.

    With ``phased`` the input index is into :func:`_split_phases`' layout: the last axis
    becomes ``(phase, contiguous run)``.
    """
    per_axis = [[_tap_range(x_spatial[i], out[i], stride[i], padding[i], dilation[i], t)
                 for t in range(kernel[i])] for i in range(len(kernel))]
    regions = []
    for flat, taps in enumerate(np.ndindex(*kernel)):
        ranges = [per_axis[i][t] for i, t in enumerate(taps)]
        if any(lo >= hi for lo, hi, _ in ranges):
            continue
        outs = tuple(slice(lo, hi) for lo, hi, _ in ranges)
        ins: tuple[Any, ...] = tuple(slice(start, start + (hi - lo - 1) * s + 1, s)
                                     for (lo, hi, start), s in zip(ranges, stride, strict=True))
        if phased:
            lo, hi, start = ranges[-1]
            step = stride[-1]
            ins = ins[:-1] + (start % step, slice(start // step, start // step + hi - lo))
        regions.append((flat, outs, ins))
    return regions


def _split_phases(x: np.ndarray, step: int, fill: Any) -> np.ndarray:
    """``(..., W) -> (..., step, ceil(W / step))``, ``[..., r, q] = x[..., q*step + r]``.

    A tap of a stride-``step`` window then reads one contiguous run: NumPy's loops over a
    strided last axis are several times slower than its contiguous (SIMD) ones. Positions
    past ``W`` hold ``fill``.
    """
    width = x.shape[-1]
    groups = width // step  # whole groups of ``step`` consecutive elements
    phases = np.empty(x.shape[:-1] + (step, -(-width // step)), dtype=x.dtype)
    # (..., groups*step) -> (..., groups, step) -> (..., step, groups): one transposing copy
    whole = x[..., :groups * step].reshape(x.shape[:-1] + (groups, step))
    phases[..., :groups] = whole.swapaxes(-1, -2)
    if groups * step < width:  # the last, partial group
        for r in range(step):
            column = groups * step + r
            phases[..., r, groups] = x[..., column] if column < width else fill
    return phases


def _merge_phases(phases: np.ndarray, width: int) -> np.ndarray:
    """The inverse of :func:`_split_phases`."""
    step = phases.shape[-2]
    x = np.empty(phases.shape[:-2] + (width,), dtype=phases.dtype)
    for r in range(step):
        x[..., r::step] = phases[..., r, :len(range(r, width, step))]
    return x


def _first_taps(x_spatial: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...],
                stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per axis, the first tap reading inside the input (``first``) and one past the last
    (``last``), for every output coordinate: rows of a ``(nd, max(out))`` table.

    ``first`` is PyTorch's starting element: a window that has only padding (possible with
    dilation) reports it as its arg-max, as PyTorch does, and ``last == first`` there.
    """
    nd = len(kernel)
    first = np.zeros((nd, max(out)), dtype=np.int64)
    last = np.zeros((nd, max(out)), dtype=np.int64)
    for i in range(nd):
        start = np.arange(out[i]) * stride[i] - padding[i]
        lo = np.where(start < 0, (-start + dilation[i] - 1) // dilation[i], 0)
        reach = x_spatial[i] - 1 - start
        hi = np.where(reach >= 0, reach // dilation[i] + 1, 0)
        first[i, :out[i]] = np.minimum(lo, kernel[i] - 1)
        last[i, :out[i]] = np.maximum(np.minimum(hi, kernel[i]), first[i, :out[i]])
    return first, last


def _as_planes(x: np.ndarray, nd: int, geometry: tuple[tuple[int, ...], ...]
               ) -> tuple[np.ndarray, tuple[tuple[int, ...], ...]]:
    """``x`` as contiguous ``(planes, S0, S1, S2)`` and the geometry on three spatial axes
    (leading axes of size 1, kernel 1), the layout the numba kernels take."""
    lead = 3 - nd
    planes = math.prod(x.shape[: x.ndim - nd])
    x3 = np.ascontiguousarray(x).reshape((planes,) + (1,) * lead + x.shape[x.ndim - nd:])
    kernel, stride, padding, dilation = geometry
    return x3, ((1,) * lead + tuple(kernel), (1,) * lead + tuple(stride),
                (0,) * lead + tuple(padding), (1,) * lead + tuple(dilation))


def _numba_for(dtype: np.dtype):
    """The numba kernels when they take this dtype (float32, float64), else ``None``."""
    if dtype not in (np.float32, np.float64):
        return None
    from convkit.engine import _numba

    return _numba.load()


def max_pool_values(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                    padding: tuple[int, ...], dilation: tuple[int, ...],
                    ceil_mode: bool) -> np.ndarray:
    """Max over each window without the arg-max: ``(*lead, *in) -> (*lead, *out)``.

    A box maximum is separable, so this is a 1-d maximum per spatial axis (first axis
    first, so that the largest pass reads whole rows); NaN propagates. Padding is never
    read: each tap only updates the outputs whose window holds an input element there.
    """
    nd = len(kernel)
    out = _output_shape(x, kernel, stride, padding, dilation, ceil_mode)
    if _numba_for(x.dtype) is not None and x.size:
        # compiled, the arg-max costs next to nothing (and a loop without it vectorizes
        # its three-element reductions, which is slower)
        return max_pool_argmax(x, kernel, stride, padding, dilation, ceil_mode)[0]
    y = x
    for axis in range(nd):
        y = _pool_along(y, x.ndim - nd + axis, out[axis], kernel[axis], stride[axis],
                        padding[axis], dilation[axis], np.maximum, _lowest(x.dtype))
    return np.ascontiguousarray(y)


def _ints(*tuples: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(t, dtype=np.int64) for t in tuples)


def _pool_along(y: np.ndarray, axis: int, out: int, kernel: int, stride: int, pad: int,
                dilation: int, combine: np.ufunc, empty: Any) -> np.ndarray:
    """1-d pooling of ``y`` along ``axis``: ``combine`` (``np.maximum``, ``np.add``) over
    the input elements of each window; ``empty`` where a window holds none."""
    size = y.shape[axis]
    ranges = [_tap_range(size, out, stride, pad, dilation, t) for t in range(kernel)]
    lead = (slice(None),) * axis
    last = axis == y.ndim - 1 and stride > 1
    source = _split_phases(y, stride, empty) if last else y

    def src(lo: int, hi: int, start: int) -> np.ndarray:
        if last:  # the contiguous run of the phase this tap reads
            return source[..., start % stride, start // stride:start // stride + hi - lo]
        return y[lead + (slice(start, start + (hi - lo - 1) * stride + 1, stride),)]

    # a tap every output reads starts the result; else start from ``empty``
    whole = next((t for t, (lo, hi, _) in enumerate(ranges) if lo == 0 and hi == out), None)
    if whole is None:
        shape = y.shape[:axis] + (out,) + y.shape[axis + 1:]
        result = np.full(shape, empty, dtype=y.dtype)
    else:
        result = src(*ranges[whole]).copy()
    for t, (lo, hi, start) in enumerate(ranges):
        if t != whole and lo < hi:
            target = result[lead + (slice(lo, hi),)]
            combine(target, src(lo, hi, start), out=target)
    return result


def _spread_along(g: np.ndarray, axis: int, size: int, kernel: int, stride: int,
                  pad: int) -> np.ndarray:
    """The adjoint of a window sum along ``axis``: each output's value is added to every
    input element of its window (padding and the ``ceil_mode`` overhang take nothing)."""
    out = g.shape[axis]
    lead = (slice(None),) * axis
    last = axis == g.ndim - 1 and stride > 1
    if last:  # accumulate in the phase layout, where each tap's targets are contiguous
        acc = np.zeros(g.shape[:-1] + (stride, -(-size // stride)), dtype=g.dtype)
    else:
        acc = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], dtype=g.dtype)
    for t in range(kernel):
        lo, hi, start = _tap_range(size, out, stride, pad, 1, t)
        if lo >= hi:
            continue
        if last:
            target = acc[..., start % stride, start // stride:start // stride + hi - lo]
        else:
            target = acc[lead + (slice(start, start + (hi - lo - 1) * stride + 1, stride),)]
        target += g[lead + (slice(lo, hi),)]
    return _merge_phases(acc, size) if last else acc


def max_pool_argmax(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                    padding: tuple[int, ...], dilation: tuple[int, ...],
                    ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window and the window tap it came from (row-major over the kernel).

    Returns ``(values, taps)`` of shape ``(*lead, *out)``, ``taps`` a small unsigned int
    type (see :func:`tap_to_index` for PyTorch's flat indices). The winner is PyTorch's:
    the first maximum in window order, except that NaN wins and the last NaN wins; a window
    whose input elements are all the lowest value (``-inf``) reports its first element.
    """
    nd = len(kernel)
    spatial = x.shape[x.ndim - nd:]
    out = _output_shape(x, kernel, stride, padding, dilation, ceil_mode)
    tap_type = _tap_dtype(kernel)
    kernels = _numba_for(x.dtype)
    if kernels is not None and x.size:
        x3, (k3, s3, p3, d3) = _as_planes(x, nd, (kernel, stride, padding, dilation))
        out3 = (1,) * (3 - nd) + out
        first, last = _first_taps(x3.shape[1:], out3, k3, s3, p3, d3)
        values = np.empty((x3.shape[0],) + out3, dtype=x.dtype)
        taps = np.empty(values.shape, dtype=tap_type)
        kernels.max_pool_argmax(x3, values, taps, *_ints(s3, p3, d3, k3), first, last,
                                _lowest(x.dtype))
        shape = x.shape[: x.ndim - nd] + out
        return values.reshape(shape), taps.reshape(shape)
    values = max_pool_values(x, kernel, stride, padding, dilation, ceil_mode)
    lead = (Ellipsis,)
    phased = stride[-1] > 1
    source = _split_phases(x, stride[-1], _lowest(x.dtype)) if phased else x
    regions = _tap_regions(spatial, out, kernel, stride, padding, dilation, phased)
    # The first tap equal to the maximum wins: score tap k as ``top - k`` where it matches
    # and keep the highest score (a masked copy per tap would be several times slower).
    top = math.prod(kernel)
    best = np.zeros(values.shape, dtype=tap_type)
    hit = np.empty(values.shape, dtype=bool)
    score = np.empty(values.shape, dtype=tap_type)
    for tap, outs, ins in regions:
        mask, points, kept = hit[lead + outs], score[lead + outs], best[lead + outs]
        np.equal(source[lead + ins], values[lead + outs], out=mask)
        np.multiply(mask, tap_type.type(top - tap), out=points)
        np.maximum(kept, points, out=kept)
    if x.dtype.kind in "fc" and np.isnan(values).any():
        # NaN equals nothing, and the last NaN of the window wins: score it ``tap + 1``
        # (in ``score``), which overrides any match
        score[...] = 0
        for tap, outs, ins in regions:
            mask, points = hit[lead + outs], score[lead + outs]
            window = source[lead + ins]
            # x != x is NaN; np.isnan(out=) writes wrong values into some strided
            # outputs (NumPy 2.4)
            np.not_equal(window, window, out=mask)
            np.maximum(points, np.multiply(mask, tap_type.type(tap + 1)), out=points)
        nan_tap = score.astype(np.int64) - 1
    else:
        nan_tap = None
    # a window with no match holds only padding: PyTorch names its first element
    first, _ = _first_taps(spatial, out, kernel, stride, padding, dilation)
    start = np.zeros((), dtype=np.int64)
    for i in range(nd):
        start = np.multiply.outer(start * kernel[i], np.ones(out[i], np.int64)) + first[i, :out[i]]
    taps = np.where(best > 0, top - best.astype(np.int64), start).astype(tap_type)
    if nan_tap is not None:
        taps = np.where(nan_tap >= 0, nan_tap, taps).astype(tap_type)
    return values, taps


def tap_to_index(taps: np.ndarray, spatial: tuple[int, ...], kernel: tuple[int, ...],
                 stride: tuple[int, ...], padding: tuple[int, ...],
                 dilation: tuple[int, ...]) -> np.ndarray:
    """PyTorch's flat indices (row-major over the unpadded ``spatial`` axes, int64) of the
    window taps :func:`max_pool_argmax` returns."""
    nd = len(kernel)
    out = taps.shape[taps.ndim - nd:]
    step = [math.prod(spatial[i + 1:]) for i in range(nd)]  # row-major strides
    # tap -> offset from the window's start; output -> the window's start
    offsets = sum(t * dilation[i] * step[i] for i, t in enumerate(np.indices(kernel)))
    starts = np.zeros((), dtype=np.int64)
    for i in range(nd):
        starts = np.add.outer(starts, (np.arange(out[i]) * stride[i] - padding[i]) * step[i])
    index = np.take(offsets.reshape(-1).astype(np.int64), taps)
    index += starts
    return index


def max_pool_tap_backward(grad: np.ndarray, taps: np.ndarray, input_shape: tuple[int, ...],
                          kernel: tuple[int, ...], stride: tuple[int, ...],
                          padding: tuple[int, ...], dilation: tuple[int, ...]) -> np.ndarray:
    """Add each output gradient to the input element its window's tap ``taps`` names.

    One strided, masked add per tap: a tap sends distinct outputs to distinct inputs, so
    no two writes of one add collide.
    """
    nd = len(kernel)
    kernels = _numba_for(grad.dtype)
    if kernels is not None and grad.size:
        g3, (k3, s3, p3, d3) = _as_planes(grad, nd, (kernel, stride, padding, dilation))
        t3 = np.ascontiguousarray(taps, dtype=_tap_dtype(kernel)).reshape(g3.shape)
        gx = np.zeros((g3.shape[0],) + (1,) * (3 - nd) + tuple(input_shape[-nd:]),
                      dtype=grad.dtype)
        reach = np.stack([t * d for t, d in zip(np.indices(k3).reshape(3, -1), d3,
                                                 strict=True)])
        kernels.max_pool_scatter(g3, t3, gx, *_ints(s3, p3), reach)
        return gx.reshape(input_shape)
    out = grad.shape[grad.ndim - nd:]
    width = input_shape[-1]
    phased = stride[-1] > 1
    if phased:  # accumulate in the phase layout, where each tap's targets are contiguous
        gx = np.zeros(tuple(input_shape[:-1]) + (stride[-1], -(-width // stride[-1])),
                      dtype=grad.dtype)
    else:
        gx = np.zeros(input_shape, dtype=grad.dtype)
    hit = np.empty(grad.shape, dtype=bool)
    part = np.empty_like(grad)
    zero = grad.dtype.type(0)
    # g * mask, then a plain add: NumPy's masked (where=) loops are many times slower;
    # a select instead when g is not finite (inf * 0 would put NaN where nothing goes)
    finite = bool(np.isfinite(grad).all())
    lead = (Ellipsis,)
    for tap, outs, ins in _tap_regions(tuple(input_shape[-nd:]), out, kernel, stride,
                                       padding, dilation, phased):
        mask, share = hit[lead + outs], part[lead + outs]
        np.equal(taps[lead + outs], tap, out=mask)
        if finite:
            np.multiply(grad[lead + outs], mask, out=share)
        else:
            share[...] = np.where(mask, grad[lead + outs], zero)
        target = gx[lead + ins]
        np.add(target, share, out=target)
    return _merge_phases(gx, width) if phased else gx


def max_pool_backward(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...],
                      nd: int) -> np.ndarray:
    """Send each output gradient to the input element its max came from (summing repeats).

    ``indices`` are flat positions over the last ``nd`` axes, as :func:`max_pool` returns
    (adaptive max pooling, whose windows are not one strided family, comes through here).
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
    """Mean over each window of the zero-padded input (see :func:`_divisor` for the count).

    The window sum is separable: a 1-d sum per spatial axis (padding adds nothing, so it
    is never materialised). float16 sums in float32 and integers in int64, as PyTorch does.
    """
    nd = len(kernel)
    ones = (1,) * nd
    out = _output_shape(x, kernel, stride, padding, ones, ceil_mode)
    wide = {"f": np.float32 if x.dtype == np.float16 else x.dtype, "i": np.int64,
            "u": np.int64}.get(x.dtype.kind, x.dtype)
    total = x.astype(wide, copy=False)
    for axis in range(nd):
        total = _pool_along(total, x.ndim - nd + axis, out[axis], kernel[axis], stride[axis],
                            padding[axis], 1, np.add, 0)
    divisor = _divisor(x.shape[-nd:], out, kernel, stride, padding, count_include_pad,
                       divisor_override)
    if x.dtype.kind in "iu":
        # integer averages truncate toward zero (C division), exactly, without a float
        # round trip that would lose int64 precision
        q = np.abs(total) // np.abs(divisor)
        return (np.sign(total) * np.sign(divisor) * q).astype(x.dtype, copy=False)
    # divide in the sum's own precision (an int64 divisor array would promote to float64)
    np.divide(total, np.asarray(divisor, dtype=total.dtype), out=total)
    return total.astype(x.dtype, copy=False)


def avg_pool_backward(grad: np.ndarray, input_shape: tuple[int, ...],
                      kernel: tuple[int, ...], stride: tuple[int, ...],
                      padding: tuple[int, ...], ceil_mode: bool, count_include_pad: bool,
                      divisor_override: int | None) -> np.ndarray:
    """Spread each output gradient evenly (by the same divisor) over its window: the
    adjoint of the separable window sum, one axis at a time."""
    nd = len(kernel)
    out = grad.shape[-nd:]
    divisor = _divisor(input_shape[-nd:], out, kernel, stride, padding, count_include_pad,
                       divisor_override)
    g = grad / np.asarray(divisor, dtype=grad.dtype)
    for axis in reversed(range(nd)):
        g = _spread_along(g, grad.ndim - nd + axis, input_shape[len(input_shape) - nd + axis],
                          kernel[axis], stride[axis], padding[axis])
    return np.ascontiguousarray(g)


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
