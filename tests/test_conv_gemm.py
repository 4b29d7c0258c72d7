"""The GEMM algorithms of the convolution engine ('gemm1x1', 'im2col', 'shifted') against PyTorch.

Each algorithm is forced (``forced_algorithm``) and driven through the public path:
``convkit.nn.functional`` forward, then ``backward`` for the input and weight gradients, on
hypothesis-generated geometries in 1, 2 and 3 dimensions. Every convolution that the
algorithm supports must really have run on it (the planner's record says which did), and all
three results must equal torch's. Chunked code paths are reached by shrinking the chunk size.
"""

from __future__ import annotations

import math
import tracemalloc
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit
import convkit.engine.conv_gemm as conv_gemm
import convkit.nn.functional as F
from convkit.autograd import gradcheck
from convkit.engine.conv import ConvProblem, algorithms, forced_algorithm
from convkit.engine.conv_plan import last_plan, recording

ALGORITHMS = ("gemm1x1", "im2col", "shifted")
# torch's own note that padding='same' with an even kernel copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


# ------------------------------------------------------------------ geometries
@st.composite
def geometries(draw, algorithm: str, transposed: bool = False) -> dict:
    """A convolution (or transposed convolution) that ``algorithm`` supports."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    small = nd == 3  # keep 3-d problems quick
    g = {"nd": nd, "groups": groups, "n": draw(st.integers(1, 2 if small else 3)),
         "cin": groups * draw(st.integers(1, 3)), "cout": groups * draw(st.integers(1, 3))}
    if algorithm == "gemm1x1":
        kernel = (1,) * nd
    else:
        kernel = tuple(draw(st.integers(1, 2 if small else 4)) for _ in range(nd))
    g["stride"] = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    g["dilation"] = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    g["kernel"] = kernel
    reach = [d * (k - 1) + 1 for k, d in zip(kernel, g["dilation"], strict=True)]
    if transposed:
        g["padding"] = tuple(draw(st.integers(0, r - 1)) for r in reach)
        g["output_padding"] = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in
                                    zip(g["stride"], g["dilation"], strict=True))
        g["spatial"] = tuple(draw(st.integers(1, 3 if small else 6)) for _ in range(nd))
        return g
    style = draw(st.sampled_from(["valid", "int", "pairs", "same", "kernel_is_input"]))
    if style == "same":
        g["stride"] = (1,) * nd  # torch has 'same' for stride 1 only
    if style in ("valid", "kernel_is_input"):
        padding = ((0, 0),) * nd
    elif style == "int":
        lo = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        padding = tuple((p, p) for p in lo)
    elif style == "pairs":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    else:
        padding = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                        for k, d in zip(kernel, g["dilation"], strict=True))
    if style == "kernel_is_input":
        spatial = tuple(reach)
    else:
        low = [max(1, r - lo - hi) for r, (lo, hi) in zip(reach, padding, strict=True)]
        spatial = tuple(draw(st.integers(m, m + (3 if small else 6))) for m in low)
    g["padding"], g["spatial"], g["style"] = padding, spatial, style
    return g


def _arrays(g: dict, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(input, weight); a transposed convolution's weight is (C_in, C_out/groups, *k)."""
    rng = np.random.default_rng(seed)
    x_shape = (g["n"], g["cin"]) + g["spatial"]
    if "output_padding" in g:
        w_shape = (g["cin"], g["cout"] // g["groups"]) + g["kernel"]
    else:
        w_shape = (g["cout"], g["cin"] // g["groups"]) + g["kernel"]
    return (rng.standard_normal(x_shape).astype(dtype),
            rng.standard_normal(w_shape).astype(dtype))


def _torch_padding(g: dict):
    """(argument for torch's conv, pad to apply first) for the geometry's padding."""
    style = g["style"]
    if style == "same":
        return "same", None
    pairs = g["padding"]
    if all(lo == hi for lo, hi in pairs):
        return tuple(lo for lo, _ in pairs), None
    flat = [v for lo_hi in reversed(pairs) for v in lo_hi]  # torch pads the last axis first
    return 0, flat


def _convkit_padding(g: dict):
    style = g["style"]
    if style == "same":
        return "same"
    if style in ("valid", "kernel_is_input"):
        return "valid"
    if style == "int":
        return tuple(lo for lo, _ in g["padding"])
    return g["padding"]


def _close(ours: np.ndarray, ref: np.ndarray, dtype: str, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype} != {ref.dtype}"
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    err = float(np.abs(ours.astype(np.complex128) - ref).max(initial=0.0))
    assert err <= TOLERANCE[dtype] * scale, f"{what}: max error {err} (scale {scale})"


def _check_algorithm_ran(plans, name: str) -> None:
    """Every convolution the forced algorithm supports ran on it; at least one did."""
    alg = algorithms()[name]
    assert plans, "no convolution was planned"
    ours = [p for p in plans if alg.supports(p.problem)]
    assert ours, f"{name} supported none of {[p.problem for p in plans]}"
    for plan in ours:
        assert plan.algorithm == name, f"{plan.problem} ran on {plan.algorithm}, not {name}"


def _run_conv(g: dict, algorithm: str, dtype: str, seed: int = 0, layout=None) -> None:
    """Forward, input and weight gradients of a convolution, against torch."""
    x, w = _arrays(g, dtype, seed)
    out_rng = np.random.default_rng(seed + 1)
    torch_pad, pre_pad = _torch_padding(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    conv_t = getattr(torch.nn.functional, f"conv{g['nd']}d")
    t_in = tx if pre_pad is None else torch.nn.functional.pad(tx, pre_pad)
    t_out = conv_t(t_in, tw, stride=g["stride"], padding=torch_pad, dilation=g["dilation"],
                   groups=g["groups"])
    grad = out_rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    t_out.backward(torch.tensor(grad))

    cx = convkit.tensor(x, requires_grad=True)
    cw = convkit.tensor(w, requires_grad=True)
    x_in, w_in = (cx, cw) if layout is None else layout(cx, cw)
    with forced_algorithm(algorithm), recording() as plans:
        out = F.conv(x_in, w_in, stride=g["stride"], padding=_convkit_padding(g),
                     dilation=g["dilation"], groups=g["groups"])
        out.backward(convkit.tensor(grad))
    _check_algorithm_ran(plans, algorithm)
    assert {p.problem.kind for p in plans} == {"forward", "grad_input", "grad_weight"}
    _close(out.detach().numpy(), t_out.detach().numpy(), dtype, "output")
    _close(cx.grad.numpy(), tx.grad.numpy(), dtype, "input grad")
    _close(cw.grad.numpy(), tw.grad.numpy(), dtype, "weight grad")


def _run_transposed(g: dict, algorithm: str, dtype: str, seed: int = 0) -> None:
    """Transposed convolution (the engine's grad_input) and both its gradients."""
    x, w = _arrays(g, dtype, seed)
    kwargs = {"stride": g["stride"], "padding": g["padding"],
              "output_padding": g["output_padding"], "groups": g["groups"],
              "dilation": g["dilation"]}
    name = f"conv_transpose{g['nd']}d"
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    t_out = getattr(torch.nn.functional, name)(tx, tw, **kwargs)
    grad = np.random.default_rng(seed + 1).standard_normal(tuple(t_out.shape)).astype(dtype)
    t_out.backward(torch.tensor(grad))

    cx = convkit.tensor(x, requires_grad=True)
    cw = convkit.tensor(w, requires_grad=True)
    with forced_algorithm(algorithm), recording() as plans:
        out = getattr(F, name)(cx, cw, **kwargs)
        out.backward(convkit.tensor(grad))
    _check_algorithm_ran(plans, algorithm)
    _close(out.detach().numpy(), t_out.detach().numpy(), dtype, "output")
    _close(cx.grad.numpy(), tx.grad.numpy(), dtype, "input grad")
    _close(cw.grad.numpy(), tw.grad.numpy(), dtype, "weight grad")


def _valid_transposed(g: dict) -> bool:
    size = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, k, d, op in
            zip(g["spatial"], g["stride"], g["padding"], g["kernel"], g["dilation"],
                g["output_padding"], strict=True)]
    return min(size) > 0


# ------------------------------------------------------------------ against torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@SETTINGS
@given(data=st.data())
def test_conv_matches_torch(algorithm, dtype, data):
    g = data.draw(geometries(algorithm))
    _run_conv(g, algorithm, dtype, seed=data.draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_conv_transpose_matches_torch(algorithm, dtype, data):
    g = data.draw(geometries(algorithm, transposed=True))
    if not _valid_transposed(g):
        return  # torch refuses an empty output; nothing to compare
    seed = data.draw(st.integers(0, 2**16))
    if data.draw(st.booleans()):
        _run_transposed(g, algorithm, dtype, seed=seed)
    else:
        with chunk_bytes(1 << 21):
            _run_transposed(g, algorithm, dtype, seed=seed)


@contextmanager
def chunk_bytes(nbytes: int):
    """Set the GEMM algorithms' chunk size and turn im2col's gather path for small problems
    off, so that small problems take the strided-window (and chunked) paths."""
    original = conv_gemm._CHUNK_BYTES, conv_gemm._GATHER_ELEMENTS
    conv_gemm._CHUNK_BYTES, conv_gemm._GATHER_ELEMENTS = nbytes, 0
    try:
        yield
    finally:
        conv_gemm._CHUNK_BYTES, conv_gemm._GATHER_ELEMENTS = original


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(SETTINGS, max_examples=15)
@given(data=st.data())
def test_chunked_paths_match_torch(algorithm, data):
    """Strided-window paths: one chunk for everything, or tiny chunks (several samples per
    chunk, rows cut across chunks, short last chunks)."""
    g = data.draw(geometries(algorithm))
    with chunk_bytes(data.draw(st.sampled_from([8, 200, 1500, 1 << 21]))):
        _run_conv(g, algorithm, "float64", seed=data.draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_chunked_transposed_conv(algorithm):
    k = (1, 1) if algorithm == "gemm1x1" else (3, 4)
    g = {"nd": 2, "groups": 2, "n": 3, "cin": 4, "cout": 6, "kernel": k, "stride": (2, 3),
         "dilation": (1, 2), "padding": (0, 1), "spatial": (5, 4), "output_padding": (1, 1)}
    for nbytes in (300, 1 << 21):
        with chunk_bytes(nbytes):
            _run_transposed(g, algorithm, "float64")


# ------------------------------------------------------------------ fixed cases
NONCONTIGUOUS = {
    "transposed_spatial": lambda x, w: (x.transpose(-1, -2).contiguous().transpose(-1, -2),
                                        w.transpose(-1, -2).contiguous().transpose(-1, -2)),
    "channels_last": lambda x, w: (x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), w),
    "batch_channel_swapped": lambda x, w: (x.transpose(0, 1).contiguous().transpose(0, 1),
                                           w.transpose(0, 1).contiguous().transpose(0, 1)),
}


@pytest.mark.parametrize("layout", sorted(NONCONTIGUOUS))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_noncontiguous_inputs(algorithm, layout):
    k = (1, 1) if algorithm == "gemm1x1" else (3, 2)
    g = {"nd": 2, "groups": 2, "n": 2, "cin": 4, "cout": 6, "kernel": k, "stride": (1, 1),
         "dilation": (1, 1), "padding": ((1, 0), (1, 1)), "spatial": (7, 5), "style": "pairs"}
    _run_conv(g, algorithm, "float64", layout=NONCONTIGUOUS[layout])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_strided_views_as_engine_operands(algorithm):
    """The engine receives views with gaps (every other sample, channel and column)."""
    from convkit.engine.conv import conv_forward, conv_grad_input, conv_grad_weight

    rng = np.random.default_rng(3)
    k = (1, 1) if algorithm == "gemm1x1" else (2, 3)
    xb = rng.standard_normal((4, 6, 9, 12))
    wb = rng.standard_normal((10, 6) + tuple(2 * s for s in k))
    x, w = xb[::2, ::2, :, ::2], wb[::2, ::2, ::2, ::2]           # (2, 3, 9, 6), (5, 3, *k)
    args = ((1, 1), ((1, 1), (0, 2)), (1, 1), 1)
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    tw = torch.tensor(np.ascontiguousarray(w), requires_grad=True)
    t_out = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, [0, 2, 1, 1]), tw)
    gb = rng.standard_normal((t_out.shape[0] * 2,) + tuple(t_out.shape[1:]))
    g = gb[::2]
    t_out.backward(torch.tensor(np.ascontiguousarray(g)))
    copies = [a.copy() for a in (x, w, g)]
    with forced_algorithm(algorithm):
        out = conv_forward(x, w, *args)
        assert last_plan().algorithm == algorithm
        gx = conv_grad_input(g, w, x.shape, *args)
        assert last_plan().algorithm == algorithm
        gw = conv_grad_weight(x, g, w.shape, *args)
        assert last_plan().algorithm == algorithm
    for before, after in zip(copies, (x, w, g), strict=True):
        np.testing.assert_array_equal(before, after)  # inputs are not modified
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=0, atol=1e-12)


GRADCHECK_CASES = {
    "gemm1x1": dict(x=(2, 4, 5, 3), w=(2, 2, 1, 1), stride=2, padding=1, dilation=1, groups=2),
    "im2col": dict(x=(2, 2, 5, 4), w=(3, 2, 2, 3), stride=(2, 1), padding=1, dilation=(1, 2),
                   groups=1),
    "shifted": dict(x=(1, 4, 6, 5), w=(2, 2, 3, 2), stride=(2, 1), padding=((2, 0), (1, 1)),
                    dilation=(1, 2), groups=2),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gradcheck(algorithm):
    case = GRADCHECK_CASES[algorithm]
    rng = np.random.default_rng(5)
    x = convkit.tensor(rng.standard_normal(case["x"]), requires_grad=True)
    w = convkit.tensor(rng.standard_normal(case["w"]), requires_grad=True)

    def fn(x, w):
        return F.conv(x, w, stride=case["stride"], padding=case["padding"],
                      dilation=case["dilation"], groups=case["groups"])

    with forced_algorithm(algorithm), recording() as plans:
        assert gradcheck(fn, (x, w))
    _check_algorithm_ran(plans, algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gradcheck_transposed(algorithm):
    rng = np.random.default_rng(6)
    k = (1,) if algorithm == "gemm1x1" else (3,)
    x = convkit.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    w = convkit.tensor(rng.standard_normal((2, 3) + k), requires_grad=True)

    def fn(x, w):
        return F.conv_transpose1d(x, w, stride=2, padding=0, output_padding=1)

    with forced_algorithm(algorithm), recording() as plans:
        assert gradcheck(fn, (x, w))
    _check_algorithm_ran(plans, algorithm)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_complex_forward(algorithm, dtype):
    """Complex convolution multiplies without conjugating, as torch does."""
    rng = np.random.default_rng(7)
    k = (1, 1) if algorithm == "gemm1x1" else (3, 2)

    def cplx(shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)

    x, w = cplx((2, 4, 6, 7)), cplx((6, 2) + k)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1,
                                     groups=2).numpy()
    with forced_algorithm(algorithm):
        out = F.conv2d(convkit.tensor(x), convkit.tensor(w), padding=1, groups=2)
        assert last_plan().algorithm == algorithm
    _close(out.numpy(), ref, "float32" if dtype == "complex64" else "float64", "output")


def test_float32_stays_float32():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    for algorithm in ("im2col", "shifted"):
        with forced_algorithm(algorithm):
            out = F.conv2d(convkit.tensor(x), convkit.tensor(w), padding=1)
            assert last_plan().algorithm == algorithm
        assert out.dtype == convkit.float32


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_deterministic(algorithm):
    rng = np.random.default_rng(9)
    k = (1, 1) if algorithm == "gemm1x1" else (3, 3)
    x = convkit.tensor(rng.standard_normal((3, 8, 20, 20)).astype(np.float32))
    w = convkit.tensor(rng.standard_normal((8, 8) + k).astype(np.float32))
    with forced_algorithm(algorithm):
        first = F.conv2d(x, w, padding=1).numpy()
        second = F.conv2d(x, w, padding=1).numpy()
        assert last_plan().algorithm == algorithm
    np.testing.assert_array_equal(first, second)


def test_tap_that_reads_only_padding():
    """A 1x1 kernel whose every output sits in the padding of a strided conv is all zeros,
    and the weight gradient of such taps is zero."""
    rng = np.random.default_rng(10)
    x = convkit.tensor(rng.standard_normal((1, 2, 1, 1)), requires_grad=True)
    w = convkit.tensor(rng.standard_normal((3, 2, 1, 1)), requires_grad=True)
    with forced_algorithm("gemm1x1"):
        out = F.conv(x, w, stride=3, padding=((2, 2), (0, 0)))
        assert last_plan().algorithm == "gemm1x1"
        out.sum().backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    t_out = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, [0, 0, 2, 2]), tw, stride=3)
    t_out.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


# ------------------------------------------------------------------ planner contract
def _problems():
    f32 = np.dtype(np.float32)
    shapes = [  # x, w, stride, padding
        ((8, 64, 56, 56), (64, 64, 3, 3), (1, 1), ((1, 1), (1, 1))),
        ((8, 256, 56, 56), (64, 256, 1, 1), (1, 1), ((0, 0), (0, 0))),
        ((8, 3, 224, 224), (64, 3, 7, 7), (2, 2), ((3, 3), (3, 3))),
        ((2, 32, 16, 32, 32), (32, 32, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3),
        ((4, 16, 4096), (16, 16, 9), (1,), ((4, 4),)),
    ]
    for kind in ("forward", "grad_input", "grad_weight"):
        for x, w, s, p in shapes:
            yield ConvProblem(kind, x, w, s, p, (1,) * len(s), 1, f32)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_workspace_and_features_are_sane(algorithm):
    alg = algorithms()[algorithm]
    for p in _problems():
        if not alg.supports(p):
            continue
        sizes = [alg.workspace(p.with_batch(n)) for n in sorted({1, 2, 4, p.batch})]
        assert all(isinstance(s, int) and s >= 0 for s in sizes)
        assert sizes == sorted(sizes), f"{p}: workspace not monotone in the batch: {sizes}"
        feats = [alg.features(p.with_batch(n)) for n in (1, p.batch)]
        assert feats[0][0] == 1.0 and all(math.isfinite(f) and f >= 0 for f in feats[1])
        assert feats[1][1] > feats[0][1], "GEMM work must grow with the batch"


@pytest.mark.parametrize("size", ["small", "large", "cut_in_rows"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", ["forward", "grad_input", "grad_weight"])
def test_workspace_bounds_measured_peak(algorithm, kind, size):
    """The peak of memory allocated while running stays within workspace(p) plus the
    result (tracemalloc sees NumPy's allocations)."""
    rng = np.random.default_rng(11)
    k = (1, 1) if algorithm == "gemm1x1" else (3, 3)
    stride = (2, 1)
    x_shape = (2, 4, 7, 6) if size == "small" else (3, 8, 40, 36)
    p = ConvProblem(kind, x_shape, (12, x_shape[1] // 2) + k, stride, ((1, 2), (1, 0)), (1, 1),
                    2, np.dtype(np.float32))
    if size == "cut_in_rows":
        with chunk_bytes(3000):
            _check_peak(algorithm, kind, p, rng)
    else:
        _check_peak(algorithm, kind, p, rng)


def _check_peak(algorithm: str, kind: str, p: ConvProblem, rng) -> None:
    x = rng.standard_normal(p.x_shape).astype(np.float32)
    w = rng.standard_normal(p.w_shape).astype(np.float32)
    g = rng.standard_normal(p.out_shape).astype(np.float32)
    a, b = {"forward": (x, w), "grad_input": (g, w), "grad_weight": (x, g)}[kind]
    alg = algorithms()[algorithm]
    alg.run(p, a, b)  # warm caches (BLAS handles, imports) outside the measurement
    tracemalloc.start()
    try:
        result = alg.run(p, a, b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.shape == p.result_shape
    slack = 16384  # fixed bookkeeping: BLAS argument vectors, NumPy iterators, index tuples
    assert peak <= alg.workspace(p) + result.nbytes + slack, (
        f"peak {peak} B > workspace {alg.workspace(p)} B + result {result.nbytes} B")


def test_im2col_workspace_is_bounded_for_huge_images():
    """One sample whose column matrix would take gigabytes is cut into chunks within the
    default budget, down to part of one row when a single output plane is too large."""
    im2col = algorithms()["im2col"]
    for x_shape, w_shape in [((1, 64, 96, 512, 512), (64, 64, 3, 3, 3)),
                             ((1, 256, 4096, 4096), (64, 256, 7, 7))]:
        nd = len(x_shape) - 2
        p = ConvProblem("forward", x_shape, w_shape, (1,) * nd, ((1, 1),) * nd, (1,) * nd, 1,
                        np.dtype(np.float32))
        columns = math.prod(p.out_shape[2:]) * math.prod(w_shape[1:]) * 4
        assert columns > 2**33
        assert im2col.workspace(p) < 64 * 2**20
        assert im2col.workspace(p.with_batch(4)) >= im2col.workspace(p)


def test_supports():
    strided = ConvProblem("forward", (1, 2, 9, 9), (2, 2, 3, 3), (2, 1), ((0, 0), (0, 0)),
                          (1, 1), 1, np.dtype(np.float64))
    pointwise = ConvProblem("grad_input", (1, 2, 9, 9), (2, 2, 1, 1), (2, 1),
                            ((1, 0), (0, 0)), (1, 1), 1, np.dtype(np.float64))
    assert algorithms()["shifted"].supports(strided)
    assert algorithms()["im2col"].supports(strided)
    assert not algorithms()["gemm1x1"].supports(strided)
    assert all(algorithms()[name].supports(pointwise) for name in ALGORITHMS)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("library", ["numpy_openblas", "scipy_cython_blas"])
def test_shifted_on_either_blas(library, dtype, monkeypatch):
    """'shifted' calls ?gemm itself: NumPy's bundled OpenBLAS when present, else the one
    SciPy exports for Cython. Both must give torch's answer, real and complex."""
    if library == "scipy_cython_blas":
        monkeypatch.setattr(conv_gemm, "_numpy_openblas", lambda: None)
    elif conv_gemm._numpy_openblas() is None:
        pytest.skip("this NumPy does not bundle OpenBLAS")
    conv_gemm._gemm_function.cache_clear()
    try:
        assert conv_gemm._gemm_function(np.dtype(dtype))[1] == (library == "numpy_openblas")
        rng = np.random.default_rng(12)
        x = rng.standard_normal((2, 4, 9, 7)) + (1j * rng.standard_normal((2, 4, 9, 7))
                                                 if dtype.startswith("complex") else 0)
        w = rng.standard_normal((6, 2, 3, 2)) + (1j * rng.standard_normal((6, 2, 3, 2))
                                                 if dtype.startswith("complex") else 0)
        x, w = x.astype(dtype), w.astype(dtype)
        ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=(1, 2),
                                         dilation=(2, 1), groups=2).numpy()
        with forced_algorithm("shifted"):
            out = F.conv2d(convkit.tensor(x), convkit.tensor(w), padding=(1, 2),
                           dilation=(2, 1), groups=2)
            assert last_plan().algorithm == "shifted"
        _close(out.numpy(), ref, "float32" if dtype in ("float32", "complex64") else "float64",
               "output")
    finally:
        monkeypatch.undo()
        conv_gemm._gemm_function.cache_clear()
