"""Pooling, padding and unfold/fold as differentiable ops over the engine's kernels.

Each Function takes validated arguments (the public checks live in
``convkit.nn.functional``) and declares its backward beside its forward. Backward passes
that are linear in the output gradient are written as ops of their own, so they stay
differentiable (``create_graph=True``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.engine import fold as fold_engine
from convkit.engine import pad as pad_engine
from convkit.engine import pool as pool_engine

__all__ = ["max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool", "max_unpool",
           "pad", "unfold", "fold"]

Ints = tuple[int, ...]
Pairs = tuple[tuple[int, int], ...]


class MaxPool(Function):
    """Max over windows; the indices of the maxima are a second, non-differentiable output."""

    node_name = "MaxPoolWithIndicesBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, kernel: Ints, stride: Ints, padding: Ints,
                dilation: Ints, ceil_mode: bool) -> tuple[np.ndarray, Tensor]:
        values, indices = pool_engine.max_pool(x._data, kernel, stride, padding, dilation,
                                               ceil_mode)
        index_tensor = Tensor._from_array(indices)
        ctx.mark_non_differentiable(index_tensor)
        ctx.meta = tuple(x.shape), len(kernel), index_tensor
        return values, index_tensor

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor, _: Any) -> tuple[Any, ...]:
        shape, nd, indices = ctx.meta
        return (MaxPoolScatter.apply(g, indices, shape, nd),) + (None,) * 5


class MaxPoolScatter(Function):
    """Gradient of max pooling: each output gradient added at its arg-max (linear in g)."""

    node_name = "MaxPoolWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, indices: Tensor, shape: Ints,
                nd: int) -> np.ndarray:
        ctx.meta = indices, nd
        return pool_engine.max_pool_backward(g._data, indices._data, shape, nd)

    @staticmethod
    def backward(ctx: BackwardNode, gg: Tensor) -> tuple[Any, ...]:
        indices, nd = ctx.meta
        return _gather_spatial(gg, indices, nd), None, None, None


def _gather_spatial(x: Tensor, indices: Tensor, nd: int) -> Tensor:
    """``out[..., p] = x[..., indices[..., p]]`` over the flattened last ``nd`` axes."""
    lead = tuple(x.shape[: x.ndim - nd])
    flat = x.reshape(lead + (math.prod(x.shape[x.ndim - nd:]),))  # not -1: lead may hold a 0
    rows = np.indices(tuple(indices.shape[: indices.ndim - nd]) + (1,) * nd, sparse=True)
    index = tuple(r.reshape(r.shape[: len(lead)] + (1,) * nd) for r in rows[: len(lead)]) + (
        indices._data,)
    return flat[index]


def max_pool(x: Tensor, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints,
             ceil_mode: bool) -> tuple[Tensor, Tensor]:
    return MaxPool.apply(x, kernel, stride, padding, dilation, ceil_mode)


class AvgPool(Function):
    node_name = "AvgPoolBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, kernel: Ints, stride: Ints, padding: Ints,
                ceil_mode: bool, count_include_pad: bool, divisor: int | None) -> np.ndarray:
        ctx.meta = tuple(x.shape), (kernel, stride, padding, ceil_mode, count_include_pad,
                                    divisor)
        return pool_engine.avg_pool(x._data, kernel, stride, padding, ceil_mode,
                                    count_include_pad, divisor)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        shape, args = ctx.meta
        return (AvgPoolAdjoint.apply(g, shape, args),) + (None,) * 6


class AvgPoolAdjoint(Function):
    """Gradient of average pooling; its own adjoint is average pooling again."""

    node_name = "AvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, shape: Ints, args: tuple[Any, ...]
                ) -> np.ndarray:
        ctx.args = args
        return pool_engine.avg_pool_backward(g._data, shape, *args)

    @staticmethod
    def backward(ctx: BackwardNode, gg: Tensor) -> tuple[Any, ...]:
        return AvgPool.apply(gg, *ctx.args), None, None


def avg_pool(x: Tensor, kernel: Ints, stride: Ints, padding: Ints, ceil_mode: bool,
             count_include_pad: bool, divisor_override: int | None) -> Tensor:
    return AvgPool.apply(x, kernel, stride, padding, ceil_mode, count_include_pad,
                         divisor_override)


class AdaptiveAvgPool(Function):
    node_name = "AdaptiveAvgPoolBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, out: Ints) -> np.ndarray:
        ctx.meta = tuple(x.shape), len(out)
        return pool_engine.adaptive_avg_pool(x._data, out)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        shape, nd = ctx.meta
        return AdaptiveAvgPoolAdjoint.apply(g, shape, nd), None


class AdaptiveAvgPoolAdjoint(Function):
    """Gradient of adaptive average pooling; its adjoint is the pooling itself."""

    node_name = "AdaptiveAvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, shape: Ints, nd: int) -> np.ndarray:
        ctx.out = tuple(g.shape[g.ndim - nd:])
        return pool_engine.adaptive_avg_pool_backward(g._data, shape, nd)

    @staticmethod
    def backward(ctx: BackwardNode, gg: Tensor) -> tuple[Any, ...]:
        return AdaptiveAvgPool.apply(gg, ctx.out), None, None


def adaptive_avg_pool(x: Tensor, out: Ints) -> Tensor:
    return AdaptiveAvgPool.apply(x, out)


class AdaptiveMaxPool(Function):
    node_name = "AdaptiveMaxPoolBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, out: Ints) -> tuple[np.ndarray, Tensor]:
        values, indices = pool_engine.adaptive_max_pool(x._data, out)
        index_tensor = Tensor._from_array(indices)
        ctx.mark_non_differentiable(index_tensor)
        ctx.meta = tuple(x.shape), len(out), index_tensor
        return values, index_tensor

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor, _: Any) -> tuple[Any, ...]:
        shape, nd, indices = ctx.meta
        return MaxPoolScatter.apply(g, indices, shape, nd), None


def adaptive_max_pool(x: Tensor, out: Ints) -> tuple[Tensor, Tensor]:
    return AdaptiveMaxPool.apply(x, out)


class MaxUnpool(Function):
    node_name = "MaxUnpoolBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, indices: Tensor, size: Ints) -> np.ndarray:
        ctx.meta = indices, len(size)
        return pool_engine.max_unpool(x._data, indices._data, size)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        indices, nd = ctx.meta
        return _gather_spatial(g, indices, nd), None, None


def max_unpool(x: Tensor, indices: Tensor, size: Ints) -> Tensor:
    return MaxUnpool.apply(x, indices, size)


class Pad(Function):
    node_name = "PadBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, pairs: Pairs, mode: str, value: float
                ) -> np.ndarray:
        ctx.meta = tuple(x.shape), pairs, mode
        return pad_engine.pad(x._data, pairs, mode, value)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        shape, pairs, mode = ctx.meta
        return PadAdjoint.apply(g, shape, pairs, mode), None, None, None


class PadAdjoint(Function):
    """Gradient of padding: the scatter-add of :func:`pad_backward`; its adjoint is padding
    with zeros as the constant."""

    node_name = "PadBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, shape: Ints, pairs: Pairs, mode: str
                ) -> np.ndarray:
        ctx.meta = pairs, mode
        return pad_engine.pad_backward(g._data, shape, pairs, mode)

    @staticmethod
    def backward(ctx: BackwardNode, gg: Tensor) -> tuple[Any, ...]:
        pairs, mode = ctx.meta
        return Pad.apply(gg, pairs, mode, 0.0), None, None, None


def pad(x: Tensor, pairs: Pairs, mode: str, value: float) -> Tensor:
    return Pad.apply(x, pairs, mode, value)


class Unfold(Function):
    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, kernel: Ints, dilation: Ints, padding: Ints,
                stride: Ints) -> np.ndarray:
        ctx.meta = tuple(x.shape[2:]), (kernel, dilation, padding, stride)
        return fold_engine.unfold(x._data, kernel, dilation, padding, stride)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        size, args = ctx.meta
        return Fold.apply(g, size, *args), None, None, None, None


class Fold(Function):
    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, cols: Tensor, size: Ints, kernel: Ints, dilation: Ints,
                padding: Ints, stride: Ints) -> np.ndarray:
        ctx.args = kernel, dilation, padding, stride
        return fold_engine.fold(cols._data, size, kernel, dilation, padding, stride)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return (Unfold.apply(g, *ctx.args),) + (None,) * 5


def unfold(x: Tensor, kernel: Ints, dilation: Ints, padding: Ints, stride: Ints) -> Tensor:
    return Unfold.apply(x, kernel, dilation, padding, stride)


def fold(cols: Tensor, size: Ints, kernel: Ints, dilation: Ints, padding: Ints,
         stride: Ints) -> Tensor:
    return Fold.apply(cols, size, kernel, dilation, padding, stride)
