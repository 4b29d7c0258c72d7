"""Indexing: ``x[...]`` and ``x[...] = v`` with PyTorch's view and copy rules.

The index is read the way PyTorch's ``THPVariable_getitem`` reads it (``applySlicing``):
left to right, ints (and 0-d integer tensors) ``select``, slices ``slice``, ``None``
``unsqueeze`` and ``...`` skips dims, all as views; tensors, lists and bools are set aside
as advanced indices at the dim they stand for. Only if there are any does a gather (a copy)
follow, on the view, with NumPy's rules for where the broadcast index dims go (which
PyTorch shares once ints are gone). So ``x[0, :, [0, 1]]`` is ``x[0][:, [0, 1]]``, as in
PyTorch (NumPy would move the advanced dims to the front).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.grad_mode import is_grad_enabled
from convkit.autograd.tensor import Tensor, contiguous_strides
from convkit.ops.inplace import inplace
from convkit.ops.shape import (
    _infer_dense_strides,
    _non_overlapping_and_dense,
    dim_order,
    empty_strided,
    expand,
    select,
    slice_dim,
    unsqueeze,
    view_strides,
)

__all__ = ["getitem", "setitem", "slice_backward", "take_flat", "index_put"]

_INDEX_DTYPES = (_dtypes.int64, _dtypes.int32, _dtypes.uint8, _dtypes.bool)


# --------------------------------------------------------------------------- reading an index
def _is_sequence(obj: Any) -> bool:
    """A list, tuple, array or tensor (what PyTorch's ``PySequence_Check`` accepts)."""
    return isinstance(obj, Sequence | np.ndarray) and not isinstance(obj, str | bytes)


def _wrap_tuple(index: Any) -> tuple[Any, ...]:
    """PyTorch's ``wrapTuple``: a tuple as is; a short list (not an array) holding a slice,
    None, ``...``, a tensor or a sequence is (NumPy's legacy rule) a tuple too; anything else
    is one item."""
    if isinstance(index, tuple):
        return index
    if isinstance(index, str | bytes):
        raise TypeError(f"new(): invalid data type '{type(index).__name__}'")
    if _is_sequence(index) and not isinstance(index, Tensor | np.ndarray):  # arrays: tensors
        try:
            n = len(index)
        except TypeError:  # a 0-d ndarray
            n = -1
        if 0 <= n < 32 and any(isinstance(i, Tensor | slice) or _is_sequence(i)
                               or i is None or i is Ellipsis for i in index):
            return tuple(index)
    return (index,)


@dataclass(frozen=True)
class _Advanced:
    """One advanced index: ``array`` for NumPy (int64, or a bool mask), and for the output
    layout the index tensor as PyTorch holds it (its strides; whether it is int64 already)."""

    array: np.ndarray
    strides: tuple[int, ...]
    is_long: bool

    @property
    def dims(self) -> int:
        """How many dims of the indexed tensor this index consumes."""
        return self.array.ndim if self.array.dtype == bool else 1


def _index_array(item: Any) -> _Advanced:
    """A tensor/list/array index as PyTorch's ``indexing_tensor_from_data`` makes it: bool
    (or uint8) data is a mask, anything else is converted to int64 (floats truncated)."""
    if isinstance(item, Tensor):
        arr = item.detach()._data
        if item.dtype in (_dtypes.bool, _dtypes.uint8):
            return _Advanced(arr.astype(bool), (), True)
        if item.dtype not in _INDEX_DTYPES:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return _Advanced(arr.astype(np.int64, copy=False), item.stride(),
                         item.dtype is _dtypes.int64)
    try:
        arr = np.asarray(item)
    except ValueError as e:  # ragged nested lists
        raise ValueError(str(e)) from None
    if arr.dtype.kind in "USO":
        raise TypeError(f"new(): invalid data type '{arr.dtype.name}'")
    if arr.dtype.kind == "b" or arr.dtype == np.uint8:
        return _Advanced(arr.astype(bool), (), True)
    arr = (arr.real if arr.dtype.kind == "c" else arr).astype(np.int64)
    return _Advanced(arr, contiguous_strides(arr.shape), True)


def _specified_dims(items: tuple[Any, ...]) -> int:
    """PyTorch's ``count_specified_dimensions``: masks count their dims; None, ``...`` and
    Python bools count nothing; anything else one."""
    count = 0
    for item in items:
        if isinstance(item, Tensor):
            count += item.ndim if item.dtype in (_dtypes.bool, _dtypes.uint8) else 1
        elif not (item is None or item is Ellipsis or isinstance(item, bool)):
            count += 1
    return count


def _apply_slicing(x: Tensor, items: tuple[Any, ...]) -> tuple[Tensor, dict[int, _Advanced]]:
    """The basic-index view of ``x``, and the advanced indices by the view dim they start at
    (PyTorch's ``applySlicing`` with ``handleDimInMultiDimIndexing``)."""
    specified = _specified_dims(items)
    if specified > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    result, dim = x, 0
    advanced: dict[int, _Advanced] = {}

    def record(index: _Advanced) -> None:
        nonlocal dim
        advanced[dim] = index
        dim += index.dims

    for real_dim, item in enumerate(items):
        if item is None:
            result = unsqueeze(result, dim)
            dim += 1
        elif item is Ellipsis:  # PyTorch lets every ``...`` skip the unnamed dims
            dim += x.ndim - specified
        elif isinstance(item, slice):
            result = _slice(result, dim, item)
            dim += 1
        elif isinstance(item, bool):
            result = unsqueeze(result, dim)
            record(_bool_index(item))
        elif isinstance(item, Tensor) and item.ndim == 0 and not (
                item.dtype.is_floating_point or item.dtype.is_complex):
            # a 0-d integer tensor (any width) is an int: a select, so still a view; a 0-d
            # bool or uint8 tensor is a bool
            if item.dtype in (_dtypes.bool, _dtypes.uint8):
                result = unsqueeze(result, dim)
                record(_bool_index(bool(item.item())))
            else:
                result = _select(result, dim, int(item.item()), real_dim)
        elif isinstance(item, Tensor | np.ndarray | Sequence) and not isinstance(
                item, str | bytes):
            index = _index_array(item)
            if index.array.ndim == 0:  # a 0-d array: an int, or a bool
                if index.array.dtype == bool:
                    result = unsqueeze(result, dim)
                    record(_bool_index(bool(index.array)))
                else:
                    result = _select(result, dim, int(index.array), real_dim)
            else:
                record(index)
        else:
            try:
                i = operator.index(item)
            except TypeError:
                _invalid_index(item)
            if isinstance(item, np.bool_):  # has __index__ in old NumPy; PyTorch refuses it
                _invalid_index(item)
            result = _select(result, dim, i, real_dim)
    return result, advanced


def _bool_index(value: bool) -> _Advanced:
    """ATen's ``boolToIndexingTensor``: a bool indexes a new size-1 dim with the int64
    index [0] (True) or [] (False); not a mask, so setitem never takes masked_fill's path."""
    return _Advanced(np.zeros(1 if value else 0, np.int64), (1,), True)


def _invalid_index(item: Any) -> None:
    """PyTorch's error for an index it cannot read (a float, a NumPy bool...)."""
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(item).__name__})")


def _dim_size(x: Tensor, dim: int) -> int:
    """``x.shape[dim]``, with PyTorch's IndexError past the last dim."""
    if dim >= x.ndim:  # several ``...`` can push past the last dim
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(x.ndim, 1)}, {max(x.ndim, 1) - 1}], but got {dim})")
    return x.shape[dim]


def _select(x: Tensor, dim: int, index: int, real_dim: int) -> Tensor:
    """``applySelect``: the view ``x.select(dim, index)``; errors name the index position."""
    size = _dim_size(x, dim)
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {real_dim} with size "
                         f"{size}")
    return select(x, dim, index)


def _slice(x: Tensor, dim: int, item: slice) -> Tensor:
    """``applySlice``: the view of ``x`` for a slice along ``dim`` (steps must be > 0)."""
    step = 1 if item.step is None else operator.index(item.step)
    if step <= 0:
        raise ValueError("step must be greater than zero")
    size = _dim_size(x, dim)
    start = None if item.start is None else operator.index(item.start)
    stop = None if item.stop is None else operator.index(item.stop)
    start, stop, _ = slice(start, stop, 1).indices(size)
    if (start, stop, step) == (0, size, 1):  # PyTorch skips full slices (no new view)
        return x
    return slice_dim(x, dim, start, max(stop, start), step)


def _numpy_index(advanced: dict[int, _Advanced]) -> tuple[Any, ...]:
    """The advanced indices as one NumPy index on the view (full slices between them)."""
    out: list[Any] = []
    dim = 0
    for d in sorted(advanced):
        out.extend([slice(None)] * (d - dim))
        out.append(advanced[d].array)
        dim = d + advanced[d].dims
    return tuple(out)


def _result_shape(shape: tuple[int, ...], np_index: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape of ``view[np_index]`` (arrays and full slices), with ATen's ``make_info``
    checks in its order; index values are not looked at (see ``_check_bounds``)."""
    consumed = sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == bool else 1
                   for i in np_index)
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)} (got "
                         f"{consumed})")
    index_shapes, positions, dim = [], [], 0
    for item in np_index:
        if isinstance(item, np.ndarray) and item.dtype == bool:
            for j, n in enumerate(item.shape):
                if n != shape[dim + j]:
                    raise IndexError(f"The shape of the mask {list(item.shape)} at index {j} "
                                     f"does not match the shape of the indexed tensor "
                                     f"{list(shape)} at index {dim + j}")
            index_shapes.append((int(np.count_nonzero(item)),))
            positions += range(dim, dim + item.ndim)
            dim += item.ndim
        else:
            if isinstance(item, np.ndarray):
                index_shapes.append(item.shape)
                positions.append(dim)
            dim += 1
    try:
        bshape = tuple(np.broadcast_shapes(*index_shapes))
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         "with shapes " + ", ".join(str(list(s)) for s in index_shapes)
                         ) from None
    if any(shape[d] == 0 for d in positions) and 0 not in bshape:
        # AdvancedIndex's early check: no index value fits a dim of size 0
        raise IndexError("index is out of bounds for dimension with size 0")
    sliced = list(shape)  # slices (full ones, but slice_backward's too) resize their dim
    for d, item in enumerate(np_index[:len(shape)]):
        if isinstance(item, slice) and d not in positions:
            sliced[d] = len(range(*item.indices(shape[d])))
    rest = [sliced[d] for d in range(len(shape)) if d not in positions]
    if not positions:
        return tuple(rest)
    if positions == list(range(positions[0], positions[-1] + 1)):
        return tuple(rest[:positions[0]]) + bshape + tuple(rest[positions[0]:])
    return bshape + tuple(rest)  # separated indices: their dims go first


def _check_bounds(shape: tuple[int, ...], np_index: tuple[Any, ...]) -> None:
    """PyTorch's index kernel refuses out-of-range values (only when it runs: an empty
    result checks nothing)."""
    dim = 0
    for item in np_index:
        if isinstance(item, np.ndarray) and item.dtype != bool and item.size:
            size = shape[dim]
            bad = item[(item < -size) | (item >= size)]
            if bad.size:
                raise IndexError(f"index {int(bad.flat[0])} is out of bounds for dimension "
                                 f"{dim} with size {size}")
        dim += item.ndim if isinstance(item, np.ndarray) and item.dtype == bool else 1


def _check_index(view: Tensor, np_index: tuple[Any, ...]) -> tuple[int, ...]:
    """Raise PyTorch's IndexError for a bad advanced index; else the result's shape."""
    shape = _result_shape(tuple(view.shape), np_index)
    if math.prod(shape):
        _check_bounds(tuple(view.shape), np_index)
    return shape


# --------------------------------------------------------------------------- the gather
class Index(Function):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, np_index: tuple[Any, ...],
                layout: tuple[int, ...] | None = None) -> Tensor:
        ctx.np_index = np_index
        ctx.shape = tuple(x.shape)
        shape = _result_shape(ctx.shape, np_index)
        # an empty result reads nothing, so PyTorch never checks its index values
        gathered = x._data[np_index] if math.prod(shape) else np.empty(shape, x.dtype.np)
        if layout is None:
            return Tensor._from_array(np.asarray(gathered, order="C"))
        out = empty_strided(gathered.shape, layout, x.dtype.np)
        np.copyto(out._data, gathered)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None, None]:
        zeros = Tensor._from_array(np.zeros(ctx.shape, grad.dtype.np))
        return IndexPut.apply(zeros, ctx.np_index, grad, True), None, None


def _index_layout(view: Tensor, advanced: dict[int, _Advanced], out_shape: tuple[int, ...]
                  ) -> tuple[int, ...]:
    """The strides of PyTorch's ``x[index]`` output (its index kernel is a TensorIterator).

    Following ATen's ``make_info``: masks become their ``nonzero()`` columns, the indices
    broadcast together (``expand``), int32 ones are converted to int64 after that, the
    indexed dims move to the front unless adjacent; the iterator's inputs are then the view
    restrided to the output shape (stride 0 across the index dims) and each index viewed into
    the output's index dims (``reshape_indexer``).
    """
    ops: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # (shape, strides) per index
    positions: list[int] = []
    for d in sorted(advanced):
        adv = advanced[d]
        if adv.array.dtype == bool:
            k, count = adv.array.ndim, int(np.count_nonzero(adv.array))
            ops += [((count,), (k,))] * k  # columns of nonzero()'s (count, k) result
            positions += range(d, d + k)
        else:
            ops.append((adv.array.shape, adv.strides))
            positions.append(d)
    bshape = tuple(np.broadcast_shapes(*[shape for shape, _ in ops]))
    index_ops = []
    for (shape, strides), adv_long in zip(ops, _long_flags(advanced), strict=True):
        strides = _expanded_strides(shape, strides, bshape)
        if not adv_long:  # ``.to(kLong)`` after the broadcast: empty_like's layout
            strides = _preserved_strides(bshape, strides)
        index_ops.append(strides)
    adjacent = positions == list(range(positions[0], positions[-1] + 1))
    rest = [d for d in range(view.ndim) if d not in positions]
    before = [d for d in rest if adjacent and d < positions[0]]
    after = [d for d in rest if d not in before]
    nb, na = len(before), len(after)
    vstrides = view.stride()
    operands = [(out_shape, tuple([vstrides[d] for d in before] + [0] * len(bshape)
                                  + [vstrides[d] for d in after]))]
    for strides in index_ops:
        shape = (1,) * nb + bshape + (1,) * na
        operands.append((shape, view_strides(bshape, strides, shape) or
                         contiguous_strides(shape)))
    return _tensor_iterator_strides(out_shape, operands)


def _long_flags(advanced: dict[int, _Advanced]) -> list[bool]:
    """Per index operand (masks give k): whether it is int64 already (no conversion)."""
    flags: list[bool] = []
    for d in sorted(advanced):
        adv = advanced[d]
        flags += [True] * adv.array.ndim if adv.array.dtype == bool else [adv.is_long]
    return flags


def _expanded_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                      target: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of ``expand(target)``: stride 0 for new and stretched dims."""
    lead = len(target) - len(shape)
    out = [0] * lead
    for n, s, t in zip(shape, strides, target[lead:], strict=True):
        out.append(s if n == t else 0)
    return tuple(out)


def _preserved_strides(shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[int, ...]:
    if math.prod(shape) == 0 or _non_overlapping_and_dense(shape, strides):
        return strides
    return _infer_dense_strides(shape, strides)


def _tensor_iterator_strides(shape: tuple[int, ...],
                             operands: list[tuple[tuple[int, ...], tuple[int, ...]]]
                             ) -> tuple[int, ...]:
    """Output strides of a TensorIterator over inputs ``(shape, strides)`` (elements).

    Mirrors ``compute_fast_setup_type`` (inputs all contiguous and of the output's shape:
    a contiguous output), ``compute_strides`` (a size-1 input dim against a larger output
    dim counts as stride 0), ``reorder_dimensions`` (a stable insertion sort of the dims,
    innermost first, by the first input's non-zero strides, ties broken by size) and
    ``allocate_or_resize_outputs`` (strides built along that order).
    """
    n = len(shape)
    if n <= 1 or all(s == shape and _contiguous(s, st) for s, st in operands):
        return contiguous_strides(shape)
    zeroed = [tuple(0 if (m == 1 and k != 1) else st for m, k, st in zip(s, shape, strides,
                                                                         strict=True))
              for s, strides in operands]
    perm = dim_order(shape, zeroed)
    if perm == list(range(n - 1, -1, -1)):
        return contiguous_strides(shape)
    out, step = [0] * n, 1
    for d in perm:  # compatible_stride: a size-0 dim zeroes the strides after it
        out[d] = step
        step *= shape[d]
    return tuple(out)


def _contiguous(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """``is_contiguous()``: row-major ignoring size-1 dims; every empty tensor is."""
    if 0 in shape:
        return True
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides), strict=True):
        if n != 1:
            if s != expected:
                return False
            expected *= n
    return True


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
        if not math.prod(_result_shape(out.shape, np_index)):
            return out  # nothing to write (and PyTorch checks no index value)
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


# --------------------------------------------------------------------------- x[index]
def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: a view for basic indices, a copy (gather) once any index is advanced."""
    view, advanced = _apply_slicing(x, _wrap_tuple(index))
    if not advanced:
        if view is x:  # x[...] and x[:] are still new tensor objects in PyTorch
            view = slice_dim(x, 0, 0, x.shape[0], 1) if x.ndim else x.view(())
        return view
    np_index = _numpy_index(advanced)
    shape = _check_index(view, np_index)
    return Index.apply(view, np_index, _index_layout(view, advanced, shape))


# --------------------------------------------------------------------------- x[index] = v
_C_TYPE_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                 "int64": "int64_t", "float16": "c10::Half", "float32": "float",
                 "float64": "double", "complex64": "c10::complex<float>",
                 "complex128": "c10::complex<double>"}


def _scalar_tensor(value: Any, d: _dtypes.dtype, check_half: bool) -> Tensor:
    """A Python number as a 0-d tensor of ``d``, converted as PyTorch's ``Scalar.to<T>()``
    (``checked_convert``): out-of-range values raise, integers may wrap into uint8 (from
    -255), floats truncate into integers, float16 saturates to inf unless ``check_half``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        raise ValueError("Overflow when unpacking long long")
    if d is _dtypes.bool:
        return Tensor._from_array(np.array(bool(value)))
    overflow = False
    if isinstance(value, complex) and not d.is_complex:
        overflow, value = value.imag != 0, value.real
    if d.is_floating_point or d.is_complex:
        if check_half or d is not _dtypes.float16:
            limit = float(np.finfo(d.to_real().np).max)
            parts = (value.real, value.imag) if isinstance(value, complex) else (value,)
            overflow = overflow or any(math.isfinite(p) and abs(p) > limit for p in parts)
    else:
        info = np.iinfo(d.np)
        if isinstance(value, float):  # no NaN or inf fits an integer
            overflow = overflow or math.isnan(value) or not info.min <= value <= info.max
        else:
            low = -int(info.max) if info.min == 0 else int(info.min)
            overflow = overflow or not low <= value <= info.max
    if overflow:
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[d.name]} "
                           "without overflow")
    if not (d.is_floating_point or d.is_complex):  # truncate, then wrap like a C cast
        return Tensor._from_array(np.array(int(value), np.int64).astype(d.np))
    with np.errstate(over="ignore"):
        return Tensor._from_array(np.array(value, d.np))


def _value_tensor(x: Tensor, value: Any) -> Tensor:
    """PyTorch's ``valueToTensor``: tensors as they are, numbers in ``x``'s dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool | int | float | complex | np.number | np.bool_):
        return _scalar_tensor(value, x.dtype, check_half=False)
    raise TypeError(f"can't assign a {type(value).__name__} to a {x.type()}")


def _strip_leading_ones(t: Tensor) -> Tensor:
    """``slicePrefix1sSize``: a value of shape (1, 1, 3) is written as one of shape (3,)."""
    shape = tuple(t.shape)
    k = 0
    while k < len(shape) and shape[k] == 1:
        k += 1
    return t if k == 0 else t.view(shape[k:])


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``: a copy into the view for basic indices (cast to ``x``'s dtype,
    broadcast), ``index_put_`` for advanced ones (the dtypes must then match, unless a single
    mask gets one value: that is ``masked_fill_``, which casts)."""
    if index is False:  # PyTorch writes nothing and checks nothing
        return
    src = _value_tensor(x, value)
    if index is True:  # ATen's set_item shortcut: a plain copy into x.unsqueeze(0)
        _copy_to(unsqueeze(x, 0), src)
        return
    view, advanced = _apply_slicing(x, _wrap_tuple(index))
    if not advanced:
        _copy_to(view, src)
        return
    np_index = _numpy_index(advanced)
    target_shape = _check_index(view, np_index)
    src = _strip_leading_ones(src)
    masks = [i for i in advanced.values() if i.array.dtype == bool]
    if len(advanced) == 1 and masks and src.numel() == 1:
        # ATen's canDispatchToMaskedFill: the value is read as a number and converted
        if src.dtype is not x.dtype:
            converted = _scalar_tensor(src.item(), x.dtype, check_half=True)
            src = _SameValue.apply(src, converted) if src.requires_grad else converted
        src = src.reshape(())
    else:
        try:
            np.broadcast_to(np.empty(tuple(src.shape), np.int8), target_shape)
        except ValueError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(src.shape)} "
                               f"cannot be broadcast to indexing result of shape "
                               f"{list(target_shape)}") from None
        if src.dtype is not x.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, "
                               f"got {_legacy(x.dtype)} for the destination and "
                               f"{_legacy(src.dtype)} for the source.")
        if _overlap(view, src) in ("full", "partial"):  # index_put_'s assert_no_overlap
            raise RuntimeError(_OVERLAP_MESSAGE)
    _index_put_(view, np_index, src)


class _SameValue(Function):
    """``converted`` (src's value cast to another dtype) with src's gradient path."""

    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, src: Tensor, converted: Tensor) -> np.ndarray:
        return converted._data.copy()

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def _legacy(d: _dtypes.dtype) -> str:
    """'Float' for float32: the names in PyTorch's index_put_ dtype message."""
    return d._tensor_type.removesuffix("Tensor")


def _overlapping(t: Tensor) -> bool:
    """Whether several elements of ``t`` share memory (an expanded dim)."""
    return any(s == 0 and n > 1 for n, s in zip(t.shape, t.stride(), strict=True))


def _index_put_(view: Tensor, np_index: tuple[Any, ...], src: Tensor) -> None:
    """Write ``src`` at ``np_index`` of ``view`` in place (recording autograd history)."""
    if _overlapping(view) and not (is_grad_enabled() and (view.requires_grad
                                                          or src.requires_grad)):
        # PyTorch allows index_put_ on expanded tensors (with a deprecation warning): the
        # write lands in the shared storage, so write through the strided array directly
        view._check_inplace()
        view._data[np_index] = src._data.astype(view.dtype.np, copy=False)
        view._bump_version()
        return
    inplace(view, lambda t: IndexPut.apply(t, np_index, src, False), src)


def _copy_to(dst: Tensor, src: Tensor) -> None:
    """ATen's ``copy_to``: equal shapes copy, a 0-d value fills, anything else is expanded
    to ``dst``'s shape (after dropping its leading 1s) first; the copy casts."""
    from convkit.ops.elementwise import copy_

    if tuple(dst.shape) != tuple(src.shape) and src.ndim:
        src = expand(_strip_leading_ones(src), tuple(dst.shape))
    if src.ndim and _overlap(dst, src) == "partial":  # copy_'s check (a fill reads a number)
        raise RuntimeError(_OVERLAP_MESSAGE)
    copy_(dst, src)


_OVERLAP_MESSAGE = ("unsupported operation: some elements of the input tensor and the "
                    "written-to tensor refer to a single memory location. Please clone() the "
                    "tensor before performing the operation.")


def _overlap(a: Tensor, b: Tensor) -> str:
    """ATen's ``get_overlap_status``: 'full' (same elements, same strides), 'partial' (their
    address ranges meet), 'no', or 'too_hard' (either is not dense: not checked at all)."""
    if a is b:
        return "full"
    if not a.numel() or not b.numel():
        return "no"
    for t in (a, b):
        if not _non_overlapping_and_dense(tuple(t.shape), t.stride()):
            return "too_hard"
    if not np.may_share_memory(a._storage, b._storage):
        return "no"
    a_begin, b_begin = a.data_ptr(), b.data_ptr()
    a_end, b_end = a_begin + a.nbytes, b_begin + b.nbytes
    if (a_begin, a_end) == (b_begin, b_end):
        return "full" if a.stride() == b.stride() else "partial"
    return "partial" if a_begin < b_end and b_begin < a_end else "no"


# --------------------------------------------------------------------------- for other ops
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
    """``torch.index_put``: out of place, one index (or None) per leading dim of ``x``."""
    np_index = tuple(slice(None) if i is None else _index_array(i).array for i in indices)
    return IndexPut.apply(x, np_index, values, accumulate)
