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
from convkit.autograd.grad_mode import is_grad_enabled
from convkit.autograd.tensor import Tensor
from convkit.engine import fold as fold_engine
from convkit.engine import pad as pad_engine
from convkit.engine import pool as pool_engine

__all__ = ["max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool", "max_unpool",
           "pad", "unfold", "fold"]

Ints = tuple[int, ...]
Pairs = tuple[tuple[int, int], ...]


class _ArgMax:
    """Where each max-pooling output came from: the winning window tap per output (a small
    int, cheap to keep for backward), and PyTorch's flat input indices, built from the taps
    only when someone asks (``return_indices``, double backward)."""

    __slots__ = ("taps", "input_shape", "geometry", "_indices")

    def __init__(self, taps: np.ndarray, input_shape: Ints, geometry: tuple[Ints, ...]
                 ) -> None:
        self.taps, self.input_shape, self.geometry = taps, input_shape, geometry
        self._indices: Tensor | None = None

    def indices(self) -> Tensor:
        if self._indices is None:
            spatial = self.input_shape[len(self.input_shape) - len(self.geometry[0]):]
            self._indices = Tensor._from_array(
                pool_engine.tap_to_index(self.taps, spatial, *self.geometry))
        return self._indices

    def scatter(self, g: np.ndarray) -> np.ndarray:
        return pool_engine.max_pool_tap_backward(g, self.taps, self.input_shape,
                                                 *self.geometry)


class MaxPool(Function):
    """Max over windows; the indices of the maxima are a second, non-differentiable output
    when asked for. The arg-max is found only when indices or a gradient will be needed."""

    node_name = "MaxPoolWithIndicesBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, kernel: Ints, stride: Ints, padding: Ints,
                dilation: Ints, ceil_mode: bool, return_indices: bool, track: bool) -> Any:
        if not (track or return_indices):
            return pool_engine.max_pool_values(x._data, kernel, stride, padding, dilation,
                                               ceil_mode)
        values, taps = pool_engine.max_pool_argmax(x._data, kernel, stride, padding,
                                                   dilation, ceil_mode)
        argmax = _ArgMax(taps, tuple(x.shape), (kernel, stride, padding, dilation))
        ctx.meta = tuple(x.shape), len(kernel), argmax
        if not return_indices:
            return values
        index_tensor = argmax.indices()
        ctx.mark_non_differentiable(index_tensor)
        # kept so that changing the returned indices in place fails backward, as in PyTorch
        ctx.indices = index_tensor
        return values, index_tensor

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor, *_: Any) -> tuple[Any, ...]:
        shape, nd, argmax = ctx.meta
        return (MaxPoolScatter.apply(g, argmax, shape, nd),) + (None,) * 7


class MaxPoolScatter(Function):
    """Gradient of max pooling: each output gradient added at its arg-max (linear in g).

    The arg-max is an :class:`_ArgMax` (max pooling) or a tensor of flat indices (adaptive
    max pooling)."""

    node_name = "MaxPoolWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, argmax: _ArgMax | Tensor, shape: Ints,
                nd: int) -> np.ndarray:
        ctx.meta = argmax, nd
        if isinstance(argmax, Tensor):
            return pool_engine.max_pool_backward(g._data, argmax._data, shape, nd)
        return argmax.scatter(g._data)

    @staticmethod
    def backward(ctx: BackwardNode, gg: Tensor) -> tuple[Any, ...]:
        argmax, nd = ctx.meta
        indices = argmax if isinstance(argmax, Tensor) else argmax.indices()
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
             ceil_mode: bool, return_indices: bool = True) -> tuple[Tensor, Tensor | None]:
    """``(values, indices)``, ``indices`` ``None`` unless ``return_indices``. Without
    indices and without a gradient to record, the arg-max is not searched for at all."""
    track = x.requires_grad and is_grad_enabled()
    out = MaxPool.apply(x, kernel, stride, padding, dilation, ceil_mode, bool(return_indices),
                        track)
    return out if return_indices else (out, None)


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
