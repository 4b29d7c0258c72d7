"""Max pooling's fast paths against PyTorch: values, indices and gradients in 1-3 d.

The engine finds the arg-max as a window tap per output (numba kernel, or per-tap NumPy
passes), skips it when neither indices nor a gradient are wanted, and scatters gradients
by tap. Every path is compared with PyTorch on hypothesis-drawn geometries (ceil_mode,
dilation, padding), on data full of ties (small integers), NaNs and infinities, where
PyTorch's rules decide: the first maximum in window order wins, NaN wins and the last NaN
wins, a window of -inf reports its first element. Both the NumPy and the numba path run
(the numba one only when numba is installed).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as F
from convkit.engine import _numba
from convkit.engine import pool as pool_engine
from convkit.ops import pool as pool_ops

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])
PATHS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not _numba.enabled(), reason="numba is not installed"))]


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CONVKIT_NUMBA", "1" if request.param == "numba" else "0")
    return request.param


def _every_window_reads_input(size: int, kernel: int, stride: int, pad: int, dilation: int,
                              out: int) -> bool:
    return all(any(0 <= o * stride - pad + t * dilation < size for t in range(kernel))
               for o in range(out))


@st.composite
def cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = draw(st.booleans())
    size = tuple(draw(st.integers(1, 9 if n < 3 else 5)) for _ in range(n))
    outs = [pool_engine.pool_output_size(s, k, st_, p, d, ceil_mode) for s, k, st_, p, d in
            zip(size, kernel, stride, padding, dilation, strict=True)]
    if min(outs) < 1:  # too small for this window: not what this file tests
        size = tuple(max(s, d * (k - 1) + 1) for s, k, d in
                     zip(size, kernel, dilation, strict=True))
    outs = [pool_engine.pool_output_size(s, k, st_, p, d, ceil_mode) for s, k, st_, p, d in
            zip(size, kernel, stride, padding, dilation, strict=True)]
    # A window with no input element at all (padding and overhang only, possible with
    # dilation) makes PyTorch's backward write past the plane: tested on its own below.
    assume(all(_every_window_reads_input(*axis) for axis in
               zip(size, kernel, stride, padding, dilation, outs, strict=True)))
    lead = (draw(st.integers(1, 2)),) if draw(st.booleans()) else ()
    return {"n": n, "kernel": kernel, "stride": stride, "dilation": dilation,
            "padding": padding, "ceil_mode": ceil_mode,
            "shape": lead + (draw(st.integers(1, 3)),) + size,
            "data": draw(st.sampled_from(["normal", "ties", "nan", "inf"])),
            "dtype": draw(st.sampled_from(["float64", "float32"])),
            "seed": draw(st.integers(0, 2**16))}


def _values(case: dict) -> np.ndarray:
    """Data of the case's kind: ties are small integers, and NaN/inf are sprinkled."""
    rng = np.random.default_rng(case["seed"])
    shape, kind = case["shape"], case["data"]
    if kind == "normal":
        data = rng.standard_normal(shape)
    else:
        data = rng.integers(-2, 3, shape).astype(np.float64)
        if kind == "nan":
            data[rng.random(shape) < 0.15] = np.nan
        elif kind == "inf":
            data[rng.random(shape) < 0.3] = -np.inf
            data[rng.random(shape) < 0.05] = np.inf
    return data.astype(case["dtype"])


def _args(case: dict) -> tuple:
    return case["kernel"], case["stride"], case["padding"], case["dilation"]


def _assert_same_floats(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0, equal_nan=True)


@SETTINGS
@given(case=cases())
def test_values_indices_and_gradient_match_torch(path: str, case: dict) -> None:
    data = _values(case)
    n = case["n"]
    xt = torch.from_numpy(data.copy()).requires_grad_()
    yt, it = getattr(TF, f"max_pool{n}d")(xt, *_args(case), ceil_mode=case["ceil_mode"],
                                          return_indices=True)
    xc = convkit.from_numpy(data.copy()).requires_grad_()
    yc, ic = getattr(F, f"max_pool{n}d")(xc, *_args(case), ceil_mode=case["ceil_mode"],
                                         return_indices=True)
    _assert_same_floats(yc.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(ic.numpy(), it.numpy())
    assert ic.dtype is convkit.int64
    g = np.random.default_rng(case["seed"] + 1).standard_normal(tuple(yt.shape))
    g = g.astype(case["dtype"])
    yt.backward(torch.from_numpy(g))
    yc.backward(convkit.from_numpy(g))
    _assert_same_floats(xc.grad.numpy(), xt.grad.numpy())


@SETTINGS
@given(case=cases())
def test_values_without_arg_max_and_gradient_without_indices(path: str, case: dict) -> None:
    """No grad and no indices: the values alone (separable maxima); a gradient without
    indices: the taps only. Both as PyTorch."""
    data = _values(case)
    n, geometry = case["n"], _args(case)
    batched = data if data.ndim == n + 2 else data[None]
    expected = getattr(TF, f"max_pool{n}d")(torch.from_numpy(batched), *geometry,
                                            ceil_mode=case["ceil_mode"])
    values, indices = pool_ops.max_pool(convkit.from_numpy(batched), *geometry,
                                        case["ceil_mode"], return_indices=False)
    assert indices is None and values.grad_fn is None
    _assert_same_floats(values.numpy(), expected.numpy())

    xt = torch.from_numpy(batched.copy()).requires_grad_()
    xc = convkit.from_numpy(batched.copy()).requires_grad_()
    yc, none = pool_ops.max_pool(xc, *geometry, case["ceil_mode"], return_indices=False)
    assert none is None and yc.grad_fn is not None
    yt = getattr(TF, f"max_pool{n}d")(xt, *geometry, ceil_mode=case["ceil_mode"])
    g = np.random.default_rng(case["seed"]).standard_normal(tuple(yt.shape)).astype(data.dtype)
    yt.backward(torch.from_numpy(g))
    yc.backward(convkit.from_numpy(g))
    _assert_same_floats(xc.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
def test_integer_inputs_with_the_type_minimum(path: str, dtype: str) -> None:
    """Integers pad with the type's minimum; a window of minima reports its first element."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1)
    data = rng.choice(np.array([info.min, info.min + 1, 0, 1], dtype=dtype), (2, 3, 7, 6))
    data[0, 0] = info.min
    args = ((3, 2), (2, 1), (1, 1), (1, 2))
    yt, it = TF.max_pool2d(torch.from_numpy(data), *args, ceil_mode=True, return_indices=True)
    yc, ic = F.max_pool2d(convkit.from_numpy(data), *args, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(yc.numpy(), yt.numpy())
    np.testing.assert_array_equal(ic.numpy(), it.numpy())


def test_float16_with_ties_and_nan(path: str) -> None:
    """float16 (always the NumPy path) keeps PyTorch's winners too."""
    data = np.random.default_rng(6).integers(-2, 3, (2, 3, 9, 10)).astype(np.float16)
    data[0, 1, 2:4, 3] = np.nan
    args = ((3, 3), (2, 3), (1, 1), (2, 1))
    yt, it = TF.max_pool2d(torch.from_numpy(data), *args, ceil_mode=True, return_indices=True)
    yc, ic = F.max_pool2d(convkit.from_numpy(data), *args, ceil_mode=True, return_indices=True)
    _assert_same_floats(yc.numpy(), yt.numpy())
    np.testing.assert_array_equal(ic.numpy(), it.numpy())


def test_window_over_padding_only_reports_pytorchs_index(path: str) -> None:
    """With dilation a window can hold no input element at all: PyTorch returns -inf and
    the index its loop starts from, past the input. Its backward then writes that output's
    gradient past the plane (into the next channel, or outside the tensor); convkit's gives
    it to no one."""
    x = np.array([[[0.5], [0.25]]])  # two channels of one element
    yt, it = TF.max_pool1d(torch.from_numpy(x), 2, 1, 1, 2, return_indices=True)
    xc = convkit.from_numpy(x).requires_grad_()
    yc, ic = F.max_pool1d(xc, 2, 1, 1, 2, return_indices=True)
    np.testing.assert_array_equal(yc.detach().numpy(), yt.detach().numpy())
    assert yc.detach().numpy().tolist() == [[[-np.inf], [-np.inf]]]
    np.testing.assert_array_equal(ic.numpy(), it.numpy())
    yc.sum().backward()
    np.testing.assert_array_equal(xc.grad.numpy(), np.zeros_like(x))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_pool_gradgradcheck(path: str, n: int) -> None:
    rng = np.random.default_rng(n)
    # distinct values a perturbation cannot reorder, so the arg-max is locally constant
    x = rng.permutation(2 * 4**n).reshape((1, 2) + (4,) * n) * 0.1
    xc = convkit.from_numpy(x).requires_grad_()
    pool = getattr(F, f"max_pool{n}d")
    assert convkit.autograd.gradcheck(lambda t: pool(t, 3, 2, 1), (xc,))
    assert convkit.autograd.gradgradcheck(lambda t: pool(t, 3, 2, 1), (xc,))


def test_indices_changed_in_place_fail_backward_as_in_pytorch(path: str) -> None:
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    xc = convkit.from_numpy(x).requires_grad_()
    yc, ic = F.max_pool2d(xc, 2, return_indices=True)
    ic.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        yc.sum().backward()


def test_max_unpool_of_fast_indices_matches_torch(path: str) -> None:
    x = np.random.default_rng(3).integers(-3, 3, (2, 3, 9, 8)).astype(np.float64)
    yc, ic = F.max_pool2d(convkit.from_numpy(x), 3, 2, 1, return_indices=True)
    yt, it = TF.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    ours = F.max_unpool2d(yc, ic, 3, 2, 1, output_size=(9, 8))
    theirs = TF.max_unpool2d(yt, it, 3, 2, 1, output_size=(9, 8))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_both_paths_agree_bit_for_bit_on_a_large_case() -> None:
    """The K benchmark's geometry with many ties: the NumPy and the numba paths agree."""
    if not _numba.enabled():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(4)
    x = rng.integers(-5, 5, (2, 8, 57, 61)).astype(np.float32)
    g = rng.standard_normal((2, 8, 29, 31)).astype(np.float32)
    geometry = ((3, 3), (2, 2), (1, 1), (1, 1))
    results = []
    with pytest.MonkeyPatch.context() as mp:
        for flag in ("0", "1"):
            mp.setenv("CONVKIT_NUMBA", flag)
            values, taps = pool_engine.max_pool_argmax(x, *geometry, True)
            grad = pool_engine.max_pool_tap_backward(g, taps, x.shape, *geometry)
            results.append((values, taps, grad))
    (values, taps, grad), (values_nb, taps_nb, grad_nb) = results
    np.testing.assert_array_equal(values, values_nb)
    np.testing.assert_array_equal(taps, taps_nb)
    # an input that wins several windows sums their gradients in another order
    np.testing.assert_allclose(grad, grad_nb, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(case=cases(), count_include_pad=st.booleans(), divisor=st.sampled_from([None, 1, 3]),
       dtype=st.sampled_from(["float64", "float32", "float16", "int64"]))
def test_avg_pool_separable_sums_match_torch(case: dict, count_include_pad: bool,
                                             divisor: int | None, dtype: str) -> None:
    """Average pooling as 1-d window sums per axis, in every dtype PyTorch takes; its
    gradient as their adjoint."""
    n = case["n"]
    data = np.random.default_rng(case["seed"]).integers(-50, 50, case["shape"]).astype(dtype)
    extra = {} if n == 1 else {"divisor_override": divisor}
    args = (case["kernel"], case["stride"], case["padding"], case["ceil_mode"],
            count_include_pad)
    try:
        expected = getattr(TF, f"avg_pool{n}d")(torch.from_numpy(data), *args, **extra)
    except RuntimeError:  # PyTorch's own limits (3-d input smaller than the kernel, ...)
        return
    got = getattr(F, f"avg_pool{n}d")(convkit.from_numpy(data), *args, **extra)
    tol = {"float16": 2e-3, "float32": 1e-6}.get(dtype, 1e-12)
    np.testing.assert_allclose(got.numpy().astype(np.float64),
                               expected.numpy().astype(np.float64), rtol=tol, atol=tol)
    assert got.numpy().dtype == expected.numpy().dtype
    if dtype in ("float64", "float32"):
        xt = torch.from_numpy(data).requires_grad_()
        xc = convkit.from_numpy(data).requires_grad_()
        yt = getattr(TF, f"avg_pool{n}d")(xt, *args, **extra)
        yc = getattr(F, f"avg_pool{n}d")(xc, *args, **extra)
        g = np.random.default_rng(case["seed"]).standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(g))
        yc.backward(convkit.from_numpy(g))
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10)
