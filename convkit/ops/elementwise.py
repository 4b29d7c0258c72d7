"""Element-wise operations: arithmetic, comparisons, unary math, ``where``, ``clamp``.

Binary ops broadcast NumPy-style and promote dtypes with PyTorch's rules
(:func:`convkit._dtypes.result_type`); Python scalars never upcast a tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.ops.inplace import inplace

__all__ = [
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "pow", "neg", "abs",
    "sign", "exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "sigmoid", "relu", "sin", "cos",
    "conj", "real", "imag", "eq", "ne", "lt", "le", "gt", "ge", "where", "clamp", "maximum",
    "minimum", "copy_", "logical_not", "logical_and", "logical_or", "logical_xor",
    "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor", "isnan", "isinf", "isfinite",
    "allclose", "isclose", "equal", "masked_fill", "broadcast_shapes", "square",
]

Scalar = int | float | complex | bool


def _check_operand(x: Any, name: str) -> Any:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool | int | float | complex | np.number | np.bool_):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._from_array(x)
    raise TypeError(f"{name}(): expected a Tensor or a number, but got {type(x).__name__}")


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The common shape of broadcasting, with PyTorch's error naming the clashing sizes."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = n
            elif n != 1 and n != out[j]:
                raise RuntimeError(f"The size of tensor a ({out[j]}) must match the size of "
                                   f"tensor b ({n}) at non-singleton dimension {i}")
    return tuple(out)


def _arrays(dtype: _dtypes.dtype, *xs: Any) -> list[Any]:
    """Operands as NumPy values of ``dtype`` (scalars stay scalars of that dtype)."""
    out = []
    for x in xs:
        if isinstance(x, Tensor):
            out.append(x._data if x.dtype is dtype else x._data.astype(dtype.np))
        else:
            out.append(np.asarray(x).astype(dtype.np)[()])
    return out


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if isinstance(x, Tensor) else ()


def _conj(t: Tensor) -> Tensor:
    return conj(t) if t.dtype.is_complex else t


def _prepare(name: str, a: Any, b: Any) -> tuple[Any, Any, _dtypes.dtype]:
    a, b = _check_operand(a, name), _check_operand(b, name)
    broadcast_shapes(_shape_of(a), _shape_of(b))
    return a, b, _dtypes.result_type(a, b)


# ----------------------------------------------------------------------- arithmetic
class Add(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, alpha: Scalar, dtype: _dtypes.dtype) -> Any:
        ctx.alpha = alpha
        x, y = _arrays(dtype, a, b)
        return np.add(x, y * alpha if alpha != 1 else y, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return g, (g * ctx.alpha if ctx.alpha != 1 else g), None, None


class Sub(Function):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, alpha: Scalar, dtype: _dtypes.dtype) -> Any:
        ctx.alpha = alpha
        x, y = _arrays(dtype, a, b)
        return np.subtract(x, y * alpha if alpha != 1 else y, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return g, -g * ctx.alpha if ctx.alpha != 1 else -g, None, None


def add(input: Any, other: Any, *, alpha: Scalar = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    a, b, dtype = _prepare("add", input, other)
    if dtype is _dtypes.bool and alpha not in (0, 1, True, False):
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    return Add.apply(a, b, alpha, dtype)


def sub(input: Any, other: Any, *, alpha: Scalar = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    a, b, dtype = _prepare("sub", input, other)
    if dtype is _dtypes.bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return Sub.apply(a, b, alpha, dtype)


class Mul(Function):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalars = (a, b)
        x, y = _arrays(dtype, a, b)
        return np.multiply(x, y, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * (_conj(b) if b is not None else np.conj(sb))
        if ctx.needs_input_grad[1]:
            gb = g * (_conj(a) if a is not None else np.conj(sa))
        return ga, gb, None


def mul(input: Any, other: Any) -> Tensor:
    """Element-wise product with broadcasting."""
    a, b, dtype = _prepare("mul", input, other)
    return Mul.apply(a, b, dtype)


class Div(Function):
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalars = (a, b)
        x, y = _arrays(dtype, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(x, y, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        denominator = _conj(b) if b is not None else np.conj(sb)
        ga = g / denominator if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            numerator = _conj(a) if a is not None else np.conj(sa)
            gb = -g * numerator / (denominator * denominator)
        return ga, gb, None


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers divide to the default float dtype) unless ``rounding_mode``."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        q = div(input, other)
        a, b, dtype = _prepare("div", input, other)
        out = np.trunc(q._data)
        return Tensor._from_array(out.astype(dtype.np)) if not (
            dtype.is_floating_point) else _nondiff(out.astype(dtype.np), q)
    if rounding_mode is not None:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    a, b, dtype = _prepare("div", input, other)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = _dtypes.get_default_dtype()
    return Div.apply(a, b, dtype)


def _nondiff(arr: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._from_array(arr)


true_divide = div


def _integer_divisor_check(b: Any, dtype: _dtypes.dtype) -> None:
    if dtype._category <= 1:
        y = b._data if isinstance(b, Tensor) else b
        if np.any(np.asarray(y) == 0):
            raise RuntimeError("ZeroDivisionError: integer division by zero")


def floor_divide(input: Any, other: Any) -> Tensor:
    """``floor(input / other)`` (not differentiable)."""
    a, b, dtype = _prepare("floor_divide", input, other)
    _integer_divisor_check(b, dtype)
    x, y = _arrays(dtype, a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._from_array(np.asarray(np.floor_divide(x, y), dtype=dtype.np))


class Remainder(Function):
    node_name = "RemainderBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        x, y = _arrays(dtype, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.remainder(x, y), dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        gb = None
        if ctx.needs_input_grad[1]:
            gb = -g * floor_divide(a.detach(), b.detach())
        return g, gb, None


def remainder(input: Any, other: Any) -> Tensor:
    """Python's ``%``: the result takes the divisor's sign."""
    a, b, dtype = _prepare("remainder", input, other)
    _integer_divisor_check(b, dtype)
    return Remainder.apply(a, b, dtype)


class Pow(Function):
    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        x, y = _arrays(dtype, a, b)
        out = np.power(x, y, dtype=dtype.np)
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalars = (a, b)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        base = a if a is not None else sa
        exponent = b if b is not None else sb
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if b is None and sb == 0:
                ga = g * 0
            else:
                ga = g * _conj(exponent * pow(base, exponent - 1)) if b is not None else \
                    g * _conj(pow(base, exponent - 1) * exponent)
        if ctx.needs_input_grad[1]:
            value = pow(base, exponent)
            log_base = log(base) if isinstance(base, Tensor) else np.log(base + 0j
                                                                          if np.iscomplexobj(base)
                                                                          or base < 0 else base)
            gb = g * _conj(value * log_base)
            at_zero = (base == 0) & (exponent >= 0) if isinstance(base, Tensor) else (
                (exponent >= 0) if base == 0 else None)
            if at_zero is not None and at_zero is not False:
                gb = where(at_zero, 0.0, gb)
        return ga, gb, None


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent`` element-wise."""
    a, b, dtype = _prepare("pow", input, exponent)
    if dtype._category <= 1:
        y = b._data if isinstance(b, Tensor) else b
        if np.any(np.asarray(y) < 0):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return Pow.apply(a, b, dtype)


def square(input: Tensor) -> Tensor:
    return mul(input, input)


# ----------------------------------------------------------------------- unary
def _float_dtype(x: Tensor) -> _dtypes.dtype:
    return x.dtype if x.dtype.is_floating_point or x.dtype.is_complex else \
        _dtypes.get_default_dtype()


class _Unary(Function):
    """``out = f(x)`` computed in floating point; subclasses give ``f`` and ``df``."""

    np_fn: Callable[..., np.ndarray]

    @classmethod
    def forward(cls, ctx: BackwardNode, x: Tensor) -> Any:  # type: ignore[override]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = cls.np_fn(x._data.astype(_float_dtype(x).np, copy=False))
        ctx.save_for_backward(x)
        ctx.out = Tensor._from_array(out)
        return ctx.out

    @classmethod
    def backward(cls, ctx: BackwardNode, g: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return cls.grad(g, x, ctx.out.detach())

    @staticmethod
    def grad(g: Tensor, x: Tensor, out: Tensor) -> Tensor:
        raise NotImplementedError


def _unary(name: str, np_fn: Callable[..., np.ndarray],
           grad: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    cls = type(name.capitalize(), (_Unary,), {
        "node_name": f"{name.capitalize()}Backward0", "np_fn": staticmethod(np_fn),
        "grad": staticmethod(grad)})

    def op(input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not "
                            f"{type(input).__name__}")
        return cls.apply(input)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise ``{name}`` (integers are computed in the default float dtype)."
    return op


exp = _unary("exp", np.exp, lambda g, x, out: g * _conj(out))
log = _unary("log", np.log, lambda g, x, out: g / _conj(x))
sqrt = _unary("sqrt", np.sqrt, lambda g, x, out: g / (2 * _conj(out)))
rsqrt = _unary("rsqrt", lambda a: 1 / np.sqrt(a), lambda g, x, out: g * _conj(out ** 3) * -0.5)
reciprocal = _unary("reciprocal", lambda a: 1 / a, lambda g, x, out: -g * _conj(out * out))
tanh = _unary("tanh", np.tanh, lambda g, x, out: g * _conj(1 - out * out))
sigmoid = _unary("sigmoid", lambda a: 1 / (1 + np.exp(-a)),
                 lambda g, x, out: g * _conj(out * (1 - out)))
sin = _unary("sin", np.sin, lambda g, x, out: g * _conj(cos(x)))
cos = _unary("cos", np.cos, lambda g, x, out: -g * _conj(sin(x)))


class Neg(Function):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor) -> np.ndarray:
        return np.negative(x._data)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Tensor:
        return -g


def neg(input: Tensor) -> Tensor:
    """``-input``."""
    if input.dtype is _dtypes.bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(input)


class Abs(Function):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.abs(x._data)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g * sgn(x)


def abs(input: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """``|input|`` (for complex input: the modulus, as a real tensor)."""
    return Abs.apply(input)


def sgn(x: Tensor) -> Tensor:
    """``x / |x|`` (0 at 0): the sign, extended to complex numbers."""
    data = x.detach()._data
    if x.dtype.is_complex:
        mag = np.abs(data)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(mag == 0, 0, data / np.where(mag == 0, 1, mag))
        return Tensor._from_array(out.astype(data.dtype))
    return Tensor._from_array(np.sign(data))


def sign(input: Tensor) -> Tensor:
    """-1, 0 or +1 by the sign of each element (its gradient is zero)."""
    if input.dtype.is_complex:
        raise RuntimeError("Unlike NumPy, torch.sign is not intended to support complex numbers. "
                           "Please use torch.sgn instead.")
    out = Tensor._from_array(np.sign(input._data) if input.dtype is not _dtypes.bool
                             else input._data.copy())
    if input.requires_grad:
        return SignLike.apply(input, out)
    return out


class SignLike(Function):
    """A value that does not depend on its input (zero gradient), kept in the graph."""

    node_name = "SignBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, value: Tensor) -> Tensor:
        return value

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, None]:
        return g * 0, None


class Relu(Function):
    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor) -> np.ndarray:
        out = Tensor._from_array(np.maximum(x._data, 0).astype(x.dtype.np))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g * (out > 0)


def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``."""
    return Relu.apply(input)


class Conj(Function):
    node_name = "ConjBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor) -> np.ndarray:
        return np.conj(x._data)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Tensor:
        return conj(g)


def conj(input: Tensor) -> Tensor:
    """Complex conjugate (a copy; ``input`` itself for real tensors)."""
    return Conj.apply(input) if input.dtype.is_complex else input


class _ComplexPart(Function):
    @classmethod
    def forward(cls, ctx: BackwardNode, x: Tensor) -> np.ndarray:  # type: ignore[override]
        ctx.dtype = x.dtype
        return np.ascontiguousarray(np.real(x._data) if cls is Real else np.imag(x._data))

    @classmethod
    def backward(cls, ctx: BackwardNode, g: Tensor) -> Tensor:  # type: ignore[override]
        scale = 1 if cls is Real else 1j
        return g.to(ctx.dtype) * scale


class Real(_ComplexPart):
    node_name = "RealBackward0"


class Imag(_ComplexPart):
    node_name = "ImagBackward0"


def real(input: Tensor) -> Tensor:
    return Real.apply(input) if input.dtype.is_complex else input


def imag(input: Tensor) -> Tensor:
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


# ----------------------------------------------------------------------- comparisons
def _compare(name: str, np_fn: Callable[..., np.ndarray]) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        a, b, dtype = _prepare(name, input, other)
        if dtype.is_complex and name in ("lt", "le", "gt", "ge"):
            raise RuntimeError(f"\"{name}_cpu\" not implemented for 'ComplexFloat'")
        x, y = _arrays(dtype, a, b)
        return Tensor._from_array(np.asarray(np_fn(x, y)))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise ``{name}`` comparison; a bool tensor (not differentiable)."
    return op


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)


def _logical(name: str, np_fn: Callable[..., np.ndarray]) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        a, b, _ = _prepare(name, input, other)
        x = a._data if isinstance(a, Tensor) else a
        y = b._data if isinstance(b, Tensor) else b
        return Tensor._from_array(np.asarray(np_fn(x, y)))

    op.__name__ = op.__qualname__ = name
    return op


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)


def logical_not(input: Tensor) -> Tensor:
    return Tensor._from_array(np.logical_not(input._data))


def _bitwise(name: str, np_fn: Callable[..., np.ndarray]) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        a, b, dtype = _prepare(name, input, other)
        if dtype._category > 1:
            raise RuntimeError(f"\"{name}_cpu\" not implemented for "
                               f"'{dtype.name.capitalize()}' (bitwise ops need bool or "
                               "integer tensors)")
        x, y = _arrays(dtype, a, b)
        return Tensor._from_array(np.asarray(np_fn(x, y), dtype=dtype.np))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input: Tensor) -> Tensor:
    if input.dtype._category > 1:
        raise RuntimeError(f"\"bitwise_not_cpu\" not implemented for {input.dtype} (bitwise ops "
                           "need bool or integer tensors)")
    return Tensor._from_array(np.invert(input._data))


def isnan(input: Tensor) -> Tensor:
    return Tensor._from_array(np.isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return Tensor._from_array(np.isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return Tensor._from_array(np.isfinite(input._data))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` element-wise."""
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    broadcast_shapes(tuple(input.shape), tuple(other.shape))
    return Tensor._from_array(np.isclose(input._data, other._data, rtol=rtol, atol=atol,
                                         equal_nan=equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every element pair is close (see :func:`isclose`)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(np.array_equal(input._data, other._data))


# ----------------------------------------------------------------------- selection
class Where(Function):
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, cond: Tensor, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.cond = cond
        x, y = _arrays(dtype, a, b)
        return np.asarray(np.where(cond._data, x, y), dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        zero = 0
        ga = where(ctx.cond, g, zero) if ctx.needs_input_grad[1] else None
        gb = where(ctx.cond, zero, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb, None


def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """Pick ``input`` where ``condition`` holds, else ``other`` (all broadcast together)."""
    if input is None and other is None:
        from convkit.ops.reduction import nonzero

        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor) or condition.dtype is not _dtypes.bool:
        got = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {got}")
    a, b, dtype = _prepare("where", input, other)
    broadcast_shapes(tuple(condition.shape), _shape_of(a), _shape_of(b))
    return Where.apply(condition, a, b, dtype)


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` where ``mask`` holds, ``input`` elsewhere (dtype of ``input``)."""
    if mask.dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")
    value = value.to(input.dtype) if isinstance(value, Tensor) else value
    out = where(mask, Tensor._from_array(np.asarray(value, dtype=input.dtype.np))
                if not isinstance(value, Tensor) else value, input)
    return out.to(input.dtype)


class Clamp(Function):
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, lo: Any, hi: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(x, lo if isinstance(lo, Tensor) else None,
                              hi if isinstance(hi, Tensor) else None)
        ctx.bounds = lo, hi
        (v,) = _arrays(dtype, x)
        if lo is not None:
            v = np.maximum(v, _arrays(dtype, lo)[0])
        if hi is not None:
            v = np.minimum(v, _arrays(dtype, hi)[0])
        return np.asarray(v, dtype=dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        x, lo_t, hi_t = ctx.saved_tensors
        lo, hi = ctx.bounds
        lo = lo_t if lo_t is not None else lo
        hi = hi_t if hi_t is not None else hi
        inside = ones_like_bool(x)
        if lo is not None:
            inside = inside & (x >= lo)
        if hi is not None:
            inside = inside & (x <= hi)
        grads: list[Any] = [g * inside, None, None, None]
        if ctx.needs_input_grad[1]:
            below = x < lo
            if hi is not None:
                below = below & (lo <= hi)
            grads[1] = g * below
        if ctx.needs_input_grad[2]:
            above = x > hi
            if lo is not None:
                above = above | (lo > hi)
            grads[2] = g * above
        return tuple(grads)


def ones_like_bool(x: Tensor) -> Tensor:
    return Tensor._from_array(np.ones(tuple(x.shape), dtype=bool))


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit each element to ``[min, max]`` (either bound may be a tensor or None)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None"
                           .replace("torch.", ""))
    operands = [o for o in (input, min, max) if o is not None]
    dtype = _dtypes.result_type(*operands)
    for o in operands[1:]:
        if isinstance(o, Tensor):
            broadcast_shapes(tuple(input.shape), tuple(o.shape))
    return Clamp.apply(input, min, max, dtype)


class _Extremum(Function):
    """``maximum``/``minimum``: on ties the gradient is split evenly, as in PyTorch."""

    @classmethod
    def forward(cls, ctx: BackwardNode, a: Tensor, b: Tensor,  # type: ignore[override]
                dtype: _dtypes.dtype) -> np.ndarray:
        ctx.save_for_backward(a, b)
        x, y = _arrays(dtype, a, b)
        return (np.maximum if cls is Maximum else np.minimum)(x, y)

    @classmethod
    def backward(cls, ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        a, b = ctx.saved_tensors
        a_wins = (a > b) if cls is Maximum else (a < b)
        tie = a == b
        ga = where(tie, g / 2, g * a_wins)
        gb = where(tie, g / 2, g * ~(a_wins | tie))
        return ga, gb, None


class Maximum(_Extremum):
    node_name = "MaximumBackward0"


class Minimum(_Extremum):
    node_name = "MinimumBackward0"


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise maximum of two tensors (NaN propagates)."""
    a, b, dtype = _prepare("maximum", input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("maximum(): argument 'other' must be Tensor, not a number")
    return Maximum.apply(a, b, dtype)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise minimum of two tensors (NaN propagates)."""
    a, b, dtype = _prepare("minimum", input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("minimum(): argument 'other' must be Tensor, not a number")
    return Minimum.apply(a, b, dtype)


class CopyFrom(Function):
    """The value written by ``x.copy_(src)``: ``src`` broadcast and cast to ``x``."""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, src: Tensor) -> np.ndarray:
        ctx.src_dtype = src.dtype
        return np.broadcast_to(src._data, tuple(x.shape)).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[None, Tensor]:
        return None, g


def copy_(self: Tensor, src: Any) -> Tensor:
    """Write ``src`` (broadcast, cast to ``self``'s dtype) into ``self``'s memory."""
    if not isinstance(src, Tensor):
        src = Tensor._from_array(np.asarray(src, dtype=self.dtype.np))
    try:
        np.broadcast_shapes(tuple(src.shape), tuple(self.shape))
        np.broadcast_to(np.empty(tuple(src.shape), np.int8), tuple(self.shape))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({list(self.shape)}) must match the size of "
                           f"tensor b ({list(src.shape)}): cannot copy a tensor of shape "
                           f"{list(src.shape)} into one of shape {list(self.shape)}") from None
    if src._storage is self._storage:
        src = Tensor._from_array(src._data.copy()) if not src.requires_grad else src.clone()
    return inplace(self, lambda t: CopyFrom.apply(t, src), src)
