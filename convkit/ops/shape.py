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
    if len(size) == 1 and isinstance(size[0], Sequence | np.ndarray | Tensor):
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
    """Resolve one ``-1`` in ``shape`` so that it holds ``numel`` elements."""
    known, unknown = 1, None
    for i, n in enumerate(shape):
        if n == -1:
            if unknown is not None:
                raise RuntimeError("only one dimension can be inferred")
            unknown = i
        elif n < 0:
            raise RuntimeError(f"invalid shape dimension {n}")
        else:
            known *= n
    if unknown is None:
        if known == numel:
            return shape
    elif known != 0 and numel % known == 0:
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
            f"view size is not compatible with input tensor's size and stride (at least one "
            f"dimension spans across two contiguous subspaces): cannot view shape "
            f"{list(x.shape)} with strides {list(x.stride())} as {list(new_shape)}. "
            "Use .reshape(...) instead.")
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
    if math.prod(size) and offset + sum((n - 1) * s for n, s in zip(size, stride)) \
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


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Drop dims of size 1 (all of them, or those among ``dim`` that have size 1)."""
    shape, strides = tuple(x.shape), x.stride()
    if dim is None:
        dims = set(range(x.ndim))
    else:
        dims = {wrap_dim(d, x.ndim) for d in (dim if isinstance(dim, Sequence) else (dim,))}
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
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = wrap_dim(start_dim, x.ndim), wrap_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come "
                           f"after end_dim ({end_dim})")
    if s == e:
        return x
    shape = tuple(x.shape)
    return reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one of them may be -1)."""
    d = wrap_dim(dim, x.ndim)
    sizes = tuple(int(n) for n in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = infer_size(sizes, x.shape[d])
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({x.shape[d]}) in the input tensor") from None
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
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    src = [wrap_dim(d, x.ndim) for d in src]
    dst = [wrap_dim(d, x.ndim) for d in dst]
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return permute(x, order)


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast size-1 dims to larger sizes without copying (stride 0); -1 keeps a size."""
    target = _size_args(sizes, "expand")
    if len(target) < x.ndim:
        raise RuntimeError(f"expand({x.type()}{{{list(x.shape)}}}, size={list(target)}): the "
                           "number of sizes provided "
                           f"({len(target)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({x.ndim})")
    lead = len(target) - x.ndim
    shape, strides = [], []
    for i, n in enumerate(target):
        if i < lead:
            if n < 0:
                raise RuntimeError(f"The expanded size of the tensor ({n}) isn't allowed in a "
                                   "leading, non-existing dimension 0")
            shape.append(n)
            strides.append(0)
            continue
        have, stride = x.shape[i - lead], x.stride()[i - lead]
        if n == -1:
            n = have
        if have == n:
            shape.append(n)
            strides.append(stride)
        elif have == 1:
            shape.append(n)
            strides.append(0)
        else:
            raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing "
                               f"size ({have}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(target)}.  Tensor sizes: {list(x.shape)}")
    old = tuple(x.shape)
    return _restride(x, tuple(shape), tuple(strides), x.storage_offset(),
                     lambda g: _sum_to(g, old), "ExpandBackward0")


def _sum_to(g: Tensor, shape: Shape) -> Tensor:
    from convkit.autograd.function import _sum_to_shape

    return _sum_to_shape(g, shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, tuple(other.shape))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view ``x[..., start:start+length, ...]`` along ``dim``."""
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.ndim)
    size = x.shape[d]
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
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
    offset = x.storage_offset() + (start * strides[d] if n else 0)
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
    """Views of consecutive pieces along ``dim``: equal pieces of a size, or given sizes."""
    d = wrap_dim(dim, x.ndim)
    size = x.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}" if step == 0 else
                               f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        sizes = [min(step, size - i) for i in range(0, size, step)] if step else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(narrow(x, d, start, s))
        start += s
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ceil(size / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = x.shape[wrap_dim(dim, x.ndim)]
    return split(x, max(1, -(-size // chunks)) if size else 0, dim) if size else \
        split(x, [0] * chunks, dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = wrap_dim(dim, x.ndim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


# --------------------------------------------------------------------------- copies
class Clone(Function):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, contiguous: bool) -> np.ndarray:
        return np.array(x._data, order="C" if contiguous else "K", copy=True)

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def clone(x: Tensor, *, memory_format: Any = None) -> Tensor:
    """A copy with its own memory (same strides for dense layouts, as in PyTorch)."""
    contiguous = memory_format is not None and str(memory_format).endswith("contiguous")
    return Clone.apply(x, contiguous or not _dense(x))


def _dense(x: Tensor) -> bool:
    """Non-overlapping and dense: a permutation of a contiguous layout."""
    dims = sorted((s, n) for n, s in zip(x.shape, x.stride(), strict=True) if n != 1)
    expected = 1
    for s, n in dims:
        if s != expected:
            return False
        expected *= n
    return True


def contiguous(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x`` itself if already contiguous, otherwise a row-major copy."""
    return x if x.is_contiguous() else clone(x, memory_format="contiguous")


class ToCopy(Function):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dtype: _dtypes.dtype) -> np.ndarray:
        return x._data.astype(dtype.np, order="K")

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
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...]) -> np.ndarray:
        ctx.dims = dims
        return np.ascontiguousarray(np.flip(x._data, dims))

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return flip(grad, ctx.dims), None


def flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy: strides are never negative)."""
    order = _size_args(dims, "flip")
    wrapped = tuple(wrap_dim(d, x.ndim) for d in order)
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"dims has duplicates, original flip dims size={len(order)}, but "
                           f"unique flip dims size={len(set(wrapped))}")
    return Flip.apply(x, wrapped)


class Repeat(Function):
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, reps: Shape) -> np.ndarray:
        ctx.reps = reps
        ctx.shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
        return np.tile(x._data.reshape(ctx.shape), reps)

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
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(reps)}")
    return Repeat.apply(x, reps)


def _legacy_empty(x: Tensor) -> bool:
    """PyTorch skips 1-d tensors of shape (0,) when joining, whatever the other shapes."""
    return x.ndim == 1 and x.shape[0] == 0


class Cat(Function):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, dim: int, dtype: _dtypes.dtype, *xs: Tensor) -> np.ndarray:
        ctx.dim = dim
        joined = [x for x in xs if not _legacy_empty(x)] or list(xs)
        kept = {id(x) for x in joined}
        ctx.sizes = [x.shape[dim] if id(x) in kept else None for x in xs]
        return np.concatenate([x._data.astype(dtype.np, copy=False) for x in joined], axis=dim)

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor | None, ...]:
        pieces = iter(split(grad, [s for s in ctx.sizes if s is not None], ctx.dim))
        return (None, None) + tuple(None if s is None else next(pieces) for s in ctx.sizes)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (dtypes promote as in PyTorch)."""
    tensors = list(_check_tensor_list(tensors, "cat"))
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    dtype = _dtypes.result_type(*[_DimTensorDtype(x) for x in tensors])
    shaped = [x for x in tensors if not _legacy_empty(x)] or tensors
    ref = shaped[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    for i, x in enumerate(tensors):
        if _legacy_empty(x) and x is not ref:
            continue
        if x.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and "
                               f"{x.ndim}")
        for k in range(ref.ndim):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref.shape[k]} but got size {x.shape[k]} for "
                                   f"tensor number {i} in the list.")
    return Cat.apply(d, dtype, *tensors)


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
    """Join equal-shaped tensors along a new dim."""
    tensors = list(_check_tensor_list(tensors, "stack"))
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = wrap_dim(dim, tensors[0].ndim + 1)
    for i, x in enumerate(tensors[1:], start=1):
        if tuple(x.shape) != tuple(tensors[0].shape):
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(x.shape)} at "
                               f"entry {i}")
    return cat([unsqueeze(x, d) for x in tensors], d)
