"""convkit.nn layers and their functional forms against PyTorch: forward values, gradients
for the input and every parameter, repr, train/eval behaviour, BatchNorm running
statistics over several steps, float64 gradcheck, and PyTorch's errors."""

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

SET = settings(max_examples=20, deadline=None, derandomize=True)


def pair(arr: np.ndarray, grad: bool = True) -> tuple[convkit.Tensor, torch.Tensor]:
    a = np.ascontiguousarray(arr)
    return (convkit.from_numpy(a.copy()).requires_grad_(grad),
            torch.from_numpy(a.copy()).requires_grad_(grad))


def close(c: convkit.Tensor, t: torch.Tensor, tol: float = 1e-5) -> None:
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def copy_params(src: torch.nn.Module, dst: nn.Module) -> None:
    """torch's parameters and buffers into convkit's module, by name."""
    for name, p in src.named_parameters():
        getattr(dst, name).data[...] = convkit.from_numpy(p.detach().numpy().copy())
    for name, b in src.named_buffers():
        getattr(dst, name).data[...] = convkit.from_numpy(b.detach().numpy().copy())


def compare_module(cm: nn.Module, tm: torch.nn.Module, arr: np.ndarray, tol: float = 1e-5,
                   seed: int = 0) -> None:
    """Forward, input gradient and parameter gradients of ``cm`` and ``tm`` on ``arr``."""
    copy_params(tm, cm)
    xc, xt = pair(arr)
    yc, yt = cm(xc), tm(xt)
    close(yc, yt, tol)
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(arr.dtype)
    (yc * convkit.from_numpy(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    close(xc.grad, xt.grad, tol)
    for name, p in tm.named_parameters():
        close(getattr(cm, name).grad, p.grad, tol)


def rand(shape: tuple[int, ...], seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


# ----------------------------------------------------------------------------- activations
ACTIVATIONS = [
    ("relu", {}), ("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {}),
    ("elu", {"alpha": 0.5}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
    ("mish", {}), ("hardswish", {}), ("hardsigmoid", {}), ("sigmoid", {}), ("tanh", {}),
    ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 1.0}), ("softmax", {"dim": -1}),
    ("log_softmax", {"dim": 0}), ("softmax", {"dim": 0}), ("log_softmax", {"dim": -1}),
]


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
@SET
@given(shape=shapes, seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 4.0, 30.0]))
def test_activation_functional_matches_torch(name, kwargs, shape, seed, scale):
    arr = rand(shape, seed) * scale
    xc, xt = pair(arr)
    yc = getattr(F, name)(xc, **kwargs)
    yt = getattr(torch.nn.functional, name)(xt, **kwargs)
    close(yc, yt, 1e-7)
    g = rand(shape, seed + 1)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    close(xc.grad, xt.grad, 1e-7)


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
def test_activation_gradcheck(name, kwargs):
    # keep away from kinks (0, +-3, thresholds) where finite differences are meaningless
    arr = rand((3, 4), 7)
    arr = np.where(np.abs(arr) < 0.05, 0.3, arr)
    arr = np.where(np.abs(np.abs(arr) - 3) < 0.05, 2.5, arr)
    x = convkit.from_numpy(arr).requires_grad_()
    fn = getattr(F, name)
    assert gradcheck(lambda t: fn(t, **kwargs), (x,))


def test_large_logits_are_stable():
    xc, xt = pair(np.array([[1000.0, -1000.0, 0.0], [-50.0, 80.0, 3.0]]))
    close(F.log_softmax(xc, 1), torch.log_softmax(xt, 1), 1e-9)
    close(F.softmax(xc, 1), torch.softmax(xt, 1), 1e-9)
    close(F.softplus(xc), torch.nn.functional.softplus(xt), 1e-9)
    close(F.mish(xc), torch.nn.functional.mish(xt), 1e-9)


def test_softmax_implicit_dim_matches_torch():
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        arr = rand(shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = torch.nn.functional.softmax(torch.from_numpy(arr), dim=None)
            close(F.softmax(convkit.from_numpy(arr)), expected, 1e-9)


ACT_MODULES = [
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("ReLU6", (), {}), ("Hardtanh", (), {}),
    ("Hardtanh", (-2.0, 3.0), {}), ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}),
    ("ELU", (), {}), ("ELU", (0.3,), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Hardswish", (), {}), ("Hardsigmoid", (), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("Softmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}), ("Softplus", (), {}),
    ("Softplus", (), {"beta": 0.5, "threshold": 5.0}), ("PReLU", (), {}), ("PReLU", (3,), {}),
    ("PReLU", (3, 0.1), {}), ("Identity", (), {}), ("Flatten", (), {}), ("Flatten", (0, 2), {}),
    ("Unflatten", (1, (3, 1)), {}),
]


@pytest.mark.parametrize("name,args,kwargs", ACT_MODULES)
def test_activation_modules_match_torch(name, args, kwargs):
    cm, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(cm) == repr(tm)
    inplace = bool(args and args[-1] is True)
    if inplace:  # in-place on a leaf is refused; compare on a fresh non-leaf
        arr = rand((2, 3, 4))
        close(cm(convkit.from_numpy(arr.copy())), tm(torch.from_numpy(arr.copy())))
        return
    compare_module(cm.double(), tm.double(), rand((2, 3, 4), 3))


def test_prelu_channels_error():
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        F.prelu(convkit.randn(2, 3), convkit.randn(4))


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(convkit.randn(3), approximate="foo")


def test_integer_input_refused_like_torch():
    with pytest.raises(NotImplementedError):
        torch.nn.functional.gelu(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError):
        F.gelu(convkit.tensor([1, 2]))


# ----------------------------------------------------------------------------- linear
@SET
@given(batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), fin=st.integers(1, 5),
       fout=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 1000))
def test_linear_matches_torch(batch, fin, fout, bias, seed):
    tm = torch.nn.Linear(fin, fout, bias=bias, dtype=torch.float64)
    cm = nn.Linear(fin, fout, bias=bias, dtype=convkit.float64)
    assert repr(cm) == repr(tm)
    assert cm.weight.shape == tm.weight.shape
    compare_module(cm, tm, rand(batch + (fin,), seed), 1e-10)


def test_linear_default_init_bounds_and_errors():
    m = nn.Linear(16, 1000)
    bound = 1 / 4
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    with pytest.raises(RuntimeError,
                       match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 5x4\)"):
        F.linear(convkit.randn(2, 3), convkit.randn(4, 5))
    assert repr(nn.Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))


def test_unflatten_errors_match_torch():
    with pytest.raises(RuntimeError):
        torch.nn.Unflatten(1, (2, 4))(torch.randn(3, 6))
    with pytest.raises(RuntimeError):
        nn.Unflatten(1, (2, 4))(convkit.randn(3, 6))


# ----------------------------------------------------------------------------- dropout
def test_dropout_statistics_and_eval():
    x = convkit.ones(200, 200)
    m = nn.Dropout(0.3)
    assert repr(m) == repr(torch.nn.Dropout(0.3))
    y = m(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    m.eval()
    assert np.array_equal(m(x).numpy(), x.numpy())
    assert np.array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    assert np.array_equal(F.dropout(x, 0.0).numpy(), x.numpy())


def test_dropout_gradient_is_mask():
    x = convkit.ones(50, 50, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


@pytest.mark.parametrize("name,shape,chan", [("Dropout1d", (8, 16, 5), 2),
                                             ("Dropout1d", (16, 5), 1),
                                             ("Dropout2d", (8, 16, 5, 3), 2),
                                             ("Dropout3d", (8, 16, 2, 3, 2), 2),
                                             ("Dropout3d", (16, 2, 3, 2), 1)])
def test_feature_dropout_zeroes_whole_channels(name, shape, chan):
    m = getattr(nn, name)(0.5)
    assert repr(m) == repr(getattr(torch.nn, name)(0.5))
    y = m(convkit.ones(*shape)).numpy()
    per_channel = y.reshape(shape[:chan] + (-1,))
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    m.eval()
    assert np.all(m(convkit.ones(*shape)).numpy() == 1)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_p_validation(p):
    for cls in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d"):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            getattr(nn, cls)(p)
    with pytest.raises(ValueError, match=f"but got {p}"):
        F.dropout(convkit.randn(3), p)


def test_dropout1d_rank_error():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(convkit.randn(3, 4, 5, 6))


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_training_steps_and_eval(ndim, momentum, affine):
    C = 3
    shape = {1: (4, C, 5), 2: (4, C, 3, 2), 3: (3, C, 2, 2, 2)}[ndim]
    tm = getattr(torch.nn, f"BatchNorm{ndim}d")(C, momentum=momentum, affine=affine).double()
    cm = getattr(nn, f"BatchNorm{ndim}d")(C, momentum=momentum, affine=affine).double()
    assert repr(cm) == repr(tm)
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-0.5, 0.5)
    for step in range(4):
        arr = rand(shape, step) * (step + 1) + step
        compare_module(cm, tm, arr, 1e-9, seed=step)
        close(cm.running_mean, tm.running_mean, 1e-10)
        close(cm.running_var, tm.running_var, 1e-10)
        assert int(cm.num_batches_tracked.item()) == int(tm.num_batches_tracked) == step + 1
        for p in cm.parameters():
            p.grad = None
        tm.zero_grad()
    cm.eval()
    tm.eval()
    compare_module(cm, tm, rand(shape, 99), 1e-9)
    assert int(cm.num_batches_tracked.item()) == 4


def test_batchnorm1d_2d_input_and_no_tracking():
    tm = torch.nn.BatchNorm1d(4, track_running_stats=False).double()
    cm = nn.BatchNorm1d(4, track_running_stats=False).double()
    assert repr(cm) == repr(tm)
    assert cm.running_mean is None and cm.num_batches_tracked is None
    compare_module(cm, tm, rand((6, 4)))
    cm.eval()
    tm.eval()
    compare_module(cm, tm, rand((6, 4), 1))  # still batch statistics


def test_batchnorm_buffers_and_float32():
    cm, tm = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    assert [n for n, _ in cm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert cm.num_batches_tracked.dtype == convkit.int64
    arr = rand((5, 3, 4, 4), 2, np.float32)
    compare_module(cm, tm, arr, 1e-4)
    close(cm.running_var, tm.running_var, 1e-5)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(convkit.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(convkit.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(convkit.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(convkit.randn(2, 3), convkit.zeros(4), convkit.ones(4))


def test_batch_norm_functional_gradcheck():
    x = convkit.from_numpy(rand((3, 2, 4))).requires_grad_()
    w = convkit.from_numpy(rand((2,), 1)).requires_grad_()
    b = convkit.from_numpy(rand((2,), 2)).requires_grad_()
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (x, w, b))
    rm, rv = convkit.zeros(2, dtype=convkit.float64), convkit.ones(2, dtype=convkit.float64)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False), (x, w, b))


# ----------------------------------------------------------------------------- other norms
@SET
@given(ndim=st.integers(1, 3), affine=st.booleans(), track=st.booleans(),
       seed=st.integers(0, 1000))
def test_instancenorm_matches_torch(ndim, affine, track, seed):
    C = 3
    shape = (2, C) + (3,) * ndim
    tm = getattr(torch.nn, f"InstanceNorm{ndim}d")(C, affine=affine,
                                                  track_running_stats=track).double()
    cm = getattr(nn, f"InstanceNorm{ndim}d")(C, affine=affine,
                                            track_running_stats=track).double()
    assert repr(cm) == repr(tm)
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-0.5, 0.5)
    for step in range(2):
        compare_module(cm, tm, rand(shape, seed + step) + step, 1e-9)
        if track:
            close(cm.running_mean, tm.running_mean, 1e-10)
            close(cm.running_var, tm.running_var, 1e-10)
    cm.eval()
    tm.eval()
    compare_module(cm, tm, rand(shape, seed + 5), 1e-9)
    # unbatched input
    compare_module(cm, tm, rand(shape[1:], seed + 6), 1e-9)


@SET
@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
       norm=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
       affine=st.booleans(), bias=st.booleans(), seed=st.integers(0, 1000))
def test_layernorm_matches_torch(lead, norm, affine, bias, seed):
    tm = torch.nn.LayerNorm(norm, elementwise_affine=affine, bias=bias).double()
    cm = nn.LayerNorm(norm, elementwise_affine=affine, bias=bias).double()
    assert repr(cm) == repr(tm)
    if affine:
        with torch.no_grad():
            for p in tm.parameters():
                p.uniform_(0.5, 1.5)
    compare_module(cm, tm, rand(lead + norm, seed), 1e-9)


@SET
@given(groups=st.sampled_from([1, 2, 3, 6]), spatial=st.lists(st.integers(1, 3), max_size=2),
       affine=st.booleans(), seed=st.integers(0, 1000))
def test_groupnorm_matches_torch(groups, spatial, affine, seed):
    tm = torch.nn.GroupNorm(groups, 6, affine=affine).double()
    cm = nn.GroupNorm(groups, 6, affine=affine).double()
    assert repr(cm) == repr(tm)
    if affine:
        with torch.no_grad():
            for p in tm.parameters():
                p.uniform_(0.5, 1.5)
    shape = (2, 6) + tuple(spatial)
    if np.prod(shape) // (2 * groups) < 2:
        shape = shape + (2,)
    compare_module(cm, tm, rand(shape, seed), 1e-8)


@SET
@given(size=st.integers(1, 5), ndim=st.integers(3, 5), seed=st.integers(0, 1000),
       alpha=st.sampled_from([1e-4, 0.5]), beta=st.sampled_from([0.75, 1.5]),
       k=st.sampled_from([1.0, 2.0]))
def test_local_response_norm_matches_torch(size, ndim, seed, alpha, beta, k):
    tm, cm = torch.nn.LocalResponseNorm(size, alpha, beta, k), nn.LocalResponseNorm(size, alpha,
                                                                                    beta, k)
    assert repr(cm) == repr(tm)
    compare_module(cm, tm, rand((2, 5) + (2,) * (ndim - 2), seed), 1e-9)


def test_norm_errors():
    with pytest.raises(ValueError,
                       match=r"num_channels \(5\) must be divisible by num_groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible"):
        F.group_norm(convkit.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[2, 3\]"):
        F.layer_norm(convkit.randn(2, 3), [4])
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(convkit.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(convkit.randn(2, 3))


def test_norm_functional_gradcheck():
    x = convkit.from_numpy(rand((2, 4, 3))).requires_grad_()
    w = convkit.from_numpy(rand((4,), 1)).requires_grad_()
    b = convkit.from_numpy(rand((4,), 2)).requires_grad_()
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    w3 = convkit.from_numpy(rand((3,), 1)).requires_grad_()
    assert gradcheck(lambda x, w: F.layer_norm(x, (3,), w, w * 2), (x, w3))
    assert gradcheck(lambda x: F.local_response_norm(x, 3, 0.1, 0.75, 1.0), (x,))


# ----------------------------------------------------------------------------- resampling
@SET
@given(ndim=st.integers(1, 3), mode=st.sampled_from(["nearest", "linear", "nearest-exact"]),
       data=st.data(), seed=st.integers(0, 1000))
def test_interpolate_matches_torch(ndim, mode, data, seed):
    spatial = tuple(data.draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    if mode == "linear":
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[ndim]
    kwargs: dict = {"mode": mode}
    if data.draw(st.booleans()):
        kwargs["size"] = tuple(data.draw(st.lists(st.integers(1, 7), min_size=ndim,
                                                  max_size=ndim)))
    else:
        kwargs["scale_factor"] = data.draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 2.7]))
        kwargs["recompute_scale_factor"] = data.draw(st.sampled_from([None, True]))
        if int(min(spatial) * kwargs["scale_factor"]) < 1:
            kwargs["scale_factor"] = 2.0
    if "linear" in mode:
        kwargs["align_corners"] = data.draw(st.booleans())
    arr = rand((2, 3) + spatial, seed)
    xc, xt = pair(arr)
    yc = F.interpolate(xc, **kwargs)
    yt = torch.nn.functional.interpolate(xt, **kwargs)
    close(yc, yt, 1e-6)
    g = rand(tuple(yt.shape), seed + 1)
    yc.backward(convkit.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    close(xc.grad, xt.grad, 1e-6)


def test_interpolate_area_and_upsample_modules():
    arr = rand((1, 2, 6, 5))
    for kw in [{"size": (3, 2), "mode": "area"}, {"scale_factor": 2, "mode": "bilinear",
                                                   "align_corners": True}]:
        xc, xt = pair(arr)
        close(F.interpolate(xc, **kw), torch.nn.functional.interpolate(xt, **kw), 1e-9)
    for args in [dict(scale_factor=2), dict(size=(3, 4), mode="bilinear", align_corners=True),
                 dict(scale_factor=(2, 3.0)), dict(size=5, mode="nearest")]:
        cm, tm = nn.Upsample(**args), torch.nn.Upsample(**args)
        assert repr(cm) == repr(tm)
        compare_module(cm, tm, arr, 1e-9)
    compare_module(nn.UpsamplingBilinear2d(scale_factor=2),
                   torch.nn.UpsamplingBilinear2d(scale_factor=2), arr, 1e-9)


def test_interpolate_errors():
    x = convkit.randn(1, 2, 3)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D"):
        F.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(convkit.randn(1, 2, 3, 4), size=(4,))


def test_interpolate_gradcheck():
    x = convkit.from_numpy(rand((1, 2, 3, 4))).requires_grad_()
    for kw in [dict(scale_factor=2, mode="bilinear", align_corners=False),
               dict(size=(5, 3), mode="bilinear", align_corners=True),
               dict(size=(5, 7), mode="nearest")]:
        assert gradcheck(lambda t, kw=kw: F.interpolate(t, **kw), (x,))


@SET
@given(r=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3),
       batch=st.lists(st.integers(1, 2), max_size=2).map(tuple), seed=st.integers(0, 100))
def test_pixel_shuffle_roundtrip_matches_torch(r, c, h, w, batch, seed):
    cm, tm = nn.PixelShuffle(r), torch.nn.PixelShuffle(r)
    assert repr(cm) == repr(tm)
    compare_module(cm, tm, rand(batch + (c * r * r, h, w), seed))
    cu, tu = nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r)
    assert repr(cu) == repr(tu)
    compare_module(cu, tu, rand(batch + (c, h * r, w * r), seed))


@SET
@given(g=st.integers(1, 4), k=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), min_size=1,
                                                                  max_size=2),
       seed=st.integers(0, 100))
def test_channel_shuffle_matches_torch(g, k, spatial, seed):
    cm, tm = nn.ChannelShuffle(g), torch.nn.ChannelShuffle(g)
    assert repr(cm) == repr(tm)
    arr = rand((2, g * k) + tuple(spatial), seed)
    close(cm(convkit.from_numpy(arr)), tm(torch.from_numpy(arr)), 0)
    close(F.channel_shuffle(convkit.from_numpy(arr), g),
          torch.nn.functional.channel_shuffle(torch.from_numpy(arr), g), 0)


def test_shuffle_errors():
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(convkit.randn(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-2\)=3 is not divisible by 2"):
        F.pixel_unshuffle(convkit.randn(1, 5, 3, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(convkit.randn(5, 2), 2)
    with pytest.raises(RuntimeError, match="Got 5 channels and 2 groups"):
        F.channel_shuffle(convkit.randn(1, 5, 2, 2), 2)


# ----------------------------------------------------------------------------- a small CNN
def test_small_cnn_forward_backward_matches_torch():
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Conv2d(1, 4, 3), n.BatchNorm2d(4), n.ReLU(), n.MaxPool2d(2),
                            n.Dropout(0.0), n.Flatten(), n.Linear(4 * 3 * 3, 10))
    tm, cm = build(torch).double(), build(convkit).double()
    for (name, p) in tm.named_parameters():
        dict(cm.named_parameters())[name].data[...] = convkit.from_numpy(p.detach().numpy())
    arr = rand((5, 1, 8, 8))
    target = np.array([1, 2, 3, 0, 9])
    xc, xt = pair(arr)
    lc = nn.CrossEntropyLoss()(cm(xc), convkit.from_numpy(target))
    lt = torch.nn.CrossEntropyLoss()(tm(xt), torch.from_numpy(target))
    close(lc, lt, 1e-10)
    lc.backward()
    lt.backward()
    close(xc.grad, xt.grad, 1e-9)
    for (name, p) in tm.named_parameters():
        close(dict(cm.named_parameters())[name].grad, p.grad, 1e-9)
