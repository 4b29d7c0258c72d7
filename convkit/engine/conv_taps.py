"""The "taps" algorithm: the universal fallback of the convolution primitive family.

All three are cross-correlations in PyTorch's sense (the kernel is not flipped)::

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xpad[n, g*Cg + c, p*stride + k*dilation]

with ``xpad`` the input padded by ``(lo, hi)`` zeros per spatial axis. Each is computed as
a sum over kernel offsets ``k`` of one channel contraction on a strided window of the
padded input ("shifted GEMM"): memory stays at one window view, no im2col buffer.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from convkit.engine.conv import Algorithm, ConvProblem, conv_output_shape, register

__all__ = ["conv_forward", "conv_grad_input", "conv_grad_weight"]

Pairs = tuple[tuple[int, int], ...]


def _window(xpad: np.ndarray, offset: tuple[int, ...], out_shape: tuple[int, ...],
            stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[slice, ...]:
    """The slices of ``xpad`` that kernel tap ``offset`` reads for every output position."""
    return (slice(None), slice(None)) + tuple(
        slice(k * d, k * d + s * (n - 1) + 1, s)
        for k, d, s, n in zip(offset, dilation, stride, out_shape, strict=True))


def _grouped(a: np.ndarray, groups: int) -> np.ndarray:
    # (N, C, *sp) -> (N, G, C/G, *sp)
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, *a.shape[2:])


def conv_forward(x: np.ndarray, w: np.ndarray, stride: tuple[int, ...], padding: Pairs,
                 dilation: tuple[int, ...], groups: int) -> np.ndarray:
    """Cross-correlate ``x`` (N, C, *sp) with ``w`` (O, C/groups, *k) -> (N, O, *out)."""
    n, nd = x.shape[0], w.ndim - 2
    kernel = w.shape[2:]
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple(padding)) if any(map(any, padding)) else x
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])  # (G, O/G, C/G, *k)
    dtype = np.result_type(x.dtype, w.dtype)
    out = np.zeros((n, groups, w.shape[0] // groups) + out_shape, dtype=dtype)
    spatial = "".join(chr(ord("h") + i) for i in range(nd))
    contraction = f"goc,ngc{spatial}->ngo{spatial}"
    for offset in itertools.product(*(range(k) for k in kernel)):
        window = _grouped(xpad[_window(xpad, offset, out_shape, stride, dilation)], groups)
        out += np.einsum(contraction, wg[(Ellipsis,) + offset], window, optimize=True)
    return out.reshape(n, w.shape[0], *out_shape)


def conv_grad_input(grad_out: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                    stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                    groups: int) -> np.ndarray:
    """d(loss)/d(x) from d(loss)/d(out): scatter every tap back through its window.

    This is also the transposed convolution of ``grad_out`` with ``w``.
    """
    n, nd = grad_out.shape[0], w.ndim - 2
    out_shape = grad_out.shape[2:]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(input_shape[2:], padding, strict=True))
    gpad = np.zeros((n, input_shape[1]) + padded, dtype=np.result_type(grad_out, w))
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    gg = _grouped(grad_out, groups)  # (N, G, O/G, *out)
    spatial = "".join(chr(ord("h") + i) for i in range(nd))
    contraction = f"goc,ngo{spatial}->ngc{spatial}"
    for offset in itertools.product(*(range(k) for k in w.shape[2:])):
        target = gpad[_window(gpad, offset, out_shape, stride, dilation)]
        contribution = np.einsum(contraction, wg[(Ellipsis,) + offset], gg, optimize=True)
        target += contribution.reshape(target.shape)
    crop = (slice(None), slice(None)) + tuple(
        slice(lo, lo + s) for s, (lo, _) in zip(input_shape[2:], padding, strict=True))
    return np.ascontiguousarray(gpad[crop])


def conv_grad_weight(x: np.ndarray, grad_out: np.ndarray, weight_shape: tuple[int, ...],
                     stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                     groups: int) -> np.ndarray:
    """d(loss)/d(w): correlate the input windows with the output gradient, tap by tap."""
    nd = len(weight_shape) - 2
    out_shape = grad_out.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple(padding)) if any(map(any, padding)) else x
    gg = _grouped(grad_out, groups)
    gw = np.zeros((groups, weight_shape[0] // groups) + tuple(weight_shape[1:]),
                  dtype=np.result_type(x, grad_out))
    spatial = "".join(chr(ord("h") + i) for i in range(nd))
    contraction = f"ngo{spatial},ngc{spatial}->goc"
    for offset in itertools.product(*(range(k) for k in weight_shape[2:])):
        window = _grouped(xpad[_window(xpad, offset, out_shape, stride, dilation)], groups)
        gw[(Ellipsis,) + offset] = np.einsum(contraction, gg, window, optimize=True)
    return gw.reshape(weight_shape)


class Taps(Algorithm):
    """Every dtype and every geometry: one einsum per kernel tap on a strided window."""

    name = "taps"
    dtypes = ()  # all

    def supports(self, p: ConvProblem) -> bool:
        return True

    def workspace(self, p: ConvProblem) -> int:
        # the zero-padded input copy, plus one tap's contraction result
        itemsize = p.dtype.itemsize
        padded = p.x_shape[0] * p.x_shape[1] * math.prod(
            s + lo + hi for s, (lo, hi) in zip(p.x_shape[2:], p.padding, strict=True))
        return (padded + math.prod(p.out_shape)) * itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        taps = math.prod(p.w_shape[2:])
        return (1.0, float(taps), float(p.macs), float(math.prod(p.out_shape) * taps))

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        args = (p.stride, p.padding, p.dilation, p.groups)
        if p.kind == "forward":
            return conv_forward(a, b, *args)
        if p.kind == "grad_input":
            return conv_grad_input(a, b, p.x_shape, *args)
        return conv_grad_weight(a, b, p.w_shape, *args)


register(Taps())
