"""Transposed convolution vs PyTorch (values and all gradients), the generic N-d surface vs
the loop oracles, and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as F
from tests import reference


@st.composite
def transpose_case(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding = tuple(draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    spatial = tuple(draw(st.integers(1, 4 if n < 3 else 3)) for _ in range(n))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    return {"n": n, "groups": groups, "kernel": kernel, "stride": stride, "dilation": dilation,
            "padding": padding, "output_padding": output_padding,
            "x": (draw(st.integers(1, 2)), c_in) + spatial, "w": (c_in, c_out // groups) + kernel,
            "bias": draw(st.booleans()), "seed": draw(st.integers(0, 999))}


def _tensors(case: dict, dtype: str = "float64"):
    rng = np.random.default_rng(case["seed"])
    arrays = [rng.standard_normal(case["x"]), rng.standard_normal(case["w"])]
    if case["bias"]:
        arrays.append(rng.standard_normal(case["w"][1] * case["groups"]))
    arrays = [a.astype(dtype) for a in arrays]
    ck = [convkit.from_numpy(a.copy()).requires_grad_() for a in arrays]
    th = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    return arrays, ck, th


@settings(max_examples=60, deadline=None)
@given(transpose_case(), st.sampled_from(["float64", "float32"]))
def test_conv_transpose_matches_pytorch(case: dict, dtype: str) -> None:
    _, ck, th = _tensors(case, dtype)
    args = (case["stride"], case["padding"], case["output_padding"], case["groups"],
            case["dilation"])
    bias_ck = ck[2] if case["bias"] else None
    bias_th = th[2] if case["bias"] else None
    name = f"conv_transpose{case['n']}d"
    try:
        th_out = getattr(TF, name)(th[0], th[1], bias_th, *args)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(F, name)(ck[0], ck[1], bias_ck, *args)
        return
    if th_out.numel() == 0:  # PyTorch raises for some empty outputs and not others
        with pytest.raises(RuntimeError, match="too small"):
            getattr(F, name)(ck[0], ck[1], bias_ck, *args)
        return
    ck_out = getattr(F, name)(ck[0], ck[1], bias_ck, *args)
    tol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy(), rtol=tol,
                               atol=tol)
    g = np.random.default_rng(1).standard_normal(tuple(th_out.shape)).astype(dtype)
    ck_out.backward(convkit.from_numpy(g.copy()))
    th_out.backward(torch.from_numpy(g.copy()))
    for a, b in zip(ck, th):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol * 10, atol=tol * 10)


@settings(max_examples=15, deadline=None)
@given(transpose_case())
def test_generic_conv_transpose_matches_loop_oracle(case: dict) -> None:
    sizes = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, k, d, op in zip(
        case["x"][2:], case["stride"], case["padding"], case["kernel"], case["dilation"],
        case["output_padding"])]
    assume(min(sizes) > 0)
    arrays, ck, _ = _tensors(case)
    bias = arrays[2] if case["bias"] else None
    expected = reference.conv_transpose_nd(arrays[0], arrays[1], bias, case["stride"],
                                           case["padding"], case["output_padding"],
                                           case["dilation"], case["groups"])
    got = F.conv_transpose(ck[0], ck[1], ck[2] if case["bias"] else None, case["stride"],
                           case["padding"], case["output_padding"], case["groups"],
                           case["dilation"])
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10, atol=1e-10)


def test_conv_transpose_is_the_adjoint_of_conv() -> None:
    rng = np.random.default_rng(0)
    x = convkit.from_numpy(rng.standard_normal((2, 3, 7, 6)))
    w = convkit.from_numpy(rng.standard_normal((4, 3, 3, 2)))
    conv = F.conv2d(x, w, stride=2, padding=1)  # (2, 4, 4, 4)
    y = convkit.from_numpy(rng.standard_normal(tuple(conv.shape)))
    back = F.conv_transpose2d(y, w, stride=2, padding=1)  # back to (2, 3, 7, 6)
    assert back.shape == x.shape
    np.testing.assert_allclose((conv * y).sum().item(), (x * back).sum().item(), rtol=1e-10)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_transpose_padding_modes(mode: str) -> None:
    rng = np.random.default_rng(3)
    x = convkit.from_numpy(rng.standard_normal((1, 2, 5, 4))).requires_grad_()
    w = convkit.from_numpy(rng.standard_normal((2, 3, 3, 3))).requires_grad_()
    out = F.conv_transpose(x, w, stride=2, padding=1, padding_mode=mode)
    expected_shape = (1, 3, 9, 7)
    assert tuple(out.shape) == expected_shape
    if mode == "zeros":  # the direct-convolution route agrees with the adjoint route
        direct = F._transpose_as_direct(x, w, (2, 2), (1, 1), (0, 0), (1, 1), 1, "constant")
        np.testing.assert_allclose(direct.detach().numpy(), out.detach().numpy(), rtol=1e-10)
    if mode == "circular":  # periodic: shifting the input shifts the output the same way
        def roll(t: convkit.Tensor) -> convkit.Tensor:
            return convkit.cat([t[..., -1:], t[..., :-1]], dim=-1)

        same = F.conv_transpose(x, w, stride=1, padding=1, padding_mode=mode)
        assert tuple(same.shape) == (1, 3, 5, 4)
        np.testing.assert_allclose(
            F.conv_transpose(roll(x), w, stride=1, padding=1, padding_mode=mode).detach()
            .numpy(), roll(same).detach().numpy(), rtol=1e-10)
    assert convkit.autograd.gradcheck(
        lambda a, b: F.conv_transpose(a, b, stride=2, padding=1, padding_mode=mode), (x, w))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.data())
def test_generic_conv_matches_loop_oracle(n: int, data: st.DataObject) -> None:
    groups = data.draw(st.integers(1, 2))
    kernel = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    stride = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    pairs = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
                  for _ in range(n))
    spatial = tuple(data.draw(st.integers(d * (k - 1) + 1, 4 if n < 4 else 3))
                    for k, d in zip(kernel, dilation))
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    x = rng.standard_normal((1, 2 * groups) + spatial)
    w = rng.standard_normal((2 * groups, 2) + kernel)
    b = rng.standard_normal(2 * groups)
    expected = reference.conv_nd(x, w, b, stride, pairs, dilation, groups)
    got = F.conv(convkit.from_numpy(x), convkit.from_numpy(w), convkit.from_numpy(b), stride,
                 pairs, dilation, groups)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_four_d_conv_equals_sum_of_three_d_convs_in_pytorch() -> None:
    """A 4-d convolution is, per kernel slice along the first axis, a sum of 3-d ones."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 4, 4, 3))
    w = rng.standard_normal((2, 3, 2, 3, 2, 2))
    got = F.conv(convkit.from_numpy(x), convkit.from_numpy(w), stride=(1, 1, 2, 1),
                 padding=(1, 0, 1, 0)).numpy()
    xt = TF.pad(torch.from_numpy(x), (0, 0, 0, 0, 0, 0, 1, 1))
    t_out = (xt.shape[2] - 2) + 1
    expected = torch.stack([
        sum(TF.conv3d(xt[:, :, t + k], torch.from_numpy(w[:, :, k]), stride=(1, 2, 1),
                      padding=(0, 1, 0)) for k in range(2)) for t in range(t_out)], dim=2)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("size,stride,kernel", [(7, 2, 3), (8, 2, 3), (8, 3, 4), (5, 4, 2),
                                                (9, 1, 4)])
def test_same_padding_any_stride(size: int, stride: int, kernel: int) -> None:
    x = convkit.randn(1, 1, size, size, dtype=convkit.float64)
    w = convkit.randn(1, 1, kernel, kernel, dtype=convkit.float64)
    out = F.conv(x, w, stride=stride, padding="same")
    assert out.shape[2:] == (-(-size // stride),) * 2
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    pairs = ((total // 2, total - total // 2),) * 2
    expected = reference.conv_nd(x.numpy(), w.numpy(), None, (stride, stride), pairs, (1, 1), 1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


def test_asymmetric_padding_matches_explicit_pad() -> None:
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    expected = TF.conv2d(TF.pad(x, (0, 2, 1, 0)), w)
    got = F.conv(convkit.from_numpy(x.numpy()), convkit.from_numpy(w.numpy()),
                 padding=((1, 0), (0, 2)))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10)


def test_complex_convolution_has_no_conjugation() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6)) + 1j * rng.standard_normal((1, 2, 6))
    w = rng.standard_normal((3, 2, 3)) + 1j * rng.standard_normal((3, 2, 3))
    got = F.conv1d(convkit.from_numpy(x), convkit.from_numpy(w), padding=1).numpy()
    expected = TF.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    got_t = F.conv_transpose1d(convkit.from_numpy(x), convkit.from_numpy(
        w.transpose(1, 0, 2).copy()), stride=2).numpy()
    expected_t = TF.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(
        w.transpose(1, 0, 2).copy()), stride=2).numpy()
    np.testing.assert_allclose(got_t, expected_t, rtol=1e-10)
