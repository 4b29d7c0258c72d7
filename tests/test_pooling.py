"""Pooling vs PyTorch: max/avg/adaptive/lp pooling and max_unpool in 1-3 d, forward values,
indices and gradients, over hypothesis-drawn shapes and arguments; gradcheck in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as F

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def pool_case(draw: st.DrawFn, dilation: bool = True) -> dict:
    n = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(n)) if dilation else (1,) * n
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(d * (k - 1) + 1, 7)) for k, d in zip(kernel, dil))
    batched = draw(st.booleans())
    shape = ((draw(st.integers(1, 2)),) if batched else ()) + (draw(st.integers(1, 3)),) + size
    return {"n": n, "kernel": kernel, "stride": stride, "dilation": dil, "padding": pad,
            "shape": shape, "ceil_mode": draw(st.booleans()),
            "seed": draw(st.integers(0, 2**16))}


def _pair(shape: tuple[int, ...], seed: int, dtype: str = "float64"):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return (convkit.from_numpy(data.copy()).requires_grad_(),
            torch.from_numpy(data.copy()).requires_grad_())


def _check_backward(ck_out, th_out, ck_x, th_x, seed: int) -> None:
    g = np.random.default_rng(seed + 1).standard_normal(tuple(th_out.shape))
    ck_out.backward(convkit.from_numpy(g.astype(ck_out.dtype.np)))
    th_out.backward(torch.from_numpy(g.astype(ck_out.dtype.np)))
    np.testing.assert_allclose(ck_x.grad.numpy(), th_x.grad.numpy(), rtol=1e-6, atol=1e-8)


def _output_too_small(case: dict) -> bool:
    from convkit.engine.pool import pool_output_size

    spatial = case["shape"][-case["n"]:]
    return any(pool_output_size(s, k, st_, p, d, case["ceil_mode"]) <= 0 for s, k, st_, p, d in
               zip(spatial, case["kernel"], case["stride"], case["padding"], case["dilation"]))


@SETTINGS
@given(pool_case())
def test_max_pool_matches_pytorch(case: dict) -> None:
    n = case["n"]
    ck_x, th_x = _pair(case["shape"], case["seed"])
    args = (case["kernel"], case["stride"], case["padding"], case["dilation"])
    th_fn = getattr(TF, f"max_pool{n}d")
    try:
        th_out, th_idx = th_fn(th_x, *args, ceil_mode=case["ceil_mode"], return_indices=True)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(F, f"max_pool{n}d")(ck_x, *args, ceil_mode=case["ceil_mode"])
        return
    ck_out, ck_idx = getattr(F, f"max_pool{n}d")(ck_x, *args, ceil_mode=case["ceil_mode"],
                                                 return_indices=True)
    np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy())
    np.testing.assert_array_equal(ck_idx.numpy(), th_idx.numpy())
    assert ck_idx.dtype is convkit.int64
    _check_backward(ck_out, th_out, ck_x, th_x, case["seed"])


@SETTINGS
@given(pool_case(dilation=False), st.booleans(), st.sampled_from([None, 1, 3]))
def test_avg_pool_matches_pytorch(case: dict, count_include_pad: bool,
                                  divisor: int | None) -> None:
    n = case["n"]
    ck_x, th_x = _pair(case["shape"], case["seed"])
    args = (case["kernel"], case["stride"], case["padding"], case["ceil_mode"],
            count_include_pad)
    extra = {} if n == 1 else {"divisor_override": divisor}
    try:
        th_out = getattr(TF, f"avg_pool{n}d")(th_x, *args, **extra)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(F, f"avg_pool{n}d")(ck_x, *args, **extra)
        return
    ck_out = getattr(F, f"avg_pool{n}d")(ck_x, *args, **extra)
    np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    _check_backward(ck_out, th_out, ck_x, th_x, case["seed"])


@SETTINGS
@given(st.integers(1, 3), st.data())
def test_adaptive_pools_match_pytorch(n: int, data: st.DataObject) -> None:
    size = tuple(data.draw(st.integers(1, 9)) for _ in range(n))
    # None keeps the input size (PyTorch allows it from 2-d on)
    choice = st.one_of(st.integers(1, 6), st.none()) if n > 1 else st.integers(1, 6)
    out = tuple(data.draw(choice) for _ in range(n))
    shape = (2, 3) + size
    seed = data.draw(st.integers(0, 2**16))
    for kind in ("avg", "max"):
        ck_x, th_x = _pair(shape, seed)
        th_fn = getattr(TF, f"adaptive_{kind}_pool{n}d")
        ck_fn = getattr(F, f"adaptive_{kind}_pool{n}d")
        if kind == "max":
            th_out, th_idx = th_fn(th_x, out, return_indices=True)
            ck_out, ck_idx = ck_fn(ck_x, out, return_indices=True)
            np.testing.assert_array_equal(ck_idx.numpy(), th_idx.numpy())
        else:
            th_out, ck_out = th_fn(th_x, out), ck_fn(ck_x, out)
        np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy(),
                                   rtol=1e-12, atol=1e-12)
        _check_backward(ck_out, th_out, ck_x, th_x, seed)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0])
def test_lp_pool_matches_pytorch(n: int, norm_type: float) -> None:
    shape = (2, 3) + (6,) * n
    ck_x, th_x = _pair(shape, 7)
    ck_out = getattr(F, f"lp_pool{n}d")(ck_x, norm_type, 2, 2)
    th_out = getattr(TF, f"lp_pool{n}d")(th_x, norm_type, 2, 2)
    np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-10,
                               equal_nan=True)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_inverts_max_pool_like_pytorch(n: int) -> None:
    shape = (2, 2) + (5,) * n
    ck_x, th_x = _pair(shape, 3)
    ck_out, ck_idx = getattr(F, f"max_pool{n}d")(ck_x, 2, 2, return_indices=True)
    th_out, th_idx = getattr(TF, f"max_pool{n}d")(th_x, 2, 2, return_indices=True)
    size = (5,) * n
    ck_un = getattr(F, f"max_unpool{n}d")(ck_out, ck_idx, 2, 2, output_size=size)
    th_un = getattr(TF, f"max_unpool{n}d")(th_out, th_idx, 2, 2, output_size=size)
    np.testing.assert_array_equal(ck_un.detach().numpy(), th_un.detach().numpy())
    _check_backward(ck_un, th_un, ck_x, th_x, 5)


def test_max_pool_tie_goes_to_first_element() -> None:
    x = np.zeros((1, 1, 4, 4))
    ck = F.max_pool2d(convkit.from_numpy(x), 2, return_indices=True)[1]
    th = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)[1]
    np.testing.assert_array_equal(ck.numpy(), th.numpy())


@pytest.mark.parametrize("fn,args", [
    ("max_pool2d", ((3, 2), (2, 1), (1, 1), (2, 1), True)),
    ("avg_pool2d", ((3, 2), (2, 1), (1, 0), True, False, None)),
    ("adaptive_avg_pool2d", ((3, 4),)),
    ("adaptive_max_pool2d", ((3, 4),)),
    ("lp_pool2d", (2.0, (2, 3), (1, 2))),
])
def test_pool_gradcheck(fn: str, args: tuple) -> None:
    x = convkit.from_numpy(np.random.default_rng(0).standard_normal((1, 2, 6, 7)) + 3.0)
    x.requires_grad_()
    assert convkit.autograd.gradcheck(lambda t: getattr(F, fn)(t, *args), (x,))


def test_pooling_layer_has_no_parameters() -> None:
    assert list(convkit.nn.MaxPool2d(2).parameters()) == []
    assert repr(convkit.nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert repr(convkit.nn.AvgPool2d(3, 2)) == repr(torch.nn.AvgPool2d(3, 2))
    assert repr(convkit.nn.AdaptiveAvgPool2d((5, 7))) == repr(torch.nn.AdaptiveAvgPool2d((5, 7)))
    assert repr(convkit.nn.LPPool2d(2, 3)) == repr(torch.nn.LPPool2d(2, 3))
