"""Reductions over dims: sum, mean, var, std, prod, max/min, argmax/argmin, all/any, norm.

``dim`` may be an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as
size 1. Integer and bool sums accumulate in int64, as in PyTorch.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor, wrap_dim

__all__ = ["sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax",
           "argmin", "all", "any", "norm", "vector_norm", "matrix_norm", "nonzero", "cumsum",
           "logsumexp", "return_types"]

class return_types:  # noqa: N801 - PyTorch's namespace for named tuples
    """``max(dim)`` and ``min(dim)`` return ``(values, indices)`` tuples of these types."""

    max = namedtuple("max", ["values", "indices"])
    min = namedtuple("min", ["values", "indices"])


def _dims(x: Tensor, dim: Any) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(x.ndim))
    if isinstance(dim, Sequence):
        dims = tuple(wrap_dim(d, x.ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
        return dims if dims or x.ndim == 0 else tuple(range(x.ndim))
    return (wrap_dim(dim, x.ndim),)


def _np_axes(x: Tensor, dims: tuple[int, ...]) -> tuple[int, ...] | None:
    return dims if x.ndim else None


def _unsqueeze_to(g: Tensor, shape: tuple[int, ...], dims: tuple[int, ...],
                  keepdim: bool) -> Tensor:
    """Re-insert reduced dims (as size 1) so that ``g`` broadcasts against the input."""
    if not keepdim and shape:
        for d in sorted(dims):
            g = g.unsqueeze(d)
    return g


class Sum(Function):
    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...], keepdim: bool,
                dtype: _dtypes.dtype) -> np.ndarray:
        ctx.meta = tuple(x.shape), dims, keepdim
        # the input is cast to the result dtype first (float -> int truncates); float16
        # accumulates in float32, as PyTorch's reduced-precision sums do
        acc = np.float32 if dtype is _dtypes.float16 else dtype.np
        with np.errstate(all="ignore"):  # IEEE results (inf, NaN) without warnings
            data = _cast(x, dtype)
            return np.asarray(np.sum(data, axis=_np_axes(x, dims), keepdims=keepdim,
                                     dtype=acc)).astype(dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None, None, None]:
        shape, dims, keepdim = ctx.meta
        return _unsqueeze_to(g, shape, dims, keepdim).expand(shape), None, None, None


def _cast(x: Tensor, dtype: _dtypes.dtype) -> np.ndarray:
    """``x``'s values in ``dtype``; complex to real keeps the real part (as a cast does in
    PyTorch, without NumPy's warning)."""
    data = x._data.real if x.dtype.is_complex and not dtype.is_complex else x._data
    return data.astype(dtype.np, copy=False)


def _accumulate_dtype(x: Tensor, dtype: Any) -> _dtypes.dtype:
    if dtype is not None:
        return _dtypes.to_dtype(dtype)
    return _dtypes.int64 if x.dtype._category <= 1 else x.dtype


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *,
        dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (all dims if None)."""
    return Sum.apply(input, _dims(input, dim), keepdim, _accumulate_dtype(input, dtype))


def _require_float(x: Tensor, name: str, dtype: Any = None) -> None:
    d = x.dtype if dtype is None else _dtypes.to_dtype(dtype)
    if not (d.is_floating_point or d.is_complex):
        which = "Input" if dtype is None else "Optional"
        raise RuntimeError(f"{name}(): could not infer output dtype. {which} dtype must be "
                           f"either a floating point or complex dtype. Got: "
                           f"{_dtypes.scalar_type_name(d)}")


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (floating-point and complex tensors only)."""
    _require_float(input, "mean", dtype)
    x = input
    if dtype is not None:
        d = _dtypes.to_dtype(dtype)
        x = (x.real if x.dtype.is_complex and not d.is_complex else x).to(d)
    dims = _dims(x, dim)
    count = math.prod(x.shape[d] for d in dims) if x.ndim else 1
    if x.dtype is _dtypes.float16:  # sum and divide in float32, round once
        return (sum(x, dims, keepdim, dtype=_dtypes.float32) / count).to(x.dtype) if count \
            else sum(x, dims, keepdim) * float("nan")
    return sum(x, dims, keepdim) / count if count else sum(x, dims, keepdim) * float("nan")


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``)."""
    if isinstance(dim, bool):  # var(x, False): the legacy positional 'unbiased'
        dim, unbiased = None, dim
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    x = input
    if x.dtype is _dtypes.float16:  # PyTorch computes float16 statistics in float32
        x = x.to(_dtypes.float32)
    if x.dtype.is_complex:
        # PyTorch adds the variances of the two parts (so one part's 0/0 makes the sum NaN)
        return (var(x.real, dim, keepdim=keepdim, correction=correction)
                + var(x.imag, dim, keepdim=keepdim, correction=correction))
    dims = _dims(x, dim)
    count = math.prod(x.shape[d] for d in dims) if x.ndim else 1
    centered = x - mean(x, dims, keepdim=True)
    # count <= correction divides by 0: inf (or NaN for 0/0), as in PyTorch
    out = sum(centered * centered, dims, keepdim) / builtins.max(count - correction, 0)
    return out.to(input.dtype.to_real())


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None) -> Tensor:
    """Standard deviation: the square root of :func:`var`."""
    return StdFromVar.apply(var(input, dim, unbiased, keepdim, correction=correction))


class StdFromVar(Function):
    """``sqrt(var)`` with PyTorch's zero gradient where the deviation is 0 (constant data),
    where the square root's own derivative would be infinite."""

    node_name = "StdBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, v: Tensor) -> Any:
        out = Tensor._from_array(np.sqrt(v._data))
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Any:
        from convkit.ops.elementwise import where

        out = ctx.out
        return where(out == 0, 0.0, g / (2 * out))


class Prod(Function):
    node_name = "ProdBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dim: int | None, keepdim: bool,
                dtype: _dtypes.dtype) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.meta = dim, keepdim
        acc = np.float32 if dtype is _dtypes.float16 else dtype.np  # float16 in float32
        with np.errstate(all="ignore"):  # IEEE results (inf, NaN) without warnings
            data = _cast(x, dtype)  # cast first: float -> int truncates
            return np.asarray(np.prod(data, axis=dim if x.ndim else None, keepdims=keepdim,
                                      dtype=acc)).astype(dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None, None, None]:
        (x,) = ctx.saved_tensors
        dim, keepdim = ctx.meta
        shape = tuple(x.shape)
        flat = x.reshape(-1) if dim is None else x
        axis = 0 if dim is None else dim
        others = _product_of_others(flat, axis)
        if dim is None:
            return g * others.reshape(shape), None, None, None
        return _unsqueeze_to(g, shape, (dim,), keepdim) * others, None, None, None


def _product_of_others(x: Tensor, dim: int) -> Tensor:
    """For each element, the product of the other elements along ``dim`` (zeros allowed)."""
    from convkit.ops.shape import cat

    n = x.shape[dim]
    if n == 0:
        return x
    ones = Tensor._from_array(np.ones(tuple(1 if d == dim else s for d, s in
                                            enumerate(x.shape)), x.dtype.np))
    left = cat([ones, cumprod(x.narrow(dim, 0, n - 1), dim)], dim) if n > 1 else ones
    flipped = x.flip(dim)
    right = cat([ones, cumprod(flipped.narrow(dim, 0, n - 1), dim)], dim).flip(dim) \
        if n > 1 else ones
    return left * right


class CumProd(Function):
    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dim: int) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.dim = dim
        return np.cumprod(x._data, axis=dim)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        d = ctx.dim
        n = x.shape[d]
        # d out[j] / d x[i] = prod_{k<=j, k!=i} x[k] for j >= i: one masked cumprod per i,
        # which stays exact when x has zeros (dividing out[j] by x[i] would not).
        mask_shape = [1] * x.ndim
        mask_shape[d] = n
        positions = np.arange(n).reshape(mask_shape)
        grads = []
        for i in range(n):
            others = (positions != i).astype(x.dtype.np)
            later = Tensor._from_array((positions >= i).astype(x.dtype.np))
            skip_i = x * Tensor._from_array(others) + Tensor._from_array(1 - others)
            grads.append((g * cumprod(skip_i, d) * later).sum(d, keepdim=True))
        from convkit.ops.shape import cat

        return cat(grads, d), None


def cumprod(input: Tensor, dim: int) -> Tensor:
    return CumProd.apply(input, wrap_dim(dim, input.ndim))


class CumSum(Function):
    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dim: int, dtype: _dtypes.dtype) -> np.ndarray:
        ctx.dim = dim
        return np.cumsum(x._data, axis=dim, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None, None]:
        return cumsum(g.flip(ctx.dim), ctx.dim).flip(ctx.dim), None, None


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return CumSum.apply(input, wrap_dim(dim, max(input.ndim, 1)) if input.ndim else None,
                        _accumulate_dtype(input, dtype))


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Product over one dim (or all elements)."""
    d = None if dim is None else wrap_dim(dim, input.ndim)
    return Prod.apply(input, d, keepdim if d is not None else False,
                      _accumulate_dtype(input, dtype))


class _FullExtremum(Function):
    """max()/min()/amax/amin over dims: the gradient is shared evenly among ties."""

    @classmethod
    def forward(cls, ctx: BackwardNode, x: Tensor, dims: tuple[int, ...],  # type: ignore
                keepdim: bool) -> np.ndarray:
        fn = np.max if cls.node_name.startswith(("Max", "Amax")) else np.min
        out = np.asarray(fn(x._data, axis=_np_axes(x, dims), keepdims=True))
        ctx.save_for_backward(x)
        ctx.meta = dims, keepdim, Tensor._from_array(out)
        return out if keepdim else out.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in dims))

    @classmethod
    def backward(cls, ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:  # type: ignore
        (x,) = ctx.saved_tensors
        dims, keepdim, out = ctx.meta
        hits = (x == out).to(g.dtype)
        count = hits.sum(dims, keepdim=True)
        return _unsqueeze_to(g, tuple(x.shape), dims, keepdim) * hits / count, None, None


class MaxAll(_FullExtremum):
    node_name = "MaxBackward1"


class MinAll(_FullExtremum):
    node_name = "MinBackward1"


class Amax(_FullExtremum):
    node_name = "AmaxBackward0"


class Amin(_FullExtremum):
    node_name = "AminBackward0"


class _DimExtremum(Function):
    """max(dim)/min(dim): values and the index of the first extremum; gradient to that index."""

    @classmethod
    def forward(cls, ctx: BackwardNode, x: Tensor, dim: int,  # type: ignore[override]
                keepdim: bool) -> tuple[np.ndarray, Tensor]:
        data = x._data if x.ndim else x._data.reshape(1)
        axis = dim if x.ndim else 0
        is_max = cls is MaxDim
        if data.dtype.kind == "f" or data.dtype.kind == "c":
            nan = np.isnan(data)
            idx = (np.argmax(data, axis=axis) if is_max else np.argmin(data, axis=axis))
            if nan.any():  # PyTorch returns the first NaN, as NumPy's argmax does
                idx = np.where(nan.any(axis=axis), np.argmax(nan, axis=axis), idx)
        else:
            idx = np.argmax(data, axis=axis) if is_max else np.argmin(data, axis=axis)
        idx = np.expand_dims(idx, axis)
        values = np.take_along_axis(data, idx, axis=axis)
        if not keepdim or not x.ndim:
            values, idx = values.squeeze(axis), idx.squeeze(axis)
        # np.array copies into a fresh C-ordered array and, unlike np.ascontiguousarray,
        # keeps 0-d results 0-d
        indices = Tensor._from_array(np.array(idx, dtype=np.int64))
        ctx.mark_non_differentiable(indices)
        ctx.meta = tuple(x.shape), dim, keepdim, indices
        return np.array(values), indices

    @classmethod
    def backward(cls, ctx: BackwardNode, g: Tensor, _: Any) -> tuple[Any, ...]:  # type: ignore
        from convkit.ops.indexing import IndexPut

        shape, dim, keepdim, indices = ctx.meta
        if not shape:
            return g, None, None
        idx = indices._data if keepdim else np.expand_dims(indices._data, dim)
        grid = list(np.indices(idx.shape, sparse=True))
        grid[dim] = idx
        gk = g if keepdim else g.unsqueeze(dim)
        zeros = Tensor._from_array(np.zeros(shape, g.dtype.np))
        return IndexPut.apply(zeros, tuple(grid), gk, True), None, None


class MaxDim(_DimExtremum):
    node_name = "MaxBackward0"


class MinDim(_DimExtremum):
    node_name = "MinBackward0"


def _check_nonempty(x: Tensor, name: str, dims: tuple[int, ...] | None = None) -> None:
    """PyTorch's errors for extrema of nothing: a RuntimeError without dim, an IndexError
    naming the first empty dim reduced over."""
    if x.numel() != 0:
        return
    if dims is None:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if x.ndim and x.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """The largest element; with ``dim``, (values, indices); with a tensor, the maximum."""
    return _extremum(input, dim, keepdim, "max")


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """The smallest element; with ``dim``, (values, indices); with a tensor, the minimum."""
    return _extremum(input, dim, keepdim, "min")


def _extremum(x: Tensor, dim: Any, keepdim: bool, name: str) -> Any:
    if isinstance(dim, Tensor):
        from convkit.ops.elementwise import maximum, minimum

        return (maximum if name == "max" else minimum)(x, dim)
    if dim is None:
        if x.dtype.is_complex:
            raise NotImplementedError(f"\"{name}_all\" not implemented for "
                                      f"'{_dtypes.scalar_type_name(x.dtype)}'")
        _check_nonempty(x, name)
        return (MaxAll if name == "max" else MinAll).apply(x, tuple(range(x.ndim)), False)
    if x.dtype.is_complex:
        raise RuntimeError(f"{name}(): does not support complex input")
    d = wrap_dim(dim, x.ndim)
    _check_nonempty(x, name, (d,))
    values, indices = (MaxDim if name == "max" else MinDim).apply(x, d, keepdim)
    return getattr(return_types, name)(values, indices)


def _amax_amin(cls: type[_FullExtremum], name: str, x: Tensor, dim: Any,
               keepdim: bool) -> Tensor:
    if x.dtype.is_complex:
        kernel = "max_values_cpu" if name == "amax" else "min_values_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{_dtypes.scalar_type_name(x.dtype)}'")
    dims = _dims(x, dim)
    all_dims = dim is None or (isinstance(dim, Sequence) and not len(dim))
    _check_nonempty(x, name, None if all_dims else dims)
    return cls.apply(x, dims, keepdim)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The largest values over ``dim`` (all dims by default); ties share the gradient."""
    return _amax_amin(Amax, "amax", input, dim, keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The smallest values over ``dim`` (all dims by default); ties share the gradient."""
    return _amax_amin(Amin, "amin", input, dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first largest element (over the flattened tensor if ``dim`` is None)."""
    return _arg(input, dim, keepdim, "argmax")


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first smallest element (over the flattened tensor if ``dim`` is None)."""
    return _arg(input, dim, keepdim, "argmin")


def _arg(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    cls = MaxDim if name == "argmax" else MinDim
    for kind, refused in (("complex", x.dtype.is_complex), ("bool", x.dtype is _dtypes.bool)):
        if refused:
            raise RuntimeError(f"{name}(): does not support {kind} input")
    if dim is None:
        if x.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        flat = x.detach().reshape(-1)
        idx = cls.apply(flat, 0, False)[1]
        return idx.reshape((1,) * x.ndim) if keepdim else idx
    d = wrap_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return cls.apply(x.detach(), d, keepdim)[1]


def _truth(fn: Any, x: Tensor, dim: Any, keepdim: bool) -> Tensor:
    # unlike sum's, all's and any's dim=() reduces over no dim at all
    axes = () if isinstance(dim, Sequence) and not len(dim) else _np_axes(x, _dims(x, dim))
    out = np.asarray(fn(x._data, axis=axes, keepdims=keepdim))
    # PyTorch keeps uint8 for uint8 input (0 or 1), a legacy of masks; bool otherwise
    return Tensor._from_array(out.astype(np.uint8) if x.dtype is _dtypes.uint8 else out)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where every element (over ``dim``) is non-zero."""
    return _truth(np.all, input, dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where any element (over ``dim``) is non-zero."""
    return _truth(np.any, input, dim, keepdim)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """``torch.norm``: a vector p-norm over ``dim`` (all elements by default), or, for
    ``p='nuc'`` (and ``'fro'`` over more than two dims), a matrix norm.

    As in PyTorch, ``'fro'`` over at most two dims is the vector 2-norm; any other string
    goes to :func:`matrix_norm` over ``dim`` (all dims if None), which wants exactly two.
    """
    dims = None if dim is None else [dim] if isinstance(dim, int | np.integer) else list(dim)
    if isinstance(p, str):
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(input, 2, dims, keepdim, dtype=dtype)
        return matrix_norm(input, p, list(range(input.ndim)) if dims is None else dims,
                           keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, dims, keepdim, dtype=dtype)


def _require_norm_input(x: Tensor, name: str) -> None:
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {_dtypes.scalar_type_name(x.dtype)}")


def _norm_dtype(x: Tensor, dtype: Any, name: str) -> _dtypes.dtype:
    """PyTorch's checks of a norm's ``dtype=``: same kind (real or complex) as the input,
    floating, and no narrower than the input's."""
    d = _dtypes.to_dtype(dtype)
    type_name = _dtypes.scalar_type_name
    if not (d.is_floating_point or d.is_complex):
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{type_name(d)}")
    if x.dtype.is_complex != d.is_complex:
        kind = "complex" if x.dtype.is_complex else "real"
        raise RuntimeError(f"{name}: dtype should be {kind} for {kind} inputs, but got "
                           f"{type_name(d)}")
    if _dtypes.promote_types(x.dtype, d) is not d:
        raise RuntimeError(f"{name}: the dtype of the input ({type_name(x.dtype)}) should be "
                           f"convertible without narrowing to the specified dtype "
                           f"({type_name(d)})")
    return d


def vector_norm(input: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """``linalg.vector_norm``: ``sum(|x|^ord)^(1/ord)`` over ``dim`` (all dims if None),
    with ``ord`` = inf / -inf the largest / smallest ``|x|`` and 0 the count of non-zeros.
    The result is real (complex input gives its real dtype)."""
    _require_norm_input(input, "linalg.vector_norm")
    x = input if dtype is None else input.to(_norm_dtype(input, dtype, "linalg.vector_norm"))
    dims = _dims(x, None if dim is None or (isinstance(dim, Sequence) and not len(dim))
                 else dim)
    if ord < 0 or ord == float("inf"):
        # no identity to start from: reducing over nothing is an error
        if dim is None and x.numel() == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty "
                               "tensor because the operation does not have an identity")
        for d in dims:
            if x.ndim and x.shape[d] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   "operation does not have an identity")
    magnitude = x.abs()
    if ord == float("inf"):
        return Amax.apply(magnitude, dims, keepdim)
    if ord == float("-inf"):
        return Amin.apply(magnitude, dims, keepdim)
    if ord == 0:
        return CountNonzero.apply(magnitude, dims, keepdim)
    if ord == 1:
        return sum(magnitude, dims, keepdim)
    if ord == 2:
        return Norm2.apply(x, dims, keepdim)
    return sum(magnitude ** ord, dims, keepdim) ** (1.0 / ord)


class CountNonzero(Function):
    """The 0-"norm": how many elements are non-zero; its gradient is zero, as in PyTorch."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Any:
        ctx.shape = tuple(x.shape)
        return np.asarray(np.sum(x._data != 0, axis=_np_axes(x, dims), keepdims=keepdim)
                          ).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return Tensor._from_array(np.zeros(ctx.shape, g.dtype.np)), None, None


def matrix_norm(input: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False,
                *, dtype: Any = None) -> Tensor:
    """``linalg.matrix_norm`` for ``ord`` = ``'fro'`` (the 2-norm of all entries) or
    ``'nuc'`` (the sum of singular values) of the matrices spanned by the two ``dim``."""
    if input.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    dims = [wrap_dim(d, input.ndim) for d in dim]
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dim)}")
    if dims[0] == dims[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dims[0]}, "
                           f"{dims[1]})")
    if ord not in ("fro", "nuc"):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    _require_norm_input(input, "linalg.matrix_norm")
    x = input if dtype is None else input.to(_norm_dtype(input, dtype, "linalg.matrix_norm"))
    if ord == "fro":
        return vector_norm(x, 2, dims, keepdim)
    return NuclearNorm.apply(x, tuple(dims), keepdim)


class NuclearNorm(Function):
    """Sum of singular values; its gradient is ``U @ Vh`` of the thin SVD (distinct,
    non-zero singular values assumed, as in PyTorch)."""

    node_name = "LinalgMatrixNormBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, int], keepdim: bool) -> Any:
        # (..., m, n): the two matrix dims moved last, in the order given
        a = np.moveaxis(x._data, dims, (-2, -1))
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.direction = u @ vh  # (..., m, n)
        out = s.sum(axis=-1).astype(x.dtype.to_real().np)
        if keepdim:
            out = np.expand_dims(out, tuple(sorted(dims)))
        return np.asarray(out)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        dims = ctx.dims
        if ctx.keepdim:
            g = g.squeeze(tuple(sorted(dims)))
        # g: (...) -> (..., 1, 1), times U Vh, then the matrix dims moved back
        direction = Tensor._from_array(ctx.direction.astype(ctx.direction.dtype))
        grad = g.unsqueeze(-1).unsqueeze(-1) * direction
        return grad.movedim((grad.ndim - 2, grad.ndim - 1), dims), None, None


class Norm2(Function):
    """The 2-norm, with PyTorch's zero gradient where the norm is 0."""

    node_name = "NormBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Any:
        mag = np.abs(x._data)
        with np.errstate(over="ignore"):  # an overflowing norm is inf, silently
            out = np.sqrt(np.sum(mag * mag, axis=_np_axes(x, dims), keepdims=keepdim))
        ctx.save_for_backward(x)
        ctx.meta = dims, keepdim, Tensor._from_array(np.asarray(out))
        return np.asarray(out)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        from convkit.ops.elementwise import where

        (x,) = ctx.saved_tensors
        dims, keepdim, out = ctx.meta
        shape = tuple(x.shape)
        n = _unsqueeze_to(out, shape, dims, keepdim)
        scale = where(n == 0, 0.0, _unsqueeze_to(g, shape, dims, keepdim) / n)
        return x * scale, None, None


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    dims = _dims(input, dim)
    peak = amax(input.detach(), dims, keepdim=True)
    peak = peak.masked_fill(~peak.isfinite(), 0)
    out = ((input - peak).exp().sum(dims, keepdim=True)).log() + peak
    return out if keepdim else out.squeeze(dims) if dims else out


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    idx = np.nonzero(input._data if input.ndim else input._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._from_array(i.astype(np.int64)) for i in idx)
    return Tensor._from_array(np.stack(idx, axis=1).astype(np.int64)
                              if idx else np.zeros((0, 0), np.int64))
