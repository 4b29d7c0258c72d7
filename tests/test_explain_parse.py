"""``parse_layer``: layer strings become layers without ever being evaluated; anything but
a call of a convkit.nn layer with literal arguments is a one-line ValueError."""

from __future__ import annotations

import pytest

from convkit import nn
from convkit.explain import explain, parse_layer


@pytest.mark.parametrize("spec, expected", [
    ("Conv2d(4, 4, 3, groups=2)", nn.Conv2d(4, 4, 3, groups=2)),
    ("MaxPool2d(2, stride=2, ceil_mode=True)", nn.MaxPool2d(2, stride=2, ceil_mode=True)),
    ("ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1)",
     nn.ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1)),
    ("  nn.Conv1d(2, 3, (5,), padding='same', bias=False) ",
     nn.Conv1d(2, 3, (5,), padding="same", bias=False)),
    ("torch.nn.ReflectionPad2d([1, 2, -1, 0])", nn.ReflectionPad2d([1, 2, -1, 0])),
    ("Flatten(start_dim=-3, end_dim=+3)", nn.Flatten(start_dim=-3, end_dim=3)),
    ("AdaptiveAvgPool2d((None, 7))", nn.AdaptiveAvgPool2d((None, 7))),
    ("Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2))",
     nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2))),
    ("LPPool2d(2.0, 3)", nn.LPPool2d(2.0, 3)),
])
def test_accepted_specs_build_the_layer(spec: str, expected: nn.Module) -> None:
    layer = parse_layer(spec)
    assert type(layer) is type(expected)
    assert repr(layer) == repr(expected)
    assert [p.shape for p in layer.parameters()] == [p.shape for p in expected.parameters()]


@pytest.mark.parametrize("spec, message", [
    ("__import__('os').system('echo owned')", "not a layer name"),
    ("Conv2d(4, 4, 3).__class__", "attribute access"),
    ("Conv2d(x)", "argument 1 of Conv2d is not a literal: 'x'"),
    ("Linear(2, 3) + 1", "operator expression"),
    ("Conv2d(4, 4, 3", "cannot parse"),
    ("Conv2D(4, 4, 3)", "did you mean Conv2d"),
    ("Maxpool2d(2)", "did you mean MaxPool2d"),
    ("os.system('ls')", "not a convkit.nn layer"),
    ("Conv2d(*[4, 4, 3])", "*args"),
    ("Conv2d(**{'in_channels': 1})", "**kwargs"),
    ("Conv2d(4, 4, kernel_size=2**3)", "argument 'kernel_size' of Conv2d is not a literal"),
    ("Conv2d(4, 4, [i for i in range(3)])", "not a literal"),
    ("Linear(2, Linear(2, 2))", "not a literal"),
    ("(lambda: 1)()", "not a layer name"),
    ("Conv2d(4, 4, 3); import os", "cannot parse"),
    ("Module()", "unknown layer 'Module'"),
    ("Conv2d(1, 1, {1: 2})", "a dict"),
    ("Conv2d(1, 1, " + "1, " * 1000 + ")", "characters long"),
])
def test_rejected_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_layer(spec)
    text = str(info.value)
    assert message in text
    assert "\n" not in text  # one line, fit for a CLI error


def test_constructor_errors_propagate_with_their_class() -> None:
    with pytest.raises(ValueError, match="divisible by groups"):
        parse_layer("Conv2d(4, 3, 3, groups=2)")
    with pytest.raises(RuntimeError, match="kernel size"):
        parse_layer("Conv2d(4, 4, 0)")
    with pytest.raises(TypeError):
        parse_layer("Conv2d(4, 4, 3, colour='red')")
    with pytest.raises(TypeError):
        parse_layer(42)


def test_strings_explain_directly() -> None:
    report = explain("Conv2d(4, 4, 3, groups=2)", (1, 4, 8, 8))
    assert report.output_shape == (1, 4, 6, 6)
    assert report.group_savings.groups == 2
