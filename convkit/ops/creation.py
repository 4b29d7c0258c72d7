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


# ------------------------------------------------------------------ data -> array
# ``tensor(data)`` follows PyTorch's three passes over nested Python data, so that errors come
# in PyTorch's order and classes: sizes from the chain of first elements, then the dtype
# inferred from every leaf, then the leaves stored with each sequence's length checked.

def _is_sequence(x: Any) -> bool:
    """A nesting level of ``tensor``'s data; tensors and 0-d arrays are leaves (scalars)."""
    if isinstance(x, np.ndarray):
        return x.ndim > 0
    return isinstance(x, Sequence) and not isinstance(x, str | bytes)


def _compute_sizes(data: Any) -> list[int]:
    sizes: list[int] = []
    x = data
    while _is_sequence(x):
        sizes.append(len(x))
        if not len(x):
            break
        x = x[0]
        if isinstance(x, str):  # a str is a sequence of strs: PyTorch runs out of dims
            raise ValueError("too many dimensions 'str'")
    return sizes


def _leaf_dtype(x: Any) -> _dtypes.dtype:
    """The dtype PyTorch infers for one leaf of ``tensor``'s data."""
    if isinstance(x, np.ndarray | np.generic):  # before float: np.float64 is a float
        return _dtypes.from_numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return _dtypes.bool
    if isinstance(x, int):
        return _dtypes.int64
    if isinstance(x, float):
        return _dtypes.get_default_dtype()
    if isinstance(x, complex):
        return _dtypes.default_complex()
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, str | bytes):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _infer_dtype(data: Any) -> _dtypes.dtype:
    """Promote the dtypes of all leaves (plain promotion: a float64 tensor among Python ints
    gives float64); an empty sequence gives the default dtype."""
    if not _is_sequence(data):
        return _leaf_dtype(data)
    if isinstance(data, np.ndarray):
        return _dtypes.from_numpy_dtype(data.dtype)
    out: _dtypes.dtype | None = None
    for item in data:
        d = _infer_dtype(item)
        out = d if out is None else _dtypes.promote_types(out, d)
    return out or _dtypes.get_default_dtype()


def _store(x: Any, sizes: list[int], dim: int, out: list[Any]) -> None:
    """Append the leaves of ``x`` to ``out`` in row-major order, checking the nesting."""
    if dim == len(sizes):
        if _is_sequence(x):
            raise TypeError(f"'{type(x).__name__}' object cannot be interpreted as a number "
                            f"(expected a number at dim {dim})")
        if isinstance(x, Tensor):
            if x.numel() != 1:
                raise ValueError("only one element tensors can be converted to Python scalars")
            x = x.item()
        out.append(x)
        return
    if isinstance(x, Tensor) and x.ndim:  # where a sequence is due, a tensor is one
        x = x.detach()._data
    if not _is_sequence(x):
        raise TypeError("not a sequence")
    if len(x) != sizes[dim]:
        raise ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} "
                         f"(got {len(x)})")
    if isinstance(x, np.ndarray):
        if tuple(x.shape) != tuple(sizes[dim:]):
            raise ValueError(f"expected sequence of length {sizes[dim + 1]} at dim {dim + 1} "
                             f"(got {x.shape[1]})")
        out.extend(x.reshape(-1))
        return
    for item in x:
        _store(item, sizes, dim + 1, out)


_INT_RANGE = {d: (int(np.iinfo(d.np).min), int(np.iinfo(d.np).max))
              for d in (_dtypes.uint8, _dtypes.int8, _dtypes.int16, _dtypes.int32,
                        _dtypes.int64)}
_FULL_TYPE_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                    "int64": "int64_t", "float16": "c10::Half", "float32": "float",
                    "float64": "double", "complex64": "c10::complex<float>",
                    "complex128": "c10::complex<double>"}


def _overflows(values: np.ndarray, d: _dtypes.dtype, *, check_floats: bool) -> bool:
    """PyTorch's ``overflows<To>(value)``: integers must fit (for uint8, ``-255..255``:
    negative values wrap, as in C), NaN never fits an integer; with ``check_floats``, finite
    values must fit a float dtype and complex values need a zero imaginary part."""
    if d is _dtypes.bool or values.size == 0:
        return False
    if values.dtype.kind == "c" and not d.is_complex:
        if np.any(values.imag != 0):
            return True
        values = values.real
    if d in _INT_RANGE:
        lo, hi = _INT_RANGE[d]
        if lo == 0 and values.dtype.kind in "iub":  # only integers may wrap into uint8
            lo = -hi
        if values.dtype.kind == "f" and np.any(np.isnan(values)):
            return True
        return bool(np.any(values < lo) or np.any(values > hi))
    if check_floats and values.dtype.kind in "fc":
        limit = float(np.finfo(d.to_real().np).max)
        parts = [values.real, values.imag] if values.dtype.kind == "c" else [values]
        return builtins_any(bool(np.any(np.isfinite(v) & (np.abs(v) > limit)))
                            for v in parts)
    return False


def _check_fits(value: Any, d: _dtypes.dtype, *, full_names: bool) -> None:
    values = np.asarray(value)
    if values.dtype == object or (values.dtype.kind == "u" and values.dtype.itemsize == 8):
        if d.is_floating_point or d.is_complex or d is _dtypes.bool:
            return
        raise (RuntimeError(f"value cannot be converted to type {_FULL_TYPE_NAMES[d.name]} "
                            "without overflow") if full_names
               else ValueError("Overflow when unpacking long long"))
    if _overflows(values, d, check_floats=full_names):
        name = _FULL_TYPE_NAMES[d.name] if full_names else d.name
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")


def _cast_scalar(value: Any, d: _dtypes.dtype) -> np.ndarray:
    """One Python or NumPy number as a 0-d array of ``d`` (integers wrap like C casts)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "c" and not d.is_complex:
        arr = arr.real
    if d._category == 1 and arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)  # then wrap: -1 as uint8 is 255
    with np.errstate(over="ignore"):
        return arr.astype(d.np)


def _check_numpy_layout(arr: np.ndarray) -> None:
    """PyTorch refuses these arrays in ``from_numpy`` and in ``tensor`` alike."""
    if not arr.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    if builtins_any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")


def _to_array(data: Any, dtype: _dtypes.dtype | None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data.detach()._data
        return arr.astype(dtype.np) if dtype is not None else arr.copy()
    if isinstance(data, np.ndarray):
        _check_numpy_layout(data)
        src = _dtypes.from_numpy_dtype(data.dtype) if dtype is None else dtype
        return np.array(data, dtype=src.np, copy=True)
    if isinstance(data, str | bytes):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    sizes = _compute_sizes(data)
    inferred = _infer_dtype(data)
    target = dtype or inferred
    leaves: list[Any] = []
    if math.prod(sizes):  # PyTorch stores nothing, so checks nothing, when a size is 0
        _store(data, sizes, 0, leaves)
    values = np.array(leaves) if leaves else np.zeros(0, target.np)
    if values.dtype.kind == "c" and not target.is_complex:
        raise TypeError("must be real number, not complex" if target.is_floating_point
                        else "'complex' object cannot be interpreted as an integer")
    _check_fits(values, target, full_names=False)
    if target._category == 1 and values.dtype.kind in "iub":
        values = values.astype(np.int64)  # wrap through int64: -1 as uint8 is 255, as in C
    with np.errstate(over="ignore"):  # 1e300 as float32 is inf, silently as in PyTorch
        return values.astype(target.np).reshape(sizes)


builtins_any = any


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
    _check_numpy_layout(ndarray)
    _dtypes.from_numpy_dtype(ndarray.dtype)
    if builtins_any(s % ndarray.itemsize for s in ndarray.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    return Tensor._from_array(ndarray, keep_strides=True)


def from_dlpack(ext_tensor: Any) -> Tensor:
    """Zero-copy import of a DLPack-capable CPU array (NumPy, PyTorch, JAX, ...)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    arr = np.from_dlpack(ext_tensor)
    if not arr.flags.writeable:
        arr = arr.view()
    return Tensor._from_array(arr, keep_strides=True)


def _creation_dtype(dtype: Any) -> _dtypes.dtype:
    return _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()


def _shape_of_args(sizes: tuple[Any, ...], size: Any, name: str) -> tuple[int, ...]:
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or the keyword form ``f(size=(2, 3))``."""
    if size is not None:
        if sizes:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        sizes = (size,)
    return _check_size(_size_args(sizes, name))


def _check_size(shape: tuple[int, ...]) -> tuple[int, ...]:
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return shape


def zeros(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, out: Any = None) -> Tensor:
    """A tensor of zeros of shape ``size`` (given as ``2, 3`` or ``(2, 3)``)."""
    shape = _shape_of_args(sizes, size, "zeros")
    return _finish(np.zeros(shape, _creation_dtype(dtype).np), requires_grad)


def ones(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, out: Any = None) -> Tensor:
    """A tensor of ones of shape ``size``."""
    shape = _shape_of_args(sizes, size, "ones")
    return _finish(np.ones(shape, _creation_dtype(dtype).np), requires_grad)


def empty(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """An uninitialised tensor of shape ``size``."""
    shape = _shape_of_args(sizes, size, "empty")
    return _finish(np.empty(shape, _creation_dtype(dtype).np), requires_grad)


def _fill_scalar(value: Any, d: _dtypes.dtype) -> np.ndarray:
    """``value`` (a number or a one-element tensor, read as a number) as a 0-d array of
    ``d``, with PyTorch's overflow check of Scalar conversions."""
    if isinstance(value, Tensor):
        value = value.item()
    _check_fits(value, d, full_names=True)
    return _cast_scalar(value, d)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    Without ``dtype`` it is inferred from the value as from a Python number: bool, int64,
    the default float or complex dtype (a tensor fill value counts as its number).
    """
    if not isinstance(size, Sequence | Tensor | np.ndarray):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = _check_size(_size_args((size,), "full"))
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    d = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.result_type(value)
    return _finish(np.full(shape, _fill_scalar(value, d), dtype=d.np), requires_grad)


def _like(input: Tensor, dtype: Any, fill: Any, memory_format: Any) -> np.ndarray:
    """An array shaped like ``input`` and laid out like it (PyTorch's preserve_format: a
    dense tensor's dim order, e.g. a transpose's, is kept; otherwise row-major)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as 'input', got {type(input).__name__}")
    d = _dtypes.to_dtype(dtype) if dtype is not None else input.dtype
    shape = tuple(input.shape)
    order = list(range(len(shape)))
    if memory_format in (None, "preserve_format") and _dense_non_overlapping(input):
        strides = input.stride()
        # outermost first: larger strides first, ties broken by the larger size (as PyTorch)
        order.sort(key=lambda k: (-strides[k], -shape[k]))
    arr = np.empty(tuple(shape[k] for k in order), d.np)
    if fill is not None:
        arr[...] = _fill_scalar(fill, d)
    return arr.transpose(np.argsort(order))


def _dense_non_overlapping(t: Tensor) -> bool:
    """True when the elements exactly tile a block of memory (in some dim order)."""
    dims = sorted((s, n) for s, n in zip(t.stride(), t.shape, strict=True) if n != 1)
    expected = 1
    for s, n in dims:
        if s != expected:
            return False
        expected *= n
    return True


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return _finish(_like(input, dtype, 0, memory_format), requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return _finish(_like(input, dtype, 1, memory_format), requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return _finish(_like(input, dtype, None, memory_format), requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return _finish(_like(input, dtype, fill_value, memory_format), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``.

    int64 when all of start, end and step are integers, else the default float dtype.
    """
    if end is None:
        start, end = 0, start
    args = [a.item() if isinstance(a, Tensor) else a for a in (start, end, step)]
    for a in args:
        if isinstance(a, complex | np.complexfloating):
            raise RuntimeError("value cannot be converted to type double without overflow")
    start, end, step = args
    if dtype is not None:
        d = _dtypes.to_dtype(dtype)
    elif builtins_all(isinstance(a, int | np.integer | np.bool_) for a in args):
        d = _dtypes.int64  # bools count as integers here
    else:
        d = _dtypes.get_default_dtype()
    if d is _dtypes.bool or d.is_complex:
        raise _not_implemented("arange_cpu", d)
    # PyTorch validates the arguments as doubles, then works in the dtype's accumulate type:
    # int64 for integer dtypes (the arguments truncated toward zero), double for floats.
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start:g} -> {end:g}")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if d._category == 1:
        xs, xe, xp = int(start), int(end), int(step)  # int() truncates toward zero
    else:
        xs, xe, xp = start, end, step
    if xp == 0:  # a fractional step truncated to 0 by an integer dtype
        raise ValueError("step must be nonzero")
    if d is _dtypes.int64:
        # integer arithmetic, division truncating toward zero as in C
        numerator = xe - xs + xp - (1 if xp > 0 else -1)
        n = builtins_abs(numerator) // builtins_abs(xp)
        n = n if (numerator >= 0) == (xp > 0) else -n
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
    # the accumulate type: int64, float32 for float16 (one rounding less than float64
    # would give), else float64
    kind = {1: np.int64}.get(d._category, np.float32 if d is _dtypes.float16 else np.float64)
    values = kind(xs) + np.arange(builtins_max(n, 0), dtype=kind) * kind(xp)
    return _finish(values.astype(d.np), requires_grad)


builtins_abs, builtins_max = abs, max


def _not_implemented(kernel: str, d: _dtypes.dtype) -> NotImplementedError:
    return NotImplementedError(f"\"{kernel}\" not implemented for '{_dtypes.scalar_type_name(d)}'")


builtins_all = all


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if isinstance(steps, Tensor):
        steps = steps.item()
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    start, end = (x.item() if isinstance(x, Tensor) else x for x in (start, end))
    if dtype is not None:
        d = _dtypes.to_dtype(dtype)
    elif isinstance(start, complex | np.complexfloating) or isinstance(
            end, complex | np.complexfloating):
        d = _dtypes.default_complex()
    else:
        d = _dtypes.get_default_dtype()
    # PyTorch's kernel: start and end are cast to the dtype, the step is computed in the
    # dtype (in double for integer dtypes), the first half counts up from start and the
    # second half down from end, so that both ends are exact.
    compute = np.dtype(np.float64) if d._category <= 1 else d.np
    lo = _cast_scalar(start, d).astype(compute)
    hi = _cast_scalar(end, d).astype(compute)
    i = np.arange(steps)
    if steps == 1:
        values = np.full(1, lo, compute)
    else:
        step = (hi - lo) / compute.type(max(steps - 1, 1))
        up = lo + step * i.astype(compute)
        down = hi - step * (steps - 1 - i).astype(compute)
        values = np.where(i < steps // 2, up, down)
    return _finish(np.asarray(values).astype(d.np), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """An ``n x m`` matrix with ones on the diagonal."""
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    return _finish(np.eye(n, m, dtype=_creation_dtype(dtype).np), requires_grad)


# PyTorch's kernels that refuse integer dtypes, named in its errors
_UNIFORM, _NORMAL = "check_uniform_bounds", "normal_kernel_cpu"


def _float_creation_dtype(dtype: Any, kernel: str, shape: tuple[int, ...]) -> _dtypes.dtype:
    d = _creation_dtype(dtype)
    _check_random_dtype(d, kernel, math.prod(shape))
    return d


def _check_random_dtype(d: _dtypes.dtype, kernel: str, numel: int) -> None:
    # PyTorch checks uniform bounds before anything else, but reaches the normal kernel (and
    # its dtype refusal) only when there are elements to fill
    if not (d.is_floating_point or d.is_complex) and (numel or kernel == _UNIFORM):
        raise _not_implemented(kernel, d)


def rand(*sizes: Any, size: Any = None, generator: _random.Generator | None = None,
         dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform random values in [0, 1)."""
    shape = _shape_of_args(sizes, size, "rand")
    d = _float_creation_dtype(dtype, _UNIFORM, shape)
    return _finish(_uniform(_random.rng(generator), shape, d), requires_grad)


def randn(*sizes: Any, size: Any = None, generator: _random.Generator | None = None,
          dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal random values."""
    shape = _shape_of_args(sizes, size, "randn")
    d = _float_creation_dtype(dtype, _NORMAL, shape)
    return _finish(_normal(_random.rng(generator), shape, d), requires_grad)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], d: _dtypes.dtype,
             low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Uniform samples from ``[low, high)`` in ``d``; complex dtypes draw both parts.

    The unit samples are multiples of 2**-(mantissa bits) of ``d``, exact in ``d``, so
    that they stay below 1 (a float64 sample such as 0.9999 would round up to 1 in
    float16); a result that rounds up to ``high`` steps back to the float below it.
    """
    real = d.to_real().np

    def part() -> np.ndarray:
        bits = np.finfo(real).nmant + 1
        unit = rng.integers(0, 2 ** bits, shape, dtype=np.int64) / float(2 ** bits)
        values = (low + (high - low) * unit).astype(real)
        if high > low:
            below = np.nextafter(real.type(high), real.type(low))
            values = np.where(values >= real.type(high), below, values).astype(real)
        return values

    return (part() + 1j * part()).astype(d.np) if d.is_complex else part()


def _normal(rng: np.random.Generator, shape: tuple[int, ...], d: _dtypes.dtype,
            mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Normal samples in ``d``; a complex sample has both parts drawn with ``std/sqrt(2)``
    (and ``mean``), as PyTorch does, so that ``E|z - mean|^2 = std^2``."""
    if d.is_complex:
        scale = std / math.sqrt(2)
        return (rng.normal(mean, scale, shape) + 1j * rng.normal(mean, scale, shape)
                ).astype(d.np)
    return rng.normal(mean, std, shape).astype(d.np)


_RANDINT_TYPE_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char",
                       "int16": "short", "int32": "int", "int64": "long"}


def randint(low: int = 0, high: int | None = None, size: Any = None, *,
            generator: _random.Generator | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in ``[low, high)`` (int64 unless ``dtype``): ``randint(high, size)``
    or ``randint(low, high, size)``."""
    if size is None and isinstance(high, Sequence):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"randint(): argument '{name}' must be int, not "
                            f"{type(value).__name__}")
    if not isinstance(size, Sequence | Tensor | np.ndarray):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    shape = _check_size(_size_args((size,), "randint"))
    d = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.int64
    if d.is_complex:
        raise RuntimeError("check_random_bounds handles only integral, floating-point and "
                           "boolean types")
    if d.name in _RANDINT_TYPE_NAMES:
        info = (0, 1) if d is _dtypes.bool else _INT_RANGE[d]
        if low < info[0] or low > info[1]:
            raise RuntimeError(f"from is out of bounds for {_RANDINT_TYPE_NAMES[d.name]}")
        if high - 1 > info[1]:
            raise RuntimeError(f"to - 1 is out of bounds for {_RANDINT_TYPE_NAMES[d.name]}")
    values = _random.rng(generator).integers(low, high, shape)
    return _finish(values.astype(d.np), requires_grad)


def _random_like(input: Tensor, dtype: Any, values: Any) -> Tensor:
    """A tensor laid out like ``input`` (see :func:`_like`) holding ``values(shape, dtype)``."""
    arr = _like(input, dtype, None, None)
    arr[...] = values(tuple(arr.shape), _dtypes.from_numpy_dtype(arr.dtype))
    return _finish(arr, False)


def rand_like(input: Tensor, *, dtype: Any = None) -> Tensor:
    return _random_like(input, dtype, lambda shape, d: rand(shape, dtype=d)._data)


def randn_like(input: Tensor, *, dtype: Any = None) -> Tensor:
    return _random_like(input, dtype, lambda shape, d: randn(shape, dtype=d)._data)


def randint_like(input: Tensor, low: int, high: int | None = None, *,
                 dtype: Any = None) -> Tensor:
    if high is None:
        low, high = 0, low
    return _random_like(input, dtype, lambda shape, d: randint(low, high, shape, dtype=d)._data)


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
    _check_random_dtype(t.dtype, _NORMAL, t.numel())
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_inplace(t, _normal(_random.rng(generator), tuple(t.shape), t.dtype, mean, std))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: _random.Generator | None = None) -> Tensor:
    """Fill with uniform samples from [a, b)."""
    _check_random_dtype(t.dtype, _UNIFORM, t.numel())
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > "
                           f"to={b}")
    return _fill_inplace(t, _uniform(_random.rng(generator), tuple(t.shape), t.dtype, a, b))


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
    return _fill_inplace(t, np.full(tuple(t.shape), _fill_scalar(value, t.dtype)))
