"""conv1d/conv2d/conv3d against real PyTorch: forward values and the input, weight and bias
gradients over hypothesis-drawn configurations, error classes, float64 gradcheck (first and
second derivatives), and the lecture seeds' printed examples.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as CF

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ERROR_CLASSES = (IndexError, TypeError, ValueError, NotImplementedError, RuntimeError)
TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-10, atol=1e-10)}


# ------------------------------------------------------------------ configurations
@st.composite
def conv_configs(draw: Any) -> dict[str, Any]:
    """A conv call: shapes, hyper-parameters (ints, tuples or strings), dtype, bias, batching.

    Sizes may be too small for the kernel: then both libraries must raise the same class.
    """
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    small = 3 if nd == 3 else 4  # keeps 3-d cases quick
    kernel = tuple(draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd)))
    spatial = tuple(draw(st.lists(st.integers(1, small + 3), min_size=nd, max_size=nd)))

    def per_dim(values: Any) -> Any:
        return draw(values | st.lists(values, min_size=nd, max_size=nd).map(tuple))

    stride = per_dim(st.integers(1, 3))
    dilation = per_dim(st.integers(1, 2))
    padding = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if padding == "same":
        stride = 1  # PyTorch refuses 'same' with strides (tested separately)
    elif padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "tuple":
        padding = tuple(draw(st.lists(st.integers(0, 2), min_size=nd, max_size=nd)))
    batch = draw(st.sampled_from([None, 1, 2]))  # None: unbatched input
    return dict(nd=nd, groups=groups, cin=cin, cout=cout, kernel=kernel, spatial=spatial,
                stride=stride, dilation=dilation, padding=padding, batch=batch,
                bias=draw(st.booleans()), dtype=draw(st.sampled_from(["float32", "float64"])),
                seed=draw(st.integers(0, 2**32 - 1)))


def arrays_for(cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(cfg["seed"])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["cin"],) + cfg["spatial"]).astype(cfg["dtype"])
    w = rng.standard_normal((cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["kernel"])
    b = rng.standard_normal(cfg["cout"]).astype(cfg["dtype"]) if cfg["bias"] else None
    return x, w.astype(cfg["dtype"]), b


def run_conv(lib: Any, functional: Any, cfg: dict[str, Any], arrays: Any,
             upstream_seed: int) -> Any:
    """Forward, then backward a random upstream gradient; outputs and the three gradients."""
    x_arr, w_arr, b_arr = arrays
    x = lib.tensor(x_arr, requires_grad=True)
    w = lib.tensor(w_arr, requires_grad=True)
    b = lib.tensor(b_arr, requires_grad=True) if b_arr is not None else None
    conv = getattr(functional, f"conv{cfg['nd']}d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: 'same' with an even kernel pads a copy
        out = conv(x, w, b, stride=cfg["stride"], padding=cfg["padding"],
                   dilation=cfg["dilation"], groups=cfg["groups"])
    g = np.random.default_rng(upstream_seed).standard_normal(tuple(out.shape))
    out.backward(lib.tensor(g.astype(cfg["dtype"])))
    return out, x.grad, w.grad, None if b is None else b.grad


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy()


# ------------------------------------------------------------------ forward and gradients
@SETTINGS
@given(conv_configs())
def test_conv_forward_and_gradients_match_torch(cfg: dict[str, Any]) -> None:
    arrays = arrays_for(cfg)
    try:
        expected = run_conv(torch, TF, cfg, arrays, cfg["seed"])
    except RuntimeError:
        with pytest.raises(RuntimeError):
            run_conv(convkit, CF, cfg, arrays, cfg["seed"])
        return
    got = run_conv(convkit, CF, cfg, arrays, cfg["seed"])
    out, t_out = got[0], expected[0]
    assert tuple(out.shape) == tuple(t_out.shape)
    assert str(out.dtype).split(".")[-1] == cfg["dtype"]
    assert type(out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    for name, c, t in zip(("output", "x.grad", "w.grad", "b.grad"), got, expected,
                          strict=True):
        assert (c is None) == (t is None), name
        if t is not None:
            assert str(c.dtype).split(".")[-1] == cfg["dtype"], name
            np.testing.assert_allclose(to_numpy(c), to_numpy(t), err_msg=name,
                                       **TOLERANCE[cfg["dtype"]])


@pytest.mark.parametrize("layout", ["transposed input", "strided input", "strided weight",
                                    "expanded bias"])
def test_non_contiguous_operands(layout: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.arange(2 * 3 * 6 * 5, dtype=lib.float64).reshape(2, 3, 6, 5) / 50
        w = lib.arange(4 * 3 * 3 * 3, dtype=lib.float64).reshape(4, 3, 3, 3) / 30 - 1
        b = lib.tensor([0.5, -1.0, 2.0, 0.0], dtype=lib.float64)
        if layout == "transposed input":
            x = x.transpose(2, 3)
        elif layout == "strided input":
            x = x[:, :, ::2]
        elif layout == "strided weight":
            w = lib.arange(4 * 3 * 5 * 3, dtype=lib.float64).reshape(4, 3, 5, 3)[:, :, ::2]
        else:
            b = lib.tensor([0.25], dtype=lib.float64).expand(4)
        x.requires_grad_()
        w.requires_grad_()
        out = lib.nn.functional.conv2d(x, w, b, padding=1)
        (out * out).sum().backward()
        return out, x.grad, w.grad

    for c, t in zip(scenario(convkit), scenario(torch), strict=True):
        np.testing.assert_allclose(to_numpy(c), to_numpy(t), rtol=1e-12, atol=1e-12)


def test_integer_conv_forward() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.arange(2 * 7, dtype=lib.int64).reshape(1, 2, 7)
        w = lib.tensor([[[1, -2], [3, 0]]], dtype=lib.int64)
        return lib.nn.functional.conv1d(x, w, stride=2)

    c, t = scenario(convkit), scenario(torch)
    assert str(c.dtype) == "convkit.int64" and c.tolist() == t.tolist()


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_grad_fn_names(nd: int) -> None:
    def names(lib: Any) -> Any:
        x = lib.ones((1, 2) + (4,) * nd, requires_grad=True)
        w = lib.ones((3, 2) + (2,) * nd, requires_grad=True)
        conv = getattr(lib.nn.functional, f"conv{nd}d")
        batched = conv(x, w)
        unbatched = conv(x[0], w)
        return (type(batched.grad_fn).__name__, type(unbatched.grad_fn).__name__,
                tuple(unbatched.shape))

    assert names(convkit) == names(torch)
    assert names(convkit)[0] == "ConvolutionBackward0"


# ------------------------------------------------------------------ gradcheck (float64)
_SMALL = [
    dict(nd=1, x=(2, 2, 7), w=(4, 1, 3), stride=2, padding=1, dilation=1, groups=2),
    dict(nd=1, x=(3, 5), w=(2, 3, 2), stride=1, padding="same", dilation=2, groups=1),
    dict(nd=2, x=(1, 2, 5, 6), w=(2, 2, 2, 3), stride=(2, 1), padding=(1, 0),
         dilation=(1, 2), groups=1),
    dict(nd=2, x=(1, 4, 4, 4), w=(4, 1, 3, 3), stride=1, padding="valid", dilation=1,
         groups=4),
    dict(nd=3, x=(1, 2, 3, 3, 4), w=(2, 1, 2, 2, 2), stride=(1, 2, 1), padding=1,
         dilation=1, groups=2),
]


def _small_inputs(lib: Any, case: dict[str, Any]) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(case["x"]), requires_grad=True)
    w = lib.tensor(rng.standard_normal(case["w"]), requires_grad=True)
    b = lib.tensor(rng.standard_normal(case["w"][0]), requires_grad=True)
    return x, w, b


def _small_conv(lib: Any, case: dict[str, Any]) -> Any:
    conv = getattr(lib.nn.functional, f"conv{case['nd']}d")

    def fn(x: Any, w: Any, b: Any) -> Any:
        return conv(x, w, b, stride=case["stride"], padding=case["padding"],
                    dilation=case["dilation"], groups=case["groups"])

    return fn


@pytest.mark.parametrize("case", _SMALL, ids=lambda c: f"conv{c['nd']}d-{c['x']}")
def test_gradcheck_float64(case: dict[str, Any]) -> None:
    assert convkit.autograd.gradcheck(_small_conv(convkit, case),
                                      _small_inputs(convkit, case))


@pytest.mark.parametrize("case", _SMALL[::2], ids=lambda c: f"conv{c['nd']}d-{c['x']}")
def test_gradgradcheck_float64(case: dict[str, Any]) -> None:
    assert convkit.autograd.gradgradcheck(_small_conv(convkit, case),
                                          _small_inputs(convkit, case))


@pytest.mark.parametrize("case", _SMALL, ids=lambda c: f"conv{c['nd']}d-{c['x']}")
def test_second_derivatives_match_torch(case: dict[str, Any]) -> None:
    def second(lib: Any) -> Any:
        x, w, b = _small_inputs(lib, case)
        out = _small_conv(lib, case)(x, w, b)
        gx, gw = lib.autograd.grad((out ** 2).sum(), [x, w], create_graph=True)
        (gx.sin().sum() + (gw ** 2).sum()).backward()
        return gx, gw, x.grad, w.grad, b.grad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = second(torch)
    for c, t in zip(second(convkit), expected, strict=True):
        np.testing.assert_allclose(to_numpy(c), to_numpy(t), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ errors
_ERRORS = {
    "kernel larger than input": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 2, 2), lib.ones(1, 1, 3, 3)),
    "channel mismatch": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 3, 5, 5), lib.ones(2, 2, 3, 3)),
    "groups do not divide in": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 3, 5, 5), lib.ones(2, 1, 3, 3), groups=2),
    "groups do not divide out": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 4, 5, 5), lib.ones(3, 2, 3, 3), groups=2),
    "zero out channels": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(0, 1, 3, 3)),
    "input rank": lambda lib: lib.nn.functional.conv2d(lib.ones(5, 5), lib.ones(2, 1, 3, 3)),
    "weight rank": lambda lib: lib.nn.functional.conv2d(lib.ones(1, 1, 5, 5), lib.ones(3, 3)),
    "conv1d with 2-d weight": lambda lib: lib.nn.functional.conv1d(
        lib.ones(1, 1, 5), lib.ones(1, 1, 3, 3)),
    "zero stride": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), stride=0),
    "negative padding": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding=-1),
    "same with stride": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding="same", stride=2),
    "unknown padding string": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding="full"),
    "padding of wrong length": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding=(1, 1, 1)),
    "float padding": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding=1.5),
    "zero dilation": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), dilation=0),
    "zero groups": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), groups=0),
    "bias shape": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), lib.ones(3)),
    "dtype mismatch": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3, dtype=lib.float64)),
    "empty spatial": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 0, 5), lib.ones(2, 1, 1, 1)),
}


@pytest.mark.parametrize("name", sorted(_ERRORS))
def test_error_classes_match_torch(name: str) -> None:
    classes = []
    for lib in (torch, convkit):
        with pytest.raises(ERROR_CLASSES) as info:
            _ERRORS[name](lib)
        classes.append(next(k for k in ERROR_CLASSES if isinstance(info.value, k)))
    assert classes[1] is classes[0], (name, classes)


def test_empty_batch() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.ones(0, 2, 5, 5, requires_grad=True)
        w = lib.ones(3, 2, 3, 3, requires_grad=True)
        out = lib.nn.functional.conv2d(x, w, padding=1)
        out.sum().backward()
        return tuple(out.shape), tuple(x.grad.shape), w.grad.abs().sum().item()

    assert scenario(convkit) == scenario(torch)


# ------------------------------------------------------------------ the seeds' examples
# From ../shared/seeds/001 ("Finally, Using torch.nn.functional.conv2d()"), with the dtype
# suffix naming convkit.
SEED_EDGE_OUTPUT = """\
tensor([[[[ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.]]]], dtype=convkit.float64)"""


def _step_edge(lib: Any) -> Any:
    arr = np.zeros((8, 8))
    arr[:, :4] = 4.0
    arr[:, 4:] = 1.0
    ker = np.zeros((3, 3))
    ker[:, 0] = -1.0
    ker[:, 2] = 1.0
    tsr_arr = lib.unsqueeze(lib.unsqueeze(lib.from_numpy(arr), 0), 0)
    tsr_ker = lib.unsqueeze(lib.unsqueeze(lib.from_numpy(ker), 0), 0)
    return lib.nn.functional.conv2d(tsr_arr, tsr_ker, stride=1)


def test_seed_step_edge_gives_minus_nine_columns() -> None:
    out = _step_edge(convkit)
    assert repr(out) == SEED_EDGE_OUTPUT
    assert print_text(out) == SEED_EDGE_OUTPUT
    assert repr(out) == repr(_step_edge(torch)).replace("torch.", "convkit.")
    assert tuple(out.shape) == (1, 1, 6, 6)


def print_text(value: Any) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print(value)
    return buffer.getvalue().rstrip("\n")


def _cross_correlation_test(lib: Any) -> Any:
    """The seeds' convolution-vs-correlation test: a column of ones, kernel rows [1, 2, 3]."""
    inp = lib.zeros(1, 1, 8, 8, dtype=float)
    inp[0, 0, :, 4] = 1
    ker = np.zeros((1, 1, 3, 3), dtype=float)
    ker[0, 0, :] = [1, 2, 3]
    weight = lib.from_numpy(ker).requires_grad_()  # a Parameter in the seed
    return lib.nn.functional.conv2d(inp, weight)


def test_seed_cross_correlation_rows() -> None:
    out = _cross_correlation_test(convkit)
    assert out.detach().numpy().tolist() == [[[[0.0, 0.0, 9.0, 6.0, 3.0, 0.0]] * 6]]
    text = repr(out)
    assert text.startswith("tensor([[[[0., 0., 9., 6., 3., 0.],\n")
    assert text.endswith("dtype=convkit.float64,\n       grad_fn=<ConvolutionBackward0>)")
    assert text == repr(_cross_correlation_test(torch)).replace("torch.", "convkit.")


def test_the_kernel_is_not_flipped() -> None:
    """PyTorch's conv is a cross-correlation: an impulse reproduces the kernel reversed."""
    impulse = np.zeros((1, 1, 5, 5))
    impulse[0, 0, 2, 2] = 1.0
    kernel = np.arange(9.0).reshape(1, 1, 3, 3)
    out = CF.conv2d(convkit.from_numpy(impulse), convkit.from_numpy(kernel))
    np.testing.assert_array_equal(out.numpy()[0, 0], kernel[0, 0, ::-1, ::-1])
    expected = TF.conv2d(torch.from_numpy(impulse), torch.from_numpy(kernel))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
