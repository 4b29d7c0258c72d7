"""``convkit.explain.trace``: the term-by-term sum of one output element equals the layer's
output in PyTorch, every term reads the input and weight elements it names, and the
"flipped kernel" value equals a real convolution with the flipped kernel."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
from convkit import nn
from convkit.explain import explain, trace
from tests.test_explain import ERRORS, build, conv_cases, pool_cases

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def run_case(case: dict, data: Any) -> tuple[Any, Any, Any, Any] | None:
    """(convkit layer, torch layer, torch input, out index), or None when invalid."""
    try:
        c, t = build(case)
        explain(c, case["shape"])
    except ERRORS:
        return None
    x = torch.rand(case["shape"], dtype=torch.float64) * 2 - 1
    out = t(x)
    out = out[0] if isinstance(out, tuple) else out
    index = tuple(data.draw(st.integers(0, s - 1)) for s in out.shape)
    return c, t, x, index


def check_terms(report: Any, x: Any, weight: Any | None, bias: Any | None) -> None:
    xs = x.numpy()
    for term in report.terms:
        if term.input_index is not None:
            assert term.x == xs[term.input_index]
        if term.weight_index is not None:
            assert term.w == weight[term.weight_index]


@SETTINGS
@given(conv_cases(), st.data())
def test_conv_trace_sums_to_the_output(case: dict, data: Any) -> None:
    run = run_case(case, data)
    if run is None:
        return
    c, t, x, index = run
    report = trace(c, convkit.tensor(x.numpy()), index)
    expected = float(t(x)[index].detach())
    assert report.matches
    assert math.isclose(report.value, expected, rel_tol=1e-12, abs_tol=1e-12)
    w = t.weight.detach().numpy()
    check_terms(report, x, w, t.bias)
    nd = case["nd"]
    bias = float(t.bias[index[-nd - 1]].detach()) if t.bias is not None else 0.0
    by_hand = math.fsum(term.x * term.w for term in report.terms) + bias
    assert math.isclose(by_hand, expected, rel_tol=1e-9, abs_tol=1e-9)
    # a true convolution is the cross-correlation with the flipped kernel
    flipped = torch.nn.Module.__new__(type(t))
    flipped.__dict__ = dict(t.__dict__)
    flipped._parameters = dict(t._parameters)
    flipped._parameters["weight"] = torch.nn.Parameter(torch.flip(t.weight, tuple(
        range(2, 2 + nd))))
    assert math.isclose(report.flipped_value, float(flipped(x)[index].detach()), rel_tol=1e-9,
                        abs_tol=1e-9)


@SETTINGS
@given(conv_cases(transposed=True), st.data())
def test_transposed_trace_sums_to_the_output(case: dict, data: Any) -> None:
    run = run_case(case, data)
    if run is None:
        return
    c, t, x, index = run
    report = trace(c, x.numpy(), index)
    assert report.matches
    assert math.isclose(report.computed, float(t(x)[index].detach()), rel_tol=1e-9, abs_tol=1e-9)
    check_terms(report, x, t.weight.detach().numpy(), t.bias)


@SETTINGS
@given(pool_cases(), st.data())
def test_pool_trace_equals_the_output(case: dict, data: Any) -> None:
    run = run_case(case, data)
    if run is None:
        return
    c, t, x, index = run
    report = trace(c, convkit.tensor(x.numpy()), index)
    assert report.matches
    assert math.isclose(report.computed, float(t(x)[index].detach()), rel_tol=1e-9, abs_tol=1e-9)
    check_terms(report, x, None, None)
    genuine = [term.x for term in report.terms if term.input_index is not None]
    if report.reduction == "max":
        assert report.computed == max(genuine)


@pytest.mark.parametrize("name, args, kwargs", [
    ("ReflectionPad2d", ((1, 2, 2, 0),), {}), ("ReplicationPad1d", ((3, 1),), {}),
    ("CircularPad2d", (2,), {}), ("ConstantPad1d", ((2, -1), 2.5), {}),
    ("AdaptiveMaxPool2d", ((2, 3),), {}), ("AdaptiveAvgPool1d", (3,), {}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True,
                         "divisor_override": 5}),
    ("AvgPool1d", (2,), {"stride": 2, "padding": 1, "ceil_mode": True,
                         "count_include_pad": False})])
def test_other_layers(name: str, args: tuple, kwargs: dict) -> None:
    layer, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    shape = (1, 2) + ((5,) if name.endswith("1d") else (5, 4))
    x = torch.rand(shape, dtype=torch.float64)
    out = t(x)
    for index in np.ndindex(*out.shape):
        report = trace(layer, convkit.tensor(x.numpy()), index)
        assert report.matches
        assert math.isclose(report.computed, float(out[index]), rel_tol=1e-12)


def test_the_lecture_step_edge_is_a_cross_correlation() -> None:
    """The lecture's test (001, section 7): a vertical line and kernel rows [1, 2, 3]."""
    x = convkit.zeros(1, 1, 8, 8, dtype=convkit.float64)
    x[0, 0, :, 4] = 1
    kernel = np.zeros((1, 1, 3, 3))
    kernel[0, 0, :] = [1, 2, 3]
    conv = nn.Conv2d(1, 1, 3, bias=False)
    conv.weight = nn.Parameter(convkit.from_numpy(kernel))
    report = trace(conv, x, (0, 0, 0, 2))
    assert report.value == 9.0 and report.flipped_value == 3.0
    assert report.window == ((0, 1, 2), (2, 3, 4))
    assert "x[0,0,0,4]*w[0,0,0,2]" in report.expression
    assert "= 0*1 + 0*2 + 1*3" in report.expression
    text = str(report)
    assert "cross-correlation" in text and "equals the layer's output 9" in text


def test_padding_terms_and_groups_are_named() -> None:
    conv = nn.Conv2d(4, 2, 3, padding=1, groups=2).double()
    x = convkit.rand(1, 4, 5, 5, dtype=convkit.float64)
    report = trace(conv, x, (0, 1, 0, 0))
    assert report.group == 1 and report.channels == (2, 3)
    assert report.padding_positions == 2 * 5  # a corner: 5 of 9 taps per channel
    assert all(t.x == 0 for t in report.terms if t.input_index is None)
    assert "pad*w[1,0,0,0]" in report.expression
    big = trace(nn.Conv2d(8, 1, 5).double(), convkit.rand(1, 8, 6, 6, dtype=convkit.float64),
                (0, 0, 1, 1))
    assert big.expression is None and len(big.terms) == 200 and big.matches


def test_bad_index() -> None:
    conv = nn.Conv1d(1, 1, 3)
    x = convkit.rand(1, 1, 6)
    with pytest.raises(IndexError, match="out of range"):
        trace(conv, x, (0, 0, 4))
    with pytest.raises(IndexError, match="entries"):
        trace(conv, x, (0, 0))
    assert trace(conv, x, (0, 0, -1)).index == (0, 0, 3)
    with pytest.raises(TypeError):
        trace(nn.Unfold(2), convkit.rand(1, 1, 4, 4), (0, 0, 0))
