"""convkit.signal against scipy.signal, and its engine pieces against their definitions.

Three oracles, as everywhere in convkit:

* SciPy itself (``scipy.signal``), differentially, with hypothesis drawing dtypes (integers,
  float32, float64, complex), 1-3 d shapes (empty ones now and then), every mode, method and
  boundary, NumPy arrays or convkit Tensors: same dtype, same shape, same values (exactly for
  integer results; within a rounding bound for floating ones), same exception class and
  message, and the inputs left untouched;
* the seeds' loop (``convkit.signal.reference.convo2d``) on tiny inputs;
* NumPy's own definitions for the engine's padding and windows.

SciPy's own test classes run against convkit in ``test_scipy_signal_suite.py``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import convkit
import convkit.signal as cs
from convkit.engine import direct as ck_direct
from convkit.engine import fft as ck_fft
from convkit.engine import plan as ck_plan
from convkit.signal.reference import convo2d

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
MANY = settings(SETTINGS, max_examples=600)
DTYPES = ["int64", "int32", "uint8", "float32", "float64", "complex64", "complex128"]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]


# ------------------------------------------------------------------------- helpers
@st.composite
def arrays(draw: Any, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Small values every dtype holds exactly (so integer results are exact and comparable).

    Drawn value by value for small arrays (so that hypothesis can shrink them), from a drawn
    seed for larger ones."""
    n = math.prod(shape)
    if n > 64:
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
        if dtype.startswith(("int", "uint")):
            low = 0 if dtype == "uint8" else -9
            return rng.integers(low, 10, shape).astype(dtype)
        a = rng.uniform(-10, 10, shape)
        if dtype.startswith("complex"):
            a = a + 1j * rng.uniform(-10, 10, shape)
        return a.astype(dtype)
    if dtype == "uint8":
        values = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    elif dtype.startswith("int"):
        values = draw(st.lists(st.integers(-9, 9), min_size=n, max_size=n))
    else:
        real = draw(st.lists(st.floats(-10, 10, width=32), min_size=n, max_size=n))
        values = real
        if dtype.startswith("complex"):
            imag = draw(st.lists(st.floats(-10, 10, width=32), min_size=n, max_size=n))
            values = [complex(a, b) for a, b in zip(real, imag)]
    return np.array(values, dtype=dtype).reshape(shape)


@st.composite
def shapes(draw: Any, ndim: int, empty: bool = True) -> tuple[int, ...]:
    sizes = st.sampled_from([1, 2, 3, 4, 5, 6, 7] * 5 + ([0] if empty else []))
    return tuple(draw(sizes) for _ in range(ndim))


@st.composite
def pairs(draw: Any, ndims: tuple[int, ...] = (1, 2, 3), empty: bool = True
          ) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of equal ndim and (independently drawn) dtypes."""
    ndim = draw(st.sampled_from(ndims))
    x = draw(arrays(draw(shapes(ndim, empty)), draw(st.sampled_from(DTYPES))))
    w = draw(arrays(draw(shapes(ndim, empty)), draw(st.sampled_from(DTYPES))))
    return x, w


def as_tensor(a: np.ndarray) -> convkit.Tensor:
    return convkit.from_numpy(a.copy())


def run(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs), None
        except Exception as e:
            return None, e


def bound(x: np.ndarray, w: np.ndarray, magnitude: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Allowed |convkit - scipy| per output: a few ulps of the sum of |products| (direct), plus
    the FFT's global error ``eps log2(N) ||x|| ||w||``."""
    # SciPy transforms each input in its own precision: a float32 input limits the result
    eps = max([np.finfo(d).eps for d in (dtype, x.dtype, w.dtype) if d.kind in "fc"],
              default=0.0)
    n = x.size + w.size
    norms = float(np.linalg.norm(x.astype(np.complex128))) * float(
        np.linalg.norm(w.astype(np.complex128)))
    return 32 * eps * (magnitude + math.log2(n + 1) * norms) + 1e-300


def assert_matches(ours: Any, theirs: Any, x: np.ndarray, w: np.ndarray,
                   magnitude: np.ndarray) -> None:
    """Same type of result, dtype, shape; equal values (exact for integers/booleans)."""
    ours_np = np.asarray(ours)
    theirs_np = np.asarray(theirs)
    assert ours_np.dtype == theirs_np.dtype, (ours_np.dtype, theirs_np.dtype)
    assert ours_np.shape == theirs_np.shape, (ours_np.shape, theirs_np.shape)
    if ours_np.dtype.kind in "biu":
        np.testing.assert_array_equal(ours_np, theirs_np)
    else:
        tol = bound(x, w, np.asarray(magnitude, dtype=float), ours_np.dtype)
        assert np.all(np.abs(ours_np - theirs_np) <= tol), np.max(np.abs(ours_np - theirs_np))


def empty_result(shape1: tuple[int, ...], shape2: tuple[int, ...], mode: str) -> tuple:
    """convkit's documented answer where SciPy fails on empty inputs: zeros of the mode's
    shape (valid: the larger input first)."""
    if mode == "valid" and not all(a >= b for a, b in zip(shape1, shape2)):
        shape1, shape2 = shape2, shape1
    if mode == "full":
        return tuple(max(a + b - 1, 0) for a, b in zip(shape1, shape2))
    if mode == "same":
        return tuple(shape1)
    return tuple(a - b + 1 for a, b in zip(shape1, shape2))


# ------------------------------------------------------------------------- convolve / correlate
@MANY
@given(pairs(), st.sampled_from(MODES), st.sampled_from(["direct", "fft", "auto"]),
       st.booleans(), st.sampled_from(["convolve", "correlate"]))
def test_convolve_correlate_match_scipy(xw: tuple, mode: str, method: str, tensors: bool,
                                        name: str) -> None:
    x, w = xw
    x0, w0 = x.copy(), w.copy()
    args = (as_tensor(x), as_tensor(w)) if tensors else (x, w)
    ours, our_error = run(getattr(cs, name), *args, mode=mode, method=method)
    theirs, their_error = run(getattr(ss, name), x, w, mode=mode, method=method)
    np.testing.assert_array_equal(x, x0)  # inputs unmodified
    np.testing.assert_array_equal(w, w0)
    if tensors:
        np.testing.assert_array_equal(args[0].numpy(), x0)
    if (their_error is not None and (x.size == 0 or w.size == 0)
            and "least as large" not in str(their_error)):
        # SciPy fails on this empty input with an internal error (IndexError, broadcasting,
        # an empty reduction...); convkit returns the sums over nothing: zeros
        assert our_error is None, our_error
        result = ours.numpy() if tensors else ours
        assert result.shape == empty_result(x.shape, w.shape, mode)
        assert result.dtype == np.result_type(x, w) and not result.any()
        return
    if their_error is not None:
        assert our_error is not None, f"scipy raised {their_error!r}, convkit returned"
        assert type(our_error) is type(their_error), (our_error, their_error)
        assert str(our_error) == str(their_error)
        return
    assert our_error is None, our_error
    if tensors:
        assert isinstance(ours, convkit.Tensor)
        ours = ours.numpy()
    else:
        assert isinstance(ours, np.ndarray)
    magnitude = getattr(ss, name)(np.abs(x).astype(float), np.abs(w).astype(float),
                                  mode=mode, method="direct")
    assert_matches(ours, theirs, x, w, magnitude)


@SETTINGS
@given(st.data())
def test_zero_rank_inputs(data: Any) -> None:
    """0-d inputs: ``in1 * in2`` (correlate: times ``conj(in2)``), as in SciPy."""
    dtype = data.draw(st.sampled_from(DTYPES))
    x = data.draw(arrays((), dtype))
    w = data.draw(arrays((), data.draw(st.sampled_from(DTYPES))))
    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve"):
        ours, theirs = getattr(cs, name)(x, w), getattr(ss, name)(x, w)
        assert type(ours) is type(theirs)
        assert np.asarray(ours).dtype == np.asarray(theirs).dtype
        np.testing.assert_array_equal(ours, theirs)
    t = cs.convolve(as_tensor(x), as_tensor(w))
    assert isinstance(t, convkit.Tensor) and t.shape == ()


# ------------------------------------------------------------------------- 2-d
fill_values = st.one_of(st.integers(-3, 3), st.floats(-3, 3, width=32),
                        st.complex_numbers(max_magnitude=3, allow_nan=False,
                                           allow_infinity=False))


@MANY
@given(pairs(ndims=(2,)), st.sampled_from(MODES), st.sampled_from(BOUNDARIES), fill_values,
       st.booleans(), st.sampled_from(["convolve2d", "correlate2d"]))
def test_2d_match_scipy(xw: tuple, mode: str, boundary: str, fillvalue: Any, tensors: bool,
                        name: str) -> None:
    x, w = xw
    if x.size == 0 and boundary != "fill":
        # SciPy crashes the interpreter (SIGFPE) extending an empty array periodically
        ours, error = run(getattr(cs, name), x, w, mode, boundary)
        assert error is None or type(error) is ValueError
        return
    x0, w0 = x.copy(), w.copy()
    args = (as_tensor(x), as_tensor(w)) if tensors else (x, w)
    ours, our_error = run(getattr(cs, name), *args, mode, boundary, fillvalue)
    theirs, their_error = run(getattr(ss, name), x, w, mode, boundary, fillvalue)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    if their_error is not None:
        assert our_error is not None, f"scipy raised {their_error!r}, convkit returned"
        assert type(our_error) is type(their_error)
        assert str(our_error) == str(their_error)
        return
    assert our_error is None, our_error
    if tensors:
        assert isinstance(ours, convkit.Tensor)
        ours = ours.numpy()
    fill = abs(fillvalue) if boundary == "fill" else 0
    magnitude = getattr(ss, name)(np.abs(x).astype(float), np.abs(w).astype(float), mode,
                                  boundary, fill)
    assert_matches(ours, theirs, x, w, magnitude + fill * np.abs(w).sum())


@pytest.mark.parametrize("dtype", ["bool", "float16"])
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_dtypes_scipy_lacks(dtype: str, name: str) -> None:
    """SciPy's 2-d code refuses bool and float16; convkit computes them (as NumPy would)."""
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 2, (5, 6)) if dtype == "bool" else rng.standard_normal((5, 6)))
    w = (rng.integers(0, 2, (3, 2)) if dtype == "bool" else rng.standard_normal((3, 2)))
    x, w = x.astype(dtype), w.astype(dtype)
    out = getattr(cs, name)(x, w, "full")
    expected = getattr(ss, name)(x.astype(float), w.astype(float), "full")
    assert out.dtype == dtype
    if dtype == "bool":
        np.testing.assert_array_equal(out, expected != 0)
    else:
        np.testing.assert_allclose(out, expected, rtol=1e-2, atol=1e-2)


# ------------------------------------------------------------------------- FFT
@st.composite
def freq_problems(draw: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Inputs for fftconvolve/oaconvolve: axes to convolve, the others broadcastable."""
    ndim = draw(st.sampled_from([1, 2, 3]))
    axes = sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim)))
    s1, s2 = [], []
    for a in range(ndim):
        if a in axes:
            s1.append(draw(st.integers(1, 40)))
            s2.append(draw(st.integers(1, 12)))
        else:
            n = draw(st.integers(1, 3))
            s1.append(draw(st.sampled_from([n, 1])))
            s2.append(draw(st.sampled_from([n, 1])))
    if draw(st.booleans()):
        s1, s2 = s2, s1
    d1, d2 = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    x, w = draw(arrays(tuple(s1), d1)), draw(arrays(tuple(s2), d2))
    spec = draw(st.sampled_from([None, "list", "negative"]))
    if spec == "list":
        spec = [int(a) for a in axes]
    elif spec == "negative":
        spec = tuple(a - ndim for a in axes)
    return x, w, spec


@settings(SETTINGS, max_examples=400)
@given(freq_problems(), st.sampled_from(MODES), st.sampled_from(["fftconvolve", "oaconvolve"]),
       st.booleans())
def test_freq_convolves_match_scipy(problem: tuple, mode: str, name: str, tensors: bool) -> None:
    x, w, axes = problem
    x0 = x.copy()
    args = (as_tensor(x), as_tensor(w)) if tensors else (x, w)
    ours, our_error = run(getattr(cs, name), *args, mode, axes)
    theirs, their_error = run(getattr(ss, name), x, w, mode, axes)
    np.testing.assert_array_equal(x, x0)
    if their_error is not None:
        assert type(our_error) is type(their_error), (our_error, their_error)
        assert str(our_error) == str(their_error)
        return
    assert our_error is None, our_error
    if tensors:
        assert isinstance(ours, convkit.Tensor)
        ours = ours.numpy()
    magnitude = ss.fftconvolve(np.abs(x).astype(float), np.abs(w).astype(float), mode, axes)
    assert_matches(ours, theirs, x, w, np.abs(magnitude))


@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("shapes", [((0,), (3,)), ((2, 0), (2, 2)), ((0,), (0,))])
def test_freq_convolves_empty(name: str, shapes: tuple) -> None:
    """SciPy's answer to empty inputs: ``array([])`` (float64, 1-d), whatever the ndim."""
    x, w = np.zeros(shapes[0]), np.ones(shapes[1])
    out = getattr(cs, name)(x, w)
    assert out.shape == (0,) and out.dtype == np.float64
    t = getattr(cs, name)(as_tensor(x), as_tensor(w))
    assert isinstance(t, convkit.Tensor) and tuple(t.shape) == (0,)


# ------------------------------------------------------------------------- errors
BAD_CALLS = [
    ("convolve", ([1, 2], [[1]]), {}),
    ("convolve", ([1, 2], 3), {"method": "direct"}),
    ("convolve", ([1.0, 2], [1.0]), {"mode": "bogus"}),
    ("convolve", ([[1.0, 2]], [[1.0]]), {"mode": "bogus", "method": "direct"}),
    ("convolve", ([1, 2], [1]), {"mode": "bogus", "method": "fft"}),
    ("convolve", ([True, False], [True]), {"mode": "bogus"}),
    ("convolve", ([1, 2], [1]), {"method": "bacon"}),
    ("convolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("convolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid", "method": "fft"}),
    ("correlate", ([1, 2], [[1]]), {}),
    ("correlate", ([1, 2], [1]), {"mode": "spam", "method": "bacon"}),
    ("correlate", ([1, 2], [1]), {"method": "bacon"}),
    ("correlate", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("convolve2d", ([1, 2], [1]), {}),
    ("convolve2d", (3, 4), {}),
    ("convolve2d", ([[1, 2]], [[1]]), {"mode": "bogus"}),
    ("convolve2d", ([[1, 2]], [[1]]), {"boundary": "bogus"}),
    ("convolve2d", ([[1, 2]], [[1]]), {"boundary": "reflect"}),
    ("convolve2d", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("convolve2d", ([[1]], [[1, 2]]), {"fillvalue": 1j}),
    ("convolve2d", ([[1.0]], [[1, 2]]), {"fillvalue": np.array(2 + 0j)}),
    ("convolve2d", ([[1]], [[1, 2]]), {"fillvalue": [1, 2]}),
    ("convolve2d", ([[1]], [[1, 2]]), {"fillvalue": []}),
    ("convolve2d", ([[1]], [[1, 2]]), {"fillvalue": "a"}),
    ("convolve2d", (np.ones((1, 1), np.uint8), np.ones((1, 2), np.uint8)), {"fillvalue": 300}),
    ("correlate2d", ([[[1]]], [[[1]]]), {}),
    ("correlate2d", ([[1, 2]], [[1]]), {"mode": "bogus"}),
    ("fftconvolve", ([1], 2), {}),
    ("fftconvolve", ([1], [2]), {"mode": "chips"}),
    ("fftconvolve", ([1], [2]), {"axes": []}),
    ("fftconvolve", ([1], [2]), {"axes": [[1, 2], [3, 4]]}),
    ("fftconvolve", ([1], [2]), {"axes": [1.0]}),
    ("fftconvolve", ([1], [2]), {"axes": [1]}),
    ("fftconvolve", ([1], [2]), {"axes": [-2]}),
    ("fftconvolve", ([1], [2]), {"axes": [0, 0]}),
    ("fftconvolve", (np.zeros([5, 6, 2, 1]), np.zeros([5, 6, 3, 1])), {"axes": [0, 1]}),
    ("fftconvolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("oaconvolve", ([3], [[2]]), {}),
    ("oaconvolve", (np.ones(20), np.ones(3)), {"mode": "chips"}),
    ("oaconvolve", ([1], [2]), {"axes": [0, 0]}),
    ("choose_conv_method", (np.ones(4), np.ones(2)), {"mode": "bogus"}),
    ("correlation_lags", (100, 100), {"mode": "asdfgh"}),
]


@pytest.mark.parametrize("name, args, kwargs", BAD_CALLS)
def test_errors_match_scipy(name: str, args: tuple, kwargs: dict) -> None:
    """SciPy's exception class and message, for every wrong call SciPy itself rejects."""
    _, theirs = run(getattr(ss, name), *args, **kwargs)
    _, ours = run(getattr(cs, name), *args, **kwargs)
    assert theirs is not None
    assert type(ours) is type(theirs), (ours, theirs)
    assert str(ours) == str(theirs)


def test_requires_grad_refused() -> None:
    t = convkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no autograd"):
        cs.convolve(t, t)


# ------------------------------------------------------------------------- the seeds' loop
def test_convo2d_seed_example() -> None:
    arr = np.zeros((8, 8))
    arr[:, :4], arr[:, 4:] = 4.0, 1.0
    ker = np.zeros((3, 3))
    ker[:, 0], ker[:, 2] = -1.0, 1.0
    expected = np.tile([0.0, 0.0, 9.0, 9.0, 0.0, 0.0], (6, 1))
    np.testing.assert_array_equal(convo2d(arr, ker), expected)
    np.testing.assert_array_equal(cs.convolve2d(arr, ker, "valid"), expected)
    np.testing.assert_array_equal(cs.convolve(arr, ker, "valid"), expected)


@SETTINGS
@given(st.data())
def test_reference_loop_is_the_oracle(data: Any) -> None:
    """Tiny inputs: convolve2d / convolve / correlate2d in 'valid' mode equal the loop,
    exactly for integers and complex integers (and 'full' = the loop on a zero-padded image)."""
    dtype = data.draw(st.sampled_from(["int64", "complex128", "float64"]))
    h, wd = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    m, n = data.draw(st.integers(1, h)), data.draw(st.integers(1, wd))
    x = data.draw(arrays((h, wd), dtype))
    k = data.draw(arrays((m, n), dtype))
    if dtype != "int64":  # integer-valued: every order of summation is exact
        x, k = np.round(x), np.round(k)
    loop = convo2d(x, k)
    for method in ("direct", "fft", "auto"):
        np.testing.assert_array_equal(np.round(cs.convolve(x, k, "valid", method), 9), loop)
    np.testing.assert_array_equal(cs.convolve2d(x, k, "valid"), loop)
    np.testing.assert_array_equal(cs.correlate2d(x, np.flip(k).conj(), "valid"), loop)
    full = convo2d(np.pad(x, ((m - 1, m - 1), (n - 1, n - 1))), k)
    np.testing.assert_array_equal(cs.convolve2d(x, k), full)


# ------------------------------------------------------------------------- lags, methods
@SETTINGS
@given(st.integers(1, 300), st.integers(1, 300), st.sampled_from(MODES))
def test_correlation_lags_match_scipy(n1: int, n2: int, mode: str) -> None:
    ours, theirs = cs.correlation_lags(n1, n2, mode), ss.correlation_lags(n1, n2, mode)
    np.testing.assert_array_equal(ours, theirs)
    if mode != "valid" or n1 >= n2:
        assert ours.shape == cs.correlate(np.ones(n1), np.ones(n2), mode).shape


@SETTINGS
@given(pairs(empty=False), st.sampled_from(MODES))
def test_auto_is_what_choose_conv_method_says(xw: tuple, mode: str) -> None:
    x, w = xw
    if mode == "valid" and not (all(a >= b for a, b in zip(x.shape, w.shape)) or
                                all(b >= a for a, b in zip(x.shape, w.shape))):
        return
    method = cs.choose_conv_method(x, w, mode)
    assert method in ("direct", "fft")
    auto = cs.convolve(x, w, mode)
    chosen = cs.convolve(x, w, mode, method=method)
    np.testing.assert_array_equal(auto, chosen)


@settings(SETTINGS, max_examples=150)
@given(st.data())
def test_auto_on_larger_inputs(data: Any) -> None:
    """Sizes where the planner takes the FFT (and overlap-add in 1-d) as well as direct sums:
    'auto' agrees with SciPy's direct sums in every dtype, for convolve and convolve2d."""
    ndim = data.draw(st.sampled_from([1, 2, 3]))
    sides = {1: [300, 1000, 3001, 8000], 2: [17, 40, 64, 97], 3: [12, 20, 31]}[ndim]
    n = tuple(data.draw(st.sampled_from(sides)) + data.draw(st.integers(0, 3))
              for _ in range(ndim))
    k = tuple(max(1, s // data.draw(st.sampled_from([2, 3, 8, 64])) - data.draw(
        st.integers(0, 1))) for s in n)
    dtype = data.draw(st.sampled_from(DTYPES))
    x, w = data.draw(arrays(n, dtype)), data.draw(arrays(k, dtype))
    mode = data.draw(st.sampled_from(MODES))
    method = cs.choose_conv_method(x, w, mode)
    event(f"{ndim}-d: {method}")
    ours = cs.convolve(x, w, mode)
    theirs = ss.convolve(x, w, mode, method="direct")
    magnitude = ss.convolve(np.abs(x).astype(float), np.abs(w).astype(float), mode,
                            method="direct")
    assert_matches(ours, theirs, x, w, magnitude)
    if ndim == 2:
        boundary = data.draw(st.sampled_from(BOUNDARIES))
        ours = cs.convolve2d(x, w, mode, boundary)
        theirs = ss.convolve2d(x, w, mode, boundary)
        magnitude = ss.convolve2d(np.abs(x).astype(float), np.abs(w).astype(float), mode,
                                  boundary)
        assert_matches(ours, theirs, x, w, magnitude)


def test_choose_conv_method_measure() -> None:
    x, w = np.random.default_rng(0).standard_normal((2, 50))
    method, times = cs.choose_conv_method(x, w, measure=True)
    assert method in ("direct", "fft") and set(times) == {"direct", "fft"}
    assert method == min(times, key=times.get)


# ------------------------------------------------------------------------- planner accuracy
def test_auto_keeps_wide_dynamic_range_direct() -> None:
    """SciPy issue 22390: values spanning 80 orders of magnitude; the FFT's rounding error
    (relative to the largest products) wipes out every small output, the direct sums do not."""
    a = np.array([0] * 10000 + [10 ** (9 * i) for i in range(10)], dtype=float)
    assert cs.choose_conv_method(a, a) == "direct"
    out = cs.convolve(a, a)
    np.testing.assert_allclose(out, ss.convolve(a, a, method="direct"), rtol=1e-12)
    # while a plain noise signal of the same size goes through the FFT
    noise = np.random.default_rng(0).standard_normal(a.size)
    assert cs.choose_conv_method(noise, noise) == "fft"


def test_auto_keeps_non_finite_direct() -> None:
    x = np.random.default_rng(0).standard_normal(20000)
    x[100] = np.nan
    assert cs.choose_conv_method(x, x) == "direct"
    out = cs.convolve(x, x[:4000], "same")
    assert np.isnan(out).sum() < out.size  # NaN stays local, as with the direct sums
    with pytest.warns(RuntimeWarning, match="Use of fft convolution"):
        cs.convolve(x, x[:4000], "same", method="fft")


def test_auto_integers_exact_or_direct() -> None:
    """Integers go through the FFT only when rounding provably recovers the exact result."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (300, 300)).astype(np.int64)
    ker = rng.integers(-8, 8, (31, 31)).astype(np.int64)
    assert cs.choose_conv_method(img, ker, "same") == "fft"
    np.testing.assert_array_equal(cs.convolve(img, ker, "same"),
                                  ss.convolve(img, ker, "same", method="direct"))
    # uint8 results overflow (and wrap, in the direct sums): no FFT
    img8, ker8 = img.astype(np.uint8), np.abs(ker).astype(np.uint8)
    assert cs.choose_conv_method(img8, ker8, "same") == "direct"
    # values too large for float64 rounding to be exact: no FFT
    big = rng.integers(-2 ** 40, 2 ** 40, (300, 300))
    assert cs.choose_conv_method(big, ker, "same") == "direct"
    assert ck_plan.fft_accuracy(np.ones(3, bool), np.ones(3, bool), np.dtype(bool))[0] is False


def test_convolve2d_large_kernel_goes_fft_and_matches() -> None:
    rng = np.random.default_rng(1)
    img, ker = rng.standard_normal((200, 300)), rng.standard_normal((31, 31))
    window = tuple(((k - 1) // 2, n) for n, k in zip(img.shape, ker.shape))
    assert ck_plan.select(img, ker, window).method == "fft"
    for boundary in BOUNDARIES:
        for name in ("convolve2d", "correlate2d"):
            ours = getattr(cs, name)(img, ker, "same", boundary, 0.5)
            theirs = getattr(ss, name)(img, ker, "same", boundary, 0.5)
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------- engine
@SETTINGS
@given(st.integers(0, 6), st.integers(0, 15), st.integers(0, 15))
def test_engine_pad_matches_numpy(n: int, lo: int, hi: int) -> None:
    x = np.arange(n) + 1
    np.testing.assert_array_equal(ck_direct.pad(x, ((lo, hi),), "constant", 7),
                                  np.pad(x, (lo, hi), constant_values=7))
    if n:
        np.testing.assert_array_equal(ck_direct.pad(x, ((lo, hi),), "symmetric"),
                                      np.pad(x, (lo, hi), "symmetric"))
        np.testing.assert_array_equal(ck_direct.pad(x, ((lo, hi),), "circular"),
                                      np.pad(x, (lo, hi), "wrap"))


@SETTINGS
@given(st.data())
def test_engine_windows_of_the_full_convolution(data: Any) -> None:
    """Direct, FFT (shortest exact circular length) and overlap-add give the same window."""
    ndim = data.draw(st.sampled_from([1, 2, 3]))
    n = data.draw(shapes(ndim, empty=False))
    k = data.draw(shapes(ndim, empty=False))
    if data.draw(st.booleans()):  # a long axis, so that overlap-add really cuts it
        n = (data.draw(st.integers(40, 90)),) + n[1:]
    x = data.draw(arrays(n, "float64"))
    w = data.draw(arrays(k, "float64"))
    full = ss.convolve(x, w, "full", method="direct")
    window = []
    for size in full.shape:
        start = data.draw(st.integers(0, size - 1))
        window.append((start, data.draw(st.integers(0, size - start))))
    window = tuple(window)
    expected = full[tuple(slice(s, s + m) for s, m in window)]
    blocks = [ck_fft.oa_block_length(a, b) for a, b in zip(n, k)]
    tol = 1e-9 * (1 + np.abs(full).max())
    np.testing.assert_allclose(ck_direct.direct_convolve(x, w, window), expected, atol=tol)
    for strategy in ("dot", "taps") if ndim > 1 else ("1d",):
        np.testing.assert_allclose(ck_direct.direct_convolve(x, w, window, strategy), expected,
                                   atol=tol)
    np.testing.assert_allclose(ck_fft.fft_convolve(x, w, range(ndim), window), expected,
                               atol=tol)
    np.testing.assert_allclose(ck_fft.oa_convolve(x, w, range(ndim), blocks, window), expected,
                               atol=tol)


def test_planner_constants_are_measured() -> None:
    """The shipped constants come from the calibration script, and the planner uses them."""
    constants = ck_plan.load_constants()
    assert constants["meta"]["written_by"].startswith("python -m convkit.engine.plan")
    for key in ("direct_1d", "direct_dot", "direct_taps", "oa"):
        assert len(constants[key]["coef"]) >= 3
    assert 1.0 <= constants["tie_margin"] < 2.0
    for nd in ("1", "2", "3"):
        table = constants["fft"]["table"][nd]
        assert len(table) >= 5 and all(t > 0 for _, t in table)


def test_calibration_runs(tmp_path: Any) -> None:
    """``python -m convkit.engine.plan --calibrate --quick`` writes constants the planner can
    use (the quick mode: a few seconds)."""
    path = tmp_path / "constants.json"
    assert ck_plan.main(["--calibrate", "--quick", "--output", str(path)]) == 0
    constants = ck_plan.load_constants(path)
    x, w = np.ones((64, 64)), np.ones((3, 3))
    plan = ck_plan.select(x, w, ((1, 64), (1, 64)), constants=constants)
    assert plan.method in ("direct", "fft") and set(plan.seconds) == {"direct", "fft"}
