"""``solve``/``collisions`` (the inverse shape problem) and ``contamination`` (padding in the
receptive field), each checked against PyTorch by brute force or by an independent method."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
from convkit import nn
from convkit.explain import collisions, contamination, parse_layer, solve

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def torch_size(n: int, k: int, s: int, p: int, d: int, op: int | None = None) -> int | None:
    """The output size PyTorch computes, or None if it refuses."""
    try:
        if op is None:
            return TF.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), None, s, p,
                             d).shape[-1]
        return TF.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), None, s, p,
                                   op, 1, d).shape[-1]
    except RuntimeError:
        return None


@pytest.mark.parametrize("n, out", [(10, 5), (9, 3), (7, 7), (8, 1)])
def test_solve_finds_exactly_the_arguments_pytorch_agrees_with(n: int, out: int) -> None:
    report = solve(input_size=n, output_size=out, max_kernel=5, max_stride=3, max_dilation=2)
    found = {(z.kernel_size, z.stride, z.padding, z.dilation) for z in report}
    expected = set()
    for k, s, d in itertools.product(range(1, 6), range(1, 4), range(1, 3)):
        if k == 1 and d > 1:
            continue
        for p in range(d * (k - 1) + 1):
            if torch_size(n, k, s, p, d) == out:
                expected.add((k, s, p, d))
    assert found == expected and found
    for z in report:
        layer = parse_layer(z.layer(ndim=1))  # every answer, built and run
        assert layer(convkit.zeros(1, 1, n)).shape[-1] == out
        assert n in z.collisions
    assert not report.solutions[0].lost or all(z.lost for z in report)
    assert str(report).count("\n") >= len(report.solutions)


@pytest.mark.parametrize("n, out", [(5, 10), (4, 9), (7, 7), (3, 8)])
def test_solve_transposed(n: int, out: int) -> None:
    report = solve(input_size=n, output_size=out, transposed=True, max_kernel=4,
                   max_stride=3, max_dilation=2)
    found = {(z.kernel_size, z.stride, z.padding, z.dilation, z.output_padding) for z in report}
    expected = set()
    for k, s, d in itertools.product(range(1, 5), range(1, 4), range(1, 3)):
        if k == 1 and d > 1:
            continue
        for p in range(d * (k - 1) + 1):
            for op in range(max(s, d)):
                if torch_size(n, k, s, p, d, op) == out:
                    expected.add((k, s, p, d, op))
    assert found == expected and found
    for z in report:
        layer = parse_layer(z.layer(ndim=1))
        assert layer(convkit.zeros(1, 1, n)).shape[-1] == out
        # the forward convolution maps every collision back to n; this output is one of
        # them unless output_padding >= stride (PyTorch allows it up to the dilation)
        assert (out in z.collisions) == (z.output_padding < z.stride)
        for m in z.collisions:
            assert torch_size(m, z.kernel_size, z.stride, z.padding, z.dilation) == n


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3),
       st.integers(1, 3))
def test_collisions_are_all_the_inputs_with_that_output(out: int, k: int, s: int, p: int,
                                                        d: int) -> None:
    sizes = collisions(out, k, s, p, d)
    brute = tuple(n for n in range(1, 60) if torch_size(n, k, s, p, d) == out)
    assert sizes == brute
    assert len(sizes) <= s
    # output_padding 0 .. stride-1 makes the transposed convolution give each of them back
    restored = [torch_size(out, k, s, p, d, op) for op in range(s)]
    assert tuple(size for size in restored if size is not None) == sizes


def test_solve_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="input_size"):
        solve(input_size=0, output_size=3)
    with pytest.raises(ValueError, match="kernel_size"):
        collisions(3, 0)
    assert len(solve(input_size=3, output_size=20, max_kernel=3)) == 0


# ---------------------------------------------------------------------- contamination
def padded_index_windows(n_shape: tuple[int, ...], layer: Any, mode: str) -> np.ndarray:
    """Independently, by PyTorch: the index each tap of each window reads, (windows, taps),
    -1 for padding, from F.pad of an index image and unfold."""
    nd = len(n_shape)
    ids = torch.arange(1.0, float(np.prod(n_shape)) + 1).reshape((1, 1) + n_shape)
    pairs = layer._padding_pairs()
    flat = tuple(v for lo_hi in reversed(pairs) for v in lo_hi)
    if mode == "zeros":
        padded = TF.pad(ids, flat, value=0.0)
    else:
        padded = TF.pad(ids, flat, mode=mode)
    if nd == 1:
        padded = padded.unsqueeze(-2)
        k, d, s = (1, layer.kernel_size[0]), (1, layer.dilation[0]), (1, layer.stride[0])
    else:
        k, d, s = layer.kernel_size, layer.dilation, layer.stride
    cols = TF.unfold(padded, k, dilation=d, stride=s)[0]  # (taps, windows)
    return cols.T.numpy() - 1  # index, -1 where zero padding


def geometric_windows(n_shape: tuple[int, ...], layer: Any) -> np.ndarray:
    """Which taps fall inside the input, by padding with a marker PyTorch never reads."""
    nd = len(n_shape)
    ones = torch.ones((1, 1) + n_shape)
    pairs = layer._padding_pairs()
    padded = TF.pad(ones, tuple(v for lo_hi in reversed(pairs) for v in lo_hi), value=0.0)
    if nd == 1:
        padded = padded.unsqueeze(-2)
        k, d, s = (1, layer.kernel_size[0]), (1, layer.dilation[0]), (1, layer.stride[0])
    else:
        k, d, s = layer.kernel_size, layer.dilation, layer.stride
    return TF.unfold(padded, k, dilation=d, stride=s)[0].T.numpy()  # 1 inside, 0 padding


@SETTINGS
@given(st.sampled_from([1, 2]), st.integers(1, 4), st.integers(1, 2), st.integers(1, 2),
       st.integers(0, 3), st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
       st.data())
def test_contamination_by_independent_index_images(nd: int, k: int, s: int, d: int, p: int,
                                                   mode: str, data: Any) -> None:
    sizes = tuple(data.draw(st.integers(3, 8)) for _ in range(nd))
    same = data.draw(st.booleans()) and s == 1
    layer = getattr(nn, f"Conv{nd}d")(1, 1, k, stride=s, dilation=d,
                                        padding="same" if same else p, padding_mode=mode)
    try:
        layer(convkit.zeros((1, 1) + sizes))
    except RuntimeError:
        return
    report = contamination(layer, (1, 1) + sizes)
    inside = geometric_windows(sizes, layer)
    share = 1.0 - inside.mean(axis=1)
    np.testing.assert_allclose(report.share.reshape(-1), share, atol=1e-12)
    read = padded_index_windows(sizes, layer, mode)
    repeated = [(np.count_nonzero(r >= 0) - len(set(r[r >= 0].tolist()))) / len(r)
                for r in read]
    np.testing.assert_allclose(report.repeated.reshape(-1), repeated, atol=1e-12)
    assert report.share.shape == tuple(layer(convkit.zeros((1, 1) + sizes)).shape[2:])


def test_contamination_share_by_convolving_ones() -> None:
    """The suggested check: zero-padded convolution of ones with a ones kernel counts the
    in-bounds taps of every window."""
    layer = nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(2, 1), dilation=(2, 1))
    shape = (1, 1, 9, 11)
    counts = TF.conv2d(torch.ones(shape), torch.ones(1, 1, 3, 5), None, (1, 2), (2, 1),
                       (2, 1))[0, 0].numpy()
    report = contamination(layer, shape)
    np.testing.assert_allclose(report.share, 1 - counts / 15, atol=1e-12)
    for mode in ("reflect", "replicate", "circular"):  # the same taps are padding
        other = contamination(layer, shape, padding_mode=mode)
        np.testing.assert_array_equal(other.share, report.share)
    assert report.repeated.max() == 0
    assert contamination(layer, shape, "replicate").repeated.max() > 0


def test_contamination_through_a_stack() -> None:
    """Through layers the genuine share is a mean of means: the stack of the same layers
    with averaging kernels applied to ones, zero-padded, computes it."""
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(1, 1, 5, stride=2, padding=2), nn.AvgPool2d(2, padding=1),
                          nn.ZeroPad2d((1, 0, 0, 2)), nn.Conv2d(1, 1, 3))
    shape = (1, 1, 12, 10)
    x = torch.ones(shape, dtype=torch.float64)
    x = TF.conv2d(x, torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64), padding=1)
    x = TF.conv2d(x, torch.full((1, 1, 5, 5), 1 / 25, dtype=torch.float64), stride=2,
                  padding=2)
    x = TF.avg_pool2d(x, 2, padding=1)
    x = TF.pad(x, (1, 0, 0, 2))
    x = TF.conv2d(x, torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64))
    report = contamination(model, shape)
    np.testing.assert_allclose(report.share, 1 - x[0, 0].numpy(), atol=1e-12)
    assert report.repeated is None
    assert "padding share" in str(report)


def test_contamination_refuses_what_has_no_padded_windows() -> None:
    with pytest.raises(TypeError):
        contamination(nn.ConvTranspose2d(1, 1, 3), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="padding_mode"):
        contamination(nn.Conv2d(1, 1, 3), (1, 1, 5, 5), padding_mode="mirror")
