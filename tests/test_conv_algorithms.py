"""Every registered convolution algorithm, forced in turn, against PyTorch.

The engine's algorithms are interchangeable implementations of one primitive family
(forward, input gradient = transposed convolution, weight gradient); the planner picks one
per call. Here each algorithm is forced with ``forced_algorithm`` and run on
hypothesis-generated problems it supports, and its three results are compared with
PyTorch's convolution and autograd on the same float64 data (and float32 within float32
tolerance). The test fails if a forced, supporting algorithm was not the one that ran.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convkit.engine import conv as engine
from convkit.engine import conv_plan

ALGORITHMS = sorted(engine.algorithms())
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn, kind: str) -> engine.ConvProblem:
    """Broad geometries, biased towards the special cases algorithms specialise in."""
    flavour = draw(st.sampled_from(["general", "3x3", "1x1", "depthwise", "large"]))
    nd = 2 if flavour == "3x3" else draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin_per_group = draw(st.integers(1, 3))
    out_per_group = draw(st.integers(1, 3))
    if flavour == "depthwise":
        groups, cin_per_group = draw(st.integers(2, 5)), 1
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    if flavour == "3x3":
        kernel, stride, dilation = (3, 3), (1, 1), (1, 1)
    elif flavour == "1x1":
        kernel = (1,) * nd
    elif flavour == "large":
        kernel = tuple(draw(st.integers(5, 9)) for _ in range(nd))
        stride = dilation = (1,) * nd
    padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd))
    spatial = tuple(max(draw(st.integers(1, 12)), (k - 1) * d + 1 - lo - hi)
                    for k, d, (lo, hi) in zip(kernel, dilation, padding, strict=True))
    batch = draw(st.integers(1, 3))
    p = engine.ConvProblem(kind, (batch, groups * cin_per_group) + spatial,
                           (groups * out_per_group, cin_per_group) + kernel, stride, padding,
                           dilation, groups, np.dtype(np.float64))
    assume(all(s >= 1 for s in p.out_shape[2:]))
    return p


def _torch_results(p: engine.ConvProblem, x: np.ndarray, w: np.ndarray,
                   g: np.ndarray) -> dict[str, np.ndarray]:
    """PyTorch's forward, input gradient and weight gradient of the same problem."""
    pads = [v for lo_hi in reversed(p.padding) for v in lo_hi]  # F.pad order: last axis first
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[p.nd]
    out = conv(torch.nn.functional.pad(xt, pads), wt, None, p.stride, 0, p.dilation, p.groups)
    out.backward(torch.from_numpy(g))
    return {"forward": out.detach().numpy(), "grad_input": xt.grad.numpy(),
            "grad_weight": wt.grad.numpy()}


def _engine_result(p: engine.ConvProblem, x: np.ndarray, w: np.ndarray,
                   g: np.ndarray) -> np.ndarray:
    args = (p.stride, p.padding, p.dilation, p.groups)
    if p.kind == "forward":
        return engine.conv_forward(x, w, *args)
    if p.kind == "grad_input":
        return engine.conv_grad_input(g, w, p.x_shape, *args)
    return engine.conv_grad_weight(x, g, p.w_shape, *args)


def _data(p: engine.ConvProblem, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(p.x_shape), rng.standard_normal(p.w_shape),
            rng.standard_normal(p.out_shape))


def _supporting(name: str, p: engine.ConvProblem) -> bool:
    alg = engine.algorithms()[name]
    return (not alg.dtypes or p.dtype.type in alg.dtypes) and alg.supports(p)


def _probes(kind: str) -> list[engine.ConvProblem]:
    """One problem of each family an algorithm may specialise in."""
    f64 = np.dtype(np.float64)
    return [engine.ConvProblem(kind, x, w, s, pad, d, g, f64) for x, w, s, pad, d, g in [
        ((2, 4, 9, 9), (4, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
        ((2, 4, 9, 9), (6, 4, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
        ((2, 4, 9, 9), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4),
        ((1, 2, 40), (2, 2, 9), (1,), ((4, 4),), (1,), 1),
        ((1, 2, 6, 6, 6), (2, 2, 3, 3, 3), (2, 2, 2), ((1, 1),) * 3, (1, 1, 1), 1),
        ((1, 1, 30, 30), (1, 1, 9, 9), (1, 1), ((4, 4), (4, 4)), (1, 1), 1)]]


@pytest.mark.parametrize("kind", engine.KINDS)
@pytest.mark.parametrize("name", ALGORITHMS)
@SETTINGS
@given(data=st.data())
def test_forced_algorithm_matches_torch(name: str, kind: str, data: st.DataObject) -> None:
    if not any(_supporting(name, p) for p in _probes(kind)):
        pytest.skip(f"{name} does not compute {kind}")
    p = data.draw(problems(kind))
    assume(_supporting(name, p))
    x, w, g = _data(p, seed=math.prod(p.x_shape) + len(name))
    expected = _torch_results(p, x, w, g)[kind]
    scale = max(1.0, float(np.abs(expected).max()))
    with engine.forced_algorithm(name):
        got64 = _engine_result(p, x, w, g)
        assert conv_plan.last_plan().algorithm == name
        got32 = _engine_result(p, x.astype(np.float32), w.astype(np.float32),
                               g.astype(np.float32))
        assert conv_plan.last_plan().algorithm == name or not _supporting(
            name, engine.ConvProblem(kind, p.x_shape, p.w_shape, p.stride, p.padding,
                                     p.dilation, p.groups, np.dtype(np.float32)))
    assert got64.shape == expected.shape and got64.dtype == np.float64
    np.testing.assert_allclose(got64, expected, rtol=1e-9, atol=1e-9 * scale)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected, rtol=1e-4, atol=2e-5 * scale)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_forced_algorithm_leaves_inputs_untouched(name: str) -> None:
    """No algorithm may write into the arrays it is given (they are users' tensors)."""
    rng = np.random.default_rng(0)
    for p in (engine.ConvProblem(k, (2, 4, 9, 9), (4, 2, 3, 3), (1, 1), ((1, 1), (1, 1)),
                                 (1, 1), 2, np.dtype(np.float64)) for k in engine.KINDS):
        if not _supporting(name, p):
            continue
        x, w, g = (rng.standard_normal(s) for s in (p.x_shape, p.w_shape, p.out_shape))
        copies = [a.copy() for a in (x, w, g)]
        with engine.forced_algorithm(name):
            _engine_result(p, x, w, g)
        for a, c in zip((x, w, g), copies, strict=True):
            np.testing.assert_array_equal(a, c)


def test_planner_tiles_the_batch_when_the_workspace_budget_is_small() -> None:
    p = engine.ConvProblem("forward", (6, 3, 10, 10), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)),
                           (1, 1), 1, np.dtype(np.float64))
    x, w, g = _data(p, 1)
    expected = _torch_results(p, x, w, g)
    limit = engine.get_workspace_limit()
    try:
        for kind in engine.KINDS:
            kp = dataclasses.replace(p, kind=kind)
            engine.set_workspace_limit(1)  # nothing fits: one sample per tile
            got = _engine_result(kp, x, w, g)
            plan = conv_plan.last_plan()
            assert plan.tile == 1 and plan.tiles == 6
            np.testing.assert_allclose(got, expected[kind], rtol=1e-10, atol=1e-10)
    finally:
        engine.set_workspace_limit(limit)


def test_set_algorithm_rejects_unknown_names_and_restores() -> None:
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        engine.set_algorithm("nope")
    assert engine.get_algorithm() is None
    with engine.forced_algorithm("taps"):
        assert engine.get_algorithm() == "taps"
    assert engine.get_algorithm() is None
    with pytest.raises(ValueError, match="non-negative int"):
        engine.set_workspace_limit(-1)
