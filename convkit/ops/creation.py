"""Tensor creation: ``tensor``, ``from_numpy``, ``zeros``, ``arange``, ``randn`` and friends."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from convkit import _dtypes, _random
from convkit.autograd.tensor import Tensor
from convkit.ops.shape import _size_args

__all__ = [
    "tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "empty", "full",
    "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace", "eye", "rand",
    "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm", "normal_",
    "uniform_", "zero_", "fill_", "scalar_tensor",
]


def _finish(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._from_array(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _describe_ragged(data: Any, dim: int = 0) -> None:
    """Raise PyTorch's error for the first sequence whose length disagrees with its siblings."""
    level = [data]
    while level:
        first = level[0]
        if not _is_sequence(first):
            for item in level:
                if _is_sequence(item):
                    raise ValueError(f"expected a number at dim {dim} but got a sequence of "
                                     f"length {len(item)}")
            return
        expected = len(first)
        for item in level:
            if not _is_sequence(item):
                raise TypeError(f"expected a sequence at dim {dim} but got "
                                f"{type(item).__name__}")
            if len(item) != expected:
                raise ValueError(f"expected sequence of length {expected} at dim {dim + 1} "
                                 f"(got {len(item)})")
        level = [x for item in level for x in item]
        dim += 1


def _is_sequence(x: Any) -> bool:
    return isinstance(x, Sequence | np.ndarray | Tensor) and not isinstance(x, str | bytes)


def _scalar_dtype(arr: np.ndarray) -> _dtypes.dtype:
    """The dtype PyTorch infers for data that came from Python numbers."""
    kind = arr.dtype.kind
    if kind == "b":
        return _dtypes.bool
    if kind in "iu":
        return _dtypes.int64
    if kind == "f":
        return _dtypes.get_default_dtype()
    if kind == "c":
        return _dtypes.default_complex()
    raise TypeError(f"new(): invalid data type '{_first_leaf_type(arr)}'")


def _first_leaf_type(arr: np.ndarray) -> str:
    for item in arr.reshape(-1):
        return "str" if isinstance(item, str | np.str_) else type(item).__name__
    return arr.dtype.name


def _to_array(data: Any, dtype: _dtypes.dtype | None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data.detach()._data
        return arr.astype(dtype.np) if dtype is not None else arr.copy()
    if isinstance(data, np.ndarray):
        src = _dtypes.from_numpy_dtype(data.dtype) if dtype is None else dtype
        return np.array(data, dtype=src.np, copy=True)
    if isinstance(data, np.generic):
        src = _dtypes.from_numpy_dtype(data.dtype) if dtype is None else dtype
        return np.array(data, dtype=src.np)
    if isinstance(data, str | bytes) or data is None or isinstance(data, dict | set):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if _is_sequence(data):
        data = _unwrap_tensors(data)
    try:
        arr = np.array(data)
    except ValueError:
        _describe_ragged(data)
        raise
    if arr.dtype == object:
        _describe_ragged(data)
        raise TypeError(f"new(): invalid data type '{_first_leaf_type(arr)}'")
    if arr.dtype.kind in "USV":
        raise TypeError(f"new(): invalid data type '{_first_leaf_type(arr)}'")
    target = dtype or _scalar_dtype(arr)
    return arr.astype(target.np)


def _unwrap_tensors(data: Any) -> Any:
    """Nested sequences may hold one-element tensors and arrays, as PyTorch allows."""
    if isinstance(data, Tensor):
        if data.ndim == 0:
            return data.item()
        return [_unwrap_tensors(x) for x in data.detach()._data]
    if isinstance(data, list | tuple):
        return [_unwrap_tensors(x) for x in data]
    return data


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors).

    Python floats become the default dtype (float32), ints int64, bools bool; arrays keep
    their dtype.
    """
    d = _dtypes.to_dtype(dtype) if dtype is not None else None
    return _finish(_to_array(data, d), requires_grad)


def scalar_tensor(s: Any, *, dtype: Any = None) -> Tensor:
    return tensor(s, dtype=dtype or _dtypes.get_default_dtype())


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but shares memory with a tensor or ndarray of the same dtype."""
    d = _dtypes.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        return data if d is None or d is data.dtype else data.to(d)
    if isinstance(data, np.ndarray) and (d is None or d.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=d)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory: writes through either show in both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtypes.from_numpy_dtype(ndarray.dtype)
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    if any(s % ndarray.itemsize for s in ndarray.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    if not ndarray.dtype.isnative:
        raise TypeError("given numpy array has byte order different from the native byte order. "
                        "Conversion between byte orders is currently not supported.")
    return Tensor._from_array(ndarray)


def from_dlpack(ext_tensor: Any) -> Tensor:
    """Zero-copy import of a DLPack-capable CPU array (NumPy, PyTorch, JAX, ...)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    arr = np.from_dlpack(ext_tensor)
    if not arr.flags.writeable:
        arr = arr.view()
    return Tensor._from_array(arr)


def _creation_dtype(dtype: Any) -> _dtypes.dtype:
    return _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()


def _check_size(shape: tuple[int, ...]) -> tuple[int, ...]:
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return shape


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: Any = None) -> Tensor:
    """A tensor of zeros of shape ``size`` (given as ``2, 3`` or ``(2, 3)``)."""
    shape = _check_size(_size_args(size, "zeros"))
    return _finish(np.zeros(shape, _creation_dtype(dtype).np), requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         out: Any = None) -> Tensor:
    """A tensor of ones of shape ``size``."""
    shape = _check_size(_size_args(size, "ones"))
    return _finish(np.ones(shape, _creation_dtype(dtype).np), requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          memory_format: Any = None) -> Tensor:
    """An uninitialised tensor of shape ``size``."""
    shape = _check_size(_size_args(size, "empty"))
    return _finish(np.empty(shape, _creation_dtype(dtype).np), requires_grad)


def _fill_dtype(fill_value: Any) -> _dtypes.dtype:
    if isinstance(fill_value, Tensor):
        return fill_value.dtype
    return _dtypes.result_type(fill_value)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    shape = _check_size(_size_args((size,) if not isinstance(size, int) else (size,), "full"))
    d = _dtypes.to_dtype(dtype) if dtype is not None else _fill_dtype(fill_value)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _finish(np.full(shape, value, dtype=d.np), requires_grad)


def _like(input: Tensor, dtype: Any) -> tuple[tuple[int, ...], _dtypes.dtype]:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as 'input', got {type(input).__name__}")
    return tuple(input.shape), _dtypes.to_dtype(dtype) if dtype is not None else input.dtype


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, d = _like(input, dtype)
    return _finish(np.zeros(shape, d.np), requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, d = _like(input, dtype)
    return _finish(np.ones(shape, d.np), requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, d = _like(input, dtype)
    return _finish(np.empty(shape, d.np), requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, d = _like(input, dtype)
    return _finish(np.full(shape, fill_value, dtype=d.np), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``.

    int64 when all of start, end and step are integers, else the default float dtype.
    """
    if end is None:
        start, end = 0, start
    args = [a.item() if isinstance(a, Tensor) else a for a in (start, end, step)]
    start, end, step = args
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is not None:
        d = _dtypes.to_dtype(dtype)
    elif all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in args):
        d = _dtypes.int64
    else:
        d = _dtypes.get_default_dtype()
    n = math.ceil((end - start) / step)
    values = start + np.arange(n, dtype=np.float64 if d._category >= 2 else np.int64) * step
    return _finish(values.astype(d.np), requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative (got {steps})")
    d = _creation_dtype(dtype)
    if steps == 1:
        values = np.array([start], dtype=np.float64)
    else:
        # PyTorch fills the first half from start and the second half from end.
        step = (end - start) / (steps - 1) if steps > 1 else 0.0
        i = np.arange(steps, dtype=np.float64)
        half = steps // 2
        values = np.where(i < half, start + step * i, end - step * (steps - 1 - i))
    return _finish(values.astype(d.np), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """An ``n x m`` matrix with ones on the diagonal."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n if n < 0 else m}")
    return _finish(np.eye(n, m, dtype=_creation_dtype(dtype).np), requires_grad)


def _float_creation_dtype(dtype: Any, name: str) -> _dtypes.dtype:
    d = _creation_dtype(dtype)
    if not (d.is_floating_point or d.is_complex):
        raise RuntimeError(f"\"{name}\" not implemented for '{d._tensor_type[:-6]}' (random "
                           f"{name} values need a floating-point dtype)")
    return d


def rand(*size: Any, generator: _random.Generator | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform random values in [0, 1)."""
    shape = _check_size(_size_args(size, "rand"))
    d = _float_creation_dtype(dtype, "uniform")
    return _finish(_random.rng(generator).random(shape).astype(d.np), requires_grad)


def randn(*size: Any, generator: _random.Generator | None = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal random values."""
    shape = _check_size(_size_args(size, "randn"))
    d = _float_creation_dtype(dtype, "normal")
    return _finish(_random.rng(generator).standard_normal(shape).astype(d.np), requires_grad)


def randint(low: int, high: int | None = None, size: Any = None, *,
            generator: _random.Generator | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in ``[low, high)`` (int64 unless ``dtype``)."""
    if size is None and isinstance(high, tuple | list):
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'size'")
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    shape = _check_size(_size_args((size,), "randint"))
    d = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.int64
    return _finish(_random.rng(generator).integers(low, high, shape).astype(d.np), requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None) -> Tensor:
    return rand(tuple(input.shape), dtype=dtype or input.dtype)


def randn_like(input: Tensor, *, dtype: Any = None) -> Tensor:
    return randn(tuple(input.shape), dtype=dtype or input.dtype)


def randint_like(input: Tensor, low: int, high: int | None = None, *,
                 dtype: Any = None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype)


def randperm(n: int, *, generator: _random.Generator | None = None,
             dtype: Any = None) -> Tensor:
    d = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.int64
    return _finish(_random.rng(generator).permutation(n).astype(d.np), False)


# ------------------------------------------------------------------ in-place initialisers
def _fill_inplace(t: Tensor, values: np.ndarray) -> Tensor:
    from convkit.ops.inplace import inplace

    return inplace(t, lambda _: Tensor._from_array(values.astype(t.dtype.np)))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: _random.Generator | None = None) -> Tensor:
    """Fill with normal samples of ``mean`` and ``std``."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_inplace(t, _random.rng(generator).normal(mean, std, tuple(t.shape)))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: _random.Generator | None = None) -> Tensor:
    """Fill with uniform samples from [a, b)."""
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > "
                           f"to={b}")
    return _fill_inplace(t, _random.rng(generator).uniform(a, b, tuple(t.shape)))


def zero_(t: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill_inplace(t, np.zeros(tuple(t.shape), t.dtype.np))


def fill_(t: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        from convkit.ops.elementwise import copy_

        return copy_(t, value.expand(tuple(t.shape)))
    return _fill_inplace(t, np.full(tuple(t.shape), value))
