"""Convolution as one differentiable op over the engine's N-d primitive family."""

from __future__ import annotations

from typing import Any

from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.engine import conv_forward, conv_grad_input, conv_grad_weight

__all__ = ["convolution"]

Pairs = tuple[tuple[int, int], ...]


class Convolution(Function):
    """``out = cross_correlate(x, w) + b``; backward gives all three gradients.

    The gradients are themselves convolutions: grad-input is the transposed convolution of
    the output gradient, grad-weight correlates the input with the output gradient.
    """

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, w: Tensor, b: Tensor | None,
                stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                groups: int) -> Any:
        ctx.save_for_backward(x, w)
        ctx.args = stride, padding, dilation, groups
        out = conv_forward(x._data, w._data, stride, padding, dilation, groups)
        if b is not None:
            out += b._data.reshape((1, -1) + (1,) * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.args
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = Tensor._from_array(conv_grad_input(g._data, w._data, tuple(x.shape), stride,
                                                    padding, dilation, groups))
        if ctx.needs_input_grad[1]:
            gw = Tensor._from_array(conv_grad_weight(x._data, g._data, tuple(w.shape), stride,
                                                     padding, dilation, groups))
        if ctx.needs_input_grad[2]:
            gb = g.sum(dim=(0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb, None, None, None, None


def convolution(x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, ...],
                padding: Pairs, dilation: tuple[int, ...], groups: int) -> Tensor:
    """Batched N-d cross-correlation; arguments already validated by the caller."""
    return Convolution.apply(x, w, b, stride, padding, dilation, groups)
