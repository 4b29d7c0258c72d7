"""The depthwise convolution algorithms (NumPy, and numba when installed) against PyTorch.

Each algorithm is forced and run on hypothesis-drawn depthwise problems (groups == input
channels, any channel multiplier) in 1, 2 and 3 d: the engine's three kinds with
asymmetric padding, the public conv/conv_transpose functions with autograd, float64 to
rounding and float32 to float32 tolerance; gradcheck in float64 on small cases; the row
blocks that keep the workspace inside a small budget; and convkit without numba.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as F
from convkit.engine import conv as engine
from convkit.engine import conv_plan

ALGORITHMS = [name for name in ("depthwise", "depthwise_numba") if name in engine.algorithms()]
NUMBA = pytest.mark.skipif("depthwise_numba" not in engine.algorithms(),
                           reason="numba is not installed")
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def depthwise_problems(draw: st.DrawFn) -> dict:
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd))
    spatial = tuple(max(draw(st.integers(1, 10 if nd < 3 else 6)), (k - 1) * d + 1 - lo - hi)
                    for k, d, (lo, hi) in zip(kernel, dilation, padding, strict=True))
    out = engine.conv_output_shape(spatial, kernel, stride, padding, dilation)
    assume(min(out) >= 1)
    return {"batch": draw(st.integers(1, 3)), "channels": draw(st.integers(1, 4)),
            "multiplier": draw(st.integers(1, 3)), "spatial": spatial, "kernel": kernel,
            "stride": stride, "dilation": dilation, "padding": padding, "out": out,
            "seed": draw(st.integers(0, 2**16))}


def _data(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    c, m = case["channels"], case["multiplier"]
    return (rng.standard_normal((case["batch"], c) + case["spatial"]),
            rng.standard_normal((c * m, 1) + case["kernel"]),
            rng.standard_normal((case["batch"], c * m) + case["out"]))


def _torch_all(case: dict, x: np.ndarray, w: np.ndarray, g: np.ndarray) -> dict:
    pads = [v for pair in reversed(case["padding"]) for v in pair]  # F.pad: last axis first
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    conv = getattr(TF, f"conv{len(case['spatial'])}d")
    out = conv(TF.pad(xt, pads), wt, None, case["stride"], 0, case["dilation"],
               case["channels"])
    out.backward(torch.from_numpy(g))
    return {"forward": out.detach().numpy(), "grad_input": xt.grad.numpy(),
            "grad_weight": wt.grad.numpy()}


def _engine_all(case: dict, x: np.ndarray, w: np.ndarray, g: np.ndarray) -> dict:
    args = (case["stride"], case["padding"], case["dilation"], case["channels"])
    return {"forward": engine.conv_forward(x, w, *args),
            "grad_input": engine.conv_grad_input(g, w, x.shape, *args),
            "grad_weight": engine.conv_grad_weight(x, g, w.shape, *args)}


def _close(got: np.ndarray, expected: np.ndarray, dtype: type) -> None:
    assert got.shape == expected.shape and got.dtype == dtype
    scale = max(1.0, float(np.abs(expected).max()))
    if dtype == np.float64:
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * scale)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5 * scale)


@pytest.mark.parametrize("name", ALGORITHMS)
@SETTINGS
@given(case=depthwise_problems())
def test_engine_kinds_match_torch(name: str, case: dict) -> None:
    """Forward, input and weight gradient, asymmetric padding, float64 and float32."""
    x, w, g = _data(case)
    expected = _torch_all(case, x, w, g)
    for dtype in (np.float64, np.float32):
        with engine.forced_algorithm(name), conv_plan.recording() as plans:
            got = _engine_all(case, x.astype(dtype), w.astype(dtype), g.astype(dtype))
        assert [p.algorithm for p in plans] == [name] * 3
        for kind in engine.KINDS:
            _close(got[kind], expected[kind], dtype)


@pytest.mark.parametrize("name", ALGORITHMS)
@settings(SETTINGS, max_examples=20)
@given(case=depthwise_problems(), dtype=st.sampled_from(["float32", "float64"]))
def test_public_conv_and_backward_match_torch(name: str, case: dict, dtype: str) -> None:
    """convkit.nn.functional.conv{1,2,3}d with groups == channels, through autograd."""
    x, w, _ = (a.astype(dtype) for a in _data(case))
    n = len(case["spatial"])
    pad = tuple(lo for lo, _ in case["padding"])  # the public API pads symmetrically
    assume(min(engine.conv_output_shape(case["spatial"], case["kernel"], case["stride"],
                                        tuple((p, p) for p in pad), case["dilation"])) >= 1)
    args = (None, case["stride"], pad, case["dilation"], case["channels"])
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    yt = getattr(TF, f"conv{n}d")(xt, wt, *args)
    xc, wc = convkit.from_numpy(x).requires_grad_(), convkit.from_numpy(w).requires_grad_()
    with engine.forced_algorithm(name), conv_plan.recording() as plans:
        yc = getattr(F, f"conv{n}d")(xc, wc, *args)
        gy = np.random.default_rng(case["seed"]).standard_normal(tuple(yt.shape)).astype(dtype)
        yc.backward(convkit.from_numpy(gy))
    yt.backward(torch.from_numpy(gy))
    assert {p.algorithm for p in plans} == {name}
    assert {p.problem.kind for p in plans} == set(engine.KINDS)
    for ours, theirs in ((yc.detach(), yt.detach()), (xc.grad, xt.grad), (wc.grad, wt.grad)):
        _close(ours.numpy(), theirs.numpy(), np.dtype(dtype).type)


@pytest.mark.parametrize("name", ALGORITHMS)
@settings(SETTINGS, max_examples=20)
@given(data=st.data())
def test_conv_transpose_with_groups_equal_channels(name: str, data: st.DataObject) -> None:
    """A transposed convolution with one output channel per group is the depthwise
    grad_input (its backward: depthwise forward and weight gradient)."""
    n = data.draw(st.integers(1, 3))
    channels, multiplier = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 2))
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    padding = tuple(data.draw(st.integers(0, (k - 1) * d)) for k, d in
                    zip(kernel, dilation, strict=True))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in
                           zip(stride, dilation, strict=True))
    spatial = tuple(data.draw(st.integers(1, 7 if n < 3 else 4)) for _ in range(n))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    # in_channels = C*M, out_channels = C, groups = C: weight (C*M, 1, *k)
    x = rng.standard_normal((2, channels * multiplier) + spatial)
    w = rng.standard_normal((channels * multiplier, 1) + kernel)
    args = (None, stride, padding, output_padding, channels, dilation)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    try:
        yt = getattr(TF, f"conv_transpose{n}d")(xt, wt, *args)
    except RuntimeError:  # output_padding PyTorch refuses for this stride/dilation
        return
    xc, wc = convkit.from_numpy(x).requires_grad_(), convkit.from_numpy(w).requires_grad_()
    with engine.forced_algorithm(name), conv_plan.recording() as plans:
        yc = getattr(F, f"conv_transpose{n}d")(xc, wc, *args)
        gy = rng.standard_normal(tuple(yt.shape))
        yc.backward(convkit.from_numpy(gy))
    yt.backward(torch.from_numpy(gy))
    assert {p.algorithm for p in plans} == {name}
    for ours, theirs in ((yc.detach(), yt.detach()), (xc.grad, xt.grad), (wc.grad, wt.grad)):
        _close(ours.numpy(), theirs.numpy(), np.float64)


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("n, stride, padding, dilation, multiplier", [
    (1, 2, 1, 2, 2), (2, 1, 1, 1, 1), (2, 2, 0, 1, 2), (3, 1, 1, 2, 1)])
def test_gradcheck_float64(name: str, n: int, stride: int, padding: int, dilation: int,
                           multiplier: int) -> None:
    rng = np.random.default_rng(n * 10 + stride)
    size = (6, 5, 4)[n - 1]  # gradcheck perturbs every element: keep the 3-d case small
    x = convkit.from_numpy(rng.standard_normal((1, 2) + (size,) * n)).requires_grad_()
    w = convkit.from_numpy(rng.standard_normal((2 * multiplier, 1) + (3,) * n)).requires_grad_()
    conv = getattr(F, f"conv{n}d")
    with engine.forced_algorithm(name):
        assert convkit.autograd.gradcheck(
            lambda a, b: conv(a, b, None, stride, padding, dilation, 2), (x, w))
        assert conv_plan.last_plan().algorithm == name


@pytest.mark.parametrize("name", ALGORITHMS)
def test_row_blocks_keep_the_workspace_in_a_small_budget(name: str) -> None:
    """Planes too big for the budget are computed in blocks of output rows (with the
    kernel's halo); the results do not change."""
    case = {"batch": 2, "channels": 3, "multiplier": 2, "spatial": (37, 23),
            "kernel": (5, 3), "stride": (2, 1), "dilation": (2, 1),
            "padding": ((3, 1), (1, 2)), "seed": 5}
    case["out"] = engine.conv_output_shape(case["spatial"], case["kernel"], case["stride"],
                                           case["padding"], case["dilation"])
    x, w, g = _data(case)
    expected = _torch_all(case, x, w, g)
    alg = engine.algorithms()[name]
    limit = engine.get_workspace_limit()
    try:
        # a few rows per block; then one row (nothing fits)
        for budget in (20_000 if name == "depthwise" else 15_000, 1):
            engine.set_workspace_limit(budget)
            with engine.forced_algorithm(name):
                got = _engine_all(case, x, w, g)
            for kind in engine.KINDS:
                _close(got[kind], expected[kind], np.float64)
                p = engine.ConvProblem(kind, x.shape, w.shape, case["stride"],
                                       case["padding"], case["dilation"], 3,
                                       np.dtype(np.float64))
                if budget > 1:
                    engine.set_workspace_limit(limit)
                    whole = alg.workspace(p)
                    engine.set_workspace_limit(budget)
                    assert alg.workspace(p) <= budget < whole
    finally:
        engine.set_workspace_limit(limit)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_non_contiguous_inputs_and_results_are_deterministic(name: str) -> None:
    rng = np.random.default_rng(3)
    base_x = rng.standard_normal((2, 6, 11, 9))
    x = base_x[:, ::2, :, ::-1]  # every other channel, mirrored: not contiguous
    w = rng.standard_normal((3, 1, 3, 3)).transpose(0, 1, 3, 2)
    g = rng.standard_normal((2, 6, 3, 9)).transpose(0, 2, 1, 3)
    args = ((2, 1), ((1, 1), (1, 1)), (1, 1), 3)
    case = {"channels": 3, "multiplier": 1, "spatial": (11, 9), "stride": (2, 1),
            "dilation": (1, 1), "padding": ((1, 1), (1, 1))}
    expected = _torch_all(case, np.ascontiguousarray(x), np.ascontiguousarray(w),
                          np.ascontiguousarray(g))
    with engine.forced_algorithm(name):
        first = {"forward": engine.conv_forward(x, w, *args),
                 "grad_input": engine.conv_grad_input(g, w, x.shape, *args),
                 "grad_weight": engine.conv_grad_weight(x, g, w.shape, *args)}
        again = _engine_all(dict(case, channels=3), x, w, g)
    for kind in engine.KINDS:
        _close(first[kind], expected[kind], np.float64)
        np.testing.assert_array_equal(first[kind], again[kind])  # bit for bit


def test_numpy_depthwise_takes_complex_without_conjugating() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 8, 7)) + 1j * rng.standard_normal((2, 3, 8, 7))
    w = rng.standard_normal((6, 1, 3, 2)) + 1j * rng.standard_normal((6, 1, 3, 2))
    with engine.forced_algorithm("depthwise"):
        got = engine.conv_forward(x, w, (1, 2), ((1, 0), (2, 1)), (2, 1), 3)
        assert conv_plan.last_plan().algorithm == "depthwise"
    xt = TF.pad(torch.from_numpy(x), (2, 1, 1, 0))
    expected = TF.conv2d(xt, torch.from_numpy(w), None, (1, 2), 0, (2, 1), 3).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_features_are_finite_and_grow_with_the_work() -> None:
    for name in ALGORITHMS:
        alg = engine.algorithms()[name]
        small = engine.ConvProblem("forward", (1, 8, 14, 14), (8, 1, 3, 3), (1, 1),
                                   ((1, 1), (1, 1)), (1, 1), 8, np.dtype(np.float32))
        big = small.with_batch(8)
        fs, fb = alg.features(small), alg.features(big)
        assert all(np.isfinite(fs)) and fs[0] == fb[0] == 1.0
        assert all(b >= s for s, b in zip(fs, fb, strict=True)) and fb[1] == 8 * fs[1]
        assert alg.workspace(big) >= alg.workspace(small) > 0


def test_convkit_without_numba_has_only_the_numpy_algorithm() -> None:
    """With numba switched off the module imports, 'depthwise_numba' is not registered,
    and max pooling takes its NumPy path."""
    code = ("import numpy as np, convkit, convkit.nn.functional as F\n"
            "from convkit.engine import conv\n"
            "names = conv.algorithms()\n"
            "assert 'depthwise' in names and 'depthwise_numba' not in names, names\n"
            "x = convkit.from_numpy(np.arange(16.).reshape(1, 1, 4, 4))\n"
            "assert F.max_pool2d(x, 2).numpy().tolist() == [[[[5., 7.], [13., 15.]]]]\n"
            "import sys; assert 'numba' not in sys.modules\n")
    env = dict(os.environ, CONVKIT_NUMBA="0")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@NUMBA
def test_numba_kernels_compile_only_when_first_used() -> None:
    code = ("import sys, numpy as np, convkit\n"
            "from convkit.engine import conv\n"
            "assert 'depthwise_numba' in conv.algorithms()\n"
            "assert 'numba' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, CONVKIT_NUMBA="1"))
    assert done.returncode == 0, done.stderr
