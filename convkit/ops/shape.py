"""View and shape operations with PyTorch's stride rules.

Every view op computes the new ``(shape, strides, storage_offset)`` the way PyTorch does and
returns a tensor on the same storage; only ``reshape`` (when no view exists), ``flip``,
``repeat``, ``cat`` and ``stack`` copy. Each op's backward sits beside its forward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor, contiguous_strides, wrap_dim

__all__ = [
    "view", "reshape", "as_strided", "squeeze", "unsqueeze", "flatten", "unflatten", "transpose",
    "permute", "t", "expand", "expand_as", "repeat", "narrow", "split", "chunk", "flip", "cat",
    "stack", "contiguous", "clone", "movedim", "unbind", "select", "to_dtype",
]

Shape = tuple[int, ...]


def _size_args(size: Sequence[Any], name: str) -> Shape:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``, as PyTorch does."""
    if len(size) == 1 and isinstance(size[0], Sequence | np.ndarray | Tensor) and not (
            isinstance(size[0], Tensor | np.ndarray) and size[0].ndim == 0):
        size = tuple(size[0])
    out = []
    for i, n in enumerate(size):
        if isinstance(n, Tensor):
            n = n.item()
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"{name}(): argument 'size' must be a tuple of ints, but found element "
                            f"of type {type(n).__name__} at pos {i}")
        out.append(int(n))
    return tuple(out)


def infer_size(shape: Shape, numel: int) -> Shape:
    """Resolve one ``-1`` in ``shape`` so that it holds ``numel`` elements.

    Mirrors ATen's ``infer_size_impl`` check for check, so the messages (and which one wins
    when a shape has several faults) are PyTorch's.
    """
    known, unknown = 1, None
    for i, n in enumerate(shape):
        if n == -1:
            if unknown is not None:
                raise RuntimeError("only one dimension can be inferred")
            unknown = i
        elif n >= 0:
            known *= n
        else:
            raise RuntimeError(f"invalid shape dimension {n} at index {i} of shape "
                               f"{list(shape)}")
    if numel == known or (unknown is not None and known > 0 and numel % known == 0):
        if unknown is None:
            return shape
        if known == 0:  # [0, -1] of 0 elements: any size fits the -1
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               "because the unspecified dimension size -1 can be any value and "
                               "is ambiguous")
        return shape[:unknown] + (numel // known,) + shape[unknown + 1:]
    raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


def view_strides(old_shape: Shape, old_strides: Shape, new_shape: Shape) -> Shape | None:
    """Strides that let ``new_shape`` view the same memory, or None if a copy is needed.

    Walk both shapes from the innermost dim, chunk by chunk: a chunk is a run of old dims
    that are contiguous with each other; the new dims must tile each chunk exactly.
    """
    numel = math.prod(old_shape)
    if numel == 0:
        return old_strides if old_shape == new_shape else contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    if not old_shape:  # a 0-d tensor viewed as (1, 1, ...)
        return tuple(1 for _ in new_shape)
    view_d = len(new_shape) - 1
    chunk_base = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        chunk_ends = d == 0 or (old_shape[d - 1] != 1
                                and old_strides[d - 1] != tensor_numel * chunk_base)
        if chunk_ends:
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = old_strides[d - 1]
                tensor_numel = view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


# --------------------------------------------------------------------------- generic views
class _Restride(Function):
    """A view given by its new geometry; backward reshapes/scatters through ``ctx.back``."""

    is_view = True

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, shape: Shape, strides: Shape, offset: int,
                back: Any) -> Tensor:
        ctx.back = back
        return x._make_view(shape, strides, offset)

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        return ctx.back(grad), None, None, None, None


def _restride(x: Tensor, shape: Shape, strides: Shape, offset: int, back: Any,
              node: str) -> Tensor:
    cls = _VIEW_CLASSES.get(node)
    if cls is None:
        cls = _VIEW_CLASSES[node] = type(node.removesuffix("Backward0"), (_Restride,),
                                         {"node_name": node})
    return cls.apply(x, tuple(shape), tuple(strides), offset, back)


_VIEW_CLASSES: dict[str, type[_Restride]] = {}


def view(x: Tensor, *shape: Any) -> Tensor:
    """A tensor of a new shape on the same memory; raises when that needs a copy."""
    if len(shape) == 1 and isinstance(shape[0], _dtypes.dtype):
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    new_shape = infer_size(_size_args(shape, "view"), x.numel())
    strides = view_strides(tuple(x.shape), x.stride(), new_shape)
    if strides is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    old = tuple(x.shape)
    return _restride(x, new_shape, strides, x.storage_offset(), lambda g: g.reshape(old),
                     "ViewBackward0")


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """``view`` where the memory allows it, otherwise a contiguous copy."""
    new_shape = infer_size(_size_args(shape, "reshape"), x.numel())
    if view_strides(tuple(x.shape), x.stride(), new_shape) is not None:
        return view(x, new_shape)
    return view(clone(x, memory_format="contiguous"), new_shape)


def as_strided(x: Tensor, size: Sequence[int], stride: Sequence[int],
               storage_offset: int | None = None) -> Tensor:
    """A view with explicit geometry on ``x``'s storage (elements may overlap)."""
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    offset = x.storage_offset() if storage_offset is None else int(storage_offset)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(stride)} strides for "
                           f"{len(size)} dims")
    if any(n < 0 for n in size) or any(s < 0 for s in stride) or offset < 0:
        raise RuntimeError(f"as_strided: negative size, stride or storage offset in size={size}, "
                           f"stride={stride}, storage_offset={offset}")
    if math.prod(size) and offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) \
            >= x._storage.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset} require more elements than the storage's "
                           f"{x._storage.size}")
    geometry = (tuple(x.shape), x.stride(), x.storage_offset())

    def back(g: Tensor) -> Tensor:
        return _AsStridedScatter.apply(g, geometry, (size, stride, offset))

    return _restride(x, size, stride, offset, back, "AsStridedBackward0")


class _AsStridedScatter(Function):
    """Backward of ``as_strided``: sum the view's gradient into the input's positions."""

    @staticmethod
    def forward(ctx: BackwardNode, g: Tensor, inp: tuple[Shape, Shape, int],
                out: tuple[Shape, Shape, int]) -> np.ndarray:
        ctx.geometry = inp, out
        return _scatter_by_geometry(g._data, inp, out)

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None, None]:
        inp, out = ctx.geometry
        return _gather_by_geometry(grad, inp, out), None, None


def _storage_index(shape: Shape, strides: Shape, offset: int) -> np.ndarray:
    """Storage position of each element of a view, as an int array of the view's shape."""
    idx = np.full(shape, offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, strides, strict=True)):
        idx += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - d - 1))
    return idx


def _scatter_by_geometry(g: np.ndarray, inp: tuple[Shape, Shape, int],
                         out: tuple[Shape, Shape, int]) -> np.ndarray:
    in_pos = _storage_index(*inp).reshape(-1)
    out_pos = _storage_index(*out).reshape(-1)
    size = int(max(in_pos.max(initial=0), out_pos.max(initial=0))) + 1
    storage = np.zeros(size, g.dtype)
    np.add.at(storage, out_pos, g.reshape(-1))
    return storage[in_pos].reshape(inp[0])


def _gather_by_geometry(grad: Tensor, inp: tuple[Shape, Shape, int],
                        out: tuple[Shape, Shape, int]) -> Tensor:
    in_pos = _storage_index(*inp).reshape(-1)
    out_pos = _storage_index(*out)
    lookup = np.full(int(max(in_pos.max(initial=0), out_pos.max(initial=0))) + 1, -1)
    lookup[in_pos] = np.arange(in_pos.size)
    from convkit.ops.indexing import take_flat

    return take_flat(grad, lookup[out_pos])


def _unique_dims(dims: Sequence[int], ndim: int) -> list[int]:
    """Wrap each dim; a dim named twice is PyTorch's RuntimeError (``dim_list_to_bitset``)."""
    out: list[int] = []
    for d in dims:
        w = wrap_dim(d, ndim)
        if w in out:
            raise RuntimeError(f"dim {w} appears multiple times in the list of dims")
        out.append(w)
    return out


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Drop dims of size 1 (all of them, or those among ``dim`` that have size 1)."""
    shape, strides = tuple(x.shape), x.stride()
    if dim is None:
        dims = set(range(x.ndim))
    else:
        dims = set(_unique_dims(dim if isinstance(dim, Sequence) else (dim,), x.ndim))
    keep = [i for i in range(x.ndim) if not (i in dims and shape[i] == 1)]
    old = shape
    return _restride(x, tuple(shape[i] for i in keep), tuple(strides[i] for i in keep),
                     x.storage_offset(), lambda g: g.reshape(old),
                     "SqueezeBackward0" if dim is None else "SqueezeBackward1")


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim`` (which may be ``x.dim()``, i.e. at the end)."""
    d = wrap_dim(dim, x.ndim + 1)
    shape, strides = list(x.shape), list(x.stride())
    stride = 1 if d >= x.ndim else shape[d] * strides[d]
    shape.insert(d, 1)
    strides.insert(d, stride)
    return _restride(x, tuple(shape), tuple(strides), x.storage_offset(),
                     lambda g: g.squeeze(d), "UnsqueezeBackward0")


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a view where the memory allows)."""
    s, e = wrap_dim(start_dim, x.ndim), wrap_dim(end_dim, x.ndim)  # 0-d: only 0 and -1
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if x.ndim == 0:
        return reshape(x, (1,))
    if s == e:
        return x
    shape = tuple(x.shape)
    return reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one of them may be -1); a view, as in PyTorch."""
    if not sizes:  # torch's Python wrapper checks this before the dim
        raise RuntimeError("unflatten: sizes must be non-empty")
    sizes = _size_args((sizes,), "unflatten")
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:  # wrap_dim lets 0 through for a 0-d tensor, but there is no size to split
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as 0 but "
                           "tensor has no dimensions")
    try:
        sizes = infer_size(sizes, x.shape[d])
    except RuntimeError as e:
        # ATen rewords only the size-mismatch error; "only one dimension can be inferred"
        # is reported as unexpected, and the other checks pass through unchanged
        if "is invalid for input of size" in str(e):
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {d} ({x.shape[d]}) in the input tensor"
                               ) from None
        if str(e) == "only one dimension can be inferred":
            raise RuntimeError(f"unflatten got an unexpected error:\n{e}") from None
        raise
    shape = tuple(x.shape)
    return view(x, shape[:d] + sizes + shape[d + 1:])


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims (a view): ``out.shape[i] == x.shape[dims[i]]``."""
    order = _size_args(dims, "permute")
    if len(order) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {x.ndim} is not equal to len(dims) = {len(order)}"
                           .replace("(sparse_coo)", ""))
    order = tuple(wrap_dim(d, x.ndim) for d in order)
    if len(set(order)) != len(order):
        raise RuntimeError(f"permute(): duplicate dims are not allowed (got {list(dims)})")
    inverse = tuple(int(i) for i in np.argsort(order))
    shape, strides = tuple(x.shape), x.stride()
    return _restride(x, tuple(shape[d] for d in order), tuple(strides[d] for d in order),
                     x.storage_offset(), lambda g: g.permute(inverse), "PermuteBackward0")


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    order = list(range(x.ndim))
    if x.ndim == 0:
        wrap_dim(dim0, 0), wrap_dim(dim1, 0)
        return _restride(x, (), (), x.storage_offset(), lambda g: g, "TransposeBackward0")
    a, b = wrap_dim(dim0, x.ndim), wrap_dim(dim1, x.ndim)
    order[a], order[b] = order[b], order[a]
    shape, strides = tuple(x.shape), x.stride()
    return _restride(x, tuple(shape[d] for d in order), tuple(strides[d] for d in order),
                     x.storage_offset(), lambda g: g.transpose(a, b), "TransposeBackward0")


def t(x: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x.view(tuple(x.shape))


def movedim(x: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move dims ``source`` to positions ``destination``; the others keep their order."""
    if isinstance(source, int) != isinstance(destination, int):
        # torch has movedim(int, int) and movedim(tuple, tuple): a mix matches neither
        raise TypeError(f"movedim() received an invalid combination of arguments - got "
                        f"({type(source).__name__}, {type(destination).__name__})")
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    wsrc = [wrap_dim(d, x.ndim) for d in src]
    wdst = [wrap_dim(d, x.ndim) for d in dst]
    if len(set(wsrc)) != len(wsrc):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src})")
    if len(set(wdst)) != len(wdst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({dst})")
    if x.ndim == 0:  # moving dim 0 (or -1) of a scalar: an alias, as in torch
        return permute(x, ())
    order = [d for d in range(x.ndim) if d not in wsrc]
    for d, s in sorted(zip(wdst, wsrc, strict=True)):
        order.insert(d, s)
    return permute(x, order)


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast size-1 dims to larger sizes without copying (stride 0); -1 keeps a size.

    The geometry is ATen's ``inferExpandGeometryImpl``: a stretched dim gets stride 0, but a
    new leading dim of size 1 gets ``size * stride`` of the dim after it (so ``zeros(3)
    .expand(1, 3)`` has strides (3, 1)), and a 0-d input gets all-zero strides.
    """
    target = _size_args(sizes, "expand")
    if len(target) < x.ndim:
        raise RuntimeError(f"expand({x.type()}{{{list(x.shape)}}}, size={list(target)}): the "
                           "number of sizes provided "
                           f"({len(target)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({x.ndim})")
    n = len(target)
    shape, strides = list(target), [0] * n  # a 0-d input: every dim is new, with stride 0
    for i in range(n - 1, -1, -1) if x.ndim else ():
        dim = x.ndim - (n - i)  # the input dim aligned with dim i (< 0: a new leading dim)
        size = x.shape[dim] if dim >= 0 else 1
        stride = x.stride()[dim] if dim >= 0 else shape[i + 1] * strides[i + 1]
        want = target[i]
        if want == -1:
            if dim < 0:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            want = size
        if size != want:
            if size != 1:
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                                   f"existing size ({size}) at non-singleton dimension {i}.  "
                                   f"Target sizes: {list(target)}.  Tensor sizes: "
                                   f"{list(x.shape)}")
            size, stride = want, 0
        shape[i], strides[i] = size, stride
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{shape}")
    old = tuple(x.shape)
    return _restride(x, tuple(shape), tuple(strides), x.storage_offset(),
                     lambda g: _sum_to(g, old), "ExpandBackward0")


def _sum_to(g: Tensor, shape: Shape) -> Tensor:
    from convkit.autograd.function import _sum_to_shape

    return _sum_to_shape(g, shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """``x.expand(other.size())``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"expand_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    return expand(x, tuple(other.shape))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view ``x[..., start:start+length, ...]`` along ``dim``."""
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:  # checked before the dim, as in ATen
        raise RuntimeError("narrow(): length must be non-negative.")
    d = wrap_dim(dim, x.ndim)
    size = x.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return slice_dim(x, d, start, start + length, 1)


def slice_dim(x: Tensor, d: int, start: int, stop: int, step: int) -> Tensor:
    """``x[..., start:stop:step, ...]`` along dim ``d`` with bounds already clamped."""
    shape, strides = list(x.shape), list(x.stride())
    n = max(0, (stop - start + step - 1) // step)
    # PyTorch moves the offset to ``start`` even when the slice is empty (x[5:] of 3 rows
    # sits at offset 3 * stride), so keep that for identical storage_offset()
    offset = x.storage_offset() + start * strides[d]
    shape[d] = n
    strides[d] *= step
    old = tuple(x.shape)

    def back(g: Tensor) -> Tensor:
        from convkit.ops.indexing import slice_backward

        return slice_backward(g, old, d, start, stop, step)

    return _restride(x, tuple(shape), tuple(strides), offset, back, "SliceBackward0")


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The view ``x[..., index, ...]``: dim ``dim`` removed."""
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.ndim)
    size = x.shape[d]
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {d} with size {size}")
    index %= size
    shape, strides = list(x.shape), list(x.stride())
    offset = x.storage_offset() + index * strides[d]
    del shape[d], strides[d]
    old = tuple(x.shape)

    def back(g: Tensor) -> Tensor:
        from convkit.ops.indexing import slice_backward

        return slice_backward(g.unsqueeze(d), old, d, index, index + 1, 1)

    return _restride(x, tuple(shape), tuple(strides), offset, back, "SelectBackward0")


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Views of consecutive pieces along ``dim``: equal pieces of a size, or given sizes.

    The checks, their order and the piece count follow ATen's ``split`` and
    ``split_with_sizes`` (a size-0 dim split by k > 0 still gives one empty piece).
    """
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    one_size = isinstance(split_size_or_sections, int | np.integer) or (
        isinstance(split_size_or_sections, Tensor) and split_size_or_sections.numel() == 1)
    if one_size:
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        size = x.shape[wrap_dim(dim, x.ndim)]
        if step == 0 and size != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        count = max(-(-size // step), 1) if step else 1
        sizes = [step] * (count - 1) + [size - step * (count - 1)]
    else:
        sizes = list(_size_args((split_size_or_sections,), "split_with_sizes"))
        size = x.shape[wrap_dim(dim, x.ndim)]
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {dim}), but got "
                               f"split_sizes={sizes}")
    d = wrap_dim(dim, x.ndim)
    pieces, start = [], 0
    for n in sizes:
        pieces.append(slice_dim(x, d, start, start + n, 1))
        start += n
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into pieces of ceil(size / chunks) (so possibly fewer than ``chunks``)."""
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = x.shape[wrap_dim(dim, x.ndim)]
    if size == 0:  # ``chunks`` empty pieces: split(0) would give only one
        return split(x, [0] * chunks, dim)
    return split(x, -(-size // chunks), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices ``x.select(dim, i)`` for every i (views)."""
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return tuple(select(x, d, i) for i in range(x.shape[d]))


# --------------------------------------------------------------------------- copies
def _non_overlapping_and_dense(shape: Shape, strides: Shape) -> bool:
    """ATen's ``is_non_overlapping_and_dense``: the strides are a permutation of contiguous
    ones, ignoring dims of size < 2 (whose strides may be anything)."""
    if len(shape) == 1:
        return shape[0] < 2 or strides[0] == 1
    expected = 1
    for stride, n in sorted((s, n) for n, s in zip(shape, strides, strict=True) if n >= 2):
        if stride != expected:
            return False
        expected *= n
    return True


def dim_order(shape: Shape, operand_strides: Sequence[Shape]) -> list[int]:
    """Dims from innermost to outermost as ATen orders them for a new output.

    A stable insertion sort (TensorIterator's ``reorder_dimensions``): compare two dims by
    the first operand whose strides for them are both non-zero; the smaller stride is
    inner, equal strides put the smaller dim inner, and otherwise dims keep their order.
    """
    n = len(shape)
    perm = list(range(n - 1, -1, -1))

    def should_swap(d0: int, d1: int) -> int:
        for strides in operand_strides:
            s0, s1 = strides[d0], strides[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    for i in range(1, n):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            cmp = should_swap(perm[d0], perm[d1])
            if cmp > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif cmp < 0:
                break
    return perm


def _infer_dense_strides(shape: Shape, strides: Shape) -> Shape:
    """ATen's ``infer_dense_strides``: dense strides in the dim order of ``strides``
    (stride-0 dims never move; size-1 dims do not advance the stride)."""
    if len(shape) <= 1:
        return (1,) * len(shape)
    out, step = [0] * len(shape), 1
    for d in dim_order(shape, [strides]):
        out[d] = step
        if shape[d] > 1:
            step *= shape[d]
    return tuple(out)


def empty_strided(shape: Shape, strides: Shape, np_dtype: Any) -> Tensor:
    """A fresh tensor with exactly these (dense) strides, size-1 dims' strides included."""
    flat = Tensor._from_array(np.empty(math.prod(shape), np_dtype))
    return flat._make_view(tuple(shape), tuple(strides), 0)


def empty_like_preserve(x: Tensor, np_dtype: Any = None) -> Tensor:
    """``empty_like(x, memory_format=preserve_format)``: x's strides if dense, else dense
    strides in x's dim order. clone, flip and dtype conversion all allocate this way."""
    shape, strides = tuple(x.shape), x.stride()
    # torch counts every empty tensor as contiguous, hence dense: its strides are kept
    if x.numel() and not _non_overlapping_and_dense(shape, strides):
        strides = _infer_dense_strides(shape, strides)
    return empty_strided(shape, strides, x.dtype.np if np_dtype is None else np_dtype)


class Clone(Function):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, contiguous: bool) -> Tensor:
        shape = tuple(x.shape)
        out = (empty_strided(shape, contiguous_strides(shape), x.dtype.np) if contiguous
               else empty_like_preserve(x))
        np.copyto(out._data, x._data)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def clone(x: Tensor, *, memory_format: Any = None) -> Tensor:
    """A copy with its own memory, laid out as ``empty_like`` lays it out (strides kept for
    dense layouts); ``memory_format=contiguous_format`` asks for a row-major copy."""
    name = str(memory_format).rsplit(".", 1)[-1]
    if name not in ("None", "preserve_format", "contiguous_format", "contiguous"):
        raise NotImplementedError(f"clone: memory_format {memory_format} is not supported")
    return Clone.apply(x, name in ("contiguous_format", "contiguous"))


def contiguous(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x`` itself if already contiguous, otherwise a row-major copy."""
    return x if x.is_contiguous() else clone(x, memory_format="contiguous")


class ToCopy(Function):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dtype: _dtypes.dtype) -> Tensor:
        out = empty_like_preserve(x, dtype.np)
        np.copyto(out._data, x._data, casting="unsafe")
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def to_dtype(x: Tensor, dtype: _dtypes.dtype, copy: bool = False) -> Tensor:
    """Convert to ``dtype`` (float to int truncates toward zero); ``x`` itself if unchanged."""
    dtype = _dtypes.to_dtype(dtype)
    if dtype is x.dtype and not copy:
        return x
    out = ToCopy.apply(x, dtype)
    if not (dtype.is_floating_point or dtype.is_complex) and out.requires_grad:
        out = out.detach()
    return out


class Flip(Function):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...]) -> Tensor:
        ctx.dims = dims
        out = empty_like_preserve(x)  # a copy (strides never go negative), laid out like x
        # a 0-d tensor accepts dim 0 (or -1) and has nothing to reverse
        np.copyto(out._data, np.flip(x._data, dims) if x.ndim else x._data)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return flip(grad, ctx.dims), None


def flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy: strides are never negative)."""
    return Flip.apply(x, tuple(_unique_dims(_size_args(dims, "flip"), x.ndim)))


class Repeat(Function):
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, reps: Shape) -> np.ndarray:
        ctx.reps = reps
        ctx.shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
        # np.tile keeps the input's layout when every repeat is 1; torch's result is fresh
        # and contiguous
        return np.asarray(np.tile(x._data.reshape(ctx.shape), reps), order="C")

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        # (r0*s0, r1*s1, ...) -> (r0, s0, r1, s1, ...), then sum over the r axes
        split_shape = [n for pair in zip(ctx.reps, ctx.shape, strict=True) for n in pair]
        g = grad.reshape(split_shape).sum(dim=tuple(range(0, len(split_shape), 2)))
        return g, None


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """Tile ``x``: ``sizes[i]`` copies along dim i (extra leading sizes add dims)."""
    reps = _size_args(sizes, "repeat")
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           f"of dimensions of tensor (got {len(reps)} repeat dims for a "
                           f"{x.ndim}-d tensor)")
    padded = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    target = [n * r for n, r in zip(padded, reps, strict=True)]
    if any(n < 0 for n in target):  # a negative repeat of a size-0 dim is still size 0
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(target)}: "
                           f"{target}")
    return Repeat.apply(x, tuple(max(r, 0) for r in reps))


def _legacy_empty(x: Tensor) -> bool:
    """PyTorch skips 1-d tensors of shape (0,) when joining, whatever the other shapes."""
    return x.ndim == 1 and x.shape[0] == 0


def _channels_last_like(shape: Shape, strides: Shape, order: tuple[int, ...]) -> bool:
    """ATen's ``is_channels_last_strides_2d_s4`` / ``_3d_s5``: strides increase along
    ``order`` (C, then W, H, [D], N), with its tie-breaks for size-1 dims."""
    if strides[1] == 0:
        return False
    smallest = 0
    for d in order:
        if shape[d] == 0 or strides[d] < smallest:
            return False
        if d == 0 and smallest == strides[1]:
            return False
        smallest = strides[d] * (shape[d] if shape[d] > 1 else 1)
    return True


def _suggest_memory_format(x: Tensor) -> str:
    """``x.suggest_memory_format()``: 'channels_last' (4-d), 'channels_last_3d' (5-d) or
    'contiguous'."""
    shape, strides = tuple(x.shape), x.stride()
    if x.ndim == 4 and _channels_last_like(shape, strides, (1, 3, 2, 0)):
        return "channels_last"
    if x.ndim == 5 and _channels_last_like(shape, strides, (1, 4, 3, 2, 0)):
        return "channels_last_3d"
    return "contiguous"


def _format_strides(shape: Shape, memory_format: str) -> Shape:
    """The strides ``empty(shape, memory_format=...)`` gives."""
    if memory_format == "contiguous":
        return contiguous_strides(shape)
    order = (1, 3, 2, 0) if memory_format == "channels_last" else (1, 4, 3, 2, 0)
    strides, step = [0] * len(shape), 1
    for d in order:
        strides[d] = step
        step *= shape[d]
    return tuple(strides)


class Cat(Function):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, dim: int, dtype: _dtypes.dtype, memory_format: str,
                *xs: Tensor) -> Tensor:
        ctx.dim = dim
        joined = [x for x in xs if not _legacy_empty(x)]
        ctx.sizes = [None if _legacy_empty(x) else x.shape[dim] for x in xs]
        if not joined:  # only (0,) tensors: torch's fallback output is a (0,) tensor
            return Tensor._from_array(np.zeros(0, dtype.np))
        shape = list(joined[0].shape)
        shape[dim] = sum(x.shape[dim] for x in joined)
        out = empty_strided(tuple(shape), _format_strides(tuple(shape), memory_format),
                            dtype.np)
        np.concatenate([x._data.astype(dtype.np, copy=False) for x in joined], axis=dim,
                       out=out._data)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor | None, ...]:
        sizes = [s for s in ctx.sizes if s is not None]
        pieces = iter(split(grad, sizes, ctx.dim) if sizes else ())
        skipped = Tensor._from_array(np.zeros(0, grad.dtype.np))  # torch's grad for a (0,)
        return (None, None, None) + tuple(skipped if s is None else next(pieces)
                                          for s in ctx.sizes)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim, following ATen's ``cat`` meta function: dtypes
    promote, 1-d (0,) inputs are skipped, and the output is channels-last when every input
    suggests the same channels-last format (contiguous otherwise)."""
    tensors = list(_check_tensor_list(tensors, "cat"))
    for i, x in enumerate(tensors):
        if x.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    kept = [x for x in tensors if not _legacy_empty(x)]
    d = wrap_dim(dim, kept[0].ndim) if kept else dim
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    dtype = _dtypes.result_type(*[_DimTensorDtype(x) for x in tensors])
    formats = {_suggest_memory_format(x) for x in tensors}
    memory_format = formats.pop() if len(formats) == 1 else "contiguous"
    if kept:
        ref = kept[0]
        for i, x in enumerate(tensors):
            if _legacy_empty(x):
                continue
            if x.ndim != ref.ndim:
                raise RuntimeError(f"Tensors must have same number of dimensions: got "
                                   f"{ref.ndim} and {x.ndim}")
            for k in range(ref.ndim):
                if k != d and x.shape[k] != ref.shape[k]:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                       f"Expected size {ref.shape[k]} but got size "
                                       f"{x.shape[k]} for tensor number {i} in the list.")
    return Cat.apply(d, dtype, memory_format, *tensors)


class _DimTensorDtype:
    """Lets every tensor of a cat take full part in promotion, whatever its dims."""

    ndim = 1

    def __init__(self, x: Tensor) -> None:
        self.dtype = x.dtype


def _check_tensor_list(tensors: Any, name: str) -> Sequence[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{name}() received an invalid combination of arguments - expected a "
                        f"tuple or list of Tensors, got {type(tensors).__name__}")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(x).__name__}")
    return tensors


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim.

    As in ATen: for a dim inside the inputs' dims this is ``cat(tensors, dim)`` viewed with
    the new dim split out (so the layout is cat's), at the end it is cat of unsqueezed inputs.
    """
    tensors = list(_check_tensor_list(tensors, "stack"))
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = wrap_dim(dim, tensors[0].ndim + 1)
    for i, x in enumerate(tensors[1:], start=1):
        if tuple(x.shape) != tuple(tensors[0].shape):
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(x.shape)} at "
                               f"entry {i}")
    if d < tensors[0].ndim:
        shape = list(tensors[0].shape)
        shape.insert(d, len(tensors))
        return view(cat(tensors, d), tuple(shape))
    return cat([unsqueeze(x, d) for x in tensors], d)
