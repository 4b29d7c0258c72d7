"""convkit's dtypes and PyTorch's type-promotion rules.

A :class:`dtype` wraps a NumPy dtype and prints as ``convkit.float32``. Promotion follows
PyTorch rather than NumPy: categories are ordered bool < integer < floating < complex, a
higher category wins outright (``int64 + float16 -> float16``, where NumPy gives float64),
zero-dim tensors and Python scalars only take part when they raise the category.
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "bool", "complex64", "complex128", "half", "float", "double", "short", "int", "long",
    "cfloat", "cdouble", "get_default_dtype", "set_default_dtype", "promote_types",
    "to_dtype", "result_type",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:  # noqa: N801 - PyTorch's name
    """A tensor element type: ``convkit.float32`` and friends."""

    __slots__ = ("name", "np", "itemsize", "_category", "_tensor_type")

    def __init__(self, name: str, np_dtype: type, tensor_type: str) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        kind = self.np.kind
        self._category = {"b": _BOOL, "u": _INT, "i": _INT, "f": _FLOAT, "c": _COMPLEX}[kind]
        self._tensor_type = tensor_type

    @property
    def is_floating_point(self) -> builtins_bool:
        return self._category == _FLOAT

    @property
    def is_complex(self) -> builtins_bool:
        return self._category == _COMPLEX

    @property
    def is_signed(self) -> builtins_bool:
        return self.np.kind in "ifc"

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
        return {float16: complex64, float32: complex64, float64: complex128}.get(self, self)

    def __repr__(self) -> str:
        return f"convkit.{self.name}"

    def __reduce__(self) -> str:
        return self.name


builtins_bool = builtins.bool

float16 = half = dtype("float16", np.float16, "HalfTensor")
float32 = float = dtype("float32", np.float32, "FloatTensor")
float64 = double = dtype("float64", np.float64, "DoubleTensor")
int8 = dtype("int8", np.int8, "CharTensor")
int16 = short = dtype("int16", np.int16, "ShortTensor")
int32 = int = dtype("int32", np.int32, "IntTensor")
int64 = long = dtype("int64", np.int64, "LongTensor")
uint8 = dtype("uint8", np.uint8, "ByteTensor")
bool = dtype("bool", np.bool_, "BoolTensor")
complex64 = cfloat = dtype("complex64", np.complex64, "ComplexFloatTensor")
complex128 = cdouble = dtype("complex128", np.complex128, "ComplexDoubleTensor")

ALL_DTYPES = (float16, float32, float64, int8, int16, int32, int64, uint8, bool, complex64,
              complex128)
_BY_NUMPY = {d.np: d for d in ALL_DTYPES}
_BY_TENSOR_TYPE = {d._tensor_type: d for d in ALL_DTYPES}

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of floating-point tensors created from Python floats (float32 unless set)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating-point dtype: float32, float64 or float16 (as in PyTorch; with
    float16 PyTorch's complex default is complex32, which convkit lacks: complex64 here)."""
    global _default_float
    if not isinstance(d, dtype) or d not in (float32, float64, float16):
        raise TypeError(f"set_default_dtype(): only floating-point types are supported as the "
                        f"default type, got {d!r}")
    _default_float = d


def default_complex() -> dtype:
    return complex128 if _default_float is float64 else complex64


def to_dtype(d: object) -> dtype:
    """Resolve a convkit dtype, a NumPy dtype, or the Python types float/int/bool/complex
    (float64, int64, bool and complex128, as in PyTorch)."""
    if isinstance(d, dtype):
        return d
    # Python's types name C types, as in PyTorch: float is double whatever the default dtype
    if d is builtins_float:
        return float64
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool
    if d is builtins_complex:
        return complex128
    try:
        np_dtype = np.dtype(d)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"dtype must be a convkit.dtype, got {d!r}") from None
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        raise TypeError(f"convkit has no dtype matching NumPy's {np_dtype}; supported: "
                        f"{', '.join(d.name for d in ALL_DTYPES)}") from None


builtins_float = builtins.float
builtins_int = builtins.int
builtins_complex = builtins.complex


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only "
                        "supported types are: float64, float32, float16, complex64, complex128, "
                        "int64, int32, int16, int8, uint8, and bool.") from None


def from_tensor_type(name: str) -> dtype:
    """The dtype of a legacy type string: ``'convkit.IntTensor'`` (or PyTorch's
    ``'torch.IntTensor'``, so that PyTorch code runs unchanged) gives ``int32``."""
    module, _, short = name.rpartition(".")
    if module in ("torch.cuda", "convkit.cuda") and short in _BY_TENSOR_TYPE:
        raise RuntimeError(f"convkit runs on the CPU only; got the CUDA type '{name}'")
    if module not in ("convkit", "torch") or short not in _BY_TENSOR_TYPE:
        raise ValueError(f"invalid type: '{name}'")
    return _BY_TENSOR_TYPE[short]


def scalar_type_name(d: dtype) -> str:
    """PyTorch's ScalarType name, used in its error messages: ``Float``, ``Long``, ``Bool``."""
    return d._tensor_type.removesuffix("Tensor")


_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


def cpp_type_name(d: dtype) -> str:
    """The C++ element type PyTorch names in some errors (``long int != float``)."""
    return _CPP_NAMES[d.name]


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's ``promote_types``: the smallest dtype both ``a`` and ``b`` convert to."""
    if a is b:
        return a
    if a._category != b._category:
        high, low = (a, b) if a._category > b._category else (b, a)
        if high._category == _COMPLEX and low._category == _FLOAT:
            return _BY_NUMPY[np.promote_types(high.np, low.np)]
        return high
    return _BY_NUMPY[np.promote_types(a.np, b.np)]


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    """Let ``lower`` take part only where it raises the category of ``higher``."""
    if higher is None:
        return lower
    if lower is None or higher._category >= lower._category:
        return higher
    if lower._category == _COMPLEX and higher._category == _FLOAT:
        return higher.to_complex()
    return promote_types(higher, lower)


def result_type(*operands: object) -> dtype:
    """PyTorch's result dtype for an op over tensors and Python scalars.

    Three tiers take part in order: tensors with dims, zero-dim tensors, then Python
    scalars (whose dtype is only their category: a float is the default dtype).
    """
    tiers: list[dtype | None] = [None, None, None]
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            tier = 0 if x.ndim > 0 else 1  # type: ignore[attr-defined]
        else:
            tier = 2
            if isinstance(x, builtins_bool | np.bool_):
                d = bool
            elif isinstance(x, builtins_int | np.integer):
                d = int64
            elif isinstance(x, builtins_float | np.floating):
                d = _default_float
            elif isinstance(x, builtins_complex | np.complexfloating):
                d = default_complex()
            else:
                raise TypeError(f"expected a Tensor or a Python number, got {type(x).__name__}")
        tiers[tier] = d if tiers[tier] is None else promote_types(tiers[tier], d)
    out = _combine(tiers[0], _combine(tiers[1], tiers[2]))
    assert out is not None
    return out
