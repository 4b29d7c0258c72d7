"""Linear convolution through the FFT: whole-array, and overlap-add for a long input.

Both compute a **true convolution** (the kernel is flipped, nothing is conjugated) along the
chosen ``axes``, broadcasting every other axis (sizes equal, or 1 on one side)::

    full[j] = sum_t x[j - t] * w[t],        j = 0 .. n + k - 2 along each convolved axis

and return only the requested *window* ``[start, start + length)`` of ``full`` per axis, which
is how the 'full', 'same' and 'valid' modes of the signal layer are expressed.

Why a window and not always ``full``: a circular convolution of length ``L`` equals the linear
one except for the wrap-around of indices ``>= L`` onto ``[0, n + k - 1 - L)``. A window that
starts at ``start`` is therefore exact as soon as ``L >= n + k - 1 - start`` (and the window
fits), so 'valid' needs ``L >= n`` instead of ``n + k - 1`` and 'same' about ``n + k/2``: shorter
transforms for the same result.

Arithmetic: both inputs are transformed in their common floating dtype, integer and bool
inputs counting as float64 (a float32 kernel on a float64 signal is transformed in float64);
float16 is transformed in float32 by ``scipy.fft``. Real inputs use real transforms (``rfft``
along the last axis), complex ones complex transforms; :func:`fft_convolve` applies them one
axis at a time so that zero padding is never transformed needlessly, :func:`oa_convolve` as
one batched ``rfftn``/``fftn``. Threads (``workers``) are the caller's choice (the planner's
calibrated one). The result has the transform's dtype (float32/float64/complex64/
complex128...); rounding back to an integer dtype is the caller's decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.fft as sp_fft
from scipy.special import lambertw

__all__ = ["fft_convolve", "oa_convolve", "oa_block_length", "oa_geometry",
           "circular_length", "full_window"]

Window = tuple[tuple[int, int], ...]  # (start, length) per convolved axis, in `full` indices


def full_window(n: Sequence[int], k: Sequence[int]) -> Window:
    """The whole linear convolution: ``(0, n + k - 1)`` per axis."""
    return tuple((0, a + b - 1) for a, b in zip(n, k, strict=True))


def circular_length(n: int, k: int, start: int, length: int, real: bool) -> int:
    """The shortest fast transform length whose circular convolution is exact on the window.

    Parameters
    ----------
    n, k : int
        Lengths of the two inputs along the axis (both >= 1).
    start, length : int
        The window of ``full`` (length ``n + k - 1``) that is needed.
    real : bool
        Whether the axis may use a real transform (``next_fast_len``'s ``real`` flag).
    """
    # Both inputs must fit; the window must fit; wrap-around must stay below ``start``.
    need = max(n, k, start + length, n + k - 1 - start)
    return sp_fft.next_fast_len(need, real)


def _transformable(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs in their common floating dtype (integers count as float64).

    Transforming each input in its own precision (as SciPy does) would put float32 rounding
    into a float64 result when a float32 kernel meets a float64 or integer signal; the result
    dtype is the same either way.
    """
    dtype = np.result_type(*(np.float64 if a.dtype.kind in "biu" else a.dtype for a in (x, w)))
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False)


def _multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * b``, in place in ``a`` when ``a`` already has the broadcast shape (saves a copy)."""
    if a.shape == np.broadcast_shapes(a.shape, b.shape) and a.dtype == np.result_type(a, b):
        return np.multiply(a, b, out=a)
    return a * b


def _forward(a: np.ndarray, fshape: Sequence[int], axes: Sequence[int], real: bool,
             workers: int | None) -> np.ndarray:
    """The N-d transform of ``a`` zero-extended to ``fshape``, one axis at a time.

    Unlike ``rfftn(a, fshape)``, which zero-extends every axis first and then transforms all
    of it, the first (last-axis) pass only transforms the rows that exist, and each later pass
    extends its own axis inside the transform: a 31 x 31 kernel extended to 1080 x 1080 costs
    31 row transforms instead of 1080 (about half of a full 2-d transform is saved).
    """
    out = (sp_fft.rfft if real else sp_fft.fft)(a, n=fshape[-1], axis=axes[-1],
                                               workers=workers)
    for axis, n in zip(reversed(axes[:-1]), reversed(fshape[:-1]), strict=True):
        out = sp_fft.fft(out, n=n, axis=axis, workers=workers, overwrite_x=True)
    return out


def _inverse(spectrum: np.ndarray, fshape: Sequence[int], axes: Sequence[int],
             window: Window, real: bool, workers: int | None) -> np.ndarray:
    """Inverse of :func:`_forward`, cropped to ``window`` after each axis: the later passes
    only transform the rows that are kept."""
    y = spectrum
    for axis, n, (start, length) in zip(axes[:-1], fshape[:-1], window[:-1], strict=True):
        y = sp_fft.ifft(y, n=n, axis=axis, workers=workers, overwrite_x=True)
        y = y[(slice(None),) * axis + (slice(start, start + length),)]
    if real:
        y = sp_fft.irfft(y, n=fshape[-1], axis=axes[-1], workers=workers)
    else:
        y = sp_fft.ifft(y, n=fshape[-1], axis=axes[-1], workers=workers, overwrite_x=True)
    start, length = window[-1]
    return y[(slice(None),) * axes[-1] + (slice(start, start + length),)]


def fft_convolve(x: np.ndarray, w: np.ndarray, axes: Sequence[int],
                 window: Window | None = None, workers: int | None = None) -> np.ndarray:
    """Convolve ``x`` with ``w`` along ``axes`` by one FFT of each, and crop to ``window``.

    Parameters
    ----------
    x, w : ndarray, same ndim
        Along ``axes`` any sizes >= 1; along the other axes equal sizes or 1 (broadcast).
    axes : sequence of int
        Distinct non-negative axes to convolve along (may be empty: then a broadcast product).
    window : tuple of (start, length), one per entry of ``axes``, optional
        The part of the full convolution to return (default: all of it).
    workers : int, optional
        Threads for ``scipy.fft`` (default: scipy.fft's current setting).

    Returns
    -------
    ndarray
        Shape: ``length`` along each convolved axis, ``max(x.shape[a], w.shape[a])`` along the
        others. A new array; dtype of the transform (see the module docstring).
    """
    axes = list(axes)
    if window is None:
        window = full_window([x.shape[a] for a in axes], [w.shape[a] for a in axes])
    if not axes:
        return x * w
    x, w = _transformable(x, w)
    real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
    fshape = [circular_length(x.shape[a], w.shape[a], s, m, real)
              for a, (s, m) in zip(axes, window, strict=True)]
    spectrum = _multiply(_forward(x, fshape, axes, real, workers),
                         _forward(w, fshape, axes, real, workers))
    return np.ascontiguousarray(_inverse(spectrum, fshape, axes, window, real, workers))


# ------------------------------------------------------------------------- overlap-add
@lru_cache(maxsize=4096)
def oa_block_length(n: int, k: int) -> int | None:
    """FFT block length for overlap-add along one axis, or None when one block is better.

    The longer of the two lengths (``n`` or ``k``) is cut into segments; each segment and the
    whole shorter input are transformed at the block length ``B``, so every block yields
    ``B - (short - 1)`` new outputs. Minimising the cost per output,
    ``B log B / (B - K)`` with ``K = short - 1``, gives ``B = -K W_{-1}(-1/(2 e K))`` (Lambert W,
    lower branch), rounded up to a fast length. The same rule as SciPy's ``oaconvolve``, so the
    two cut (or refuse to cut) the same axes.

    Returns None when cutting cannot pay: equal lengths, a length of 1, a short side at
    least half the long one, or a block that would already cover the long side.
    """
    long, short = max(n, k), min(n, k)
    if n == k or short == 1 or short >= long / 2:
        return None
    overlap = short - 1
    optimum = -overlap * lambertw(-1 / (2 * math.e * overlap), k=-1).real
    block = sp_fft.next_fast_len(math.ceil(optimum))
    return None if block >= long else block


def oa_geometry(n: int, k: int, block: int | None) -> tuple[int, int, int]:
    """``(blocks, step, transform length)`` of one axis for the overlap-add of ``n`` and ``k``.

    With ``block=None`` the axis is not cut: one block, step ``max(n, k)``, and a transform
    long enough for the whole linear convolution.
    """
    long, short = max(n, k), min(n, k)
    if block is None:
        return 1, long, sp_fft.next_fast_len(n + k - 1)
    step = block - short + 1
    # the tail of a block (short - 1 samples) must fit inside the next block's step
    assert short - 1 <= step, (n, k, block)
    return -(-long // step), step, block


def _cut(a: np.ndarray, axis: int, blocks: int, step: int) -> np.ndarray:
    """Zero-extend ``a`` along ``axis`` to ``blocks * step``, split it: (.., blocks, step, ..)."""
    extra = blocks * step - a.shape[axis]
    if extra:
        widths = [(0, 0)] * a.ndim
        widths[axis] = (0, extra)
        a = np.pad(a, widths)
    return a.reshape(a.shape[:axis] + (blocks, step) + a.shape[axis + 1:])


def _overlap_add(y: np.ndarray, axis: int, step: int, total: int) -> np.ndarray:
    """Merge axes (axis, axis + 1) = (blocks, length) by adding each block at ``b * step``."""
    blocks, length = y.shape[axis], y.shape[axis + 1]
    y = np.moveaxis(y, (axis, axis + 1), (0, 1))  # (blocks, length, *rest)
    if blocks == 1:
        out = y[0, :total]
    else:
        tail = length - step  # samples that spill into the next block, <= step
        out = np.zeros((blocks + 1, step) + y.shape[2:], dtype=y.dtype)
        out[:blocks] = y[:, :step]
        out[1:, :tail] += y[:, step:]
        out = out.reshape(((blocks + 1) * step,) + y.shape[2:])[:total]
    return np.moveaxis(out, 0, axis)


def oa_convolve(x: np.ndarray, w: np.ndarray, axes: Sequence[int],
                blocks: Sequence[int | None], window: Window | None = None,
                workers: int | None = None) -> np.ndarray:
    """Convolve ``x`` with ``w`` along ``axes`` by overlap-add, and crop to ``window``.

    Along each axis with a block length, the longer of the two inputs is cut into segments of
    ``step = block - (short - 1)`` samples; all segments are transformed at once (a batch of
    small FFTs instead of one large one), multiplied by the transform of the shorter input,
    transformed back, and added at their offsets. Axes with ``None`` are convolved whole.
    Either input may be the long one, independently per axis.

    Parameters
    ----------
    x, w : ndarray, same ndim
        As for :func:`fft_convolve`.
    axes : sequence of int
        Distinct non-negative axes to convolve along.
    blocks : sequence of (int or None)
        Block length per entry of ``axes`` (see :func:`oa_block_length`).
    window, workers
        As for :func:`fft_convolve`.

    Returns
    -------
    ndarray
        Same shape and dtype rules as :func:`fft_convolve`.
    """
    axes, blocks = list(axes), list(blocks)
    n = [x.shape[a] for a in axes]
    k = [w.shape[a] for a in axes]
    if window is None:
        window = full_window(n, k)
    x, w = _transformable(x, w)
    real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
    geometry = [oa_geometry(a, b, blk) for a, b, blk in zip(n, k, blocks, strict=True)]
    # Cut axes from the last to the first so that the earlier axis numbers stay valid: axis a
    # becomes the pair (a + #convolved axes before a, +1) = (blocks, segment).
    order = sorted(range(len(axes)), key=lambda i: axes[i], reverse=True)
    for i in order:
        a, (nb, step, _) = axes[i], geometry[i]
        if x.shape[a] >= w.shape[a]:
            x, w = _cut(x, a, nb, step), np.expand_dims(w, a)
        else:
            x, w = np.expand_dims(x, a), _cut(w, a, nb, step)
    rank = sorted(axes)
    pair = {a: a + rank.index(a) for a in axes}  # block axis of original axis a
    t_axes = [pair[a] + 1 for a in axes]
    t_shape = [g[2] for g in geometry]
    if real:
        spectrum = _multiply(sp_fft.rfftn(x, t_shape, axes=t_axes, workers=workers),
                             sp_fft.rfftn(w, t_shape, axes=t_axes, workers=workers))
        y = sp_fft.irfftn(spectrum, t_shape, axes=t_axes, workers=workers, overwrite_x=True)
    else:
        spectrum = _multiply(sp_fft.fftn(x, t_shape, axes=t_axes, workers=workers),
                             sp_fft.fftn(w, t_shape, axes=t_axes, workers=workers))
        y = sp_fft.ifftn(spectrum, t_shape, axes=t_axes, workers=workers, overwrite_x=True)
    for i in order:  # merge pairs from the last one, so earlier pair positions hold
        a, (_, step, _) = axes[i], geometry[i]
        y = _overlap_add(y, pair[a], step, n[i] + k[i] - 1)
    crop = [slice(None)] * y.ndim
    for a, (s, m) in zip(axes, window, strict=True):
        crop[a] = slice(s, s + m)
    return np.ascontiguousarray(y[tuple(crop)])
