"""Reductions over dims: sum, mean, var, std, prod, max/min, argmax/argmin, all/any, norm.

``dim`` may be an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as
size 1. Integer and bool sums accumulate in int64, as in PyTorch.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor, wrap_dim

__all__ = ["sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax",
           "argmin", "all", "any", "norm", "nonzero", "cumsum", "logsumexp",
           "return_types"]

_values_indices = namedtuple("_values_indices", ["values", "indices"])


class return_types:  # noqa: N801 - PyTorch's namespace for named tuples
    max = min = _values_indices


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
        return np.asarray(np.sum(x._data, axis=_np_axes(x, dims), keepdims=keepdim,
                                 dtype=dtype.np))

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None, None, None]:
        shape, dims, keepdim = ctx.meta
        return _unsqueeze_to(g, shape, dims, keepdim).expand(shape), None, None, None


def _accumulate_dtype(x: Tensor, dtype: Any) -> _dtypes.dtype:
    if dtype is not None:
        return _dtypes.to_dtype(dtype)
    return _dtypes.int64 if x.dtype._category <= 1 else x.dtype


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (all dims if None)."""
    return Sum.apply(input, _dims(input, dim), keepdim, _accumulate_dtype(input, dtype))


def _require_float(x: Tensor, name: str, dtype: Any = None) -> None:
    if dtype is None and not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{x.dtype._tensor_type.removesuffix('Tensor')}")


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (floating-point and complex tensors only)."""
    _require_float(input, "mean", dtype)
    x = input if dtype is None else input.to(dtype)
    dims = _dims(x, dim)
    count = math.prod(x.shape[d] for d in dims) if x.ndim else 1
    return sum(x, dims, keepdim) / count if count else sum(x, dims, keepdim) * float("nan")


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``)."""
    if isinstance(dim, bool):  # var(x, False): the legacy positional 'unbiased'
        dim, unbiased = None, dim
    _require_float(input, "var")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = _dims(input, dim)
    count = math.prod(input.shape[d] for d in dims) if input.ndim else 1
    centered = input - mean(input, dims, keepdim=True)
    squares = (centered * centered.conj()).real if input.dtype.is_complex else centered * centered
    return sum(squares, dims, keepdim) / max(count - correction, 0)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None) -> Tensor:
    """Standard deviation: the square root of :func:`var`."""
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


class Prod(Function):
    node_name = "ProdBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dim: int | None, keepdim: bool,
                dtype: _dtypes.dtype) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.meta = dim, keepdim
        return np.asarray(np.prod(x._data, axis=dim if x.ndim else None, keepdims=keepdim,
                                  dtype=dtype.np))

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
        indices = Tensor._from_array(np.ascontiguousarray(idx, dtype=np.int64))
        ctx.mark_non_differentiable(indices)
        ctx.meta = tuple(x.shape), dim, keepdim, indices
        return np.ascontiguousarray(values), indices

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


def _check_nonempty(x: Tensor, name: str, dim: int | None = None) -> None:
    if x.numel() == 0 and (dim is None or x.shape[dim] == 0):
        where_ = "" if dim is None else f" on dimension {dim}"
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                         f"== 0. Specify the reduction dim with the 'dim' argument."
                         if dim is None else
                         f"{name}(): Expected reduction dim {dim} to have non-zero size"
                         f"{where_}.")


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element; with ``dim``, (values, indices); with a tensor, the maximum."""
    return _extremum(input, dim, keepdim, "max")


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The smallest element; with ``dim``, (values, indices); with a tensor, the minimum."""
    return _extremum(input, dim, keepdim, "min")


def _extremum(x: Tensor, dim: Any, keepdim: bool, name: str) -> Any:
    if isinstance(dim, Tensor):
        from convkit.ops.elementwise import maximum, minimum

        return (maximum if name == "max" else minimum)(x, dim)
    if x.dtype.is_complex:
        raise RuntimeError(f"{name}(): does not support complex input")
    if dim is None:
        _check_nonempty(x, name)
        return (MaxAll if name == "max" else MinAll).apply(x, tuple(range(x.ndim)), False)
    d = wrap_dim(dim, x.ndim)
    if x.ndim:
        _check_nonempty(x, name, d)
    values, indices = (MaxDim if name == "max" else MinDim).apply(x, d, keepdim)
    return _values_indices(values, indices)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = _dims(input, dim)
    return Amax.apply(input, dims, keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = _dims(input, dim)
    return Amin.apply(input, dims, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first largest element (over the flattened tensor if ``dim`` is None)."""
    return _arg(input, dim, keepdim, "argmax")


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first smallest element (over the flattened tensor if ``dim`` is None)."""
    return _arg(input, dim, keepdim, "argmin")


def _arg(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    cls = MaxDim if name == "argmax" else MinDim
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0.")
        flat = x.detach().reshape(-1)
        idx = cls.apply(flat, 0, False)[1]
        return idx.reshape((1,) * x.ndim) if keepdim else idx
    d = wrap_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return cls.apply(x.detach(), d, keepdim)[1]


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (over ``dim``) is non-zero."""
    return Tensor._from_array(np.asarray(np.all(input._data, axis=_np_axes(
        input, _dims(input, dim)), keepdims=keepdim)))


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element (over ``dim``) is non-zero."""
    return Tensor._from_array(np.asarray(np.any(input._data, axis=_np_axes(
        input, _dims(input, dim)), keepdims=keepdim)))


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default): ``sum(|x|^p)^(1/p)``."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype._tensor_type.removesuffix('Tensor')}")
    x = input if dtype is None else input.to(dtype)
    dims = _dims(x, dim)
    if p is None or p == "fro":
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm: p={p!r} is not a supported vector norm")
    magnitude = x.abs()
    if p == float("inf"):
        return amax(magnitude, dims, keepdim)
    if p == float("-inf"):
        return amin(magnitude, dims, keepdim)
    if p == 0:
        return sum((magnitude != 0).to(magnitude.dtype), dims, keepdim)
    if p == 1:
        return sum(magnitude, dims, keepdim)
    if p == 2:
        return Norm2.apply(x, dims, keepdim)
    return sum(magnitude ** p, dims, keepdim) ** (1.0 / p)


class Norm2(Function):
    """The 2-norm, with PyTorch's zero gradient where the norm is 0."""

    node_name = "NormBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Any:
        mag = np.abs(x._data)
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
