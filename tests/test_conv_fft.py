"""The "fft" convolution algorithm forced on 1-, 2- and 3-d problems of every kind, against
real PyTorch through the public path (conv, conv_transpose, backward), complex data against
PyTorch's real convolutions combined, float64 gradcheck, the accuracy guard (refusal on wide
dynamic range and non-finite data, double-precision transforms in between), overlap-save
tiles along a long axis, spatial chunks under a small workspace budget, and honest workspace.
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
from convkit.engine import conv_fft, conv_plan

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TORCH_CONV = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}
FFT = engine.algorithms()["fft"]


def _problem(kind: str, x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple,
             dilation: tuple, groups: int, dtype: Any = np.float64) -> engine.ConvProblem:
    return engine.ConvProblem(kind, x_shape, w_shape, stride, padding, dilation, groups,
                              np.dtype(dtype))


def _torch_kinds(p: engine.ConvProblem, x: np.ndarray, w: np.ndarray, g: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """PyTorch's forward, input gradient and weight gradient of real data (float64)."""
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    pads = [v for pair in reversed(p.padding) for v in pair]  # F.pad: last axis first
    out = TORCH_CONV[p.nd](TF.pad(xt, pads), wt, None, p.stride, 0, p.dilation, p.groups)
    out.backward(torch.from_numpy(g))
    return {"forward": out.detach().numpy(), "grad_input": xt.grad.numpy(),
            "grad_weight": wt.grad.numpy()}


def _engine(p: engine.ConvProblem, x: np.ndarray, w: np.ndarray, g: np.ndarray) -> np.ndarray:
    args = (p.stride, p.padding, p.dilation, p.groups)
    if p.kind == "forward":
        return engine.conv_forward(x, w, *args)
    if p.kind == "grad_input":
        return engine.conv_grad_input(g, w, p.x_shape, *args)
    return engine.conv_grad_weight(x, g, p.w_shape, *args)


def _assert_close(ours: np.ndarray, theirs: np.ndarray, rtol: float) -> None:
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


# ------------------------------------------------------------------ the public path
@st.composite
def fft_cases(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    if draw(st.integers(0, 4)) == 0:  # depthwise, with a channel multiplier sometimes
        groups = cin = draw(st.integers(2, 4))
        cout = cin * draw(st.integers(1, 2))
    top = {1: 12, 2: 7, 3: 4}[nd]
    kernel = tuple(draw(st.integers(1, top)) for _ in range(nd))
    stride = tuple(draw(st.sampled_from([1, 1, 2, 3])) for _ in range(nd))
    dilation = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nd))
    padding = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(nd))
    as_large = draw(st.booleans())  # the kernel spans the whole padded input
    spatial = tuple(
        max(d * (k - 1) + 1 - lo - hi, 1) if as_large else
        max(draw(st.integers(1, {1: 40, 2: 12, 3: 6}[nd])), d * (k - 1) + 1 - lo - hi, 1)
        for k, d, (lo, hi) in zip(kernel, dilation, padding, strict=True))
    return dict(nd=nd, batch=draw(st.integers(1, 3)), cin=cin, cout=cout, groups=groups,
                kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                spatial=spatial, seed=draw(st.integers(0, 2**32 - 1)))


@SETTINGS
@given(case=fft_cases())
def test_forced_fft_matches_torch_forward_and_both_gradients(case: dict[str, Any]) -> None:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["batch"], case["cin"]) + case["spatial"])
    w = rng.standard_normal((case["cout"], case["cin"] // case["groups"]) + case["kernel"])
    p = _problem("forward", x.shape, w.shape, case["stride"], case["padding"],
                 case["dilation"], case["groups"])
    g = rng.standard_normal(p.out_shape)
    expected = _torch_kinds(p, x, w, g)
    for dtype, rtol in (("float64", 1e-9), ("float32", 1e-4)):
        xc = convkit.tensor(x.astype(dtype), requires_grad=True)
        wc = convkit.tensor(w.astype(dtype), requires_grad=True)
        with engine.forced_algorithm("fft"), conv_plan.recording() as plans:
            out = CF.conv(xc, wc, None, case["stride"], case["padding"], case["dilation"],
                          case["groups"])
            out.backward(convkit.tensor(g.astype(dtype)))
        assert {plan.problem.kind: plan.algorithm for plan in plans} == {
            "forward": "fft", "grad_input": "fft", "grad_weight": "fft"}
        for ours, kind in ((out, "forward"), (xc.grad, "grad_input"), (wc.grad, "grad_weight")):
            assert ours.detach().numpy().dtype == np.dtype(dtype)
            _assert_close(ours.detach().numpy(), expected[kind], rtol)


@pytest.mark.parametrize("nd, stride, padding, output_padding, dilation, groups", [
    (1, 3, 2, 2, 1, 1), (2, (2, 3), (1, 0), (1, 2), (1, 2), 2), (3, 2, 1, 1, 1, 3),
    (2, 1, 0, 0, 3, 1), (1, 2, 0, 1, 2, 4)])
def test_conv_transpose_with_output_padding(nd: int, stride: Any, padding: Any,
                                            output_padding: Any, dilation: Any,
                                            groups: int) -> None:
    rng = np.random.default_rng(nd * 10 + groups)
    cin = 2 * groups
    x = rng.standard_normal((2, cin) + (5, 4, 3)[:nd])
    w = rng.standard_normal((cin, 2) + (3, 2, 4)[:nd])  # (C_in, C_out/G, *k)
    op = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}[nd]
    args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                dilation=dilation)
    theirs_x = torch.from_numpy(x).requires_grad_()
    theirs_w = torch.from_numpy(w).requires_grad_()
    theirs = getattr(TF, op)(theirs_x, theirs_w, **args)
    g = rng.standard_normal(tuple(theirs.shape))
    theirs.backward(torch.from_numpy(g))
    xc = convkit.tensor(x, requires_grad=True)
    wc = convkit.tensor(w, requires_grad=True)
    with engine.forced_algorithm("fft"), conv_plan.recording() as plans:
        ours = getattr(CF, op)(xc, wc, **args)
        ours.backward(convkit.tensor(g))
    assert {plan.algorithm for plan in plans} == {"fft"} and len(plans) == 3
    for a, b in ((ours, theirs), (xc.grad, theirs_x.grad), (wc.grad, theirs_w.grad)):
        _assert_close(a.detach().numpy(), b.detach().numpy(), 1e-10)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("kind", engine.KINDS)
def test_complex_data_is_not_conjugated(kind: str, dtype: Any) -> None:
    """Each kind is bilinear: its complex result is four real ones combined (PyTorch's
    convolution does not conjugate, and neither does the engine)."""
    rng = np.random.default_rng(1)
    p = _problem(kind, (2, 4, 11, 9), (6, 2, 4, 3), (2, 1), ((1, 2), (0, 3)), (1, 2), 2, dtype)

    def cplx(shape: tuple) -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal(shape), rng.standard_normal(shape)

    (xr, xi), (wr, wi), (gr, gi) = cplx(p.x_shape), cplx(p.w_shape), cplx(p.out_shape)
    real = _problem(kind, p.x_shape, p.w_shape, p.stride, p.padding, p.dilation, p.groups)

    def ref(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        return _torch_kinds(real, x, w, g)[kind]

    # the two operands of each kind: (x, w), (g, w) or (x, g); the third is unused
    if kind == "forward":
        expected = (ref(xr, wr, gr) - ref(xi, wi, gr)) + 1j * (ref(xr, wi, gr) + ref(xi, wr, gr))
    elif kind == "grad_input":
        expected = (ref(xr, wr, gr) - ref(xr, wi, gi)) + 1j * (ref(xr, wi, gr) + ref(xr, wr, gi))
    else:
        expected = (ref(xr, wr, gr) - ref(xi, wr, gi)) + 1j * (ref(xr, wr, gi) + ref(xi, wr, gr))
    x, w, g = ((r + 1j * i).astype(dtype) for r, i in ((xr, xi), (wr, wi), (gr, gi)))
    with engine.forced_algorithm("fft"):
        got = _engine(p, x, w, g)
        assert conv_plan.last_plan().algorithm == "fft"
    assert got.dtype == np.dtype(dtype)
    _assert_close(got, expected, 1e-4 if dtype == np.complex64 else 1e-10)


def test_gradcheck_float64() -> None:
    rng = np.random.default_rng(4)
    x = convkit.tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    w = convkit.tensor(rng.standard_normal((4, 1, 3)), requires_grad=True)
    with engine.forced_algorithm("fft"), conv_plan.recording() as plans:
        assert gradcheck(lambda a, b: CF.conv1d(a, b, stride=2, padding=2, dilation=2,
                                                groups=2), (x, w))
        x2 = convkit.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
        w2 = convkit.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
        assert gradcheck(lambda a, b: CF.conv_transpose2d(a, b.transpose(0, 1), stride=2,
                                                          padding=1, output_padding=1),
                         (x2, w2))
    assert {plan.algorithm for plan in plans} == {"fft"}


# ------------------------------------------------------------------ tiles and chunks
@pytest.mark.parametrize("kind", engine.KINDS)
def test_long_signal_is_cut_into_overlap_save_tiles(kind: str) -> None:
    """A 257-tap kernel on 8192 samples: short transforms over tiles, not one long one."""
    p = _problem(kind, (2, 8, 8192), (6, 8, 257), (1,), ((128, 128),), (1,), 1)
    geometry = conv_fft.geometry(p)
    assert geometry.axes[0].tiles > 4 and geometry.axes[0].fft_len < 4096
    assert geometry.blas  # channels contracted by one GEMM per frequency
    rng = np.random.default_rng(0)
    x, w, g = (rng.standard_normal(s) for s in (p.x_shape, p.w_shape, p.out_shape))
    with engine.forced_algorithm("fft"):
        got = _engine(p, x, w, g)
    _assert_close(got, _torch_kinds(p, x, w, g)[kind], 1e-10)


@st.composite
def tiled_problems(draw: Any) -> tuple[engine.ConvProblem, int]:
    """Long axes (tiles), many channels (GEMM contraction), strides, dilations, and a budget
    from generous to tiny (chunks of samples, of tiles, or nothing fits)."""
    nd = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 6)), groups * draw(st.integers(1, 6))
    kernel = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    stride = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nd))
    dilation = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nd))
    padding = tuple((draw(st.integers(0, 5)), draw(st.integers(0, 5))) for _ in range(nd))
    top = 300 if nd == 1 else 48
    spatial = tuple(max(draw(st.integers(1, top)), d * (k - 1) + 1 - lo - hi, 1)
                    for k, d, (lo, hi) in zip(kernel, dilation, padding, strict=True))
    p = _problem(draw(st.sampled_from(engine.KINDS)), (draw(st.integers(1, 3)), cin) + spatial,
                 (cout, cin // groups) + kernel, stride, padding, dilation, groups)
    return p, draw(st.sampled_from([256 * 2**20, 400_000, 60_000, 1]))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=tiled_problems())
def test_tiles_and_chunks_under_any_budget_match_torch(case: tuple) -> None:
    p, budget = case
    rng = np.random.default_rng(sum(p.x_shape) + budget % 997)
    x, w, g = (rng.standard_normal(s) for s in (p.x_shape, p.w_shape, p.out_shape))
    limit = engine.get_workspace_limit()
    try:
        engine.set_workspace_limit(budget)
        with engine.forced_algorithm("fft"):
            got = _engine(p, x, w, g)
        plan = conv_plan.last_plan()
        fft_workspace = {name: ws for name, _, ws in plan.alternatives}["fft"]
        # forced, the FFT runs unless it cannot fit the budget and another algorithm can
        assert plan.algorithm == "fft" or fft_workspace > budget >= plan.workspace
        geometry = conv_fft.geometry(p)
        if geometry.workspace() > budget:  # then nothing smaller was possible
            assert geometry.chunk_batch == 1 and geometry.chunk_tiles == 1
    finally:
        engine.set_workspace_limit(limit)
    _assert_close(got, _torch_kinds(p, x, w, g)[p.kind], 1e-9)


@pytest.mark.parametrize("kind", engine.KINDS)
def test_small_workspace_budget_chunks_a_single_image(kind: str) -> None:
    """At batch 1 a 192 x 160 image with a 15 x 15 kernel is cut into spatial tiles processed
    in chunks that fit the budget; the result equals the one-piece computation."""
    p = _problem(kind, (1, 2, 192, 160), (2, 2, 15, 15), (1, 1), ((7, 7), (7, 7)), (1, 1), 1)
    rng = np.random.default_rng(1)
    x, w, g = (rng.standard_normal(s) for s in (p.x_shape, p.w_shape, p.out_shape))
    operands = {"forward": (x, w), "grad_input": (g, w), "grad_weight": (x, g)}[kind]
    whole = FFT.run(p, *operands)
    assert conv_fft.geometry(p).chunks == 1
    limit = engine.get_workspace_limit()
    try:
        engine.set_workspace_limit(1_500_000)
        geometry = conv_fft.geometry(p)
        assert geometry.chunks > 1 and geometry.tiles > 1
        assert FFT.workspace(p) <= 1_500_000
        tiled = FFT.run(p, *operands)
        with engine.forced_algorithm("fft"):
            public = _engine(p, x, w, g)
        assert conv_plan.last_plan().algorithm == "fft" and conv_plan.last_plan().tile == 1
    finally:
        engine.set_workspace_limit(limit)
    np.testing.assert_allclose(tiled, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())
    np.testing.assert_allclose(public, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())
    _assert_close(tiled, _torch_kinds(p, x, w, g)[kind], 1e-10)


@pytest.mark.parametrize("kind", engine.KINDS)
@pytest.mark.parametrize("shape", [
    ((2, 8, 600), (8, 8, 65), (1,), ((32, 32),), (1,), 1),            # tiled, BLAS contraction
    ((3, 6, 40, 36), (6, 1, 9, 9), (1, 1), ((4, 4), (4, 4)), (1, 1), 6),  # depthwise
    ((1, 4, 9, 10, 8), (2, 2, 3, 3, 2), (2, 1, 1), ((1, 1), (0, 2), (1, 0)), (1, 1, 2), 2),
])
def test_workspace_covers_the_measured_peak(kind: str, shape: tuple) -> None:
    p = _problem(kind, *shape, dtype=np.float32)
    rng = np.random.default_rng(2)
    x, w, g = (rng.standard_normal(s).astype(np.float32)
               for s in (p.x_shape, p.w_shape, p.out_shape))
    operands = {"forward": (x, w), "grad_input": (g, w), "grad_weight": (x, g)}[kind]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = FFT.run(p, *operands)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak - result.nbytes <= FFT.workspace(p), (peak - result.nbytes, FFT.workspace(p))
    expected = _torch_kinds(p, x.astype(np.float64), w.astype(np.float64),
                            g.astype(np.float64))[kind]
    _assert_close(result, expected, 1e-4)


# ------------------------------------------------------------------ accuracy
def _spiked(shape: tuple, spike: float, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal(shape)
    a.reshape(-1)[a.size // 3] = spike
    return a


def test_wide_dynamic_range_is_refused_and_computed_directly() -> None:
    """One value of 1e12 among unit ones: the FFT's rounding (relative to the largest
    values) would swamp the small outputs, so the planner takes a direct algorithm."""
    rng = np.random.default_rng(3)
    p = _problem("forward", (1, 2, 40, 40), (2, 2, 9, 9), (1, 1), ((4, 4), (4, 4)), (1, 1), 1)
    x, w = _spiked(p.x_shape, 1e12, rng), rng.standard_normal(p.w_shape)
    ok, why = FFT.accurate(p, x, w)
    assert not ok and "dynamic range" in why
    expected = _torch_kinds(p, x, w, np.zeros(p.out_shape))["forward"]
    with engine.forced_algorithm("fft"):
        got = _engine(p, x, w, None)
    assert conv_plan.last_plan().algorithm != "fft"
    far = np.abs(expected) < 1e3  # outputs the spike does not reach
    assert far.sum() > 1000
    direct_error = np.abs(got - expected)[far].max()
    fft_error = np.abs(FFT.run(p, x, w) - expected)[far].max()
    # the FFT would keep ~5 of the 16 digits of these outputs (of typical size 10)
    assert direct_error < 1e-10 < 1e-5 < fft_error, (direct_error, fft_error)


def test_float32_of_moderate_range_is_transformed_in_double_precision() -> None:
    """A 1e6 spike among unit values: too wide for float32 transforms, fine for float64 ones,
    so the FFT still runs, in double precision, and the small outputs keep float32 accuracy,
    also when the planner cuts the batch into tiles."""
    rng = np.random.default_rng(5)
    p = _problem("forward", (2, 1, 64, 64), (1, 1, 15, 15), (1, 1), ((7, 7), (7, 7)), (1, 1), 1,
                 np.float32)
    x = _spiked(p.x_shape, 1e6, rng).astype(np.float32)
    w = rng.standard_normal(p.w_shape).astype(np.float32)
    ok, why = FFT.accurate(p, x, w)
    assert ok and "double precision" in why
    expected = _torch_kinds(p, x.astype(np.float64), w.astype(np.float64),
                            np.zeros(p.out_shape))["forward"]
    far = np.abs(expected) < 1e2
    single_error = np.abs(FFT.run(p, x.copy(), w) - expected)[far].max()  # not checked data
    limit = engine.get_workspace_limit()
    try:
        for budget in (limit, 1):  # 1 byte: nothing fits, one sample per batch tile
            engine.set_workspace_limit(budget)
            with engine.forced_algorithm("fft"):
                got = _engine(p, x, w, None)
            plan = conv_plan.last_plan()
            assert plan.algorithm == "fft" and got.dtype == np.float32
            assert plan.tile == (2 if budget == limit else 1)
            upgraded_error = np.abs(got - expected)[far].max()
            assert upgraded_error < 1e-4 < 1e-2 < single_error, (upgraded_error, single_error)
    finally:
        engine.set_workspace_limit(limit)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    rng = np.random.default_rng(6)
    p = _problem("forward", (1, 1, 30), (1, 1, 5), (1,), ((0, 0),), (1,), 1)
    x, w = rng.standard_normal(p.x_shape), rng.standard_normal(p.w_shape)
    x[0, 0, 3] = bad
    assert not FFT.accurate(p, x, w)[0]
    with engine.forced_algorithm("fft"):
        got = _engine(p, x, w, None)
    assert conv_plan.last_plan().algorithm != "fft"
    expected = TF.conv1d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    assert finite.sum() == 22  # only the 4 outputs whose window holds the value are lost
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12)


def test_float32_error_against_float64_on_large_kernels() -> None:
    """float32 transforms on random data: the error relative to the largest output stays at
    the float32 rounding level (measured on the benchmark cases E, F and G: a few 1e-7)."""
    rng = np.random.default_rng(8)
    cases = [_problem("forward", (2, 16, 40, 40), (16, 1, 21, 21), (1, 1), ((10, 10),) * 2,
                      (1, 1), 16, np.float32),
             _problem("forward", (1, 4, 4096), (4, 4, 257), (1,), ((128, 128),), (1,), 1,
                      np.float32)]
    for p in cases:
        x, w = rng.standard_normal(p.x_shape), rng.standard_normal(p.w_shape)
        exact = _torch_kinds(p, x, w, np.zeros(p.out_shape))["forward"]
        got = FFT.run(p, x.astype(np.float32), w.astype(np.float32))
        assert np.abs(got - exact).max() / np.abs(exact).max() < 2e-6
