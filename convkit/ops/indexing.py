"""Indexing: ``x[...]`` and ``x[...] = v`` with PyTorch's view and copy rules.

Basic indices (ints, slices, None, Ellipsis) give views built from ``select``, ``slice``
and ``unsqueeze``; any tensor, list, array or bool index makes it advanced indexing, which
copies (NumPy's rules, which PyTorch shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.ops.inplace import inplace
from convkit.ops.shape import select, slice_dim, unsqueeze

__all__ = ["getitem", "setitem", "slice_backward", "take_flat", "index_put"]


def _is_basic(item: Any) -> bool:
    return item is None or item is Ellipsis or isinstance(item, slice) or (
        isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_))


def _as_index_tuple(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


def _expand_ellipsis(items: tuple[Any, ...], ndim: int) -> list[Any]:
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    out: list[Any] = []
    for item in items:
        if item is Ellipsis:
            out.extend([slice(None)] * (ndim - consumed))
        else:
            out.append(item)
    return out


def _basic_view(x: Tensor, items: tuple[Any, ...]) -> Tensor:
    result, dim = x, 0
    for item in _expand_ellipsis(items, x.ndim):
        if item is None:
            result = unsqueeze(result, dim)
            dim += 1
        elif isinstance(item, slice):
            size = result.shape[dim]
            step = 1 if item.step is None else int(item.step)
            if step <= 0:
                raise ValueError(f"step must be greater than zero (got {step})")
            start, stop, _ = slice(item.start, item.stop, 1).indices(size)
            stop = max(stop, start)
            if (start, stop, step) != (0, size, 1):
                result = slice_dim(result, dim, start, stop, step)
            dim += 1
        else:
            size = result.shape[dim]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            result = select(result, dim, int(item))
    if result is x:  # x[:] and x[...] are still new view objects in PyTorch
        result = slice_dim(x, 0, 0, x.shape[0], 1) if x.ndim else x.view(())
    return result


def _numpy_index(index: Any, x: Tensor) -> Any:
    """Convert tensors in an index to arrays NumPy can use, checking their dtypes."""
    items = []
    for item in _as_index_tuple(index):
        if isinstance(item, Tensor):
            if not (item.dtype in (_dtypes.int64, _dtypes.int32, _dtypes.int16, _dtypes.int8,
                                   _dtypes.uint8, _dtypes.bool)):
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors (got {item.dtype})")
            item = item._data
        elif isinstance(item, Sequence) and not isinstance(item, str):
            item = np.asarray(item)
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors "
                             f"(got an index of dtype {item.dtype})")
        if isinstance(item, float | str):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte or bool tensors are valid indices (got "
                             f"{type(item).__name__})")
        items.append(item)
    return tuple(items)


def _check_bounds(x: Tensor, np_index: tuple[Any, ...]) -> None:
    try:
        x._data[np_index]
    except IndexError as e:
        msg = str(e).replace("axis", "dimension").replace("array", "tensor")
        raise IndexError(msg) from None


class Index(Function):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, np_index: tuple[Any, ...]) -> np.ndarray:
        ctx.np_index = np_index
        ctx.shape = tuple(x.shape)
        return np.array(x._data[np_index], copy=True)

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        zeros = Tensor._from_array(np.zeros(ctx.shape, grad.dtype.np))
        return IndexPut.apply(zeros, ctx.np_index, grad, True), None


class IndexPut(Function):
    """``out = x.clone(); out[index] = values`` (or ``+=``, summing repeated indices)."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, np_index: tuple[Any, ...], values: Tensor,
                accumulate: bool) -> np.ndarray:
        ctx.np_index, ctx.accumulate = np_index, accumulate
        ctx.values_shape = tuple(values.shape)
        out = x._data.copy()
        v = values._data.astype(out.dtype, copy=False)
        try:
            if accumulate:
                np.add.at(out, np_index, v)
            else:
                out[np_index] = v
        except ValueError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be "
                               f"broadcast to indexing result of shape "
                               f"{list(out[np_index].shape)}") from None
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor | None, ...]:
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad if ctx.accumulate else IndexPut.apply(
                grad, ctx.np_index, Tensor._from_array(np.zeros((), grad.dtype.np)), False)
        grad_values = Index.apply(grad, ctx.np_index) if ctx.needs_input_grad[2] else None
        return grad_x, None, grad_values, None


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: a view for basic indices, a copy for advanced ones."""
    items = _as_index_tuple(index)
    if all(_is_basic(i) for i in items):
        return _basic_view(x, items)
    np_index = _numpy_index(index, x)
    _check_bounds(x, np_index)
    return Index.apply(x, np_index)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value`` with broadcasting; the value is cast to ``x``'s dtype."""
    items = _as_index_tuple(index)
    src = value if isinstance(value, Tensor) else Tensor._from_array(
        np.asarray(value, dtype=x.dtype.np))
    if all(_is_basic(i) for i in items):
        target = _basic_view(x, items)
        _copy_into(target, src)
        return
    np_index = _numpy_index(index, x)
    _check_bounds(x, np_index)
    inplace(x, lambda t: IndexPut.apply(t, np_index, src.to(x.dtype), False), src)


def _copy_into(target: Tensor, src: Tensor) -> None:
    from convkit.ops.elementwise import copy_

    copy_(target, src)


def slice_backward(grad: Tensor, shape: tuple[int, ...], dim: int, start: int, stop: int,
                   step: int) -> Tensor:
    """Gradient of ``x[..., start:stop:step, ...]`` placed back into zeros of ``shape``."""
    index = (slice(None),) * dim + (slice(start, stop, step),)
    zeros = Tensor._from_array(np.zeros(shape, grad.dtype.np))
    return IndexPut.apply(zeros, index, grad, False)


def take_flat(x: Tensor, positions: np.ndarray) -> Tensor:
    """``x.reshape(-1)[positions]`` (differentiable), shaped like ``positions``."""
    return Index.apply(x.reshape(-1), (positions,))


def index_put(x: Tensor, indices: tuple[Any, ...], values: Tensor,
              accumulate: bool = False) -> Tensor:
    return IndexPut.apply(x, _numpy_index(indices, x), values, accumulate)
