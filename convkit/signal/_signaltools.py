"""SciPy's convolution functions (``scipy.signal``) over convkit's engine.

Every function here has SciPy's name, signature, defaults, output shapes and dtypes, error
classes and messages; the arithmetic is done by ``convkit.engine``:

* :func:`convkit.engine.plan.convolve` computes a *window* of the true convolution of two
  arrays (zero outside both) and picks direct sums or FFT by the calibrated planner;
* :func:`convkit.engine.fft.fft_convolve` / :func:`~convkit.engine.fft.oa_convolve` are the
  FFT methods; :func:`convkit.engine.direct.pad` extends an array for the 2-d boundaries.

A SciPy *mode* is a window of the full convolution ``full`` (length ``n + k - 1`` per axis,
``n`` the size of ``in1``, ``k`` of ``in2``)::

    'full'   start 0            length n + k - 1
    'same'   start (k - 1)//2   length n           (centred on 'full', as SciPy does)
    'valid'  start k - 1        length n - k + 1   (the inputs are swapped first if needed)

Correlation is convolution with the second input reversed and conjugated. The one exception
to the window rule is SciPy's own: ``correlate2d`` in 'same' mode centres on the other side
(start ``k//2``), so for even kernels it is one sample off ``correlate`` (SciPy documents it).

Inputs may be anything ``numpy.asarray`` accepts, or convkit Tensors: when any input is a
Tensor the result is a Tensor (made with ``convkit.from_numpy``). Inputs are never modified.
There is no autograd here: a Tensor that requires grad is refused.
"""

from __future__ import annotations

import operator
import time
import warnings
from collections.abc import Callable
from numbers import Number
from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor
from convkit.engine import direct as _direct
from convkit.engine import fft as _fft
from convkit.engine import plan as _plan

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve",
           "choose_conv_method", "correlation_lags"]

_MODES = ("valid", "same", "full")
# SciPy's boundary names -> the engine's padding modes. SciPy also lists 'reflect' but its
# C code refuses it ("Incorrect boundary value."); so does convkit.
_BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "circular",
               "circular": "circular", "symm": "symmetric", "symmetric": "symmetric"}
_MODE_ERROR = "Acceptable mode flags are 'valid', 'same', or 'full'."
_METHOD_ERROR = "Acceptable method flags are 'auto', 'direct', or 'fft'."
# fftconvolve and oaconvolve word it differently in SciPy (and SciPy's tests check it)
_FREQ_MODE_ERROR = "acceptable mode flags are 'valid', 'same', or 'full'"


# ------------------------------------------------------------------------- in and out
def _array(a: Any) -> np.ndarray:
    if isinstance(a, Tensor):
        if a.requires_grad:
            raise RuntimeError("convkit.signal has no autograd: call .detach() on a Tensor "
                               "that requires grad before passing it")
        return a.numpy()  # shares memory; nothing here writes into its inputs
    return np.asarray(a)


def _inputs(*args: Any) -> tuple[bool, list[np.ndarray]]:
    """(whether any argument is a Tensor, the arguments as ndarrays)."""
    return any(isinstance(a, Tensor) for a in args), [_array(a) for a in args]


def _output(result: Any, as_tensor: bool) -> Any:
    """Hand ``result`` back in the caller's type: a Tensor if a Tensor came in."""
    if not as_tensor:
        return result
    import convkit  # the package is initialised by the time signal functions run

    array = np.asarray(result)  # (not ascontiguousarray: it turns 0-d results into 1-d)
    return convkit.from_numpy(array if array.flags.c_contiguous else array.copy())


def _check_numeric(*arrays: np.ndarray, name: str) -> None:
    for a in arrays:
        if a.dtype.kind not in "biufc":
            raise ValueError(f"{name} not available for this type: {a.dtype} (convkit.signal "
                             "supports boolean, integer, floating and complex arrays)")


# ------------------------------------------------------------------------- shapes
def _inputs_swap_needed(mode: str, shape1: tuple[int, ...], shape2: tuple[int, ...],
                        axes: Any = None) -> bool:
    """In 'valid' mode, whether ``in2`` is the larger input (then the two are swapped).

    Raises ValueError when neither input is at least as large as the other on every axis.
    """
    if mode != "valid" or not shape1:
        return False
    axes = range(len(shape1)) if axes is None else axes
    ok1 = all(shape1[i] >= shape2[i] for i in axes)
    ok2 = all(shape2[i] >= shape1[i] for i in axes)
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in "
                         "every dimension")
    return not ok1


def _window(n: int, k: int, mode: str, same_start: Callable[[int], int] | None = None
            ) -> tuple[int, int]:
    """(start, length) of ``mode`` inside the full convolution, for one axis."""
    if mode == "full":
        return 0, n + k - 1
    if mode == "same":
        return (same_start or (lambda k: (k - 1) // 2))(k), n
    return k - 1, n - k + 1  # valid, with n >= k


def _mode_shape(n: tuple[int, ...], k: tuple[int, ...], mode: str) -> tuple[int, ...]:
    """Output shape of ``mode``; also for empty inputs (then the output is all zeros)."""
    if mode == "full":
        return tuple(max(a + b - 1, 0) for a, b in zip(n, k, strict=True))
    if mode == "same":
        return tuple(n)
    return tuple(a - b + 1 for a, b in zip(n, k, strict=True))


def _reverse_and_conj(a: np.ndarray) -> np.ndarray:
    reverse = a[(slice(None, None, -1),) * a.ndim]
    return reverse.conj() if a.dtype.kind == "c" else reverse


def _from_fft(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast an FFT result to the direct method's dtype; integers are rounded first."""
    if dtype.kind in "iu":
        out = np.rint(out)
    elif dtype.kind == "b":
        return np.rint(out.real) != 0  # exact 0/1 sums, not FFT noise, decide True
    return out.astype(dtype, copy=False)


# ------------------------------------------------------------------------- convolve
def _convolve(volume: np.ndarray, kernel: np.ndarray, mode: str, method: str) -> Any:
    """:func:`convolve` on ndarrays (0-d and dimension checks already done)."""
    if method not in ("auto", "direct", "fft"):
        raise ValueError(_METHOD_ERROR)
    if mode not in _MODES:
        # SciPy's message depends on where the mode is first looked at: in fftconvolve, in
        # choose_conv_method (unless both inputs are boolean), or in correlate
        if method == "fft":
            raise ValueError(_FREQ_MODE_ERROR)
        if method == "auto" and not (volume.dtype == kernel.dtype == np.bool_):
            raise ValueError(f"{_MODE_ERROR[:-1]}, not mode={mode}")
        raise ValueError(_MODE_ERROR)
    _check_numeric(volume, kernel, name="convolve")
    if _inputs_swap_needed(mode, volume.shape, kernel.shape):
        volume, kernel = kernel, volume  # convolution commutes; 'valid' needs the larger first
    dtype = np.result_type(volume, kernel)
    if volume.size == 0 or kernel.size == 0:
        # SciPy raises assorted internal errors here; the sums over nothing are zeros
        return np.zeros(_mode_shape(volume.shape, kernel.shape, mode), dtype=dtype)
    window = tuple(_window(n, k, mode) for n, k in zip(volume.shape, kernel.shape, strict=True))
    out, plan = _plan.convolve(volume, kernel, window, method=method)
    if plan.method == "direct":
        return out
    if method == "fft" and out.size and not np.isfinite(out.flat[0]):
        # SciPy's warning, checked the way SciPy checks it (on the first element)
        warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                      "output. Consider using method='direct' instead.",
                      category=RuntimeWarning, stacklevel=3)
    return _from_fft(out, dtype)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """Convolve two N-dimensional arrays (a true convolution: ``in2`` is flipped).

    Parameters
    ----------
    in1 : array_like or Tensor, shape (n_0, ..., n_{d-1})
        First input.
    in2 : array_like or Tensor, shape (k_0, ..., k_{d-1})
        Second input, with the same number of dimensions as ``in1``.
    mode : {'full', 'valid', 'same'}, optional
        ``'full'`` (default): the whole linear convolution. ``'valid'``: only the outputs that
        do not depend on zero-padding (one input must be at least as large as the other on
        every axis; the larger may come second). ``'same'``: the size of ``in1``, centred on
        ``'full'``.
    method : {'auto', 'direct', 'fft'}, optional
        ``'direct'`` sums products; ``'fft'`` multiplies spectra (whole-array or overlap-add);
        ``'auto'`` (default) asks convkit's planner, which takes the FFT only where it is
        faster on this machine *and* as accurate (integers exactly recoverable, no NaN/inf,
        no extreme dynamic range).

    Returns
    -------
    ndarray (or Tensor, if a Tensor came in)
        Shape ``n + k - 1`` ('full'), ``n`` ('same') or ``|n - k| + 1`` ('valid') per axis;
        dtype ``np.result_type(in1, in2)`` whatever the method (FFT results of integer
        inputs are rounded). For 0-d inputs, ``in1 * in2``.

    Raises
    ------
    ValueError
        Different numbers of dimensions, an unknown mode or method, or 'valid' mode with
        neither input at least as large as the other.

    Warns
    -----
    RuntimeWarning
        ``method='fft'`` on input with NaN or inf: the whole output becomes NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from convkit.signal import convolve
    >>> convolve([3, 4, 5, 6, 5, 4], [1, 2, 3])
    array([ 3, 10, 22, 28, 32, 32, 23, 12])
    """
    tensor, (volume, kernel) = _inputs(in1, in2)
    if volume.ndim == kernel.ndim == 0:
        return _output(volume * kernel, tensor)
    if volume.ndim != kernel.ndim:
        raise ValueError("volume and kernel should have the same dimensionality")
    return _output(_convolve(volume, kernel, mode, method), tensor)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """Cross-correlate two N-dimensional arrays: ``z[k] = sum_l in1[l + k] * conj(in2[l])``.

    Parameters
    ----------
    in1 : array_like or Tensor, shape (n_0, ..., n_{d-1})
    in2 : array_like or Tensor, shape (k_0, ..., k_{d-1})
    mode : {'full', 'valid', 'same'}, optional
        As for :func:`convolve`; 'full' lags run from ``-(k - 1)`` to ``n - 1`` (see
        :func:`correlation_lags`).
    method : {'auto', 'direct', 'fft'}, optional
        As for :func:`convolve`.

    Returns
    -------
    ndarray (or Tensor)
        Shapes and dtype as for :func:`convolve`. Equal to
        ``convolve(in1, in2[::-1, ...].conj(), mode)``; in 'valid' mode with the larger
        input second, the result is the reversed conjugate of ``correlate(in2, in1)``.

    Raises
    ------
    ValueError
        As for :func:`convolve`.
    """
    tensor, (a, b) = _inputs(in1, in2)
    if a.ndim == b.ndim == 0:
        return _output(a * (b.conj() if b.dtype.kind == "c" else b), tensor)
    if a.ndim != b.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if mode not in _MODES:
        raise ValueError(_MODE_ERROR)
    if method not in ("auto", "direct", "fft"):
        raise ValueError(_METHOD_ERROR)
    return _output(_convolve(a, _reverse_and_conj(b), mode, method), tensor)


def choose_conv_method(in1: Any, in2: Any, mode: str = "full", measure: bool = False) -> Any:
    """The method ('direct' or 'fft') :func:`convolve` and :func:`correlate` would use.

    Parameters
    ----------
    in1, in2 : array_like or Tensor
        The arguments that would be passed to the convolution.
    mode : {'full', 'valid', 'same'}, optional
    measure : bool, optional
        If True, time both methods on these inputs and return the faster one with the times.

    Returns
    -------
    method : str
        'direct' or 'fft'. Without ``measure``, convkit's planner decides: predicted times
        from constants measured on this machine (``python -m convkit.engine.plan
        --calibrate``), and the FFT only where it is as accurate as the direct sums.
    times : dict, only with ``measure=True``
        Seconds per call for ``'fft'`` and ``'direct'``.
    """
    _, (volume, kernel) = _inputs(in1, in2)
    if measure:
        times = {method: _time(lambda m=method: _convolve_any(volume, kernel, mode, m))
                 for method in ("fft", "direct")}
        return ("fft" if times["fft"] < times["direct"] else "direct"), times
    if volume.dtype == kernel.dtype == np.bool_:
        return "direct"  # (SciPy answers this before looking at the mode)
    if mode not in _MODES:
        raise ValueError(f"{_MODE_ERROR[:-1]}, not mode={mode}")
    # Arguments the convolution itself would refuse get 'direct', as in SciPy (no error)
    if (volume.ndim == 0 or volume.ndim != kernel.ndim or volume.size == 0 or kernel.size == 0
            or volume.dtype.kind not in "biufc" or kernel.dtype.kind not in "biufc"):
        return "direct"
    try:
        if _inputs_swap_needed(mode, volume.shape, kernel.shape):
            volume, kernel = kernel, volume
    except ValueError:
        return "direct"
    window = tuple(_window(n, k, mode) for n, k in zip(volume.shape, kernel.shape, strict=True))
    return "direct" if _plan.select(volume, kernel, window).method == "direct" else "fft"


def _convolve_any(volume: np.ndarray, kernel: np.ndarray, mode: str, method: str) -> Any:
    if volume.ndim == kernel.ndim == 0:
        return volume * kernel
    if volume.ndim != kernel.ndim:
        raise ValueError("volume and kernel should have the same dimensionality")
    return _convolve(volume, kernel, mode, method)


def _time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Seconds per call: enough calls to take about 5 ms, best of ``repeat`` such runs."""
    number, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= 5e-3 or number >= 10**6:
            break
        number *= 10
    if elapsed > 1:
        return elapsed / number
    best = elapsed
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / number


# ------------------------------------------------------------------------- 2-d
def _fill_value(fillvalue: Any, dtype: np.dtype) -> Any:
    """``fillvalue`` as a scalar of the output dtype, with SciPy's checks and messages."""
    cast_error = ValueError("could not cast `fillvalue` directly to the output type (it was "
                            "first converted to complex).")
    source = np.asarray(fillvalue) if fillvalue is not None else None
    try:
        if source is None or source.dtype.kind not in "biufc":
            raise TypeError
        with warnings.catch_warnings():
            # complex -> real drops the imaginary part: SciPy refuses that cast
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            fill = np.asarray(fillvalue, dtype=dtype)  # NumPy's casting, as in SciPy
    except (TypeError, ValueError, OverflowError, np.exceptions.ComplexWarning):
        np.asarray(fillvalue, dtype=np.complex128)  # SciPy's fallback; may raise its own
        raise cast_error from None
    if fill.size == 0:
        raise ValueError("`fillvalue` cannot be an empty array.")
    if fill.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element.")
    return fill.reshape(())[()]


def _conv2d(name: str, in1: Any, in2: Any, mode: str, boundary: str, fillvalue: Any,
            correlate: bool) -> Any:
    """The shared body of :func:`convolve2d` and :func:`correlate2d`."""
    tensor, (a, b) = _inputs(in1, in2)
    if not a.ndim == b.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    swapped = _inputs_swap_needed(mode, a.shape, b.shape)
    if swapped:
        a, b = b, a
    if mode not in _MODES:
        raise ValueError(_MODE_ERROR)
    if boundary == "reflect":
        raise ValueError("Incorrect boundary value.")
    if boundary not in _BOUNDARIES:
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                         "'symmetric' (or 'symm').")
    _check_numeric(a, b, name=name)
    dtype = np.result_type(a, b)
    pad_mode = _BOUNDARIES[boundary]
    fill = _fill_value(fillvalue, dtype) if pad_mode == "constant" else None
    if correlate:
        # correlate2d(x, w) = true convolution of x with w reversed and conjugated, its
        # 'same' window starting at k//2 (SciPy's C code centres correlation that way)
        b = _reverse_and_conj(b)
    same_start = (lambda k: k // 2) if correlate else None
    window = tuple(_window(n, k, mode, same_start) for n, k in zip(a.shape, b.shape, strict=True))
    out_shape = tuple(m for _, m in window)
    if a.size == 0 and pad_mode != "constant" and any(
            m and n == 0 for m, n in zip(out_shape, a.shape, strict=True)):
        raise ValueError(f"{name}: boundary {boundary!r} cannot extend an empty in1 "
                         f"(shape {a.shape})")
    if 0 in out_shape:
        out = np.zeros(out_shape, dtype=dtype)
    elif b.size == 0:
        out = np.zeros(out_shape, dtype=dtype)  # an empty kernel sums nothing
    elif pad_mode == "constant" and fill == 0:
        out, plan = _plan.convolve(a, b, window)
        out = out if plan.method == "direct" else _from_fft(out, dtype)
    else:
        # Extend in1 by the boundary rule exactly as far as the window reads, then take the
        # 'valid' convolution of the extended array with the kernel.
        pairs = []
        for n, k, (start, length) in zip(a.shape, b.shape, window, strict=True):
            lo = k - 1 - start
            pairs.append((lo, length + k - 1 - n - lo))
        extended = _direct.pad(a.astype(dtype, copy=False), tuple(pairs), pad_mode,
                               fill if fill is not None else 0)
        valid = tuple(_window(n, k, "valid") for n, k in zip(extended.shape, b.shape, strict=True))
        out, plan = _plan.convolve(extended, b, valid)
        out = out if plan.method == "direct" else _from_fft(out, dtype)
    if correlate and swapped:
        out = out[::-1, ::-1].copy()  # SciPy reverses (without conjugating) after a swap
    return _output(out, tensor)


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0) -> Any:
    """Convolve two 2-dimensional arrays, with a boundary rule for the outside of ``in1``.

    Parameters
    ----------
    in1 : array_like or Tensor, shape (H, W)
        First input (the "image").
    in2 : array_like or Tensor, shape (M, N)
        Second input (the kernel; flipped, as convolution does).
    mode : {'full', 'valid', 'same'}, optional
        As for :func:`convolve`.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How ``in1`` is extended: ``'fill'`` with ``fillvalue`` (default), ``'wrap'``
        periodically, ``'symm'`` by mirroring with the edge sample repeated (``d c b a | a b c
        d | d c b a``; PyTorch's 'reflect' does not repeat it). Also accepted: 'pad',
        'circular', 'symmetric'.
    fillvalue : scalar, optional
        Value outside ``in1`` for ``boundary='fill'`` (default 0), cast to the output dtype.

    Returns
    -------
    ndarray (or Tensor), dtype ``np.result_type(in1, in2)``
        Shape (H + M - 1, W + N - 1) 'full', (H, W) 'same', (|H - M| + 1, |W - N| + 1) 'valid'.

    Notes
    -----
    SciPy always sums directly (O(H W M N)); convkit asks its planner, so large kernels on
    large images go through the FFT (exactly rounded for integers) when that is faster and
    accurate.

    Examples
    --------
    The seeds' step edge (see :func:`convkit.signal.reference.convo2d`):

    >>> import numpy as np
    >>> from convkit.signal import convolve2d
    >>> arr = np.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
    >>> ker = np.zeros((3, 3)); ker[:, 0] = -1.0; ker[:, 2] = 1.0
    >>> convolve2d(arr, ker, mode="valid")[0]
    array([0., 0., 9., 9., 0., 0.])
    """
    return _conv2d("convolve2d", in1, in2, mode, boundary, fillvalue, correlate=False)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0) -> Any:
    """Cross-correlate two 2-dimensional arrays, with a boundary rule for ``in1``.

    ``out[i, j] = sum_{m, n} in1_ext[i + m - r, j + n - c] * conj(in2[m, n])``, with ``in1_ext``
    the extension of ``in1`` by ``boundary`` and ``(r, c)`` the offset of ``mode``.

    Parameters
    ----------
    in1 : array_like or Tensor, shape (H, W)
    in2 : array_like or Tensor, shape (M, N)
    mode, boundary, fillvalue
        As for :func:`convolve2d`.

    Returns
    -------
    ndarray (or Tensor)
        As for :func:`convolve2d`. In 'same' mode with an even kernel the result is one
        sample off :func:`correlate` (SciPy's behaviour). In 'valid' mode with the larger
        input second, the inputs are swapped and the result reversed (not conjugated).
    """
    return _conv2d("correlate2d", in1, in2, mode, boundary, fillvalue, correlate=True)


# ------------------------------------------------------------------------- FFT
def _iterable_of_int(x: Any, name: str) -> list[int]:
    if isinstance(x, Number):
        x = (x,)
    try:
        return [operator.index(a) for a in x]
    except TypeError as e:
        raise ValueError(f"{name} must be a scalar or iterable of integers") from e


def _init_freq_conv_axes(in1: np.ndarray, in2: np.ndarray, mode: str, axes: Any,
                         sorted_axes: bool = False
                         ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Validate ``axes``; drop axes where either input has length 1 (broadcast instead);
    check the other axes broadcast; swap the inputs for 'valid' mode if needed."""
    s1, s2 = in1.shape, in2.shape
    if axes is None:
        axes = list(range(in1.ndim))
    else:
        axes = [a + in1.ndim if a < 0 else a for a in _iterable_of_int(axes, "axes")]
        if any(a >= in1.ndim or a < 0 for a in axes):
            raise ValueError("axes exceeds dimensionality of input")
        if len(set(axes)) != len(axes):
            raise ValueError("all axes must be unique")
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
    axes = [a for a in axes if s1[a] != 1 and s2[a] != 1]
    if sorted_axes:
        axes.sort()
    if not all(s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1
               for a in range(in1.ndim) if a not in axes):
        raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    if _inputs_swap_needed(mode, s1, s2, axes=axes):
        in1, in2 = in2, in1
    return in1, in2, axes


def _freq_windows(s1: tuple[int, ...], s2: tuple[int, ...], axes: list[int], mode: str
                  ) -> tuple[tuple[tuple[int, int], ...], tuple[slice, ...]]:
    """The engine window along ``axes``, and the crop of the broadcast axes.

    Broadcast axes come out of the engine with size ``max(n, k)``; 'same' mode centres them
    on ``n`` as it does the convolved axes (SciPy's ``_centered`` of the whole result).
    """
    window = tuple(_window(s1[a], s2[a], mode) for a in axes)
    crop = []
    for a in range(len(s1)):
        if mode == "same" and a not in axes:
            start = (max(s1[a], s2[a]) - s1[a]) // 2
            crop.append(slice(start, start + s1[a]))
        else:
            crop.append(slice(None))
    return window, tuple(crop)


def _freq_prologue(in1: Any, in2: Any, mode: str, axes: Any, sorted_axes: bool):
    """Shared start of fftconvolve and oaconvolve: SciPy's order of checks."""
    tensor, (a, b) = _inputs(in1, in2)
    if a.ndim == b.ndim == 0:
        return tensor, a * b, None
    if a.ndim != b.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if a.size == 0 or b.size == 0:
        return tensor, np.asarray([]), None  # SciPy's answer for empty inputs
    _check_numeric(a, b, name="fftconvolve")
    a, b, axes = _init_freq_conv_axes(a, b, mode, axes, sorted_axes)
    if mode not in _MODES:
        raise ValueError(_FREQ_MODE_ERROR)
    return tensor, None, (a, b, axes)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Any:
    """Convolve two N-dimensional arrays using one FFT of each.

    Parameters
    ----------
    in1 : array_like or Tensor, shape (..., n_a, ...)
    in2 : array_like or Tensor, same ndim
        Along ``axes``: any sizes. Along the other axes: equal sizes, or 1 (broadcast).
    mode : {'full', 'valid', 'same'}, optional
        As for :func:`convolve`, along ``axes``.
    axes : int or sequence of int, optional
        Axes to convolve along (default: all).

    Returns
    -------
    ndarray (or Tensor)
        Floating (or complex) result of the transform: float64 for integer inputs, float32 for
        float16/float32, complex for complex inputs. Along broadcast axes the size is
        ``max(n, k)`` (``n`` in 'same' mode). Empty inputs give ``array([])``.

    Raises
    ------
    ValueError
        Different numbers of dimensions; bad ``axes`` ("axes must be a scalar or iterable of
        integers", "axes exceeds dimensionality of input", "all axes must be unique", "when
        provided, axes cannot be empty"); non-broadcastable other axes ("incompatible shapes
        for in1 and in2: ..."); invalid 'valid' shapes; an unknown mode.
    """
    tensor, early, args = _freq_prologue(in1, in2, mode, axes, sorted_axes=False)
    if args is None:
        return _output(early, tensor)
    a, b, axes = args
    window, crop = _freq_windows(a.shape, b.shape, axes, mode)
    workers = _plan.workers_for(a, b, axes, window)
    out = _fft.fft_convolve(a, b, axes, window, workers)
    return _output(np.ascontiguousarray(out[crop]), tensor)


def oaconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Any:
    """Convolve two N-dimensional arrays using the overlap-add method.

    The longer input is cut into blocks along each axis where that pays (block length from
    the overlap-add cost optimum), every block is convolved by FFT with the shorter input and
    the results are added at their offsets: much faster than :func:`fftconvolve` when one
    input is much longer than the other.

    Parameters
    ----------
    in1, in2, mode, axes
        As for :func:`fftconvolve`.

    Returns
    -------
    ndarray (or Tensor)
        As for :func:`fftconvolve`. Falls back to :func:`fftconvolve` when the inputs have the
        same shape or no axis would be cut (SciPy's rule).
    """
    tensor, (a0, b0) = _inputs(in1, in2)
    if a0.ndim == b0.ndim and a0.ndim and a0.size and b0.size and a0.shape == b0.shape:
        return _output(fftconvolve(a0, b0, mode=mode, axes=axes), tensor)
    tensor, early, args = _freq_prologue(in1, in2, mode, axes, sorted_axes=True)
    if args is None:
        return _output(early, tensor)
    a, b, axes = args
    window, crop = _freq_windows(a.shape, b.shape, axes, mode)
    if not axes:
        out = _fft.fft_convolve(a, b, axes)  # a broadcast product
        return _output(np.ascontiguousarray(out[crop]), tensor)
    blocks = [_fft.oa_block_length(a.shape[ax], b.shape[ax]) for ax in axes]
    if all(block is None for block in blocks):
        # one block along every axis: that is fftconvolve (looked up at call time, so that
        # a test can verify when this fallback happens)
        return _output(fftconvolve(a, b, mode=mode, axes=axes), tensor)
    workers = _plan.workers_for(a, b, axes, window)
    out = _fft.oa_convolve(a, b, axes, blocks, window, workers)
    return _output(np.ascontiguousarray(out[crop]), tensor)


# ------------------------------------------------------------------------- lags
def correlation_lags(in1_len: int, in2_len: int, mode: str = "full") -> np.ndarray:
    """The lag of each output of a 1-d :func:`correlate` of inputs of these lengths.

    Parameters
    ----------
    in1_len, in2_len : int
        Lengths of the first and second inputs.
    mode : {'full', 'valid', 'same'}, optional

    Returns
    -------
    ndarray of int
        ``lags[i]`` is the shift of ``in2`` against ``in1`` at output ``i``: from
        ``-(in2_len - 1)`` to ``in1_len - 1`` in 'full' mode.
    """
    if mode == "full":
        return np.arange(-in2_len + 1, in1_len)
    if mode == "same":
        lags = np.arange(-in2_len + 1, in1_len)
        mid, half = lags.size // 2, in1_len // 2
        # the centred in1_len lags of the full set (one more on the right for odd lengths)
        return lags[mid - half:mid + half + (in1_len % 2)]
    if mode == "valid":
        bound = in1_len - in2_len
        return np.arange(bound + 1) if bound >= 0 else np.arange(bound, 1)
    raise ValueError(f"Mode {mode} is invalid")
