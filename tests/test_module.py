"""Module, Sequential, ModuleList, ModuleDict against PyTorch: names, state dicts, load
errors, reprs, modes and conversions."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import convkit as ck
from convkit import nn


def _pair(build):
    """The same architecture in convkit and torch (``build`` takes the ``nn`` namespace)."""
    return build(nn), build(torch.nn)


def _net(mod):
    return mod.Sequential(
        mod.Conv2d(1, 4, 3, padding=1), mod.BatchNorm2d(4), mod.ReLU(), mod.MaxPool2d(2),
        mod.Sequential(OrderedDict(flat=mod.Flatten(), fc=mod.Linear(4 * 4 * 4, 10))))


def _copy_from_torch(ck_model, t_model):
    ck_model.load_state_dict({k: ck.from_numpy(v.detach().numpy().copy())
                              for k, v in t_model.state_dict().items()})


def _msg(text):
    return text.replace("torch.Size", "Size").replace("convkit.Size", "Size")


def test_names_and_state_dict_keys_match_torch():
    c, t = _pair(_net)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in c.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in c[4].named_parameters(prefix="head")] == \
        [n for n, _ in t[4].named_parameters(prefix="head")]
    assert [n for n, _ in c.named_parameters(recurse=False)] == []
    assert len(list(c.parameters())) == len(list(t.parameters()))


def test_shared_parameters_and_remove_duplicate():
    def build(mod):
        lin = mod.Linear(3, 3)
        return mod.Sequential(lin, mod.ReLU(), lin)

    c, t = _pair(build)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_modules(remove_duplicate=False)] == \
        [n for n, _ in t.named_modules(remove_duplicate=False)]


def test_register_buffer_persistence_and_errors():
    for mod in (nn, torch.nn):
        m = mod.Module()
        m.register_buffer("a", (ck if mod is nn else torch).zeros(2))
        m.register_buffer("b", (ck if mod is nn else torch).ones(1), persistent=False)
        m.register_parameter("w", mod.Parameter((ck if mod is nn else torch).ones(2)))
        assert list(m.state_dict()) == ["w", "a"]
        assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    for bad, exc in [("a.b", KeyError), ("", KeyError), (3, TypeError)]:
        for mod, lib in ((nn, ck), (torch.nn, torch)):
            with pytest.raises(exc):
                mod.Module().register_buffer(bad, lib.zeros(1))
    for mod, lib in ((nn, ck), (torch.nn, torch)):
        m = mod.Module()
        m.x = 1
        with pytest.raises(KeyError, match="already exists"):
            m.register_buffer("x", lib.zeros(1))
        with pytest.raises(TypeError):
            m.register_parameter("p", lib.zeros(1))
        with pytest.raises(TypeError, match="is not a Module subclass"):
            m.add_module("q", 3)


def test_load_state_dict_roundtrip_and_outputs():
    c, t = _pair(_net)
    _copy_from_torch(c, t)
    c.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(c(ck.from_numpy(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert repr(c.load_state_dict(c.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_errors_match_torch_and_load_nothing():
    c, t = _pair(_net)
    sd_c = c.state_dict()
    sd_t = t.state_dict()
    for edit in ("missing", "unexpected", "shape", "all"):
        bad_c = OrderedDict((k, v.clone()) for k, v in sd_c.items())
        bad_t = OrderedDict((k, v.clone()) for k, v in sd_t.items())
        for bad, lib in ((bad_c, ck), (bad_t, torch)):
            if edit in ("missing", "all"):
                del bad["1.running_mean"]
            if edit in ("unexpected", "all"):
                bad["4.fc.extra"] = lib.zeros(1)
            if edit in ("shape", "all"):
                bad["0.weight"] = lib.zeros(4, 1, 2, 2)
            bad["4.fc.bias"] = lib.full((10,), 7.0)
        before = {k: v.numpy().copy() for k, v in c.state_dict().items()}
        with pytest.raises(RuntimeError) as ec:
            c.load_state_dict(bad_c)
        with pytest.raises(RuntimeError) as et:
            t.load_state_dict(bad_t)
        assert _msg(str(ec.value)) == _msg(str(et.value))
        assert str(ec.value).startswith("Error(s) in loading state_dict for Sequential:\n\t")
        after = {k: v.numpy() for k, v in c.state_dict().items()}
        for k in before:  # nothing was copied, not even the valid entries
            np.testing.assert_array_equal(before[k], after[k])


def test_load_state_dict_non_strict_reports_keys():
    c, t = _pair(_net)
    bad_c = dict(c.state_dict())
    bad_t = dict(t.state_dict())
    del bad_c["0.bias"], bad_t["0.bias"]
    bad_c["zzz"] = ck.zeros(1)
    bad_t["zzz"] = torch.zeros(1)
    rc = c.load_state_dict(bad_c, strict=False)
    rt = t.load_state_dict(bad_t, strict=False)
    assert rc.missing_keys == rt.missing_keys and rc.unexpected_keys == rt.unexpected_keys
    assert rc == tuple(rt)
    with pytest.raises(TypeError):
        c.load_state_dict([1, 2])


def test_repr_nested_sequential_matches_torch():
    c, t = _pair(_net)
    assert repr(c) == repr(t)

    def blocks(mod):
        return mod.ModuleList([mod.Linear(2, 2), mod.Linear(2, 2), mod.ReLU(),
                               mod.Linear(2, 2)])

    c, t = _pair(blocks)
    assert repr(c) == repr(t)
    c, t = _pair(lambda mod: mod.ModuleDict({"a": mod.ReLU(), "b": mod.Sequential()}))
    assert repr(c) == repr(t)


def test_sequential_indexing_slicing_editing():
    def seq(mod):
        return mod.Sequential(mod.ReLU(), mod.Tanh(), mod.Sigmoid(), mod.Identity())

    c, t = _pair(seq)
    assert type(c[-1]).__name__ == type(t[-1]).__name__ == "Identity"
    assert repr(c[1:3]) == repr(t[1:3])
    assert isinstance(c[1:3], nn.Sequential) and len(c) == 4
    with pytest.raises(IndexError):
        c[4]
    with pytest.raises(IndexError):
        t[4]
    for m, mod in ((c, nn), (t, torch.nn)):
        m.append(mod.ReLU())
        m.insert(0, mod.Tanh())
        m.extend([mod.Identity()])
        del m[2]
        m[0] = mod.Sigmoid()
    assert repr(c) == repr(t)
    assert [type(m).__name__ for m in c] == [type(m).__name__ for m in t]
    c2, t2 = _pair(lambda mod: mod.Sequential(OrderedDict(a=mod.ReLU(), b=mod.Tanh())))
    assert repr(c2) == repr(t2) and repr(c2[1:]) == repr(t2[1:])
    x = ck.tensor([-1.0, 2.0])
    np.testing.assert_allclose(
        c2(x).numpy(), t2(torch.tensor([-1.0, 2.0])).numpy(), rtol=1e-6)


def test_module_list_and_dict_api():
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    ml += [nn.Identity()]
    ml.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Sigmoid", "Tanh", "Identity"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    assert type(ml[-1]).__name__ == "Identity"
    md = nn.ModuleDict([("a", nn.Linear(2, 3))])
    md["b"] = nn.Linear(3, 1)
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert list(md.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    with pytest.raises(NotImplementedError):
        ml(ck.zeros(1))


def test_train_eval_apply_zero_grad_requires_grad():
    c, _ = _pair(_net)
    c.eval()
    assert all(not m.training for m in c.modules())
    c.train()
    assert all(m.training for m in c.modules())
    seen = []
    c.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Conv2d"
    out = c(ck.randn(2, 1, 8, 8)).sum()
    out.backward()
    assert all(p.grad is not None for p in c.parameters())
    c.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in c.parameters())
    c.zero_grad()
    assert all(p.grad is None for p in c.parameters())
    c.requires_grad_(False)
    assert not any(p.requires_grad for p in c.parameters())


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    c, t = _pair(_net)
    params = list(c.parameters())
    c.to(ck.float64)
    t.to(torch.float64)
    assert [p is q for p, q in zip(params, c.parameters())] == [True] * len(params)
    assert {k: str(v.dtype).split(".")[1] for k, v in c.state_dict().items()} == \
        {k: str(v.dtype).split(".")[1] for k, v in t.state_dict().items()}
    c.float()
    assert c[0].weight.dtype == ck.float32
    c.half()
    assert c[0].weight.dtype == ck.float16
    c.double()
    assert c[1].num_batches_tracked.dtype == ck.int64
    with pytest.raises(TypeError):
        c.to(ck.int32)
    with pytest.raises(TypeError):
        t.to(torch.int32)


def test_pickle_roundtrip():
    c, _ = _pair(_net)
    c2 = pickle.loads(pickle.dumps(c))
    assert repr(c2) == repr(c)
    for (k, a), (k2, b) in zip(c.state_dict().items(), c2.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert isinstance(c2[0].weight, nn.Parameter)


def test_get_submodule_and_delattr():
    c, _ = _pair(_net)
    assert type(c.get_submodule("4.fc")).__name__ == "Linear"
    with pytest.raises(AttributeError):
        c.get_submodule("4.nope")
    del c[4].fc
    assert "4.fc.weight" not in c.state_dict()
