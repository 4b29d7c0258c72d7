"""The Winograd algorithms (``winograd2`` = F(2x2, 3x3), ``winograd4`` = F(4x4, 3x3)) forced
on 3 x 3 stride-1 convolutions, against real PyTorch through the public path (conv2d and
backward), float64 gradcheck, the transform matrices against numpy's own correlation, the
float32 error of F(4x4) against a float64 reference, honest workspace, and batch tiling.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as CF
from convkit.autograd import gradcheck
from convkit.engine import conv as engine
from convkit.engine import conv_plan
from convkit.engine.conv_winograd import Winograd, winograd_matrices

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAMES = ["winograd2", "winograd4"]


def _torch_conv(x: np.ndarray, w: np.ndarray, g: np.ndarray, padding: tuple, groups: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's output, input gradient and weight gradient (asymmetric padding by F.pad)."""
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    pads = [v for pair in reversed(padding) for v in pair]  # F.pad: last axis first
    out = TF.conv2d(TF.pad(xt, pads), wt, groups=groups)
    out.backward(torch.from_numpy(g))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def _convkit_conv(x: np.ndarray, w: np.ndarray, g: np.ndarray, padding: tuple, groups: int,
                  name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]]:
    """convkit's three results through conv + backward, with ``name`` forced; the algorithm
    that ran for each kind."""
    xc = convkit.tensor(x, requires_grad=True)
    wc = convkit.tensor(w, requires_grad=True)
    with engine.forced_algorithm(name), conv_plan.recording() as plans:
        out = CF.conv(xc, wc, padding=padding, groups=groups)
        out.backward(convkit.tensor(g))
    ran = {plan.problem.kind: plan.algorithm for plan in plans}
    return out.detach().numpy(), xc.grad.numpy(), wc.grad.numpy(), ran


# ------------------------------------------------------------------ the transforms
@pytest.mark.parametrize("m", [2, 4])
def test_transform_matrices_compute_the_correlation(m: int) -> None:
    """``A^T [(G g) (.) (B^T d)]`` is numpy's 'valid' correlation of d with g, in 1-d and 2-d."""
    at, g_matrix, bt = winograd_matrices(m)
    alpha = m + 2
    assert at.shape == (m, alpha) and g_matrix.shape == (alpha, 3) and bt.shape == (alpha, alpha)
    assert np.array_equal(bt, np.round(bt)), "the data transform should be integral"
    rng = np.random.default_rng(m)
    for _ in range(5):
        d, g = rng.standard_normal(alpha), rng.standard_normal(3)
        np.testing.assert_allclose(at @ ((g_matrix @ g) * (bt @ d)),
                                   np.correlate(d, g, "valid"), rtol=1e-13, atol=1e-13)
        d2, g2 = rng.standard_normal((alpha, alpha)), rng.standard_normal((3, 3))
        y = at @ ((g_matrix @ g2 @ g_matrix.T) * (bt @ d2 @ bt.T)) @ at.T
        expected = [[np.sum(d2[i:i + 3, j:j + 3] * g2) for j in range(m)] for i in range(m)]
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_supports_only_3x3_stride_1_forward_and_input_gradient() -> None:
    alg = Winograd(4)

    def problem(kind: str = "forward", k: tuple = (3, 3), stride: tuple = (1, 1),
                dilation: tuple = (1, 1)) -> engine.ConvProblem:
        return engine.ConvProblem(kind, (1, 2, 8, 8), (2, 2) + k, stride, ((1, 1), (1, 1)),
                                  dilation, 1, np.dtype(np.float32))

    assert alg.supports(problem())
    assert alg.supports(problem("grad_input"))
    assert not alg.supports(problem("grad_weight"))
    assert not alg.supports(problem(k=(3, 5)))
    assert not alg.supports(problem(stride=(1, 2)))
    assert not alg.supports(problem(dilation=(2, 1)))
    for nd in (1, 3):
        assert not alg.supports(engine.ConvProblem(
            "forward", (1, 2) + (8,) * nd, (2, 2) + (3,) * nd, (1,) * nd, ((1, 1),) * nd,
            (1,) * nd, 1, np.dtype(np.float32)))
    assert np.complex64 not in alg.dtypes


# ------------------------------------------------------------------ against PyTorch
@st.composite
def winograd_cases(draw: Any) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 4))
    cout = groups * draw(st.integers(1, 4))
    if draw(st.integers(0, 4)) == 0:  # depthwise, with a channel multiplier sometimes
        groups = cin = draw(st.integers(2, 5))
        cout = cin * draw(st.integers(1, 2))
    padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    spatial = tuple(max(draw(st.integers(1, 13)), 3 - lo - hi) for lo, hi in padding)
    return dict(batch=draw(st.integers(1, 3)), cin=cin, cout=cout, groups=groups,
                padding=padding, spatial=spatial, seed=draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(case=winograd_cases())
def test_forced_winograd_matches_torch(name: str, case: dict[str, Any]) -> None:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["batch"], case["cin"]) + case["spatial"])
    w = rng.standard_normal((case["cout"], case["cin"] // case["groups"], 3, 3))
    out_shape = (case["batch"], case["cout"]) + tuple(
        s + lo + hi - 2 for s, (lo, hi) in zip(case["spatial"], case["padding"], strict=True))
    g = rng.standard_normal(out_shape)
    expected = _torch_conv(x, w, g, case["padding"], case["groups"])
    for dtype, rtol in (("float64", 1e-10), ("float32", 1e-4)):
        got = _convkit_conv(x.astype(dtype), w.astype(dtype), g.astype(dtype), case["padding"],
                            case["groups"], name)
        assert got[3]["forward"] == name and got[3]["grad_input"] == name, got[3]
        for ours, theirs in zip(got[:3], expected, strict=True):
            assert ours.dtype == np.dtype(dtype) and ours.shape == theirs.shape
            scale = max(1.0, float(np.abs(theirs).max()))
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name", NAMES)
def test_conv_transpose_stride_1_runs_winograd(name: str) -> None:
    """conv_transpose2d at stride 1 is the input gradient of a 3 x 3 convolution."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 11))
    w = rng.standard_normal((6, 4, 3, 3))  # (C_in, C_out/G, 3, 3)
    with engine.forced_algorithm(name):
        ours = CF.conv_transpose2d(convkit.tensor(x), convkit.tensor(w), padding=1, groups=2)
        assert conv_plan.last_plan().algorithm == name
    theirs = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), padding=1, groups=2)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name: str) -> None:
    rng = np.random.default_rng(5)
    x = convkit.tensor(rng.standard_normal((1, 2, 5, 6)), requires_grad=True)
    w = convkit.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    with engine.forced_algorithm(name), conv_plan.recording() as plans:
        assert gradcheck(lambda a, b: CF.conv2d(a, b, padding=1), (x, w))
    assert name in {plan.algorithm for plan in plans}


def test_non_contiguous_inputs_are_read_correctly_and_left_untouched() -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((8, 3, 12, 2))
    x = base.transpose(3, 1, 0, 2)[:, :, ::2]  # (2, 3, 4, 8), no unit stride anywhere
    w = rng.standard_normal((3, 3, 3, 6)).transpose(3, 0, 1, 2)[:4, :3]
    saved = base.copy()
    expected = TF.conv2d(torch.from_numpy(np.ascontiguousarray(x)),
                         torch.from_numpy(np.ascontiguousarray(w)), padding=1).numpy()
    for name in NAMES:
        p = engine.ConvProblem("forward", x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                               np.dtype(np.float64))
        np.testing.assert_allclose(engine.algorithms()[name].run(p, x, w), expected,
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(base, saved)


@pytest.mark.parametrize("name", NAMES)
def test_channel_blocks_of_the_transforms(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transforms run a block of channels at a time (sized for the cache); with blocks
    of one channel the result is the same."""
    from convkit.engine import conv_winograd

    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 6, 10, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    p = engine.ConvProblem("forward", x.shape, w.shape, (1, 1), ((1, 0), (2, 1)), (1, 1), 2,
                           np.dtype(np.float64))
    expected = TF.conv2d(TF.pad(torch.from_numpy(x), (2, 1, 1, 0)), torch.from_numpy(w),
                         groups=2).numpy()
    monkeypatch.setattr(conv_winograd, "_BLOCK_BYTES", 1)
    got = engine.algorithms()[name].run(p, x, w)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ numerics and memory
def test_float32_error_of_f4x4_on_a_resnet_layer() -> None:
    """F(4x4, 3x3) rounds more than the direct sum; it must stay well inside float32
    convolution tolerance (measured: ~3e-6 of the largest output; direct ~3e-7)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 64, 28, 28))
    w = rng.standard_normal((64, 64, 3, 3)) * np.sqrt(2 / (64 * 9))
    exact = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    scale = float(np.abs(exact).max())
    p = engine.ConvProblem("forward", x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                           np.dtype(np.float32))
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    errors = {name: float(np.abs(engine.algorithms()[name].run(p, x32, w32) - exact).max())
              / scale for name in NAMES}
    direct = float(np.abs(TF.conv2d(torch.from_numpy(x32), torch.from_numpy(w32),
                                    padding=1).numpy() - exact).max()) / scale
    assert errors["winograd4"] < 2e-5, errors
    assert errors["winograd2"] < 5e-6, errors
    assert errors["winograd4"] < 40 * direct, (errors, direct)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["forward", "grad_input"])
def test_workspace_covers_the_measured_peak(name: str, kind: str) -> None:
    """``workspace`` is the honest peak of what ``run`` allocates beyond its result."""
    alg = engine.algorithms()[name]
    p = engine.ConvProblem(kind, (2, 16, 30, 27), (8, 16, 3, 3), (1, 1), ((1, 2), (0, 1)),
                           (1, 1), 1, np.dtype(np.float32))
    rng = np.random.default_rng(0)
    a = rng.standard_normal(p.x_shape if kind == "forward" else p.out_shape).astype(np.float32)
    w = rng.standard_normal(p.w_shape).astype(np.float32)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = alg.run(p, a, w)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    extra = peak - result.nbytes
    assert 0.3 * alg.workspace(p) < extra <= alg.workspace(p), (extra, alg.workspace(p))
    assert alg.workspace(p.with_batch(4)) > alg.workspace(p) > alg.workspace(p.with_batch(1))


def test_planner_cuts_the_batch_to_fit_the_workspace() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 8, 10, 10))
    w = rng.standard_normal((8, 8, 3, 3))
    p = engine.ConvProblem("forward", x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                           np.dtype(np.float64))
    alg = engine.algorithms()["winograd4"]
    limit = engine.get_workspace_limit()
    try:
        engine.set_workspace_limit(alg.workspace(p.with_batch(2)))
        with engine.forced_algorithm("winograd4"):
            got = engine.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
        plan = conv_plan.last_plan()
        assert plan.algorithm == "winograd4" and plan.tile == 2 and plan.tiles == 3
    finally:
        engine.set_workspace_limit(limit)
    expected = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
