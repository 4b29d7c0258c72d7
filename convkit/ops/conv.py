"""Convolution as differentiable ops over the engine's N-d primitive family.

Three Functions, one per member of the family, each the adjoint of the others::

    Convolution     out = x (*) w  (+ b)           (N, C, *sp), (O, C/G, *k) -> (N, O, *out)
    ConvGradInput   gx  = g (*)^T w                (N, O, *out), (O, C/G, *k) -> (N, C, *sp)
    ConvGradWeight  gw  = x (*)^T g                (N, C, *sp), (N, O, *out) -> (O, C/G, *k)

``(*)`` is PyTorch's cross-correlation. Each op is bilinear, so every backward is a call of
the other two: the gradients of a convolution are themselves differentiable, and
``create_graph=True`` gives second (and higher) derivatives, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.engine import conv_forward, conv_grad_input, conv_grad_weight

__all__ = ["convolution"]

Pairs = tuple[tuple[int, int], ...]
Params = tuple[tuple[int, ...], Pairs, tuple[int, ...], int]  # stride, padding, dilation, groups


class Convolution(Function):
    """``out = cross_correlate(x, w) + b``; backward gives all three gradients."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, w: Tensor, b: Tensor | None,
                stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                groups: int) -> Any:
        ctx.save_for_backward(x, w)
        ctx.params = stride, padding, dilation, groups
        out = conv_forward(x._data, w._data, stride, padding, dilation, groups)
        if b is not None:
            out += b._data.reshape((1, -1) + (1,) * (out.ndim - 2))  # (O,) -> (1, O, 1, ...)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        params = ctx.params
        needs = ctx.needs_input_grad
        gx = ConvGradInput.apply(g, w, tuple(x.shape), params) if needs[0] else None
        gw = ConvGradWeight.apply(x, g, tuple(w.shape), params) if needs[1] else None
        gb = g.sum(dim=(0,) + tuple(range(2, g.ndim))) if needs[2] else None
        return gx, gw, gb, None, None, None, None


class ConvGradInput(Function):
    """``gx = conv_grad_input(g, w)``: the transposed convolution of ``g`` with ``w``.

    Backward, for an upstream ``h`` shaped like ``x``: ``<h, gx> = <conv(h, w), g>``, so
    ``dg = conv(h, w)`` and ``dw = conv_grad_weight(h, g)``.
    """

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, w: Tensor, input_shape: tuple[int, ...],
                params: Params) -> Any:
        ctx.save_for_backward(g, w)
        ctx.params = params
        return conv_grad_input(g._data, w._data, input_shape, *params)

    @staticmethod
    def backward(ctx: BackwardNode, h: Tensor) -> tuple[Any, ...]:
        g, w = ctx.saved_tensors
        dg = _conv_cropped(h, w, ctx.params, tuple(g.shape)) if ctx.needs_input_grad[0] else None
        dw = (ConvGradWeight.apply(h, g, tuple(w.shape), ctx.params)
              if ctx.needs_input_grad[1] else None)
        return dg, dw, None, None


class ConvGradWeight(Function):
    """``gw = conv_grad_weight(x, g)``: the input windows correlated with ``g``.

    Backward, for an upstream ``h`` shaped like ``w``: ``<h, gw> = <conv(x, h), g>``, so
    ``dx = conv_grad_input(g, h)`` and ``dg = conv(x, h)``.
    """

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, g: Tensor, weight_shape: tuple[int, ...],
                params: Params) -> Any:
        ctx.save_for_backward(x, g)
        ctx.params = params
        return conv_grad_weight(x._data, g._data, weight_shape, *params)

    @staticmethod
    def backward(ctx: BackwardNode, h: Tensor) -> tuple[Any, ...]:
        x, g = ctx.saved_tensors
        dx = (ConvGradInput.apply(g, h, tuple(x.shape), ctx.params)
              if ctx.needs_input_grad[0] else None)
        dg = _conv_cropped(x, h, ctx.params, tuple(g.shape)) if ctx.needs_input_grad[1] else None
        return dx, dg, None, None


def _conv_cropped(x: Tensor, w: Tensor, params: Params, shape: tuple[int, ...]) -> Tensor:
    """``conv(x, w)`` cut to ``shape``: when ``x`` came from a transposed convolution with
    ``output_padding``, its trailing rows reach no element of the smaller original."""
    out = Convolution.apply(x, w, None, *params)
    for axis in range(2, out.ndim):
        if out.shape[axis] != shape[axis]:
            out = out.narrow(axis, 0, shape[axis])
    return out


def convolution(x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, ...],
                padding: Pairs, dilation: tuple[int, ...], groups: int) -> Tensor:
    """Batched N-d cross-correlation; arguments already validated by the caller."""
    return Convolution.apply(x, w, b, stride, padding, dilation, groups)
