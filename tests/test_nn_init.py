"""convkit.nn.init against torch.nn.init (exact for deterministic initialisers, bounds and
moments for random ones) and convkit.nn.utils against torch.nn.utils."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
from convkit import nn
from convkit.nn import init, utils

SET = settings(max_examples=25, deadline=None, derandomize=True)


@pytest.mark.parametrize("name,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_calculate_gain_errors():
    for lib in (torch, convkit):
        with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
            lib.nn.init.calculate_gain("foo")
        with pytest.raises(ValueError, match="negative_slope"):
            lib.nn.init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3), (32, 4, 5)])
@pytest.mark.parametrize("name,kwargs", [
    ("uniform_", {"a": -0.5, "b": 2.0}), ("normal_", {"mean": 1.0, "std": 0.5}),
    ("xavier_uniform_", {}), ("xavier_normal_", {"gain": 2.0}), ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_normal_", {"mode": "fan_out"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}), ("trunc_normal_", {"a": -1.0, "b": 1.5}),
    ("trunc_normal_", {"mean": 0.5, "std": 2.0, "a": -1.0, "b": 3.0})])
def test_random_initialisers_match_torch_distribution(shape, name, kwargs):
    torch.manual_seed(0)
    tt = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs)
    ct = getattr(init, name)(convkit.empty(shape, dtype=convkit.float64), **kwargs)
    a, b = ct.numpy(), tt.numpy()
    n = a.size
    # same support, mean and spread within sampling error
    lo, hi = b.min(), b.max()
    spread = b.std()
    if "uniform" in name or "trunc" in name:  # bounded support
        assert a.min() >= lo - 0.05 * spread and a.max() <= hi + 0.05 * spread
    assert abs(a.mean() - b.mean()) < 6 * spread / math.sqrt(n)
    assert abs(a.std() - spread) < 0.1 * spread


def test_init_returns_same_tensor_and_records_nothing():
    w = nn.Parameter(convkit.empty(4, 3))
    assert init.kaiming_uniform_(w) is w
    assert w.grad_fn is None and w.requires_grad
    assert init.orthogonal_(w) is w and init.trunc_normal_(w) is w
    assert init.zeros_(w) is w and np.all(w.detach().numpy() == 0)
    assert init.ones_(w) is w and np.all(w.detach().numpy() == 1)
    assert np.all(init.constant_(w, 0.3).detach().numpy() == np.float32(0.3))


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch(shape):
    np.testing.assert_array_equal(init.eye_(convkit.empty(*shape)).numpy(),
                                  torch.nn.init.eye_(torch.empty(*shape)).numpy())


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 6, 2, 3, 3), 1),
                                          ((8, 2, 5, 5), 4), ((3, 5, 3, 3), 1)])
def test_dirac_matches_torch(shape, groups):
    np.testing.assert_array_equal(init.dirac_(convkit.empty(*shape), groups).numpy(),
                                  torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


def test_dirac_is_identity_convolution():
    w = init.dirac_(convkit.empty(3, 3, 3, 3))
    x = convkit.randn(1, 3, 5, 5)
    np.testing.assert_allclose(convkit.nn.functional.conv2d(x, w, padding=1).numpy(),
                               x.numpy(), atol=1e-6)


@SET
@given(rows=st.integers(1, 8), cols=st.integers(1, 8), extra=st.integers(1, 3),
       gain=st.sampled_from([1.0, 2.0]))
def test_orthogonal(rows, cols, extra, gain):
    t = init.orthogonal_(convkit.empty(rows, cols, extra, dtype=convkit.float64), gain)
    m = t.numpy().reshape(rows, -1) / gain
    k = min(m.shape)
    g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(g, np.eye(k), atol=1e-10)


def test_trunc_normal_bounds():
    t = init.trunc_normal_(convkit.empty(10000, dtype=convkit.float64), 0.0, 1.0, -0.5, 0.7)
    a = t.numpy()
    assert a.min() >= -0.5 and a.max() <= 0.7
    ref = torch.nn.init.trunc_normal_(torch.empty(10000, dtype=torch.float64), 0, 1, -0.5, 0.7)
    assert abs(a.mean() - ref.mean().item()) < 0.02


@pytest.mark.parametrize("fn,arg,exc,match", [
    ("eye_", (3,), ValueError, "Only tensors with 2 dimensions are supported"),
    ("dirac_", (3, 3), ValueError, "Only tensors with 3, 4, or 5 dimensions are supported"),
    ("orthogonal_", (3,), ValueError, "Only tensors with 2 or more dimensions are supported"),
    ("xavier_uniform_", (3,), ValueError, "Fan in and fan out can not be computed"),
    ("kaiming_normal_", (3,), ValueError, "Fan in and fan out can not be computed"),
])
def test_init_errors_match_torch(fn, arg, exc, match):
    for lib in (torch, convkit):
        with pytest.raises(exc, match=match):
            getattr(lib.nn.init, fn)(lib.empty(*arg))
    with pytest.raises(ValueError, match="Mode fan_foo not supported"):
        init.kaiming_uniform_(convkit.empty(3, 3), mode="fan_foo")


# ----------------------------------------------------------------------------- utils
def _grads(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    return [rng.standard_normal(s) * scale for s in shapes]


def _params(lib, grads):
    ps = []
    for g in grads:
        p = (lib.nn.Parameter(lib.from_numpy(np.zeros_like(g))))
        p.grad = lib.from_numpy(g.copy())
        ps.append(p)
    return ps


@SET
@given(seed=st.integers(0, 1000), max_norm=st.sampled_from([0.1, 1.0, 100.0]),
       norm_type=st.sampled_from([1.0, 2.0, 3.0, float("inf"), "inf"]),
       scale=st.sampled_from([0.01, 1.0, 10.0]))
def test_clip_grad_norm_matches_torch(seed, max_norm, norm_type, scale):
    grads = _grads(seed, scale)
    pc, pt = _params(convkit, grads), _params(torch, grads)
    nc = utils.clip_grad_norm_(pc, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type)
    np.testing.assert_allclose(nc.item(), nt.item(), rtol=1e-10)
    for a, b in zip(pc, pt, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(convkit.zeros(3))
    assert utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients
    p.grad = convkit.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    tp = torch.nn.Parameter(torch.zeros(3))
    tp.grad = torch.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    single = nn.Parameter(convkit.zeros(2))
    single.grad = convkit.tensor([3.0, 4.0])
    assert abs(utils.clip_grad_norm_(single, 1.0).item() - 5.0) < 1e-6
    np.testing.assert_allclose(single.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_value_matches_torch():
    grads = _grads(1, 3.0)
    pc, pt = _params(convkit, grads), _params(torch, grads)
    assert utils.clip_grad_value_(pc, 0.5) is None
    torch.nn.utils.clip_grad_value_(pt, 0.5)
    for a, b in zip(pc, pt, strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_parameters_vector_roundtrip():
    torch.manual_seed(0)
    tm = torch.nn.Linear(3, 2)
    cm = nn.Linear(3, 2)
    for name, p in tm.named_parameters():
        getattr(cm, name).data[...] = convkit.from_numpy(p.detach().numpy().copy())
    vc = utils.parameters_to_vector(cm.parameters())
    vt = torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(vc.detach().numpy(), vt.detach().numpy())
    new = np.arange(8, dtype=np.float32)
    utils.vector_to_parameters(convkit.from_numpy(new.copy()), cm.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new.copy()), tm.parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_array_equal(getattr(cm, name).detach().numpy(), p.detach().numpy())
    # gradient flows through parameters_to_vector
    (utils.parameters_to_vector(cm.parameters()) ** 2).sum().backward()
    np.testing.assert_allclose(cm.weight.grad.numpy(), 2 * cm.weight.detach().numpy())
    with pytest.raises(TypeError, match=r"expected torch\.Tensor, but got: list"):
        utils.vector_to_parameters([1.0], cm.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match=r"expected torch\.Tensor, but got: list"):
            torch.nn.utils.vector_to_parameters([1.0], tm.parameters())
