"""Install the ops as ``Tensor`` methods and operators (the table PyTorch keeps in C++).

The autograd layer defines ``Tensor`` without its math so that imports point downward;
this module, in the ops layer, binds the methods once at import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.tensor import Tensor, device
from convkit.ops import creation, elementwise, indexing, linalg, reduction, shape
from convkit.ops.inplace import inplace

E, R, S = elementwise, reduction, shape


def _reflected(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _inplace_of(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return inplace(self, lambda t: fn(t, *args, **kwargs),
                       *[a for a in args if isinstance(a, Tensor)])

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place :func:`{fn.__name__}`."
    return method


def _to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """Convert dtype: ``to(dtype)``, ``to(other_tensor)``, ``to('cpu', dtype)``."""
    dtype = kwargs.get("dtype")
    copy = kwargs.get("copy", False)
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str | device):
            device(a)
        elif a is not None:
            dtype = a
    return self if dtype is None and not copy else S.to_dtype(self, dtype or self.dtype, copy)


def _conversion(d: _dtypes.dtype) -> Any:
    def method(self: Tensor, memory_format: Any = None) -> Tensor:
        return S.to_dtype(self, d)

    method.__doc__ = f"``self.to({d!r})``."
    return method


def _max_or_min(fn: Any) -> Any:
    def method(self: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
        return fn(self, dim, keepdim)

    return method


def _matmul(self: Tensor, other: Any) -> Tensor:
    """``self @ other``: a NumPy array on the right is taken as a tensor, as PyTorch does."""
    if isinstance(other, np.ndarray):
        other = creation.from_numpy(np.ascontiguousarray(other))
    return linalg.matmul(self, other)


def _rtruediv(self: Tensor, other: Any) -> Tensor:
    """``other / self`` the way PyTorch's ``Tensor.__rtruediv__`` computes it:
    ``self.reciprocal() * other`` (two roundings, and a float16 ``self`` then takes
    ``other`` at float32 precision in the product)."""
    return E.mul(E.reciprocal(self), other)


def _invert(self: Tensor) -> Tensor:
    """``~t``: PyTorch's operator refuses floats with a TypeError before any kernel runs."""
    if self.dtype._category > 1:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return E.bitwise_not(self)


def _getattr_T(self: Tensor) -> Tensor:
    return S.permute(self, tuple(range(self.ndim - 1, -1, -1)))


def _getattr_mT(self: Tensor) -> Tensor:
    if self.ndim == 0:  # PyTorch (deprecated) returns a 0-d tensor unchanged
        return S.view(self, ())
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {self.ndim}-D tensor.")
    return S.transpose(self, -2, -1)


def _size_method(name: str, fn: Any) -> Any:
    def method(self: Tensor, *sizes: Any) -> Tensor:
        return fn(self, *sizes)

    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


_METHODS: dict[str, Any] = {
    # arithmetic
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
    "div": E.div, "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide,
    "remainder": E.remainder, "pow": E.pow, "neg": E.neg, "negative": E.neg, "abs": E.abs,
    "absolute": E.abs, "sign": E.sign, "sgn": E.sgn, "exp": E.exp, "log": E.log,
    "sqrt": E.sqrt, "rsqrt": E.rsqrt, "reciprocal": E.reciprocal, "tanh": E.tanh,
    "sigmoid": E.sigmoid, "relu": E.relu, "sin": E.sin, "cos": E.cos, "square": E.square,
    "conj": E.conj, "clamp": E.clamp, "clip": E.clamp, "maximum": E.maximum,
    "minimum": E.minimum, "where": lambda self, cond, other: E.where(cond, self, other),
    "masked_fill": E.masked_fill, "copy_": E.copy_,
    # comparison and logic
    "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
    "logical_not": E.logical_not, "logical_and": E.logical_and, "logical_or": E.logical_or,
    "logical_xor": E.logical_xor, "bitwise_not": E.bitwise_not, "isnan": E.isnan,
    "isinf": E.isinf, "isfinite": E.isfinite, "allclose": E.allclose, "isclose": E.isclose,
    "equal": E.equal,
    # reductions
    "sum": R.sum, "mean": R.mean, "var": R.var, "std": R.std, "prod": R.prod,
    "max": _max_or_min(R.max), "min": _max_or_min(R.min), "amax": R.amax, "amin": R.amin,
    "argmax": R.argmax, "argmin": R.argmin, "all": R.all, "any": R.any, "norm": R.norm,
    "nonzero": R.nonzero, "cumsum": R.cumsum, "logsumexp": R.logsumexp,
    # linear algebra
    "matmul": linalg.matmul, "mm": linalg.mm, "bmm": linalg.bmm, "dot": linalg.dot,
    "mv": linalg.mv, "outer": linalg.outer,
    # shape and memory
    "view": _size_method("view", S.view), "reshape": _size_method("reshape", S.reshape),
    "view_as": lambda self, other: S.view(self, tuple(other.shape)),
    "reshape_as": lambda self, other: S.reshape(self, tuple(other.shape)),
    "as_strided": S.as_strided, "squeeze": S.squeeze, "unsqueeze": S.unsqueeze,
    "flatten": S.flatten, "unflatten": S.unflatten,
    "permute": _size_method("permute", S.permute), "transpose": S.transpose,
    "swapaxes": S.transpose, "t": S.t, "movedim": S.movedim,
    "expand": _size_method("expand", S.expand), "expand_as": S.expand_as,
    "repeat": _size_method("repeat", S.repeat), "narrow": S.narrow, "split": S.split,
    "chunk": S.chunk, "unbind": S.unbind, "select": S.select,
    "flip": _size_method("flip", S.flip), "contiguous": S.contiguous, "clone": S.clone,
    # dtype conversion
    "to": _to, "float": _conversion(_dtypes.float32), "double": _conversion(_dtypes.float64),
    "half": _conversion(_dtypes.float16), "long": _conversion(_dtypes.int64),
    "int": _conversion(_dtypes.int32), "short": _conversion(_dtypes.int16),
    "char": _conversion(_dtypes.int8), "byte": _conversion(_dtypes.uint8),
    "bool": _conversion(_dtypes.bool), "cfloat": _conversion(_dtypes.complex64),
    "cdouble": _conversion(_dtypes.complex128),
    "cpu": lambda self: self,
    # in-place initialisers
    "normal_": creation.normal_, "uniform_": creation.uniform_, "zero_": creation.zero_,
    "fill_": creation.fill_,
    # python protocol
    "__getitem__": indexing.getitem, "__setitem__": indexing.setitem,
    "__add__": E.add, "__radd__": _reflected(E.add), "__sub__": E.sub,
    "__rsub__": _reflected(E.sub), "__mul__": E.mul, "__rmul__": _reflected(E.mul),
    "__truediv__": E.div, "__rtruediv__": _rtruediv,
    "__floordiv__": E.floor_divide, "__rfloordiv__": _reflected(E.floor_divide),
    "__mod__": E.remainder, "__rmod__": _reflected(E.remainder),
    "__pow__": E.pow, "__rpow__": _reflected(E.pow), "__matmul__": _matmul,
    "__rmatmul__": _reflected(linalg.matmul), "__neg__": E.neg, "__pos__": lambda self: self,
    "__abs__": E.abs, "__invert__": _invert,
    "__and__": E.bitwise_and, "__or__": E.bitwise_or, "__xor__": E.bitwise_xor,
    "__rand__": _reflected(E.bitwise_and), "__ror__": _reflected(E.bitwise_or),
    "__rxor__": _reflected(E.bitwise_xor),
    "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt,
    "__ge__": E.ge,
}

_INPLACE = {
    "add_": E.add, "sub_": E.sub, "mul_": E.mul, "div_": E.div, "pow_": E.pow,
    "neg_": E.neg, "abs_": E.abs, "exp_": E.exp, "log_": E.log, "sqrt_": E.sqrt,
    "clamp_": E.clamp, "clip_": E.clamp, "relu_": E.relu, "sigmoid_": E.sigmoid,
    "tanh_": E.tanh, "remainder_": E.remainder, "floor_divide_": E.floor_divide,
    "masked_fill_": E.masked_fill, "sign_": E.sign, "reciprocal_": E.reciprocal,
    "__iadd__": E.add, "__isub__": E.sub, "__imul__": E.mul, "__itruediv__": E.div,
    "__ifloordiv__": E.floor_divide, "__imod__": E.remainder, "__ipow__": E.pow,
}

_PROPERTIES = {
    "T": _getattr_T, "mT": _getattr_mT, "real": E.real, "imag": E.imag,
}


def install() -> None:
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    for name, fn in _INPLACE.items():
        setattr(Tensor, name, _inplace_of(fn))
    for name, fn in _PROPERTIES.items():
        setattr(Tensor, name, property(fn))
    Tensor.__hash__ = object.__hash__  # __eq__ is element-wise; hashing stays by identity
