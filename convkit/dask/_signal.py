"""``convkit.signal`` (SciPy's convolution API) over dask arrays.

The first input is a dask array chunked anyhow; the second (the kernel) is held in memory and
shipped once as one graph key. Each mode is a window ``(start, length)`` of the full true
convolution; the input is extended at its true edges (zeros, or ``boundary`` for the 2-d
functions) exactly as far as the window reads, and every block then takes the in-memory
'valid' convolution of its part (halo included) -- the same arithmetic as the in-memory
function on the whole array, up to the planner's per-block choice of algorithm.

Arguments are validated by the in-memory function itself, run on a kernel-sized proxy of the
input, so the errors are SciPy's; that call also gives the output dtype.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from convkit.dask._core import NUMPY_PAD_MODES, as_dask, da, shared, windowed

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve"]


def _kernel(in2: Any) -> np.ndarray:
    """The kernel in memory (a dask kernel is computed: it is meant to be small)."""
    from convkit import Tensor

    if isinstance(in2, da.Array):
        in2 = in2.compute()
    if isinstance(in2, Tensor):
        if in2.requires_grad:
            raise RuntimeError("convkit.signal has no autograd: call .detach() on a Tensor "
                               "that requires grad before passing it")
        in2 = in2.numpy()
    return np.asarray(in2)


def _proxy(x: da.Array, kernel: np.ndarray) -> np.ndarray:
    """A small in-memory stand-in for ``x`` with the same comparisons against the kernel."""
    if x.ndim != kernel.ndim:
        return np.zeros((1,) * x.ndim, dtype=x.dtype)
    return np.zeros(tuple(min(n, k) for n, k in zip(x.shape, kernel.shape, strict=True)),
                    dtype=x.dtype)


def _in_memory(fn: Any, x: da.Array, kernel: np.ndarray, **kwargs: Any) -> da.Array:
    """Cases with nothing to chunk (empty input, 'valid' with the larger input second): the
    input is at most kernel-sized along every axis, so it is computed in memory."""
    out = np.asarray(fn(x.compute(), kernel, **kwargs))
    return da.from_array(out, chunks=out.shape or ())


def _windows(shape: tuple[int, ...], kernel_shape: tuple[int, ...], mode: str,
             same_start: Any = None) -> dict[int, tuple[tuple[int, int], int, int]]:
    """Per axis the padding that makes ``mode`` a 'valid' window of stride 1.

    Full convolution output ``t`` reads input ``[t - k + 1, t]``; the window ``[start,
    start + length)`` therefore reads ``[start - k + 1, start + length - 1]``, i.e. a pad of
    ``k - 1 - start`` before and ``start + length - n`` after the input.
    """
    windows = {}
    for axis, (n, k) in enumerate(zip(shape, kernel_shape, strict=True)):
        if mode == "full":
            start, length = 0, n + k - 1
        elif mode == "same":
            start, length = (same_start or (lambda k: (k - 1) // 2))(k), n
        else:
            start, length = k - 1, n - k + 1
        windows[axis] = ((k - 1 - start, start + length - n), k, 1)
    return windows


def _valid_swap(x: da.Array, kernel: np.ndarray, mode: str) -> bool:
    return mode == "valid" and any(n < k for n, k in zip(x.shape, kernel.shape, strict=True))


# ----------------------------------------------------------------------------- blocks
def _convolve_block(block: np.ndarray, kernel: np.ndarray, method: str) -> np.ndarray:
    from convkit import signal

    return signal.convolve(block, kernel, mode="valid", method=method)


def _correlate_block(block: np.ndarray, kernel: np.ndarray, method: str) -> np.ndarray:
    from convkit import signal

    return signal.correlate(block, kernel, mode="valid", method=method)


def _conv2d_block(block: np.ndarray, kernel: np.ndarray, correlate: bool) -> np.ndarray:
    from convkit import signal

    fn = signal.correlate2d if correlate else signal.convolve2d
    return fn(block, kernel, mode="valid")


def _fftconvolve_block(block: np.ndarray, kernel: np.ndarray, axes: list[int],
                       dtype: np.dtype) -> np.ndarray:
    from convkit import signal

    if not axes:  # every axis broadcast: SciPy's result is the plain product
        return (block * kernel).astype(dtype, copy=False)
    return signal.fftconvolve(block, kernel, mode="valid", axes=axes)


# ----------------------------------------------------------------------------- N-d
def _nd(name: str, in1: Any, in2: Any, mode: str, method: str, allow_rechunk: bool
        ) -> da.Array:
    from convkit import signal

    fn = getattr(signal, name)
    x = as_dask(in1, name)
    kernel = _kernel(in2)
    dtype = np.asarray(fn(_proxy(x, kernel), kernel, mode=mode, method=method)).dtype
    if x.ndim == 0 or x.size == 0 or kernel.size == 0 or _valid_swap(x, kernel, mode):
        return _in_memory(fn, x, kernel, mode=mode, method=method)
    block_fn = _correlate_block if name == "correlate" else _convolve_block
    return windowed(x, _windows(x.shape, kernel.shape, mode), "constant", 0,
                    functools.partial(block_fn, method=method), {}, dtype, allow_rechunk,
                    name, block_args=(shared(kernel),))


def convolve(in1: da.Array, in2: Any, mode: str = "full", method: str = "auto", *,
             allow_rechunk: bool = False) -> da.Array:
    """Convolve a dask array with an in-memory kernel, as :func:`convkit.signal.convolve`
    (a true convolution: the kernel is flipped).

    Shape:
        in1 ``(n_0, ..., n_{d-1})`` (dask, any chunks); in2 ``(k_0, ..., k_{d-1})`` (in
        memory); output ``n + k - 1`` ('full'), ``n`` ('same') or ``n - k + 1`` ('valid') per
        axis, dtype as SciPy's. Output chunks follow the input's.

    ``method`` is passed to every block ('auto' lets the planner choose per block). Each block
    reads a halo of ``k - 1`` samples from its right neighbour; a halo larger than every
    chunk of an axis is a ValueError unless ``allow_rechunk=True``.
    """
    return _nd("convolve", in1, in2, mode, method, allow_rechunk)


def correlate(in1: da.Array, in2: Any, mode: str = "full", method: str = "auto", *,
              allow_rechunk: bool = False) -> da.Array:
    """Cross-correlate a dask array with an in-memory kernel, as
    :func:`convkit.signal.correlate`. Shapes and chunks as for :func:`convolve`."""
    return _nd("correlate", in1, in2, mode, method, allow_rechunk)


# ----------------------------------------------------------------------------- 2-d
def _fill(fillvalue: Any, dtype: np.dtype) -> Any:
    """``fillvalue`` cast as convolve2d casts it (it was validated by the in-memory call)."""
    return np.asarray(fillvalue).astype(dtype).reshape(())[()]


def _2d(name: str, in1: Any, in2: Any, mode: str, boundary: str, fillvalue: Any,
        allow_rechunk: bool) -> da.Array:
    from convkit import signal

    fn = getattr(signal, name)
    x = as_dask(in1, name)
    kernel = _kernel(in2)
    if x.ndim != 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    kwargs = {"mode": mode, "boundary": boundary, "fillvalue": fillvalue}
    dtype = np.asarray(fn(_proxy(x, kernel), kernel, **kwargs)).dtype
    if x.size == 0 or kernel.size == 0 or _valid_swap(x, kernel, mode):
        return _in_memory(fn, x, kernel, **kwargs)
    pad_mode = NUMPY_PAD_MODES[boundary]
    fill = 0
    if pad_mode == "constant":
        fill = _fill(fillvalue, dtype)
        if fill != 0:
            x = x.astype(dtype)  # the fill must survive in the extended array's dtype
    correlate = name == "correlate2d"
    # correlate2d centres 'same' at k//2 (SciPy's C code); convolve2d at (k-1)//2
    same_start = (lambda k: k // 2) if correlate else None
    return windowed(x, _windows(x.shape, kernel.shape, mode, same_start), pad_mode, fill,
                    functools.partial(_conv2d_block, correlate=correlate), {}, dtype,
                    allow_rechunk, name, block_args=(shared(kernel),))


def convolve2d(in1: da.Array, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0, *, allow_rechunk: bool = False) -> da.Array:
    """Convolve a 2-d dask array with an in-memory kernel, as
    :func:`convkit.signal.convolve2d`.

    Shape:
        in1 ``(H, W)`` (dask); in2 ``(M, N)``; output ``(H + M - 1, W + N - 1)`` 'full',
        ``(H, W)`` 'same', ``(H - M + 1, W - N + 1)`` 'valid'.

    ``boundary`` ('fill' with ``fillvalue``, 'wrap', 'symm') extends the whole array at its
    true edges only ('wrap' reads the opposite edge, wherever its chunk lives); interior
    chunk boundaries are bridged by halos.
    """
    return _2d("convolve2d", in1, in2, mode, boundary, fillvalue, allow_rechunk)


def correlate2d(in1: da.Array, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0, *, allow_rechunk: bool = False) -> da.Array:
    """Cross-correlate a 2-d dask array with an in-memory kernel, as
    :func:`convkit.signal.correlate2d` ('same' centred at ``k//2``, SciPy's rule)."""
    return _2d("correlate2d", in1, in2, mode, boundary, fillvalue, allow_rechunk)


# ----------------------------------------------------------------------------- FFT
def _axes(axes: Any, ndim: int) -> list[int]:
    if axes is None:
        return list(range(ndim))
    if isinstance(axes, int | np.integer):
        axes = (axes,)
    return sorted({operator.index(a) % ndim for a in axes})


def fftconvolve(in1: da.Array, in2: Any, mode: str = "full", axes: Any = None, *,
                allow_rechunk: bool = False) -> da.Array:
    """Convolve a dask array with an in-memory kernel by FFT, per block, as
    :func:`convkit.signal.fftconvolve`.

    Shape:
        as SciPy's: along ``axes`` as for :func:`convolve`; along the other axes the sizes
        must be equal or 1 (broadcast). An axis where the kernel is as long as the input but
        not convolved is made whole (each block needs the kernel's whole extent there).

    Each block is transformed on its own (a chunked overlap-save): results equal the
    in-memory ``fftconvolve`` within floating-point tolerance.
    """
    from convkit import signal

    x = as_dask(in1, "fftconvolve")
    kernel = _kernel(in2)
    result = signal.fftconvolve(_proxy(x, kernel), kernel, mode=mode, axes=axes)
    dtype = np.asarray(result).dtype
    if x.ndim == 0 or x.size == 0 or kernel.size == 0:
        return _in_memory(signal.fftconvolve, x, kernel, mode=mode, axes=axes)
    requested = _axes(axes, x.ndim)
    if any(x.shape[a] != kernel.shape[a] and 1 not in (x.shape[a], kernel.shape[a])
           for a in range(x.ndim) if a not in requested):
        raise ValueError(f"incompatible shapes for in1 and in2: {x.shape} and {kernel.shape}")
    convolved = [a for a in requested if x.shape[a] != 1 and kernel.shape[a] != 1]
    if mode == "valid" and any(x.shape[a] < kernel.shape[a] for a in convolved):
        return _in_memory(signal.fftconvolve, x, kernel, mode=mode, axes=axes)
    crop = [slice(None)] * x.ndim
    for a in range(x.ndim):
        if a in convolved or kernel.shape[a] == 1:
            continue
        if x.shape[a] == 1:
            # broadcast input axis: every kernel row sees the same input; SciPy keeps max(n, k)
            # rows, centred on n = 1 in 'same' mode
            x = da.broadcast_to(x, x.shape[:a] + (kernel.shape[a],) + x.shape[a + 1:])
            if mode == "same":
                start = (kernel.shape[a] - 1) // 2
                crop[a] = slice(start, start + 1)
        x = x.rechunk({a: -1})
    full = _windows(x.shape, kernel.shape, mode)
    windows = {a: full[a] for a in convolved}
    block_fn = functools.partial(_fftconvolve_block, axes=convolved, dtype=dtype)
    out = windowed(x, windows, "constant", 0, block_fn, {}, dtype, allow_rechunk,
                   "fftconvolve", block_args=(shared(kernel),))
    return out[tuple(crop)]
