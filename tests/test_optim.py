"""Optimizers and schedulers against PyTorch: single steps (hypothesis), 50-step training
equivalence of a CNN, state dicts, errors and lr sequences."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit as ck
from convkit import nn, optim

OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    "adam": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.5)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "rmsprop": ("RMSprop", dict(lr=0.01, alpha=0.9)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True,
                                         weight_decay=0.1)),
    "adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2,
                                weight_decay=0.05)),
}


def _params(arrays):
    return ([nn.Parameter(ck.from_numpy(a.copy())) for a in arrays],
            [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@given(seed=st.integers(0, 2**31), steps=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64]),
       shape=st.sampled_from([(3,), (2, 3), (4, 1, 2)]))
@settings(max_examples=15, deadline=None)
def test_steps_match_torch(name, seed, steps, dtype, shape):
    cls, kwargs = OPTIMIZERS[name]
    rng = np.random.default_rng(seed)
    pc, pt = _params([rng.standard_normal(shape).astype(dtype) for _ in range(2)])
    oc = getattr(optim, cls)(pc, **kwargs)
    ot = getattr(torch.optim, cls)(pt, **kwargs)
    for _ in range(steps):
        for a, b in zip(pc, pt):
            g = rng.standard_normal(shape).astype(dtype)
            a.grad = ck.from_numpy(g.copy())
            b.grad = torch.from_numpy(g.copy())
        oc.step()
        ot.step()
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for a, b in zip(pc, pt):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
        assert a.dtype.np == dtype
    for sa, sb in zip(oc.state.values(), ot.state.values()):
        assert list(sa) == list(sb)
        for k in sa:
            np.testing.assert_allclose(np.asarray(sa[k].numpy()), sb[k].numpy(), rtol=tol,
                                       atol=tol)


def test_param_groups_and_state_dict_structure_match_torch():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(3).astype(np.float32) for _ in range(3)]
    pc, pt = _params(arrays)
    oc = optim.Adam([{"params": pc[:2]}, {"params": pc[2:], "lr": 0.1}], lr=0.01)
    ot = torch.optim.Adam([{"params": pt[:2]}, {"params": pt[2:], "lr": 0.1}], lr=0.01)
    for a, b in zip(pc, pt):
        a.grad = ck.ones(3)
        b.grad = torch.ones(3)
    oc.step()
    ot.step()
    sc, stt = oc.state_dict(), ot.state_dict()
    assert sc["param_groups"] == stt["param_groups"]
    assert list(sc["state"]) == list(stt["state"])
    assert {k: list(v) for k, v in sc["state"].items()} == \
        {k: list(v) for k, v in stt["state"].items()}
    oc.add_param_group({"params": [nn.Parameter(ck.zeros(1))], "lr": 3.0})
    assert oc.param_groups[-1]["lr"] == 3.0 and oc.param_groups[-1]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("name", ["sgd_momentum", "adamw_amsgrad", "rmsprop_centered",
                                  "adagrad"])
def test_state_dict_round_trip_continues_identically(name):
    cls, kwargs = OPTIMIZERS[name]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 2)) for _ in range(2)]
    grads = [[rng.standard_normal((2, 2)) for _ in arrays] for _ in range(4)]
    pa, _ = _params(arrays)
    oa = getattr(optim, cls)(pa, **kwargs)

    def step(params, opt, gs):
        for p, g in zip(params, gs):
            p.grad = ck.from_numpy(g.copy())
        opt.step()

    for gs in grads[:2]:
        step(pa, oa, gs)
    pb, _ = _params([p.detach().numpy() for p in pa])
    ob = getattr(optim, cls)(pb, **dict(kwargs, lr=123.0))
    ob.load_state_dict(copy.deepcopy(oa.state_dict()))
    assert ob.param_groups[0]["lr"] == kwargs["lr"]
    for gs in grads[2:]:
        step(pa, oa, gs)
        step(pb, ob, gs)
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        ob.load_state_dict({"state": {}, "param_groups": []})


def test_load_torch_optimizer_state_dict():
    """A PyTorch Adam state dict (its tensors converted) resumes in convkit exactly."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(4) for _ in range(2)]
    pc, pt = _params(arrays)
    ot = torch.optim.Adam(pt, lr=0.05)
    for p in pt:
        p.grad = torch.ones(4, dtype=torch.float64)
    ot.step()
    sd = ot.state_dict()
    conv = {"state": {i: {k: ck.from_numpy(v.numpy().copy()) for k, v in s.items()}
                      for i, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}
    for a, b in zip(pc, pt):
        a.data.copy_(ck.from_numpy(b.detach().numpy().copy()))
    oc = optim.Adam(pc)
    oc.load_state_dict(conv)
    g = rng.standard_normal(4)
    for a, b in zip(pc, pt):
        a.grad = ck.from_numpy(g.copy())
        b.grad = torch.from_numpy(g.copy())
    oc.step()
    ot.step()
    for a, b in zip(pc, pt):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-14)


def test_errors_match_torch():
    for lib, nnm, o in ((ck, nn, optim), (torch, torch.nn, torch.optim)):
        with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
            o.SGD([], lr=0.1)
        with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
            o.SGD(nnm.Parameter(lib.zeros(2)), lr=0.1)
        with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
            o.SGD([1.0], lr=0.1)
        leaf = lib.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
            o.Adam([leaf * 2])
        p = [nnm.Parameter(lib.zeros(2))]
        with pytest.raises(TypeError, match="ordered collections"):
            o.SGD(p, lr=0.1).add_param_group({"params": {nnm.Parameter(lib.zeros(1))}})
        for call in (lambda: o.SGD(p, lr=-1.0), lambda: o.SGD(p, lr=0.1, momentum=-0.5),  # noqa: B023
                     lambda: o.SGD(p, lr=0.1, nesterov=True),  # noqa: B023
                     lambda: o.Adam(p, betas=(1.0, 0.9)), lambda: o.Adam(p, eps=-1.0),  # noqa: B023
                     lambda: o.AdamW(p, weight_decay=-1.0), lambda: o.RMSprop(p, alpha=-1.0),  # noqa: B023
                     lambda: o.Adagrad(p, lr_decay=-1.0)):  # noqa: B023
            with pytest.raises(ValueError):
                call()
        with pytest.raises(ValueError, match="more than one parameter group"):
            o.SGD([{"params": p}, {"params": p}], lr=0.1)
        opt = o.SGD(p, lr=0.1)
        p[0].grad = lib.ones(2)
        opt.zero_grad(set_to_none=False)
        assert p[0].grad is not None and float(p[0].grad.sum()) == 0
        opt.zero_grad()
        assert p[0].grad is None


def _sched_lrs(lib, o, make, steps, metric=None):
    p = [(nn if lib is ck else torch.nn).Parameter(lib.zeros(1))]
    opt = o.SGD(p, lr=0.1, momentum=0.9)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    moms = [opt.param_groups[0]["momentum"]]
    for i in range(steps):
        opt.step()
        if metric is None:
            sched.step()
        else:
            sched.step(metric(i))
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
    return lrs, moms, sched


SCHEDULERS = {
    "step": lambda s: lambda opt: s.StepLR(opt, step_size=3, gamma=0.5),
    "multistep": lambda s: lambda opt: s.MultiStepLR(opt, [2, 5, 5, 9], gamma=0.3),
    "exponential": lambda s: lambda opt: s.ExponentialLR(opt, gamma=0.9),
    "cosine": lambda s: lambda opt: s.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
    "onecycle": lambda s: lambda opt: s.OneCycleLR(opt, max_lr=1.0, total_steps=20),
    "onecycle3": lambda s: lambda opt: s.OneCycleLR(opt, max_lr=0.5, total_steps=20,
                                                    three_phase=True,
                                                    anneal_strategy="linear"),
    "lambda": lambda s: lambda opt: s.LambdaLR(opt, lambda e: 1 / (1 + e)),
    "plateau": lambda s: lambda opt: s.ReduceLROnPlateau(opt, patience=2, cooldown=1,
                                                         factor=0.5),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_sequences_match_torch(name):
    metric = (lambda i: [5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3][i]) \
        if name == "plateau" else None
    lc, mc, sc = _sched_lrs(ck, optim, SCHEDULERS[name](optim.lr_scheduler), 19, metric)
    lt, mt, stt = _sched_lrs(torch, torch.optim, SCHEDULERS[name](torch.optim.lr_scheduler),
                             19, metric)
    np.testing.assert_allclose(lc, lt, rtol=1e-13)
    np.testing.assert_allclose(mc, mt, rtol=1e-13)
    np.testing.assert_allclose(sc.get_last_lr(), stt.get_last_lr(), rtol=1e-13)
    keys_c = set(sc.state_dict())
    keys_t = set(stt.state_dict()) - {"_get_lr_called_within_step", "_is_initial"}
    assert keys_t <= keys_c | {"_is_initial"}


# ------------------------------------------------------------------ training equivalence
def _cnn(mod, dtype):
    return mod.Sequential(
        # No bias before the BatchNorm (which cancels it): its exact gradient would be 0 and
        # the computed one float32 rounding noise, which Adam rescales to full-size steps.
        mod.Conv2d(1, 6, 3, padding=1, bias=False), mod.BatchNorm2d(6), mod.ReLU(),
        mod.MaxPool2d(2),
        mod.Conv2d(6, 8, 3), mod.ReLU(), mod.Dropout(0.0), mod.Flatten(),
        mod.Linear(8 * 2 * 2, 10)).to(dtype)


TRAINING = {
    "sgd_momentum": lambda o, s: (o.SGD, dict(lr=0.02, momentum=0.9), None),
    "sgd_nesterov": lambda o, s: (o.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                              weight_decay=1e-3), None),
    "adam": lambda o, s: (o.Adam, dict(lr=3e-3, weight_decay=1e-3), None),
    "adamw": lambda o, s: (o.AdamW, dict(lr=3e-3, weight_decay=0.05), None),
    "adamw_onecycle": lambda o, s: (o.AdamW, dict(lr=3e-3, weight_decay=0.05),
                                    lambda opt: s.OneCycleLR(opt, max_lr=5e-3,
                                                             total_steps=50)),
    "sgd_steplr": lambda o, s: (o.SGD, dict(lr=0.1, momentum=0.5),
                                lambda opt: s.StepLR(opt, 10, 0.5)),
}


@pytest.fixture
def one_torch_thread():
    """PyTorch's intra-op threads only add overhead on these tiny batches (and 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TRAINING))
def test_training_50_steps_matches_torch(name, dtype, one_torch_thread):
    from convkit.data import load_digits

    images, target = load_digits()
    x = (images.astype(dtype) / 16.0)[:, None]
    y = target.astype(np.int64)
    torch.manual_seed(0)
    tm = _cnn(torch.nn, getattr(torch, dtype))
    cm = _cnn(nn, getattr(ck, dtype))
    cm.load_state_dict({k: ck.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    cls_c, kw, sched_c = TRAINING[name](optim, optim.lr_scheduler)
    cls_t, _, sched_t = TRAINING[name](torch.optim, torch.optim.lr_scheduler)
    oc, ot = cls_c(cm.parameters(), **kw), cls_t(tm.parameters(), **kw)
    sc = sched_c(oc) if sched_c else None
    stt = sched_t(ot) if sched_t else None
    lc_fn, lt_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    order = np.random.default_rng(0).permutation(len(x))
    rtol = 1e-4 if dtype == "float64" else 1e-3
    for step in range(50):
        idx = order[step * 16:(step + 1) * 16]
        oc.zero_grad()
        ot.zero_grad()
        loss_c = lc_fn(cm(ck.from_numpy(x[idx])), ck.from_numpy(y[idx]))
        loss_t = lt_fn(tm(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        loss_c.backward()
        loss_t.backward()
        oc.step()
        ot.step()
        if sc is not None:
            sc.step()
            stt.step()
        assert loss_c.item() == pytest.approx(loss_t.item(), rel=rtol), step
    assert loss_t.item() < 2.2  # it did learn (chance is log 10 = 2.30)
    for (k, a), b in zip(cm.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol * 10, atol=rtol, err_msg=k)
