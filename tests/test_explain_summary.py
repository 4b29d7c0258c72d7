"""``convkit.explain.summary``: the table comes from a real forward pass and its numbers
equal PyTorch's (shapes from hooks on a mirror model, parameter counts, the FLOP counter),
the receptive fields and jumps equal the support of real gradients, and the model is left
exactly as it was (hooks removed, modes and buffers unchanged), even when forward raises.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import convkit
from convkit import nn
from convkit.explain import explain, summary

LIBS = (convkit, torch)


def digits_cnn(lib: Any) -> Any:
    n = lib.nn
    return n.Sequential(
        n.Conv2d(1, 8, 3, padding=1), n.BatchNorm2d(8), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(8, 16, 3, padding=1, groups=2), n.ReLU(), n.MaxPool2d(2, ceil_mode=True),
        n.Dropout(0.1), n.Flatten(), n.Linear(16 * 4 * 4, 32), n.ReLU(), n.Linear(32, 10))


def copy_weights(c: Any, t: Any) -> None:
    c.load_state_dict({k: convkit.tensor(v.detach().numpy()) for k, v in
                       t.state_dict().items()})


def torch_leaf_shapes(model: Any, x: Any) -> list[tuple[str, tuple[int, ...]]]:
    shapes = []
    handles = [m.register_forward_hook(
        lambda mod, args, out, name=name: shapes.append((name, tuple(out.shape))))
        for name, m in model.named_modules() if not list(m.children())]
    with torch.no_grad():
        model.eval()(x)
    for h in handles:
        h.remove()
    return shapes


def test_rows_equal_pytorchs_shapes_parameters_and_flops() -> None:
    t = digits_cnn(torch)
    c = digits_cnn(convkit)
    copy_weights(c, t)
    shape = (2, 1, 16, 16)
    report = summary(c, shape)
    leaves = [(r.name, r.output_shape) for r in report.rows if r.is_leaf]
    assert leaves == torch_leaf_shapes(t, torch.zeros(shape))
    assert report.total_parameters == sum(p.numel() for p in t.parameters())
    assert report.trainable_parameters == report.total_parameters
    assert sum(r.parameters for r in report.rows) == report.total_parameters
    # PyTorch's FLOP counter counts convolutions and matrix products (2 FLOPs per MAC)
    with FlopCounterMode(display=False) as flops:
        t.eval()(torch.zeros(shape))
    counted = sum(r.macs for r in report.rows if r.type in ("Conv2d", "Linear"))
    assert counted == flops.get_total_flops() // 2
    # activation memory: the bytes of each output
    for r in report.rows:
        if r.is_leaf:
            assert r.activation_bytes == int(np.prod(r.output_shape)) * 4
    assert report.activation_bytes == sum(r.activation_bytes for r in report.rows if r.is_leaf)
    assert report.total_macs == sum(r.macs for r in report.rows if r.is_leaf)
    root = report.rows[0]
    assert root.name == "" and not root.is_leaf and root.macs == report.total_macs
    # the algorithm recorded while each convolution ran is the one explain predicts
    for r in report.rows:
        if r.type == "Conv2d":
            predicted = explain(c.get_submodule(r.name), r.input_shape).plan["forward"]
            assert r.algorithm == predicted.algorithm and r.workspace == predicted.workspace
        else:
            assert r.algorithm is None


def test_frozen_parameters_are_not_trainable() -> None:
    model = digits_cnn(convkit)
    model[0].requires_grad_(False)
    report = summary(model, (1, 1, 16, 16))
    frozen = model[0].weight.numel() + model[0].bias.numel()
    assert report.trainable_parameters == report.total_parameters - frozen
    assert report.rows[1].trainable == 0 and report.rows[1].parameters == frozen
    lines = str(report).split("\n")
    assert " no " in next(line for line in lines if "0 (Conv2d)" in line)
    assert " partly " in next(line for line in lines if line.startswith("Sequential  "))


def chain(lib: Any) -> Any:
    n = lib.nn
    return n.Sequential(n.Conv2d(1, 2, 3), n.AvgPool2d(2), n.Conv2d(2, 2, (3, 5), stride=2,
                                                                    dilation=(1, 2)),
                        n.ReflectionPad2d(1), n.Conv2d(2, 1, 3), n.Tanh())


def test_receptive_field_and_jump_equal_gradient_supports() -> None:
    t = chain(torch)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.rand(p.shape) * 0.1 + 0.01)  # small: tanh must not saturate
    shape = (1, 1, 64, 64)
    report = summary(chain(convkit), shape)
    last = report.rows[-1]
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    out = t.double()(x)
    h, w = out.shape[2] // 2, out.shape[3] // 2  # an output whose field is inside the input

    def support(i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        x.grad = None
        t(x)[0, 0, i, j].backward()
        nz = x.grad[0, 0].numpy() != 0
        return np.flatnonzero(nz.any(axis=1)), np.flatnonzero(nz.any(axis=0))

    rows, cols = support(h, w)
    assert (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == tuple(last.receptive_field)
    rows2, cols2 = support(h + 1, w + 1)
    assert (rows2[0] - rows[0], cols2[0] - cols[0]) == tuple(last.jump)
    # each row's field: the layers before it, composed
    assert [tuple(int(v) for v in r.receptive_field) for r in report.rows[1:]] == [
        (3, 3), (4, 4), (8, 20), (8, 20), (16, 28), (16, 28)]


def test_transposed_layers_divide_the_jump() -> None:
    n = nn
    model = n.Sequential(n.Conv1d(1, 1, 3, stride=2), n.ConvTranspose1d(1, 1, 4, stride=2,
                                                                        padding=1))
    report = summary(model, (1, 1, 32))
    assert [r.jump for r in report.rows[1:]] == [(2,), (1,)]
    # the composed field is a bound on what an output depends on
    x = convkit.rand(1, 1, 32, requires_grad=True)
    out = model(x)
    for o in range(4, out.shape[-1] - 4):
        x.grad = None
        out = model(x)
        out[0, 0, o].backward()
        nz = np.flatnonzero(x.grad.numpy()[0, 0] != 0)
        assert nz[-1] - nz[0] + 1 <= report.rows[-1].receptive_field[0]


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 4, 3, padding=1))
        self.skip = nn.Identity()

    def forward(self, x: Any) -> Any:
        return self.body(x) + self.skip(x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList([Residual(), Residual()])
        self.head = nn.Linear(4, 5)

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=(2, 3)))


def test_nested_custom_forward_and_state_restored() -> None:
    model = Net()
    model.train()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    report = summary(model, (2, 3, 16, 16))
    names = [r.name for r in report.rows]
    assert names[:4] == ["", "stem", "blocks.0", "blocks.0.body"]
    assert "blocks.1.body.3" in names and names[-1] == "head"
    depth = {r.name: r.depth for r in report.rows}
    assert depth["blocks.0.body.0"] == 3 and depth["head"] == 1
    assert report.total_parameters == sum(p.numel() for p in model.parameters())
    assert report.rows[-1].output_shape == (2, 5)
    # receptive fields continue through the residual sums: blocks.1 starts where blocks.0
    # ended (3 + 2 * 2 * 2 = 11 after block 0)
    field = {r.name: r.receptive_field for r in report.rows}
    assert tuple(field["blocks.0"]) == (11, 11)
    assert tuple(field["blocks.1.body.0"]) == (15, 15)
    assert field["head"] == "global"
    # nothing changed: hooks gone, train mode kept, batch-norm statistics untouched
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_hooks_are_removed_when_forward_raises() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(5, 2))  # Linear gets 4x?x? input
    with pytest.raises(RuntimeError):
        summary(model, (1, 3, 8, 8))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(m.training for m in model.modules())


def test_shared_module_and_several_inputs() -> None:
    class Siamese(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Conv1d(2, 3, 3)

        def forward(self, a: Any, b: Any) -> Any:
            return self.encoder(a) - self.encoder(b)

    model = Siamese()
    report = summary(model, [(1, 2, 10), (1, 2, 10)])
    calls = [(r.name, r.call) for r in report.rows]
    assert calls == [("", 1), ("encoder", 1), ("encoder", 2)]
    assert report.total_parameters == 3 * 2 * 3 + 3  # counted once
    assert report.total_macs == 2 * (3 * 8 * 2 * 3)
    assert "[call 2]" in str(report)


def test_renderings_and_bad_input() -> None:
    report = summary(digits_cnn(convkit), (1, 1, 16, 16))
    text = str(report)
    assert "Total params: " in text and "Conv2d" in text and "Linear" in text
    assert report._repr_html_().startswith("<div>")
    encoded = json.loads(json.dumps(report.to_dict()))
    assert encoded["total_parameters"] == report.total_parameters
    assert len(encoded["rows"]) == len(report.rows)
    with pytest.raises(ValueError, match="input_shape"):
        summary(digits_cnn(convkit), "1x1x16x16")
    with pytest.raises(TypeError):
        summary(lambda x: x, (1, 2))


def test_mlp_has_no_spatial_axes() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    report = summary(model, (3, 6))
    assert report.total_macs == 3 * 4 * 6 + 3 * 2 * 4
    assert all(r.receptive_field in ((), "global") for r in report.rows)
