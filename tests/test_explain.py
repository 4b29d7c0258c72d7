"""``convkit.explain``: every number in a report equals what running the layer gives.

Layers are drawn by hypothesis (convolutions in 1-3 d with every padding form and mode,
dilation and groups; transposed convolutions with output_padding; pooling with ceil_mode
and dilation) and built twice, in convkit and in PyTorch. The report is then held against
independent evidence: PyTorch's output shape, parameter count and FLOP counter; the lost
input positions against perturbing each input position; each output's window against the
support of its gradient; the channel wiring against one-hot inputs; the engine plan
against the plans recorded while the layer runs forward and backward; the transposed
convolution's direct equivalent against the transposed convolution itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import convkit
import convkit.explain as explain_module
from convkit import nn
from convkit.engine import conv_plan
from convkit.explain import LayerSpec, explain

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
ERRORS = (TypeError, ValueError, RuntimeError, IndexError, NotImplementedError)


# ---------------------------------------------------------------------- strategies
@st.composite
def conv_cases(draw: Any, transposed: bool = False) -> dict:
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    top = 9 if nd < 3 else 5
    sizes = tuple(draw(st.integers(1, top)) for _ in range(nd))
    kwargs: dict[str, Any] = {"kernel_size": k, "stride": s, "dilation": d, "groups": groups,
                              "bias": draw(st.booleans())}
    if transposed:
        kwargs["padding"] = tuple(draw(st.integers(0, 3)) for _ in range(nd))
        kwargs["output_padding"] = tuple(draw(st.integers(0, max(a, b) - 1))
                                         for a, b in zip(s, d, strict=True))
    else:
        forms = [st.integers(0, 3), st.tuples(*[st.integers(0, 3)] * nd), st.just("valid")]
        if all(v == 1 for v in s):
            forms.append(st.just("same"))
        kwargs["padding"] = draw(st.one_of(forms))
        kwargs["padding_mode"] = draw(st.sampled_from(["zeros", "zeros", "reflect",
                                                       "replicate", "circular"]))
    batched = draw(st.booleans())
    shape = ((draw(st.integers(1, 2)),) if batched else ()) + (cin,) + sizes
    name = f"{'ConvTranspose' if transposed else 'Conv'}{nd}d"
    return {"name": name, "args": (cin, cout), "kwargs": kwargs, "shape": shape, "nd": nd}


@st.composite
def pool_cases(draw: Any) -> dict:
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    family = draw(st.sampled_from(["MaxPool", "MaxPool", "AvgPool", "LPPool"]))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    kwargs: dict[str, Any] = {"kernel_size": k, "ceil_mode": draw(st.booleans())}
    if draw(st.booleans()):
        kwargs["stride"] = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if family != "LPPool":
        kwargs["padding"] = tuple(draw(st.integers(0, v // 2)) for v in k)
    if family == "MaxPool":
        kwargs["dilation"] = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    if family == "AvgPool":
        kwargs["count_include_pad"] = draw(st.booleans())
    if family == "LPPool":
        kwargs["norm_type"] = 2.0
        if nd == 1:  # PyTorch's lp_pool1d takes an int kernel_size only
            kwargs["kernel_size"] = k[0]
    sizes = tuple(draw(st.integers(2, 9 if nd < 3 else 5)) for _ in range(nd))
    shape = ((draw(st.integers(1, 2)),) if draw(st.booleans()) else ()) + (
        draw(st.integers(1, 2)),) + sizes
    return {"name": f"{family}{nd}d", "args": (), "kwargs": kwargs, "shape": shape, "nd": nd}


# ---------------------------------------------------------------------- helpers
def build(case: dict) -> tuple[Any, Any]:
    """(convkit layer, torch layer) with equal float64 parameters."""
    kwargs = dict(case["kwargs"])
    if case["name"].startswith("LPPool"):
        kwargs = {"norm_type": kwargs.pop("norm_type"), **kwargs}
    t = getattr(torch.nn, case["name"])(*case["args"], **kwargs).double()
    c = getattr(nn, case["name"])(*case["args"], **kwargs).double()
    with torch.no_grad():
        for p in t.parameters():  # nonzero weights: no gradient or product vanishes
            p.copy_(torch.rand(p.shape, dtype=torch.float64) + 0.5)
    c.load_state_dict({k: convkit.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return c, t


def torch_output(t: Any, shape: tuple[int, ...]) -> Any:
    x = torch.rand(shape, dtype=torch.float64)
    out = t(x)
    return out[0] if isinstance(out, tuple) else out


def explain_or_error(c: Any, t: Any, shape: tuple[int, ...]) -> Any:
    """The report, or None after checking convkit refuses exactly when PyTorch does."""
    try:
        torch_output(t, shape)
    except ERRORS as e:
        with pytest.raises(ERRORS) as info:
            explain(c, shape)
        kinds = [k for k in ERRORS if isinstance(e, k)]
        assert isinstance(info.value, kinds[0]), (info.value, e)
        event(f"both refuse: {kinds[0].__name__}")
        return None
    event("explained")
    return explain(c, shape)


def spatial_dim(shape: tuple[int, ...], nd: int, axis: int) -> int:
    return len(shape) - nd + axis


def perturbation_lost(t: Any, shape: tuple[int, ...], nd: int, axis: int,
                      raise_to: float | None = None) -> tuple[int, ...]:
    """Input positions along ``axis`` whose change changes no output (one forward each)."""
    x = torch.rand(shape, dtype=torch.float64) if raise_to is None else torch.zeros(
        shape, dtype=torch.float64)
    with torch.no_grad():
        base = t(x)
        base = base[0] if isinstance(base, tuple) else base
        dim = spatial_dim(shape, nd, axis)
        lost = []
        for i in range(shape[dim]):
            x2 = x.clone()
            if raise_to is None:
                x2.select(dim, i).add_(1.0)
            else:
                x2.select(dim, i).fill_(raise_to)
            out = t(x2)
            out = out[0] if isinstance(out, tuple) else out
            if not (out - base).abs().max() > 0:
                lost.append(i)
    return tuple(lost)


def expected_lost(report: Any) -> list[tuple[int, ...]]:
    """The report's lost positions per axis, as slab perturbation sees them: when some axis
    reads nothing at all, no output depends on any input, so every position is lost."""
    if any(len(a.lost) == a.input_size for a in report.axes):
        return [tuple(range(a.input_size)) for a in report.axes]
    return [a.lost for a in report.axes]


def expected_support(report: Any, out_index: tuple[int, ...]) -> list[set[int]]:
    """Per axis, the input positions one output reads (all empty if one axis reads none)."""
    nd = len(report.axes)
    sets = [{t.source for t in a.window(o) if t.source is not None}
            for a, o in zip(report.axes, out_index[-nd:], strict=True)]
    return [set() for _ in sets] if any(not s for s in sets) else sets


def gradient_support(t: Any, shape: tuple[int, ...], nd: int, out_index: tuple[int, ...]
                     ) -> list[set[int]]:
    """Per spatial axis, the input positions with a nonzero gradient of one output."""
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    out = t(x)
    out = out[0] if isinstance(out, tuple) else out
    out[out_index].backward()
    nonzero = (x.grad != 0).numpy()
    support = []
    for axis in range(nd):
        dim = spatial_dim(shape, nd, axis)
        other = tuple(i for i in range(len(shape)) if i != dim)
        support.append(set(np.flatnonzero(nonzero.any(axis=other)).tolist()))
    return support


def formula_value(formula: str) -> int:
    """Evaluate a report formula's left side (only floor, ceil and arithmetic)."""
    left = formula.split(";")[0].rsplit("=", 1)[0].replace("blocks =", "")
    assert set(left) <= set("0123456789+-*/() floorceil"), left
    return eval(left, {"__builtins__": {}}, {"floor": math.floor, "ceil": math.ceil})


def check_axes(report: Any, out: Any, nd: int) -> None:
    assert tuple(report.output_shape) == tuple(out.shape)
    for axis, size in zip(report.axes, out.shape[-nd:], strict=True):
        assert axis.output_size == size
        assert axis.formula.endswith(f"= {size}")


def recorded_plans(c: Any, shape: tuple[int, ...]) -> set:
    x = convkit.rand(*shape, dtype=convkit.float64, requires_grad=True)
    with conv_plan.recording() as plans:
        c(x).sum().backward()
    return {(p.problem.kind, p.problem.x_shape, p.problem.w_shape, p.problem.padding,
             p.problem.stride, p.problem.dilation, p.problem.groups) for p in plans}


def reported_plans(report: Any) -> set:
    return {(i.problem.kind, i.problem.x_shape, i.problem.w_shape, i.problem.padding,
             i.problem.stride, i.problem.dilation, i.problem.groups)
            for i in report.plan.values()}


# ---------------------------------------------------------------------- convolution
@SETTINGS
@given(conv_cases(), st.data())
def test_conv_report_equals_running_the_layer(case: dict, data: Any) -> None:
    try:
        c, t = build(case)
    except ERRORS as e:
        event("constructor refuses")
        with pytest.raises(type(e)):
            getattr(nn, case["name"])(*case["args"], **case["kwargs"])
        return
    shape = case["shape"]
    report = explain_or_error(c, t, shape)
    if report is None:
        return
    nd = case["nd"]
    out = torch_output(t, shape)
    check_axes(report, out, nd)
    assert tuple(c(convkit.rand(*shape, dtype=convkit.float64)).shape) == tuple(out.shape)
    for axis in report.axes:
        if "dropped" not in axis.formula:
            assert formula_value(axis.formula) == axis.output_size
    # parameters, shapes and MACs
    assert report.weight_shape == tuple(t.weight.shape)
    assert report.bias_shape == (tuple(t.bias.shape) if t.bias is not None else None)
    assert report.parameters.total == sum(p.numel() for p in t.parameters())
    assert report.weight_axes[:2] == ("out_channels", "in_channels/groups")
    with FlopCounterMode(display=False) as flops:
        t(torch.rand(shape, dtype=torch.float64))
    assert report.macs == flops.get_total_flops() // 2
    assert report.group_savings.macs_dense == report.macs * t.groups
    # lost positions, by perturbing every position of every axis
    for axis_index, lost in enumerate(expected_lost(report)):
        assert lost == perturbation_lost(t, shape, nd, axis_index)
    # one output's window, by its gradient
    out_index = tuple(data.draw(st.integers(0, s - 1)) for s in out.shape)
    support = gradient_support(t, shape, nd, out_index)
    assert expected_support(report, out_index) == support
    for axis, o, seen in zip(report.axes, out_index[-nd:], support, strict=True):
        if all(not tap.note for tap in axis.window(o)):
            assert max(seen) - min(seen) + 1 == axis.receptive_field
    # wiring: a one-hot input channel reaches exactly the wired output channels
    with torch.no_grad():
        for ch in range(t.in_channels):
            x = torch.zeros(shape, dtype=torch.float64)
            x.select(len(shape) - nd - 1, ch).fill_(1.0)
            y = t(x) - t(torch.zeros(shape, dtype=torch.float64))
            reached = (y != 0).numpy().any(axis=tuple(i for i in range(y.ndim)
                                                      if i != y.ndim - nd - 1))
            np.testing.assert_array_equal(reached, report.wiring[:, ch])
    # the engine plans of forward and backward, as recorded while running
    assert recorded_plans(c, shape) == reported_plans(report)


@SETTINGS
@given(conv_cases(transposed=True), st.data())
def test_transposed_report_equals_running_the_layer(case: dict, data: Any) -> None:
    try:
        c, t = build(case)
    except ERRORS as e:
        event("constructor refuses")
        with pytest.raises(type(e)):
            getattr(nn, case["name"])(*case["args"], **case["kwargs"])
        return
    shape = case["shape"]
    report = explain_or_error(c, t, shape)
    if report is None:
        return
    nd = case["nd"]
    out = torch_output(t, shape)
    check_axes(report, out, nd)
    for axis in report.axes:
        assert formula_value(axis.formula) == axis.output_size
    assert report.weight_shape == tuple(t.weight.shape)
    assert report.weight_axes[:2] == ("in_channels", "out_channels/groups")
    assert report.parameters.total == sum(p.numel() for p in t.parameters())
    with FlopCounterMode(display=False) as flops:
        t(torch.rand(shape, dtype=torch.float64))
    assert report.macs == flops.get_total_flops() // 2
    for axis_index, lost in enumerate(expected_lost(report)):
        assert lost == perturbation_lost(t, shape, nd, axis_index)
    out_index = tuple(data.draw(st.integers(0, s - 1)) for s in out.shape)
    support = gradient_support(t, shape, nd, out_index)
    assert expected_support(report, out_index) == support
    for axis, seen in zip(report.axes, support, strict=True):
        assert len(seen) == 0 or max(seen) - min(seen) + 1 <= axis.receptive_field
    # Dumoulin & Visin: the direct convolution of the spread, padded input with the
    # flipped, swapped kernel is the transposed convolution
    x = torch.rand((1,) + shape[-nd - 1:], dtype=torch.float64)
    eq = report.transposed
    direct = torch.nn.functional.__dict__[f"conv{nd}d"](
        torch.from_numpy(eq.input(x.numpy())),
        torch.from_numpy(eq.weight(t.weight.detach().numpy())),
        None, 1, 0, t.dilation, t.groups)
    expected = torch.nn.functional.__dict__[f"conv_transpose{nd}d"](
        x, t.weight, None, t.stride, t.padding, t.output_padding, t.groups, t.dilation)
    torch.testing.assert_close(direct, expected, rtol=1e-12, atol=1e-12)
    assert tuple(eq.weight_shape) == eq.weight(t.weight.detach().numpy()).shape
    assert recorded_plans(c, shape) == reported_plans(report)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
       st.integers(4, 9), st.sampled_from(["reflect", "replicate", "circular"]), st.data())
def test_transposed_with_padding_modes(k: int, s: int, p: int, d: int, n: int, mode: str,
                                       data: Any) -> None:
    """convkit's ConvTransposeNd also takes padding modes (no PyTorch oracle): the windows
    still equal the gradient supports, and the plan the recorded one."""
    op = data.draw(st.integers(0, max(s, d) - 1))
    layer = nn.ConvTransposeNd(1, 2, 2, k, stride=s, padding=p, output_padding=op,
                               dilation=d, padding_mode=mode).double()
    shape = (1, 2, n)
    try:
        report = explain(layer, shape)
    except ERRORS as e:
        with pytest.raises(type(e)):
            layer(convkit.zeros(*shape, dtype=convkit.float64))
        return
    x = convkit.rand(*shape, dtype=convkit.float64, requires_grad=True)
    out = layer(x)
    assert tuple(out.shape) == report.output_shape
    o = data.draw(st.integers(0, out.shape[-1] - 1))
    out[0, 0, o].backward()
    seen = set(np.flatnonzero((x.grad.numpy() != 0).any(axis=(0, 1))).tolist())
    assert {tap.source for tap in report.axes[0].window(o)} == seen
    assert recorded_plans(layer, shape) == reported_plans(report)


# ---------------------------------------------------------------------- pooling
@SETTINGS
@given(pool_cases(), st.data())
def test_pool_report_equals_running_the_layer(case: dict, data: Any) -> None:
    c, t = build(case)
    shape = case["shape"]
    report = explain_or_error(c, t, shape)
    if report is None:
        return
    nd = case["nd"]
    out = torch_output(t, shape)
    check_axes(report, out, nd)
    assert report.parameters.total == 0 and report.weight_shape is None
    is_max = case["name"].startswith("MaxPool")
    for axis_index, lost in enumerate(expected_lost(report)):
        # a max pool ignores a changed value that is not the largest: raise one high
        assert lost == perturbation_lost(t, shape, nd, axis_index,
                                         raise_to=5.0 if is_max else None)
    out_index = tuple(data.draw(st.integers(0, s - 1)) for s in out.shape)
    if is_max:  # the window is what a single large input can reach
        for axis_index, (axis, o) in enumerate(zip(report.axes, out_index[-nd:],
                                                   strict=True)):
            dim = spatial_dim(shape, nd, axis_index)
            reach = set()
            for i in range(shape[dim]):
                x = torch.zeros(shape, dtype=torch.float64)
                x.select(dim, i).fill_(1.0)
                if t(x)[out_index] > 0:
                    reach.add(i)
            assert {tap.source for tap in axis.window(o) if tap.source is not None} == reach
    else:
        assert expected_support(report, out_index) == gradient_support(t, shape, nd,
                                                                        out_index)
    # one comparison or addition per window tap read
    taps = math.prod(sum(len(a.window(o)) for o in range(a.output_size)) for a in report.axes)
    assert report.macs == taps * math.prod(shape[:-nd])


@pytest.mark.parametrize("output_size", [1, 3, (2, None), (4, 5)])
@pytest.mark.parametrize("family", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
def test_adaptive_pool_windows(family: str, output_size: Any) -> None:
    t = getattr(torch.nn, family)(output_size)
    c = getattr(nn, family)(output_size)
    shape = (1, 2, 7, 5)
    report = explain(c, shape)
    out = t(torch.rand(shape, dtype=torch.float64))
    check_axes(report, out, 2)
    if family == "AdaptiveAvgPool2d":
        index = (0, 1, out.shape[2] - 1, 0)
        for axis, o, seen in zip(report.axes, index[2:],
                                 gradient_support(t, shape, 2, index), strict=True):
            assert {tap.source for tap in axis.window(o)} == seen
            assert len(axis.window(o)) <= axis.receptive_field


@pytest.mark.parametrize("name, padding", [
    ("ZeroPad2d", (1, 2, 0, 3)), ("ConstantPad1d", (2, 0)), ("ReflectionPad2d", (1, 2, 2, 1)),
    ("ReplicationPad3d", (1, 0, 0, 2, 1, 1)), ("CircularPad2d", (1, 2, 2, 0)),
    ("ZeroPad2d", (-1, 2, 0, -2))])
def test_padding_layers(name: str, padding: tuple) -> None:
    args = (padding, 1.5) if name.startswith("Constant") else (padding,)
    t, c = getattr(torch.nn, name)(*args), getattr(nn, name)(*args)
    nd = len(padding) // 2
    shape = (1, 2) + (4, 5, 3)[:nd]
    report = explain(c, shape)
    out = t(torch.rand(shape, dtype=torch.float64))
    check_axes(report, out, nd)
    assert report.macs == 0
    for axis_index, lost in enumerate(expected_lost(report)):
        assert lost == perturbation_lost(t, shape, nd, axis_index)


def test_fold_and_unfold_shapes() -> None:
    report = explain(nn.Unfold(kernel_size=(2, 3), stride=2, padding=1), (2, 3, 7, 6))
    out = torch.nn.Unfold((2, 3), stride=2, padding=1)(torch.rand(2, 3, 7, 6))
    assert report.output_shape == tuple(out.shape)
    assert math.prod(a.output_size for a in report.axes) == out.shape[-1]
    fold = explain(nn.Fold((5, 4), 2), (1, 12, 12))
    assert fold.output_shape == tuple(torch.nn.Fold((5, 4), 2)(torch.rand(1, 12, 12)).shape)


# ---------------------------------------------------------------------- conventions
@pytest.mark.parametrize("k, d", [(2, 1), (3, 1), (4, 1), (4, 2), (5, 3)])
def test_same_padding_split_is_pytorchs(k: int, d: int) -> None:
    """Where PyTorch puts the odd 'same' pixel, measured: with the kernel a delta at tap 0,
    out[i] = x[i - lo], so the first output equal to x[0] sits at lo."""
    t = torch.nn.Conv1d(1, 1, k, padding="same", dilation=d, bias=False)
    with torch.no_grad():
        t.weight.zero_()
        t.weight[0, 0, 0] = 1.0
    n = 11
    y = t(torch.arange(1.0, n + 1).reshape(1, 1, n))[0, 0]
    lo = int(torch.nonzero(y == 1.0)[0])
    hi = d * (k - 1) - lo
    report = explain(nn.Conv1d(1, 1, k, padding="same", dilation=d), (1, 1, n))
    assert report.axes[0].padding == (lo, hi)
    conventions = report.same_padding_conventions
    assert conventions.uses_same
    assert tuple(conventions.axes[0]["pytorch"]) == (lo, hi)
    assert tuple(conventions.axes[0]["same_lower"]) == (hi, lo)
    assert "JAX" in conventions.transposed_kernel_flip


def test_convnd_same_with_stride_follows_tensorflow() -> None:
    """convkit's ConvNd accepts 'same' with stride > 1: out = ceil(in / stride)."""
    for n, k, s in [(7, 3, 2), (8, 4, 3), (5, 2, 2)]:
        layer = nn.ConvNd(1, 1, 1, k, stride=s, padding="same")
        report = explain(layer, (1, 1, n))
        assert report.output_shape == tuple(layer(convkit.zeros(1, 1, n)).shape)
        assert report.axes[0].output_size == -(-n // s)
        assert report.axes[0].padding == tuple(
            report.same_padding_conventions.axes[0]["tensorflow_jax"])


# ---------------------------------------------------------------------- forms and output
def test_every_way_of_naming_a_layer_gives_the_same_report() -> None:
    shape = (1, 4, 8, 8)
    convkit.manual_seed(0)
    reports = [
        explain(nn.Conv2d(4, 4, 3, groups=2), shape),
        explain("Conv2d(4, 4, 3, groups=2)", shape),
        explain(("conv2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                            "groups": 2}), shape),
        explain(("Conv2d", (4, 4, 3), {"groups": 2}), shape),
        explain(LayerSpec("conv2d", kwargs={"weight_shape": (4, 2, 3, 3), "groups": 2}), shape),
        explain_module(nn.Conv2d(4, 4, 3, groups=2), shape),  # the module is callable
    ]
    first = reports[0].to_dict()
    for r in reports[1:]:
        assert r.to_dict() == first
    assert explain(("pad", {"pad": (1, 2), "mode": "reflect"}), (1, 2, 5)).output_shape == (
        1, 2, 8)
    assert explain(("conv", {"in_channels": 1, "out_channels": 1, "kernel_size": 3}),
                   (1, 1, 5, 5, 5, 5)).output_shape == (1, 1, 3, 3, 3, 3)


def test_issue_example_formula_and_renderings() -> None:
    report = explain(nn.Conv2d(3, 8, 3, stride=2, padding=1), (1, 3, 8, 8))
    assert report.axes[0].formula == "floor((8 + 2*1 - 1*(3-1) - 1)/2) + 1 = 4"
    text = str(report)
    for piece in ("floor((8 + 2*1 - 1*(3-1) - 1)/2) + 1 = 4", "out_channels=8",
                  "in_channels/groups=3", "parameters 224", "cross-correlation"):
        assert piece in text
    html = report._repr_html_()
    assert html.startswith("<div>") and "floor((8 + 2*1 - 1*(3-1) - 1)/2) + 1 = 4" in html
    encoded = json.loads(json.dumps(report.to_dict()))
    assert encoded["output_shape"] == [1, 8, 4, 4]
    assert encoded["parameters"]["total"] == 224
    assert len(encoded["wiring"]) == 8 and len(encoded["wiring"][0]) == 3


def test_lost_columns_are_named_with_pytorchs_warning() -> None:
    report = explain(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 8, 8))
    assert report.lost == {"H": (7,), "W": (7,)}
    assert any("might be lost" in note for note in report.notes)
    between = explain(nn.Conv1d(1, 1, 2, stride=4), (1, 1, 10))
    assert between.lost == {"L": (2, 3, 6, 7)}
    assert any("between windows" in note for note in between.notes)


def test_groups_wiring_drawing() -> None:
    report = explain(nn.Conv2d(4, 6, 3, groups=2), (1, 4, 8, 8))
    expected = np.zeros((6, 4), dtype=bool)
    expected[:3, :2] = expected[3:, 2:] = True
    np.testing.assert_array_equal(report.wiring, expected)
    g = report.group_savings
    assert (g.parameters, g.parameters_dense) == (6 * 2 * 9, 6 * 4 * 9)
    text = str(report)
    assert "out 0 # # . ." in text and "out 5 . . # #" in text


def test_errors_match_running_the_layer() -> None:
    with pytest.raises(RuntimeError):
        explain(nn.Conv2d(3, 4, 5), (1, 3, 4, 4))  # kernel larger than the padded input
    with pytest.raises(RuntimeError):
        explain(nn.Conv2d(3, 4, 3), (1, 2, 8, 8))  # wrong channel count
    with pytest.raises(RuntimeError):
        explain(nn.MaxPool2d(3), (1, 1, 2, 2))  # output size 0
    with pytest.raises(TypeError, match="summary"):
        explain(nn.Sequential(nn.Conv2d(1, 1, 3)), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="input_shape"):
        explain(nn.Conv2d(1, 1, 3), "1,1,5,5")
    with pytest.raises(ValueError, match="did you mean"):
        explain(("Conv2D", {"in_channels": 1}), (1, 1, 5, 5))


def test_operation_names_the_index_arithmetic() -> None:
    conv = explain(nn.Conv2d(4, 8, 3, groups=2, padding=2, dilation=2, stride=2), (1, 4, 9, 9))
    assert ("weight[o, c, kh, kw] * x[n, g*2 + c, 2*i - 2 + 2*kh, 2*j - 2 + 2*kw], "
            "g = o // 4") in conv.operation
    assert "not flipped" in conv.operation
    depthwise = explain(nn.Conv1d(3, 6, 3, groups=3), (3, 10))
    assert "x[o // 2, i + kl]" in depthwise.operation and "depthwise" in depthwise.operation
    transposed = explain(nn.ConvTranspose1d(2, 2, 4, stride=2, padding=1), (1, 2, 5))
    assert "out[n, o, 2*i - 1 + kl]" in transposed.operation


# ---------------------------------------------------------------------- long axes
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(["conv", "pool", "pad", "blocks"]), st.integers(1, 12),
       st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.integers(0, 4),
       st.integers(0, 4), st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
       st.booleans())
def test_counted_windows_equal_the_listed_ones(kind: str, n: int, k: int, s: int, d: int,
                                               lo: int, hi: int, mode: str,
                                               ceil_mode: bool) -> None:
    """Lost positions, taps read and the receptive field are counted without listing every
    window (long axes); they must equal what the listed windows give, and those are held
    against running the layers above."""
    from convkit.explain import _arithmetic as arithmetic

    limit = n - 1 if mode == "reflect" else n  # what F.pad accepts
    if kind != "pool" and mode != "zeros" and max(lo, hi) > limit:
        return
    if kind == "conv":
        axis = arithmetic.conv_axis("W", n, k, s, lo, hi, d, mode)
    elif kind == "pool":
        axis = arithmetic.pool_axis("W", n, k, s, lo, d, ceil_mode, "-inf")
    elif kind == "pad":
        axis = arithmetic.pad_axis("W", n, lo - 2, hi - 2, mode)
    else:
        axis = arithmetic.blocks_axis("W", n, k, s, lo, d)
    if axis.output_size <= 0:
        return
    windows = [axis.window(o) for o in range(axis.output_size)]
    read = {tap.source for w in windows for tap in w if tap.source is not None}
    assert axis.lost == tuple(i for i in range(n) if i not in read)
    assert axis.taps_read() == sum(len(w) for w in windows)
    spans = [max(t.position for t in w) - min(t.position for t in w) + 1 for w in windows if w]
    assert axis.receptive_field == max(spans, default=0)


def test_a_long_axis_is_explained_quickly() -> None:
    """A minute of 44.1 kHz stereo audio, and an absurd image: no window is listed."""
    import time

    start = time.perf_counter()
    audio = explain(nn.Conv1d(2, 8, 5, stride=2, padding=2, padding_mode="reflect"),
                    (1, 2, 2_646_000))
    pool = explain(nn.MaxPool1d(3, stride=2, ceil_mode=True), (1, 1, 2_646_000))
    huge = explain(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 10**8, 10**8))
    assert time.perf_counter() - start < 20
    assert audio.output_shape == (1, 8, 1_323_000) and audio.lost == {"L": ()}
    assert pool.output_shape == (1, 1, 1_323_000)
    assert pool.macs == 3 * 1_323_000 - 1  # the last window's third tap is past the input
    assert huge.lost == {"H": (10**8 - 1,), "W": (10**8 - 1,)}


def test_errors_name_the_input_shape_given_not_the_probe() -> None:
    """explain validates on an empty batch; the message must show the user's shape."""
    with pytest.raises(RuntimeError) as batched:
        explain(nn.Conv2d(4, 4, 3), (2, 3, 8, 8))
    assert "[2, 3, 8, 8]" in str(batched.value) and "[0, " not in str(batched.value)
    with pytest.raises(RuntimeError) as unbatched:  # shown as a batch of one, as PyTorch does
        explain(nn.Conv2d(4, 4, 3), (3, 8, 8))
    assert "[1, 3, 8, 8]" in str(unbatched.value)
    with pytest.raises(TypeError, match=r"^Conv2d\.__init__\(\) got an unexpected keyword"):
        explain("Conv2d(4, 4, 3, colour='red')", (1, 4, 8, 8))
