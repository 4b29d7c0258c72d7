"""The convolution, pooling, padding and fold layers of ``convkit.nn`` against PyTorch's.

Differential tests: a PyTorch layer is built, its weight and bias are copied into the convkit
layer built with the same arguments, and both are run on the same input; the outputs and the
input, weight and bias gradients must agree, over hypothesis-drawn channels, kernels,
strides, paddings (ints, tuples, 'same', 'valid'), dilations, groups, bias, padding modes,
batched and unbatched inputs, and float32/float64. Also: reprs, parameter names and shapes,
the default initialisation's distribution, ``dtype=``, and the generic ``ConvNd`` and
``ConvTransposeNd`` against compositions of PyTorch's 3-d convolutions and a loop oracle.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit
from convkit import nn

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-10, atol=1e-10)}


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy()


def copy_parameters(ck: nn.Module, th: torch.nn.Module, assign: bool) -> None:
    """Give the convkit layer the PyTorch layer's weight and bias: either by assigning new
    Parameters (``conv.weight = nn.Parameter(...)``) or by writing into the existing ones
    (``conv.weight.data[:] = ...``), the two ways the lectures do it."""
    for name, p in th.named_parameters():
        values = convkit.from_numpy(p.detach().numpy().copy())
        if assign:
            setattr(ck, name, nn.Parameter(values))
        else:
            getattr(ck, name).data[:] = values


def check_same_parameters(ck: nn.Module, th: torch.nn.Module) -> None:
    ours = [(n, tuple(p.shape), str(p.dtype).split(".")[-1]) for n, p in ck.named_parameters()]
    theirs = [(n, tuple(p.shape), str(p.dtype).split(".")[-1]) for n, p in th.named_parameters()]
    assert ours == theirs


def forward_backward(layer: Any, lib: Any, x: np.ndarray, upstream_seed: int,
                     **call: Any) -> tuple[Any, ...]:
    """Output, input gradient and parameter gradients for a random upstream gradient."""
    xt = lib.from_numpy(x.copy()).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch: 'same' with an even kernel pads a copy
        out = layer(xt, **call)
    g = np.random.default_rng(upstream_seed).standard_normal(tuple(out.shape))
    out.backward(lib.from_numpy(g.astype(x.dtype)))
    return (out, xt.grad) + tuple(p.grad for _, p in layer.named_parameters())


def assert_agree(ours: tuple[Any, ...], theirs: tuple[Any, ...], dtype: str) -> None:
    assert len(ours) == len(theirs)
    for i, (c, t) in enumerate(zip(ours, theirs, strict=True)):
        assert tuple(c.shape) == tuple(t.shape), i
        assert str(c.dtype).split(".")[-1] == dtype, i
        scale = max(1.0, float(np.abs(to_numpy(t)).max(initial=0.0)))
        tol = TOLERANCE[dtype]
        np.testing.assert_allclose(to_numpy(c), to_numpy(t), rtol=tol["rtol"],
                                   atol=tol["atol"] * scale, err_msg=f"result {i}")


# ------------------------------------------------------------------ Conv1d/2d/3d
@st.composite
def conv_layers(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))

    def per_dim(values: Any) -> Any:  # an int, or one value per spatial dim
        return draw(values | st.tuples(*[values] * nd))

    kernel = per_dim(st.integers(1, 3))
    stride = per_dim(st.integers(1, 2))
    dilation = per_dim(st.integers(1, 2))
    padding = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if padding == "same":
        stride = 1  # PyTorch refuses 'same' with strides
    elif padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "tuple":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    k, d, p = (v if isinstance(v, tuple) else (v,) * nd for v in
               (kernel, dilation, (0 if padding in ("same", "valid") else padding)))
    # big enough for the dilated kernel, and for reflect padding (which needs pad < size)
    spatial = tuple(max(dd * (kk - 1) + 1, 2 * pp + 1) + draw(st.integers(0, 2 if nd < 3 else 1))
                    for kk, dd, pp in zip(k, d, p, strict=True))
    return dict(nd=nd, cin=cin, cout=cout, kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=draw(st.booleans()),
                padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate",
                                                   "circular"])),
                batch=draw(st.sampled_from([None, 1, 2])), spatial=spatial,
                dtype=draw(st.sampled_from(["float32", "float64"])),
                assign=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


def _conv_args(c: dict[str, Any], lib: Any) -> dict[str, Any]:
    return dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
                groups=c["groups"], bias=c["bias"], padding_mode=c["padding_mode"],
                dtype=getattr(lib, c["dtype"]))


@SETTINGS
@given(conv_layers())
def test_conv_layers_match_torch(c: dict[str, Any]) -> None:
    name = f"Conv{c['nd']}d"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th = getattr(torch.nn, name)(c["cin"], c["cout"], c["kernel"], **_conv_args(c, torch))
    ck = getattr(nn, name)(c["cin"], c["cout"], c["kernel"], **_conv_args(c, convkit))
    assert repr(ck) == repr(th)
    check_same_parameters(ck, th)
    copy_parameters(ck, th, c["assign"])
    lead = () if c["batch"] is None else (c["batch"],)
    x = np.random.default_rng(c["seed"]).standard_normal(
        lead + (c["cin"],) + c["spatial"]).astype(c["dtype"])
    assert_agree(forward_backward(ck, convkit, x, c["seed"] + 1),
                 forward_backward(th, torch, x, c["seed"] + 1), c["dtype"])


# ------------------------------------------------------------------ ConvTranspose1d/2d/3d
@st.composite
def transposed_layers(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, d * (k - 1)))
                    for k, d in zip(kernel, dilation, strict=True))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                           for s, d in zip(stride, dilation, strict=True))
    spatial = tuple(draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    smallest = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, k, d in
                     zip(spatial, stride, padding, kernel, dilation, strict=True))
    # forward(output_size=...): a size in the valid range, given as n or n + 2 numbers
    output_size = draw(st.none() | st.just(tuple(
        m + draw(st.integers(0, s - 1)) for m, s in zip(smallest, stride, strict=True))))
    if output_size is not None and draw(st.booleans()):
        output_size = (1, cout) + output_size
    return dict(nd=nd, cin=cin, cout=cout, kernel=kernel, stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups,
                bias=draw(st.booleans()), spatial=spatial, smallest=smallest,
                output_size=output_size, batch=draw(st.sampled_from([None, 1, 2])),
                dtype=draw(st.sampled_from(["float32", "float64"])),
                assign=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@SETTINGS
@given(transposed_layers())
def test_conv_transpose_layers_match_torch(c: dict[str, Any]) -> None:
    if min(c["smallest"]) < 1 or (c["output_size"] is None and min(
            m + op for m, op in zip(c["smallest"], c["output_padding"], strict=True)) < 1):
        return  # empty outputs: test_conv_transpose.py pins down those errors
    name = f"ConvTranspose{c['nd']}d"
    args = dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"],
                groups=c["groups"], bias=c["bias"], dilation=c["dilation"])
    th = getattr(torch.nn, name)(c["cin"], c["cout"], c["kernel"], **args,
                                 dtype=getattr(torch, c["dtype"]))
    ck = getattr(nn, name)(c["cin"], c["cout"], c["kernel"], **args,
                           dtype=getattr(convkit, c["dtype"]))
    assert repr(ck) == repr(th)
    check_same_parameters(ck, th)
    copy_parameters(ck, th, c["assign"])
    lead = () if c["batch"] is None else (c["batch"],)
    x = np.random.default_rng(c["seed"]).standard_normal(
        lead + (c["cin"],) + c["spatial"]).astype(c["dtype"])
    call = {} if c["output_size"] is None else {"output_size": c["output_size"]}
    if call and c["batch"] is None and len(c["output_size"]) == c["nd"] + 2:
        call = {"output_size": c["output_size"][1:]}  # unbatched: n or n + 1 numbers
    ours = forward_backward(ck, convkit, x, c["seed"] + 1, **call)
    theirs = forward_backward(th, torch, x, c["seed"] + 1, **call)
    assert_agree(ours, theirs, c["dtype"])
    if c["output_size"] is not None:
        assert tuple(ours[0].shape[-c["nd"]:]) == tuple(c["output_size"][-c["nd"]:])


# ------------------------------------------------------------------ pooling, padding, fold layers
POOL_AND_PAD_LAYERS = [
    ("MaxPool1d(3, stride=2, padding=1)", (2, 3, 9)),
    ("MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True)", (2, 2, 9, 8)),
    ("MaxPool3d((1, 2, 2))", (1, 2, 3, 4, 4)),
    ("AvgPool1d(3, stride=1, padding=1, count_include_pad=False)", (3, 7)),
    ("AvgPool2d((2, 3), stride=1, padding=1)", (1, 2, 5, 6)),
    ("AvgPool3d(2, ceil_mode=True, divisor_override=3)", (1, 1, 3, 5, 4)),
    ("AdaptiveAvgPool1d(4)", (2, 3, 9)),
    ("AdaptiveAvgPool2d((5, None))", (1, 2, 7, 6)),
    ("AdaptiveMaxPool2d(3)", (2, 7, 8)),
    ("AdaptiveMaxPool3d((1, 2, 3))", (1, 2, 3, 4, 5)),
    ("LPPool1d(2, 3, stride=2)", (2, 2, 9)),
    ("LPPool2d(1.5, 2)", (1, 2, 6, 6)),
    ("ZeroPad2d((1, 2, 0, 3))", (1, 2, 3, 4)),
    ("ConstantPad1d((2, -1), 3.5)", (2, 5)),
    ("ConstantPad3d(1, -1.0)", (1, 1, 2, 3, 2)),
    ("ReflectionPad1d((2, 1))", (1, 2, 5)),
    ("ReflectionPad2d((1, 1, 2, 0))", (2, 4, 5)),
    ("ReflectionPad3d(1)", (1, 1, 3, 3, 3)),
    ("ReplicationPad2d((1, 0, 0, 2))", (1, 2, 3, 4)),
    ("ReplicationPad3d((0, 1, 2, 0, 1, 1))", (1, 2, 2, 2)),
    ("CircularPad1d(2)", (1, 2, 4)),
    ("CircularPad2d((1, 2, 0, 1))", (1, 1, 3, 4)),
    ("CircularPad3d((1, 1, 0, 0, 2, 2))", (1, 1, 3, 3, 3)),
    ("Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2)", (2, 3, 5, 6)),
    ("Fold(output_size=(4, 5), kernel_size=2, padding=1, stride=2)", (2, 8, 9)),
]


@pytest.mark.parametrize("spec,shape", POOL_AND_PAD_LAYERS, ids=[s for s, _ in
                                                                POOL_AND_PAD_LAYERS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pooling_padding_and_fold_layers_match_torch(spec: str, shape: tuple[int, ...],
                                                     dtype: str) -> None:
    th = eval(f"torch.nn.{spec}")
    ck = eval(f"convkit.nn.{spec}")
    assert repr(ck) == repr(th)
    assert list(ck.parameters()) == [] == list(th.parameters())
    x = np.random.default_rng(len(spec)).standard_normal(shape).astype(dtype)
    if spec.startswith("LPPool"):
        x = np.abs(x) + 0.1  # PyTorch's lp pooling: fractional powers need x >= 0
    assert_agree(forward_backward(ck, convkit, x, 7), forward_backward(th, torch, x, 7), dtype)


def test_max_unpool_layer_inverts_max_pool_like_torch() -> None:
    def run(lib: Any) -> tuple[Any, ...]:
        pool = lib.nn.MaxPool2d(2, stride=2, return_indices=True)
        unpool = lib.nn.MaxUnpool2d(2, stride=2)
        x = lib.from_numpy(np.random.default_rng(3).standard_normal((1, 2, 5, 6)))
        x.requires_grad_()
        values, indices = pool(x)
        out = unpool(values, indices, output_size=x.shape)
        (out * out).sum().backward()
        return repr(unpool), out, x.grad, indices

    ours, theirs = run(convkit), run(torch)
    assert ours[0] == theirs[0]
    for c, t in zip(ours[1:], theirs[1:], strict=True):
        np.testing.assert_array_equal(to_numpy(c), to_numpy(t))


# ------------------------------------------------------------------ repr, parameters, dtype=
REPR_CASES = [
    "Conv1d(2, 4, 3)",
    "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), groups=2, bias=False)",
    "Conv2d(3, 6, (2, 3), stride=2, padding=(1, 0), dilation=(1, 2))",
    "Conv2d(2, 2, [3, 2], stride=[2, 1])",
    "Conv2d(1, 1, 3, padding='same')",
    "Conv2d(1, 1, 4, padding='same', dilation=2, padding_mode='reflect')",
    "Conv2d(1, 1, 3, padding='valid')",
    "Conv3d(2, 2, 3, padding=1, padding_mode='reflect')",
    "Conv2d(1, 1, 3, padding=1, padding_mode='circular')",
    "Conv1d(2, 2, 3, padding_mode='replicate')",
    "Conv3d(4, 8, (1, 3, 3), stride=(1, 2, 2), groups=4, bias=False)",
    "ConvTranspose1d(1, 1, 3, dilation=2, bias=False)",
    "ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2)",
    "ConvTranspose3d(2, 2, (1, 2, 3), output_padding=(0, 1, 0), stride=(1, 2, 1))",
    "MaxPool2d(2)",
    "MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True)",
    "MaxPool1d(2, return_indices=True)",
    "AvgPool1d(3)",
    "AvgPool2d((2, 3), stride=1, padding=1)",
    "AvgPool3d(2, ceil_mode=True, count_include_pad=False, divisor_override=3)",
    "AdaptiveAvgPool2d((5, None))",
    "AdaptiveMaxPool2d(4, return_indices=True)",
    "LPPool1d(1.5, 2, stride=1, ceil_mode=True)",
    "MaxUnpool1d(3, stride=2, padding=1)",
    "MaxUnpool3d((1, 2, 2))",
    "ZeroPad1d((1, 2))",
    "ConstantPad3d(1, -1)",
    "ReflectionPad2d((1, 1, 2, 0))",
    "ReplicationPad3d(1)",
    "CircularPad1d(2)",
    "Fold((4, 5), (2, 2), dilation=1, padding=1, stride=2)",
    "Unfold(3, dilation=2, padding=1, stride=2)",
]


@pytest.mark.parametrize("spec", REPR_CASES)
def test_repr_matches_torch(spec: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = repr(eval(f"torch.nn.{spec}"))
    assert repr(eval(f"convkit.nn.{spec}")) == expected


def test_repr_of_a_model_holding_layers() -> None:
    """Nested modules print as PyTorch prints them (indented children)."""
    def model(lib: Any) -> Any:
        class Net(lib.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = lib.nn.Conv2d(3, 8, 3, padding=1)
                self.pool = lib.nn.MaxPool2d(2)
                self.up = lib.nn.ConvTranspose2d(8, 3, 2, stride=2)

        return Net()

    assert repr(model(convkit)) == repr(model(torch))
    assert [(n, tuple(p.shape)) for n, p in model(convkit).named_parameters()] == [
        (n, tuple(p.shape)) for n, p in model(torch).named_parameters()]


@pytest.mark.parametrize("spec", [s for s in REPR_CASES if s.startswith("Conv")])
def test_named_parameters_match_torch(spec: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th = eval(f"torch.nn.{spec}")
    ck = eval(f"convkit.nn.{spec}")
    check_same_parameters(ck, th)
    for _, p in ck.named_parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("layer", ["Conv2d", "ConvTranspose2d"])
def test_dtype_argument(layer: str, dtype: str) -> None:
    ck = getattr(nn, layer)(2, 4, 3, dtype=getattr(convkit, dtype))
    th = getattr(torch.nn, layer)(2, 4, 3, dtype=getattr(torch, dtype))
    check_same_parameters(ck, th)
    x = convkit.ones(1, 2, 5, 5, dtype=getattr(convkit, dtype))
    assert ck(x).dtype is getattr(convkit, dtype)
    other = "float64" if dtype != "float64" else "float32"
    for lib, module in ((convkit, ck), (torch, th)):  # both refuse another input dtype
        with pytest.raises(RuntimeError):
            module(lib.ones(1, 2, 5, 5, dtype=getattr(lib, other)))


def test_dtype_argument_default_and_integer() -> None:
    assert nn.Conv1d(1, 1, 2).weight.dtype is convkit.get_default_dtype()
    convkit.set_default_dtype(convkit.float64)
    try:
        assert nn.Conv1d(1, 1, 2).weight.dtype is convkit.float64
    finally:
        convkit.set_default_dtype(convkit.float32)
    for lib in (convkit, torch):  # integer parameters cannot require gradients
        with pytest.raises(RuntimeError, match="floating point"):
            lib.nn.Conv2d(1, 1, 3, dtype=lib.int64)


# ------------------------------------------------------------------ default initialisation
@pytest.mark.parametrize("spec,fan_in", [
    ("Conv2d(64, 128, 3)", 64 * 9),
    ("Conv1d(30, 255, 5, groups=3)", 10 * 5),
    ("Conv3d(8, 64, (3, 3, 2))", 8 * 18),
    ("ConvTranspose2d(64, 96, 3, groups=2)", 48 * 9),  # fan_in is weight.shape[1] * k
])
def test_default_initialisation_is_kaiming_uniform(spec: str, fan_in: int) -> None:
    """kaiming_uniform_(a=sqrt(5)): gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in) =
    1/sqrt(fan_in), for the weight; the bias is uniform in the same bound."""
    convkit.manual_seed(1234)
    layer = eval(f"nn.{spec}")
    reference = eval(f"torch.nn.{spec}")
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        values = to_numpy(getattr(layer, name)).ravel().astype(np.float64)
        theirs = to_numpy(getattr(reference, name)).ravel()
        assert np.abs(values).max() <= bound and np.abs(theirs).max() <= bound, name
        # both fill most of the interval: the same bound, not a smaller one
        assert np.abs(values).max() > 0.9 * bound and np.abs(theirs).max() > 0.9 * bound
        if values.size >= 1000:  # roughly uniform: moments and a Kolmogorov-Smirnov test
            assert abs(values.mean()) < 4 * bound / math.sqrt(3 * values.size)
            assert abs(values.var() / (bound ** 2 / 3) - 1) < 0.05
            assert scipy.stats.kstest(values, "uniform", args=(-bound, 2 * bound)).pvalue > 1e-4
    # reset_parameters draws afresh from the same distribution
    before = to_numpy(layer.weight).copy()
    layer.reset_parameters()
    after = to_numpy(layer.weight)
    assert not np.array_equal(before, after) and np.abs(after).max() <= bound


def test_initialisation_follows_the_seed() -> None:
    convkit.manual_seed(7)
    first = to_numpy(nn.Conv2d(3, 4, 3).weight).copy()
    convkit.manual_seed(7)
    np.testing.assert_array_equal(to_numpy(nn.Conv2d(3, 4, 3).weight), first)


# ------------------------------------------------------------------ ConvNd(ndim=4)
def _torch_conv4d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                  stride: tuple[int, ...], padding: tuple[int, ...],
                  dilation: tuple[int, ...], groups: int) -> torch.Tensor:
    """A 4-d cross-correlation as PyTorch conv3d calls: output slice t along the first
    spatial axis sums, over the kernel's first axis k, conv3d of the input slice
    t*stride + k*dilation (zero padded) with the kernel slice k."""
    xp = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, 0, padding[0], padding[0]))
    k0 = w.shape[2]
    t_out = (xp.shape[2] - dilation[0] * (k0 - 1) - 1) // stride[0] + 1
    slices = []
    for t in range(t_out):
        acc = sum(torch.nn.functional.conv3d(
            xp[:, :, t * stride[0] + k * dilation[0]], w[:, :, k], None, stride[1:],
            padding[1:], dilation[1:], groups) for k in range(k0))
        slices.append(acc)
    out = torch.stack(slices, dim=2)
    return out if b is None else out + b.reshape(1, -1, 1, 1, 1, 1)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_conv_nd_4d_matches_composed_torch_conv3d(data: st.DataObject) -> None:
    draw = data.draw
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 2)) for _ in range(4))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(4))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(4))
    padding = tuple(draw(st.integers(0, 1)) for _ in range(4))
    spatial = tuple(d * (k - 1) + 1 + draw(st.integers(0, 1))
                    for k, d in zip(kernel, dilation, strict=True))
    bias = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    layer = nn.ConvNd(4, cin, cout, kernel, stride=stride, padding=padding,
                      dilation=dilation, groups=groups, bias=bias,
                      dtype=getattr(convkit, dtype))
    assert tuple(layer.weight.shape) == (cout, cin // groups) + kernel
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    x = rng.standard_normal((2, cin) + spatial).astype(dtype)
    g_seed = int(rng.integers(1000))
    ours = forward_backward(layer, convkit, x, g_seed)

    w = torch.from_numpy(to_numpy(layer.weight).copy()).requires_grad_()
    b = torch.from_numpy(to_numpy(layer.bias).copy()).requires_grad_() if bias else None
    xt = torch.from_numpy(x.copy()).requires_grad_()
    out = _torch_conv4d(xt, w, b, stride, padding, dilation, groups)
    g = np.random.default_rng(g_seed).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(torch.from_numpy(g))
    theirs = (out, xt.grad, w.grad) + ((b.grad,) if bias else ())
    assert_agree(ours, theirs, dtype)


def test_conv_nd_4d_circular_padding_is_periodic() -> None:
    """ConvNd with padding_mode='circular' and 'same' size: a circular correlation, so
    rolling the input along any of the 4 axes rolls the output the same way."""
    layer = nn.ConvNd(4, 2, 3, 3, padding=1, padding_mode="circular", dtype=convkit.float64)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 3, 5, 4))
    out = to_numpy(layer(convkit.from_numpy(x)))
    assert out.shape == (1, 3, 4, 3, 5, 4)
    for axis in range(2, 6):
        rolled = to_numpy(layer(convkit.from_numpy(np.roll(x, 1, axis=axis).copy())))
        np.testing.assert_allclose(rolled, np.roll(out, 1, axis=axis), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ ConvTransposeNd, circular
def _circular_transpose_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                                  padding: tuple[int, ...], dilation: tuple[int, ...],
                                  groups: int) -> np.ndarray:
    """Stride-1 transposed convolution with periodic boundaries, by scattering: input
    element i adds x[i] * w[k] at output position (i + k*dilation - padding) mod size."""
    n, c_in = x.shape[:2]
    c_out_g = w.shape[1]
    spatial = x.shape[2:]
    out = np.zeros((n, c_out_g * groups) + spatial)
    per_group = c_in // groups
    for c in range(c_in):
        g = c // per_group
        for pos in itertools.product(*(range(s) for s in spatial)):
            for k in itertools.product(*(range(s) for s in w.shape[2:])):
                dst = tuple((p + kk * d - pp) % s for p, kk, d, pp, s in
                            zip(pos, k, dilation, padding, spatial, strict=True))
                for o in range(c_out_g):
                    out[(slice(None), g * c_out_g + o) + dst] += w[(c, o) + k] * x[
                        (slice(None), c) + pos]
    return out if b is None else out + b.reshape((1, -1) + (1,) * len(spatial))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_conv_transpose_nd_circular_is_periodic(data: st.DataObject) -> None:
    draw = data.draw
    nd = draw(st.integers(1, 4))
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    # an odd dilated span keeps the output the size of the input: 2*padding = d*(k-1)
    kernel = tuple(draw(st.sampled_from([1, 3])) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    spatial = tuple(max(p, 1) + draw(st.integers(0, 2 if nd < 4 else 1)) for p in padding)
    layer = nn.ConvTransposeNd(nd, cin, cout, kernel, padding=padding, dilation=dilation,
                               groups=groups, bias=draw(st.booleans()),
                               padding_mode="circular", dtype=convkit.float64)
    assert repr(layer).endswith("padding_mode=circular)")
    x = np.random.default_rng(draw(st.integers(0, 999))).standard_normal((1, cin) + spatial)
    out = to_numpy(layer(convkit.from_numpy(x)))
    assert out.shape == (1, cout) + spatial
    bias = to_numpy(layer.bias) if layer.bias is not None else None
    expected = _circular_transpose_reference(x, to_numpy(layer.weight), bias, padding,
                                             dilation, groups)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    for axis in range(2, 2 + nd):  # periodic: a rolled input gives the rolled output
        rolled = to_numpy(layer(convkit.from_numpy(np.roll(x, 1, axis=axis).copy())))
        np.testing.assert_allclose(rolled, np.roll(out, 1, axis=axis), rtol=1e-10,
                                   atol=1e-12)


def test_conv_transpose_nd_circular_gradients() -> None:
    layer = nn.ConvTransposeNd(2, 2, 3, 3, stride=2, padding=1, padding_mode="circular",
                               dtype=convkit.float64)
    x = convkit.randn(1, 2, 4, 3, dtype=convkit.float64, requires_grad=True)
    assert convkit.autograd.gradcheck(lambda t: layer(t), (x,))


# ------------------------------------------------------------------ Parameter and Module
def test_parameter_repr_and_memory() -> None:
    data = convkit.tensor([[1.0, -2.5]])
    p = nn.Parameter(data)
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([[1.0, -2.5]])))
    assert p.data_ptr() == data.data_ptr() and p.requires_grad
    frozen = nn.Parameter(convkit.zeros(2), requires_grad=False)
    assert repr(frozen) == "Parameter containing:\ntensor([0., 0.])"


def test_assigning_parameters_to_a_layer() -> None:
    conv = nn.Conv2d(1, 1, 3, bias=False)
    conv.weight = nn.Parameter(convkit.ones(1, 1, 3, 3))
    assert [n for n, _ in conv.named_parameters()] == ["weight"]
    assert conv(convkit.ones(1, 1, 3, 3)).item() == 9.0
    conv.bias = nn.Parameter(convkit.tensor([0.5]))  # a new parameter slot registers
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv(convkit.ones(1, 1, 3, 3)).item() == 9.5
    with pytest.raises(TypeError, match="weight"):
        conv.weight = convkit.ones(1, 1, 3, 3)  # a plain tensor is not a parameter
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    conv.bias = None
    assert [n for n, _ in conv.named_parameters()] == ["weight"]
