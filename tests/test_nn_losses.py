"""convkit.nn losses against PyTorch: values and gradients (input, and target where PyTorch
differentiates it) over shapes, reductions and options; float64 gradcheck; PyTorch's
exceptions for bad targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as F
from convkit import nn
from convkit.autograd import gradcheck

SET = settings(max_examples=25, deadline=None, derandomize=True)
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def pair(arr, grad=True):
    a = np.array(arr)
    c = convkit.from_numpy(a.copy())
    t = torch.from_numpy(a.copy())
    if grad:
        c.requires_grad_()
        t.requires_grad_()
    return c, t


def close(c, t, tol=1e-9):
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def check(name, xs, kwargs, grads=(0,), module=None, margs=None):
    """Run F.name (and nn.module if given) on the arrays ``xs`` in both libraries."""
    cs, ts = zip(*[pair(x, grad=i in grads and x.dtype.kind == "f")
                   for i, x in enumerate(xs)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yc = getattr(F, name)(*cs, **kwargs)
        yt = getattr(torch.nn.functional, name)(*ts, **kwargs)
    close(yc, yt)
    g = rand(tuple(yt.shape), 5)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    for i in grads:
        if xs[i].dtype.kind == "f":
            close(cs[i].grad, ts[i].grad)
    if module is not None:
        cm = getattr(nn, module)(**(margs or {}))
        tm = getattr(torch.nn, module)(**(margs or {}))
        assert repr(cm) == repr(tm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            close(cm(*cs), tm(*ts))


@pytest.mark.parametrize("name,module", [("mse_loss", "MSELoss"), ("l1_loss", "L1Loss"),
                                         ("smooth_l1_loss", "SmoothL1Loss"),
                                         ("huber_loss", "HuberLoss")])
@SET
@given(shape=shapes, reduction=REDUCTIONS, seed=st.integers(0, 1000),
       param=st.sampled_from([None, 0.0, 0.5, 2.0]))
def test_regression_losses(name, module, shape, reduction, seed, param):
    kwargs = {"reduction": reduction}
    if name == "smooth_l1_loss" and param is not None:
        kwargs["beta"] = param
    if name == "huber_loss" and param:
        kwargs["delta"] = param
    x, y = rand(shape, seed) * 2, rand(shape, seed + 1) * 2
    check(name, [x, y], kwargs, grads=(0, 1), module=module, margs=kwargs)


@SET
@given(n=st.integers(1, 4), c=st.integers(2, 5), spatial=st.lists(st.integers(1, 3), max_size=2),
       reduction=REDUCTIONS, use_weight=st.booleans(), ignore=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.1, 0.5]), seed=st.integers(0, 1000))
def test_cross_entropy_class_indices(n, c, spatial, reduction, use_weight, ignore, smoothing,
                                     seed):
    rng = np.random.default_rng(seed)
    x = rand((n, c) + tuple(spatial), seed) * 3
    t = rng.integers(0, c, (n,) + tuple(spatial))
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore:
        t.flat[0] = 1
        kwargs["ignore_index"] = 1
    if use_weight:
        w = rng.uniform(0.2, 2.0, c)
        kwargs["weight"] = None
    cs, ts = pair(x)
    wc = convkit.from_numpy(w.copy()) if use_weight else None
    wt = torch.from_numpy(w.copy()) if use_weight else None
    kwargs.pop("weight", None)
    yc = F.cross_entropy(cs, convkit.from_numpy(t), weight=wc, **kwargs)
    yt = torch.nn.functional.cross_entropy(ts, torch.from_numpy(t), weight=wt, **kwargs)
    close(yc, yt)
    g = rand(tuple(yt.shape), 3)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    close(cs.grad, ts.grad)
    cm = nn.CrossEntropyLoss(weight=wc, **kwargs)
    tm = torch.nn.CrossEntropyLoss(weight=wt, **kwargs)
    assert repr(cm) == repr(tm)
    close(cm(cs, convkit.from_numpy(t)), tm(ts, torch.from_numpy(t)))
    # NLL on log-probabilities, same target
    kwargs.pop("label_smoothing")
    lc, lt = pair(torch.log_softmax(torch.from_numpy(x), 1).numpy())
    close(F.nll_loss(lc, convkit.from_numpy(t), weight=wc, **kwargs),
          torch.nn.functional.nll_loss(lt, torch.from_numpy(t), weight=wt, **kwargs))
    close(nn.NLLLoss(weight=wc, **kwargs)(lc, convkit.from_numpy(t)),
          torch.nn.NLLLoss(weight=wt, **kwargs)(lt, torch.from_numpy(t)))


def test_cross_entropy_unbatched_and_all_ignored():
    x = rand((5,))
    check("cross_entropy", [x, np.array(2)], {})
    check("cross_entropy", [x, np.array(2)], {"label_smoothing": 0.2})
    x2 = rand((3, 4))
    t = np.array([-100, -100, -100])
    cs, ts = pair(x2)
    assert np.isnan(F.cross_entropy(cs, convkit.from_numpy(t)).item())
    assert np.isnan(torch.nn.functional.cross_entropy(ts, torch.from_numpy(t)).item())


@SET
@given(n=st.integers(1, 4), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 3), max_size=2),
       reduction=REDUCTIONS, use_weight=st.booleans(), smoothing=st.sampled_from([0.0, 0.3]),
       seed=st.integers(0, 1000))
def test_cross_entropy_class_probabilities(n, c, spatial, reduction, use_weight, smoothing,
                                           seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) + tuple(spatial)
    x = rand(shape, seed)
    p = rng.uniform(0, 1, shape)
    p = p / p.sum(1, keepdims=True)
    w = rng.uniform(0.2, 2.0, c)
    cs, ts = pair(x)
    pc, pt = pair(p)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    yc = F.cross_entropy(cs, pc, weight=convkit.from_numpy(w) if use_weight else None, **kw)
    yt = torch.nn.functional.cross_entropy(ts, pt, weight=torch.from_numpy(w) if use_weight
                                           else None, **kw)
    close(yc, yt)
    g = rand(tuple(yt.shape), 1)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    close(cs.grad, ts.grad)
    close(pc.grad, pt.grad)


@SET
@given(shape=shapes, reduction=REDUCTIONS, use_weight=st.booleans(), seed=st.integers(0, 1000))
def test_bce(shape, reduction, use_weight, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.01, 0.99, shape)
    t = rng.uniform(0, 1, shape)
    kwargs = {"reduction": reduction}
    xs = [x, t]
    if use_weight:
        xs.append(rng.uniform(0.1, 2, shape))
    check("binary_cross_entropy", xs, kwargs, grads=(0, 1))


def test_bce_saturated_inputs_clamp_log():
    x = np.array([0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 0.5])
    cs, ts = pair(x, grad=False)
    close(F.binary_cross_entropy(cs, convkit.from_numpy(t), reduction="none"),
          torch.nn.functional.binary_cross_entropy(ts, torch.from_numpy(t), reduction="none"))
    cm, tm = nn.BCELoss(), torch.nn.BCELoss()
    assert repr(cm) == repr(tm)


@SET
@given(shape=shapes, reduction=REDUCTIONS, use_weight=st.booleans(), use_pos=st.booleans(),
       scale=st.sampled_from([1.0, 50.0]), seed=st.integers(0, 1000))
def test_bce_with_logits(shape, reduction, use_weight, use_pos, scale, seed):
    rng = np.random.default_rng(seed)
    x = rand(shape, seed) * scale
    t = rng.uniform(0, 1, shape)
    w = rng.uniform(0.1, 2, shape)
    pw = rng.uniform(0.1, 3, shape[-1:])
    xc, xt = pair(x)
    tc, tt = pair(t)
    kw = {"reduction": reduction}
    yc = F.binary_cross_entropy_with_logits(
        xc, tc, weight=convkit.from_numpy(w) if use_weight else None,
        pos_weight=convkit.from_numpy(pw) if use_pos else None, **kw)
    yt = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, tt, weight=torch.from_numpy(w) if use_weight else None,
        pos_weight=torch.from_numpy(pw) if use_pos else None, **kw)
    close(yc, yt)
    g = rand(tuple(yt.shape), 2)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    close(xc.grad, xt.grad)
    close(tc.grad, tt.grad)
    cm = nn.BCEWithLogitsLoss(pos_weight=convkit.from_numpy(pw) if use_pos else None, **kw)
    tm = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pw) if use_pos else None, **kw)
    assert repr(cm) == repr(tm)
    assert [n for n, _ in cm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    close(cm(xc, tc), tm(xt, tt))


@SET
@given(shape=shapes, reduction=st.sampled_from(["none", "mean", "sum", "batchmean"]),
       log_target=st.booleans(), seed=st.integers(0, 1000))
def test_kl_div(shape, reduction, log_target, seed):
    rng = np.random.default_rng(seed)
    x = np.log(rng.uniform(0.05, 1, shape))
    t = rng.uniform(0.01, 1, shape)
    if log_target:
        t = np.log(t + 0.1)
    check("kl_div", [x, t], {"reduction": reduction, "log_target": log_target}, grads=(0, 1),
          module="KLDivLoss", margs={"reduction": reduction, "log_target": log_target})


def test_kl_div_zero_target_is_zero_loss():
    # PyTorch's target gradient at target == 0 is NaN (xlogy's derivative); convkit's is the
    # finite one-sided value, so only the forward is compared there.
    x, t = np.log(np.array([0.3, 0.5])), np.array([0.0, 0.4])
    xc, xt = pair(x)
    close(F.kl_div(xc, convkit.from_numpy(t), reduction="none"),
          torch.nn.functional.kl_div(xt, torch.from_numpy(t), reduction="none"))


# ----------------------------------------------------------------------------- gradcheck
def _g(arr):
    return convkit.from_numpy(np.asarray(arr, dtype=np.float64)).requires_grad_()


def test_losses_gradcheck():
    rng = np.random.default_rng(0)
    x, y = _g(rand((3, 4))), _g(rand((3, 4), 1))
    t = convkit.from_numpy(np.array([0, 3, 1]))
    for name, kw in [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                     ("huber_loss", {"delta": 0.7})]:
        assert gradcheck(lambda a, b, name=name, kw=kw: getattr(F, name)(a, b, **kw), (x, y))
    w = convkit.from_numpy(rng.uniform(0.5, 2, 4))
    assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.2), (x,))
    assert gradcheck(lambda a: F.nll_loss(a, t, weight=w), (x,))
    p = _g(rng.dirichlet(np.ones(4), 3))
    assert gradcheck(lambda a, b: F.cross_entropy(a, b), (x, p))
    seg = convkit.from_numpy(rng.integers(0, 4, (2, 3, 2)))
    xs = _g(rand((2, 4, 3, 2)))
    assert gradcheck(lambda a: F.cross_entropy(a, seg, reduction="sum"), (xs,))
    prob, tgt = _g(rng.uniform(0.1, 0.9, (3, 4))), _g(rng.uniform(0, 1, (3, 4)))
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (prob, tgt))
    pw = convkit.from_numpy(rng.uniform(0.5, 2, 4))
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
                     (x, tgt))
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
                     (_g(np.log(rng.uniform(0.1, 1, (3, 4)))), tgt))
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), (x, y))


# ----------------------------------------------------------------------------- errors
def _both_raise(exc, match, fn):
    """``fn(lib)`` raises ``exc`` with a message matching ``match`` in torch and convkit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            fn(torch)
        with pytest.raises(exc, match=match):
            fn(convkit)


def _F(lib):
    return lib.nn.functional


def _t(lib, arr):
    return lib.from_numpy(np.asarray(arr))


X = rand((3, 4))
BAD = [
    (RuntimeError, "expected target dtype to be Long or Byte, but got Float",
     lambda L: _F(L).nll_loss(_t(L, X), _t(L, np.array([1.0, 2.0, 0.0], np.float32)))),
    (RuntimeError, "expected target dtype to be Long or Byte, but got Double",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, [1.0, 2.0, 0.0]))),
    (RuntimeError, "expected target dtype to be Long or Byte, but got Int",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, np.array([1, 2, 0], np.int32)))),
    (ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, [1, 2]))),
    (ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)",
     lambda L: _F(L).nll_loss(_t(L, X), _t(L, [1, 2]))),
    (IndexError, "Target 7 is out of bounds.",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, [1, 2, 7]))),
    (IndexError, "Target -3 is out of bounds.",
     lambda L: _F(L).nll_loss(_t(L, X), _t(L, [1, 2, -3]))),
    (RuntimeError, "Expected floating point type for target with class probabilities, got Long",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, np.zeros((3, 4), np.int64)))),
    (RuntimeError, "multi-target not supported",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, np.zeros((3, 5))))),
    (RuntimeError, r"size mismatch \(got input: \[2, 3, 4, 5\] , target: \[2, 4, 6\]",
     lambda L: _F(L).nll_loss(_t(L, rand((2, 3, 4, 5))), _t(L, np.zeros((2, 4, 6), np.int64)))),
    (RuntimeError, "only batches of spatial targets supported",
     lambda L: _F(L).nll_loss(_t(L, rand((2, 3, 4, 5))), _t(L, np.zeros((2, 4), np.int64)))),
    (RuntimeError, "weight tensor should be defined either for all 4 classes",
     lambda L: _F(L).nll_loss(_t(L, X), _t(L, [1, 2, 0]), weight=_t(L, np.ones(3)))),
    (RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.5",
     lambda L: _F(L).cross_entropy(_t(L, X), _t(L, [1, 2, 0]), label_smoothing=1.5)),
    (ValueError, r"Using a target size \(torch.Size\(\[3, 1\]\)\) that is different to the "
                 r"input size \(torch.Size\(\[3\]\)\)",
     lambda L: _F(L).binary_cross_entropy(_t(L, [0.1, 0.2, 0.3]), _t(L, np.ones((3, 1))))),
    (RuntimeError, "all elements of input should be between 0 and 1",
     lambda L: _F(L).binary_cross_entropy(_t(L, [1.1, 0.2, 0.3]), _t(L, np.ones(3)))),
    (ValueError, r"Target size \(torch.Size\(\[3, 1\]\)\) must be the same as input size",
     lambda L: _F(L).binary_cross_entropy_with_logits(_t(L, X[0, :3]),
                                                      _t(L, np.ones((3, 1))))),
    (ValueError, "foo is not a valid value for reduction",
     lambda L: _F(L).mse_loss(_t(L, X), _t(L, X), reduction="foo")),
    (RuntimeError, "The size of tensor a",
     lambda L: _F(L).mse_loss(_t(L, X), _t(L, rand((3, 5))))),
    (RuntimeError, "smooth_l1_loss does not support negative values for beta.",
     lambda L: _F(L).smooth_l1_loss(_t(L, X), _t(L, X), beta=-1.0)),
    (RuntimeError, "huber_loss does not support non-positive values for delta.",
     lambda L: _F(L).huber_loss(_t(L, X), _t(L, X), delta=0.0)),
]


@pytest.mark.parametrize("exc,match,fn", BAD)
def test_bad_targets_raise_torch_errors(exc, match, fn):
    # torch's messages say torch.Size; convkit's say the same for the shapes it names
    _both_raise(exc, match, fn)
