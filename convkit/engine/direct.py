"""Direct (sum-of-products) cross-correlation of one N-d array with one N-d kernel.

This is the single-channel relative of :func:`convkit.engine.conv.conv_forward`, for the
signal-processing surface (one signal, one filter, any number of axes, any numeric dtype)::

    out[i] = sum_t x[i + t] * w[t]        for every i with i + t inside x  ("valid")

a **cross-correlation** (the kernel is not flipped, not conjugated): callers that want a true
convolution pass ``w[::-1, ..., ::-1]``. Borders are the caller's business: :func:`pad` extends
``x`` first (zeros or any constant, circular, symmetric), so one primitive serves every mode
and boundary.

Arithmetic happens in ``np.result_type(x, w)``, as SciPy's direct method does: integers stay
integers (and wrap around on overflow, modulo 2**bits, like NumPy), ``bool`` gives the logical
"any(x & w)".

Three strategies, picked by shape, all exact re-orderings of the same sums:

* ``'1d'``: :func:`numpy.convolve` (compiled dot products, the fastest direct 1-d code NumPy
  has);
* ``'dot'``: each output is a dot product of one window with the kernel (``tensordot`` over a
  strided window view, in chunks so that memory stays bounded) -- best for few outputs, where
  a per-tap pass would cost more in call overhead than in arithmetic;
* ``'taps'``: a loop over kernel taps, each adding ``w[t] * (shifted window of x)`` into the
  output, tiled along the first output axis so that a tile and its temporary stay in cache.

The planner (:mod:`convkit.engine.plan`) picks the strategy from measured costs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from convkit.engine.pad import pad as _pad_torch_modes

__all__ = ["pad", "correlate_valid", "direct_convolve", "valid_shape", "default_strategy",
           "STRATEGIES"]

Pairs = tuple[tuple[int, int], ...]

# Output elements per tile of the tap loop: 32K float64 = 256 KiB, so a tile, its temporary and
# the strided window being read stay in L2 while all the taps run over it.
_TILE_ELEMENTS = 1 << 15
# The dot-product strategy is for few outputs: beyond this many (and fewer outputs than taps)
# gathering every window costs more, and more erratically (page faults), than the tap loop.
DOT_MAX_OUTPUTS = 1 << 12
# Window elements gathered at once by the dot-product strategy (512 KiB of float64): the
# gathered windows are read once by the dot product right after, so they should stay in L2.
_WINDOW_BUDGET = 1 << 16


def valid_shape(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> tuple[int, ...]:
    """``x.shape - w.shape + 1`` per axis: the positions where ``w`` fits inside ``x``."""
    return tuple(n - k + 1 for n, k in zip(x_shape, w_shape, strict=True))


def _symmetric_source(size: int, lo: int, hi: int) -> np.ndarray:
    """Input index each output position copies when mirroring about the array's edges.

    The edge sample is repeated (``d c b a | a b c d | d c b a``), the extension NumPy calls
    ``'symmetric'`` and SciPy ``'symm'`` (PyTorch's ``'reflect'`` does *not* repeat it). The
    pattern has period ``2*size``, so any amount of padding is defined.
    """
    v = np.arange(-lo, size + hi, dtype=np.intp) % (2 * size)
    return np.where(v < size, v, 2 * size - 1 - v)


def pad(x: np.ndarray, pairs: Pairs, mode: str = "constant", value: object = 0) -> np.ndarray:
    """Extend (or crop) every axis of ``x``; ``pairs[i] = (before, after)`` for axis ``i``.

    Parameters
    ----------
    x : ndarray, shape (n_0, ..., n_{d-1})
    pairs : d pairs of ints
        Amounts to add before and after each axis. Negative amounts crop; only ``'constant'``
        accepts them (the other modes read values from ``x`` and are only asked to extend).
    mode : {'constant', 'circular', 'symmetric'}
        ``'constant'`` fills with ``value``; ``'circular'`` wraps around (periodic);
        ``'symmetric'`` mirrors with the edge sample repeated. Amounts larger than the axis
        are allowed in every mode (the extension simply repeats).
    value : scalar
        Fill value for ``'constant'``, already castable to ``x.dtype``.

    Returns
    -------
    ndarray, shape (n_0 + lo_0 + hi_0, ...)
        A new array (never a view of ``x``).
    """
    if mode == "constant":
        out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pairs, strict=True))
        out = np.full(out_shape, value, dtype=x.dtype)
        # the part of x that survives the crop, and where it lands in out
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0))
                    for n, (lo, hi) in zip(x.shape, pairs, strict=True))
        dst = tuple(slice(max(lo, 0), max(lo, 0) + max(s.stop - s.start, 0))
                    for s, (lo, _) in zip(src, pairs, strict=True))
        if all(s.stop > s.start for s in src):
            out[dst] = x[src]
        return out
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise ValueError(f"pad: mode {mode!r} only extends; got pairs {pairs}")
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape, pairs, strict=True)):
        if n == 0 and (lo or hi):
            raise ValueError(f"pad: cannot extend the empty axis {axis} in mode {mode!r} "
                             "(there are no values to repeat)")
    if mode == "circular":
        # PyTorch's circular padding is the periodic extension for non-negative amounts
        return _pad_torch_modes(x, tuple(pairs), "circular") if x.ndim else x.copy()
    if mode == "symmetric":
        out = x
        for axis, (lo, hi) in enumerate(pairs):
            if lo or hi:
                out = np.take(out, _symmetric_source(x.shape[axis], lo, hi), axis=axis)
        return out if out is not x else x.copy()
    raise ValueError(f"pad: unknown mode {mode!r}; expected 'constant', 'circular' or "
                     "'symmetric'")


STRATEGIES = ("1d", "dot", "taps")


def default_strategy(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> str:
    """The strategy :func:`correlate_valid` uses when not told (the planner usually tells)."""
    if len(x_shape) == 1:
        return "1d"
    return "dot" if math.prod(valid_shape(x_shape, w_shape)) < math.prod(w_shape) else "taps"


def correlate_valid(x: np.ndarray, w: np.ndarray, strategy: str | None = None) -> np.ndarray:
    """Cross-correlate ``x`` with ``w`` where ``w`` fits entirely inside ``x``.

    ``out[i] = sum_t x[i + t] * w[t]`` (no flip, no conjugation), computed in
    ``np.result_type(x, w)``; for ``bool`` the sum is a logical OR of ANDs.

    Parameters
    ----------
    x : ndarray, shape (n_0, ..., n_{d-1})
    w : ndarray, shape (k_0, ..., k_{d-1}), with ``k_i <= n_i``

    strategy : {'1d', 'dot', 'taps'}, optional
        ``'1d'`` (1-d only): :func:`numpy.convolve`; ``'dot'``: one dot product per output;
        ``'taps'``: one multiply-add pass per kernel tap. Default: :func:`default_strategy`.

    Returns
    -------
    ndarray, shape (n_0 - k_0 + 1, ..., n_{d-1} - k_{d-1} + 1)
        A new C-contiguous array. Zero (False) where the kernel is empty.
    """
    assert x.ndim == w.ndim, (x.shape, w.shape)
    out_shape = valid_shape(x.shape, w.shape)
    assert all(s >= 0 for s in out_shape), (x.shape, w.shape)
    dtype = np.result_type(x, w)
    if x.ndim == 0:
        return np.asarray(x * w, dtype=dtype)
    if 0 in out_shape or w.size == 0:
        return np.zeros(out_shape, dtype=dtype)  # an empty sum
    strategy = strategy or default_strategy(x.shape, w.shape)
    if strategy == "1d" and x.ndim == 1:
        # np.convolve flips its second argument back: a plain correlation, in result dtype
        return np.convolve(x, w[::-1], mode="valid").astype(dtype, copy=False)
    if strategy == "dot":
        return _dot_per_output(x, w, out_shape, dtype)
    return _tap_loop(x.astype(dtype, copy=False), w.astype(dtype, copy=False), out_shape)


def _dot_per_output(x: np.ndarray, w: np.ndarray, out_shape: tuple[int, ...],
                    dtype: np.dtype) -> np.ndarray:
    """Few outputs, many taps: every output is one dot product of a window with ``w``."""
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape)  # (*out_shape, *w.shape)
    out = np.empty(out_shape, dtype=dtype)
    # chunk along the first output axis so that at most _WINDOW_BUDGET elements are copied
    rows = max(1, _WINDOW_BUDGET // max(1, w.size * math.prod(out_shape[1:])))
    for r0 in range(0, out_shape[0], rows):
        chunk = windows[r0:r0 + rows]  # (rows, *out_shape[1:], *w.shape), a strided view
        out[r0:r0 + rows] = np.tensordot(chunk.astype(dtype, copy=False),
                                         w.astype(dtype, copy=False), axes=w.ndim)
    return out


def _tap_loop(x: np.ndarray, w: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """Many outputs: add ``w[t] * window_t(x)`` for every tap ``t``, one cache tile at a time."""
    out = np.empty(out_shape, dtype=x.dtype)
    tmp = np.empty_like(out)
    row = math.prod(out_shape[1:])
    rows = max(1, _TILE_ELEMENTS // max(1, row))
    taps = list(itertools.product(*(range(k) for k in w.shape)))
    logical = x.dtype == np.bool_
    for r0 in range(0, out_shape[0], rows):
        r1 = min(r0 + rows, out_shape[0])
        acc, scratch = out[r0:r1], tmp[:r1 - r0]
        acc[...] = 0
        for t in taps:
            window = x[(slice(r0 + t[0], r1 + t[0]),) +
                       tuple(slice(ti, ti + n) for ti, n in zip(t[1:], out_shape[1:], strict=True))]
            if logical:
                if w[t]:  # x & False contributes nothing to an OR
                    np.logical_or(acc, window, out=acc)
                continue
            np.multiply(window, w[t], out=scratch)
            acc += scratch
    return out


def direct_convolve(x: np.ndarray, w: np.ndarray, window: tuple[tuple[int, int], ...],
                    strategy: str | None = None) -> np.ndarray:
    """A window of the true (linear, zero-extended) convolution of ``x`` and ``w``.

    ``full[j] = sum_t x[j - t] * w[t]`` for ``j`` in ``[start, start + length)`` per axis,
    computed as :func:`correlate_valid` of the zero-padded (or cropped) longer input with the
    flipped shorter one. Convolution commutes, so the input with fewer elements becomes the
    kernel: the tap loop is as short as it can be.

    Parameters
    ----------
    x, w : ndarray, same ndim d, any sizes >= 0
    window : d pairs (start, length)
        With ``0 <= start`` and ``start + length <= n + k - 1`` per axis.
    strategy : {'1d', 'dot', 'taps'}, optional
        Passed to :func:`correlate_valid`.

    Returns
    -------
    ndarray, shape (length_0, ..., length_{d-1}), dtype ``np.result_type(x, w)``
    """
    if w.size > x.size:
        x, w = w, x
    if x.ndim == 1 and (strategy or "1d") == "1d" and x.size and w.size:
        # NumPy's own modes cover 1-d without a padded copy of x
        (start, length), = window
        if (start, length) == (w.size - 1, x.size - w.size + 1):
            out = np.convolve(x, w, mode="valid")
        elif (start, length) == ((w.size - 1) // 2, x.size):  # NumPy's 'same' (x longer)
            out = np.convolve(x, w, mode="same")
        else:
            out = np.convolve(x, w, mode="full")[start:start + length].copy()
        return out.astype(np.result_type(x, w), copy=False)
    pairs = []
    for n, k, (start, length) in zip(x.shape, w.shape, window, strict=True):
        # padded x must run from full index `start` to `start + length + k - 1` (exclusive),
        # where full index j reads x[j - (k - 1) + s] for kernel offset s of the flipped w
        lo = k - 1 - start
        pairs.append((lo, length + k - 1 - n - lo))
    xpad = pad(x, tuple(pairs)) if any(lo or hi for lo, hi in pairs) else x
    return correlate_valid(xpad, w[(slice(None, None, -1),) * w.ndim], strategy)
