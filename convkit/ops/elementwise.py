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
from convkit.autograd.grad_mode import no_grad
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


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The common shape of an op's operands, folded left to right as PyTorch's
    TensorIterator does, with its error: the sizes clash at output dim ``i``, "tensor a"
    being the shape broadcast so far and "tensor b" the next operand."""
    out: tuple[int, ...] = ()
    for shape in shapes:
        a, b = out, tuple(shape)
        ndim = max(len(a), len(b))
        merged = [0] * ndim
        for i in range(ndim - 1, -1, -1):  # PyTorch scans from the last dim: it reports that
            ja, jb = len(a) - ndim + i, len(b) - ndim + i
            na = a[ja] if ja >= 0 else 1
            nb = b[jb] if jb >= 0 else 1
            if na != nb and na != 1 and nb != 1:
                raise RuntimeError(f"The size of tensor a ({na}) must match the size of tensor "
                                   f"b ({nb}) at non-singleton dimension {i}")
            merged[i] = nb if na == 1 else na
        out = tuple(merged)
    return out


def broadcast_shapes(*shapes: Any) -> Any:
    """``torch.broadcast_shapes``: the shape all ``shapes`` broadcast to (ints count as 1-d)."""
    from convkit.autograd.tensor import Size

    out: list[int] = []
    for index, shape in enumerate(shapes):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for k in range(1, len(shape) + 1):
            n = shape[-k]
            if n == out[-k] or n == 1:
                continue
            if out[-k] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {n} at {-k}! "
                                   f"Mismatching argument at index {index} had {shape}; but "
                                   f"expected shape should be broadcastable to {out}")
            out[-k] = n
    return Size(out)


def _arrays(dtype: _dtypes.dtype, *xs: Any) -> list[Any]:
    """Operands as NumPy values of ``dtype`` (scalars stay scalars of that dtype)."""
    out = []
    for x in xs:
        if isinstance(x, Tensor):
            out.append(x._data if x.dtype is dtype else x._data.astype(dtype.np))
        else:
            out.append(np.asarray(x).astype(dtype.np)[()])
    return out


def _operands(dtype: _dtypes.dtype, a: Any, b: Any) -> tuple[Any, Any, _dtypes.dtype]:
    """``a`` and ``b`` as NumPy values to compute ``dtype``'s result in, and the dtype to
    compute in.

    PyTorch's CPU add/sub/mul/div/floor_divide kernels for float16 take a single-element
    ``other`` (a Python number or a one-element tensor) at its original value in float32,
    compute in float32 and round once: ``half_tensor * 1e5`` is finite where it fits, and
    dividing by ``1e-30`` is not a division by zero. Other operands are cast to ``dtype``.
    """
    if dtype is _dtypes.float16 and (not isinstance(b, Tensor) or b.numel() == 1):
        x = _arrays(dtype, a)[0].astype(np.float32)
        y = np.asarray(b._data if isinstance(b, Tensor) else b).astype(np.float32)
        return x, y, _dtypes.float32
    x, y = _arrays(dtype, a, b)
    return x, y, dtype


def _ieee() -> Any:
    """Float results follow IEEE 754 (inf, NaN) silently, as in PyTorch: no NumPy warnings."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if isinstance(x, Tensor) else ()


def _conj(t: Tensor) -> Tensor:
    return conj(t) if t.dtype.is_complex else t


def _prepare(name: str, a: Any, b: Any) -> tuple[Any, Any, _dtypes.dtype]:
    a, b = _check_operand(a, name), _check_operand(b, name)
    _broadcast(_shape_of(a), _shape_of(b))
    return a, b, _dtypes.result_type(a, b)


def _not_implemented(kernel: str, dtype: _dtypes.dtype) -> NotImplementedError:
    """PyTorch's error for a dtype its kernel has no loop for (a RuntimeError subclass)."""
    return NotImplementedError(f"\"{kernel}\" not implemented for "
                               f"'{_dtypes.scalar_type_name(dtype)}'")


def _is_bool(x: Any) -> bool:
    return x.dtype is _dtypes.bool if isinstance(x, Tensor) else isinstance(x, bool | np.bool_)


# ----------------------------------------------------------------------- arithmetic
class Add(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, alpha: Scalar, dtype: _dtypes.dtype) -> Any:
        ctx.alpha = alpha
        x, y, compute = _operands(dtype, a, b)
        with _ieee():
            return np.add(x, _scaled(y, alpha, compute), dtype=compute.np).astype(dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return g, (g * ctx.alpha if ctx.alpha != 1 else g), None, None


class Sub(Function):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, alpha: Scalar, dtype: _dtypes.dtype) -> Any:
        ctx.alpha = alpha
        x, y, compute = _operands(dtype, a, b)
        with _ieee():
            return np.subtract(x, _scaled(y, alpha, compute), dtype=compute.np).astype(dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        return g, -g * ctx.alpha if ctx.alpha != 1 else -g, None, None


def _scaled(y: Any, alpha: Scalar, dtype: _dtypes.dtype) -> Any:
    """``alpha * y`` in ``dtype`` (alpha is cast to the result dtype first, as in PyTorch:
    for bool results any non-zero alpha is True)."""
    if alpha is True or (not isinstance(alpha, bool) and alpha == 1):
        return y
    return np.multiply(y, np.asarray(alpha).astype(dtype.np), dtype=dtype.np)


def _check_alpha(alpha: Any, dtype: _dtypes.dtype) -> None:
    if isinstance(alpha, bool | np.bool_):
        if dtype is not _dtypes.bool:
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, float | np.floating) and dtype._category <= 1:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    elif isinstance(alpha, complex | np.complexfloating) and not dtype.is_complex:
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a complex "
                           "number.")


def add(input: Any, other: Any, *, alpha: Scalar = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    a, b, dtype = _prepare("add", input, other)
    _check_alpha(alpha, dtype)
    return Add.apply(a, b, alpha, dtype)


def sub(input: Any, other: Any, *, alpha: Scalar = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    a, b, dtype = _prepare("sub", input, other)
    # PyTorch refuses any bool operand, a Python bool included (it becomes a bool tensor).
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    _check_alpha(alpha, dtype)
    return Sub.apply(a, b, alpha, dtype)


class Mul(Function):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalars = (a, b)
        x, y, compute = _operands(dtype, a, b)
        with _ieee():
            return np.multiply(x, y, dtype=compute.np).astype(dtype.np)

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
        x, y, compute = _operands(dtype, a, b)
        with _ieee():
            return np.true_divide(x, y, dtype=compute.np).astype(dtype.np)

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
    if dtype is _dtypes.bool or dtype.is_complex:
        raise _not_implemented("div_floor_cpu", dtype)
    _integer_divisor_check(b, dtype)
    x, y, compute = _operands(dtype, a, b)
    with _ieee():
        return Tensor._from_array(np.asarray(np.floor_divide(x, y, dtype=compute.np))
                                  .astype(dtype.np))


class Remainder(Function):
    node_name = "RemainderBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        x, y = _arrays(dtype, a, b)
        with _ieee():
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
    if dtype is _dtypes.bool or dtype.is_complex:
        raise _not_implemented("remainder_cpu", dtype)
    _integer_divisor_check(b, dtype)
    return Remainder.apply(a, b, dtype)


class Pow(Function):
    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Any, b: Any, dtype: _dtypes.dtype) -> Any:
        x, y = _arrays(dtype, a, b)
        if dtype is _dtypes.bool:  # only a Python bool exponent gets here: x**True is x
            out = np.broadcast_to(x if y else np.ones_like(x), np.shape(x)).copy()
        elif dtype._category == 1:
            out = _integer_pow(x, y, dtype)
        elif dtype.is_complex:
            out = _complex_pow(x, y, scalar_exponent=not isinstance(b, Tensor))
        else:
            with _ieee():
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


def _integer_pow(x: Any, y: Any, dtype: _dtypes.dtype) -> np.ndarray:
    """``x ** y`` for integers, with PyTorch's answer for negative exponents (NumPy
    refuses them): 1 for base 1, +-1 for base -1 by parity, 0 for any other base."""
    y = np.asarray(y)
    negative = y < 0
    out = np.power(x, np.where(negative, 0, y).astype(y.dtype), dtype=dtype.np)
    if np.any(negative):
        odd = np.remainder(y, 2) != 0
        inverse = np.where(x == 1, 1, np.where(x == -1, np.where(odd, -1, 1), 0))
        out = np.where(negative, inverse, out).astype(dtype.np)
    return np.asarray(out, dtype=dtype.np)


def _complex_pow(x: Any, y: Any, scalar_exponent: bool) -> np.ndarray:
    """Complex ``x ** y`` as PyTorch's CPU kernels compute it: a Python exponent of 0, 1,
    2, 3, +-0.5, -1 or -2 is done with products, square roots and reciprocals, anything
    else as ``exp(y * log(x))`` (so ``0 ** 0j`` is NaN, where NumPy says 1)."""
    with np.errstate(all="ignore"):
        if scalar_exponent:
            special = {0: lambda: np.ones_like(x), 1: lambda: x, 2: lambda: x * x,
                       3: lambda: x * x * x, 0.5: lambda: np.sqrt(x),
                       -0.5: lambda: 1 / np.sqrt(x), -1: lambda: 1 / x,
                       -2: lambda: 1 / (x * x)}
            key = complex(y)
            if key.imag == 0 and key.real in special:
                return np.asarray(special[key.real]())
        return np.asarray(np.exp(y * np.log(x)))


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` element-wise."""
    a, b, dtype = _prepare("pow", input, exponent)
    if dtype is _dtypes.bool and (isinstance(b, Tensor) or not isinstance(a, Tensor)):
        raise _not_implemented("pow", dtype)
    # Only a Python exponent is refused; negative integer *tensors* get _integer_pow's values.
    if dtype._category == 1 and not isinstance(b, Tensor) and np.any(np.asarray(b) < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return Pow.apply(a, b, dtype)


def square(input: Tensor) -> Tensor:
    """``input ** 2`` (as in PyTorch, so bools square to int64)."""
    return pow(input, 2)


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


def abs(input: Tensor) -> Tensor:
    """``|input|`` (for complex input: the modulus, as a real tensor)."""
    if input.dtype is _dtypes.bool:
        raise _not_implemented("abs_cpu", input.dtype)
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
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                                  "numbers. Please use torch.sgn instead.")
    # PyTorch's sign is (0 < x) - (x < 0): NaN gives 0, where NumPy's sign gives NaN
    data = input._data
    out = Tensor._from_array(data.copy() if input.dtype is _dtypes.bool else
                             ((data > 0).astype(data.dtype) - (data < 0).astype(data.dtype)))
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
        # np.array copies into a fresh array; np.ascontiguousarray would make 0-d input 1-d
        return np.array(np.real(x._data) if cls is Real else np.imag(x._data))

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
            raise _not_implemented(f"{name}_cpu", dtype)
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


def _require_tensors(name: str, input: Any, other: Any) -> None:
    for arg, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(value).__name__}")


def _logical(name: str, np_fn: Callable[..., np.ndarray]) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        _require_tensors(name, input, other)  # PyTorch has no Scalar overload for these
        a, b, dtype = _prepare(name, input, other)
        # truth is taken after the cast to the common dtype: a tiny float64 0-d tensor
        # next to a float16 tensor becomes 0, so False
        x, y = _arrays(dtype, a, b)
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
            raise _not_implemented(f"{name}_cpu", dtype)
        x, y = _arrays(dtype, a, b)
        return Tensor._from_array(np.asarray(np_fn(x, y), dtype=dtype.np))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input: Tensor) -> Tensor:
    if input.dtype._category > 1:
        raise _not_implemented("bitwise_not_cpu", input.dtype)
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
        raise RuntimeError(f"{_dtypes.scalar_type_name(input.dtype)} did not match "
                           f"{_dtypes.scalar_type_name(other.dtype)}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {value}")
    # PyTorch's formula, step by step in the inputs' float dtype (bools and integers in the
    # default dtype), with its rounding, which NumPy's float64 isclose would not reproduce.
    with no_grad():
        a, b = input.detach(), other.detach()
        close = eq(a, b)
        if equal_nan and (a.dtype.is_floating_point or a.dtype.is_complex):
            close = close | (isnan(a) & isnan(b))
        if rtol == 0 and atol == 0:
            return close
        if a.dtype._category <= 1:
            a, b = a.to(_dtypes.get_default_dtype()), b.to(_dtypes.get_default_dtype())
        allowed = abs(mul(b, rtol)) + atol
        actual = abs(sub(a, b))
        return close | (isfinite(actual) & le(actual, allowed))


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
    # PyTorch broadcasts condition, input, other in this order (its error names them so)
    a, b = _check_operand(input, "where"), _check_operand(other, "where")
    _broadcast(tuple(condition.shape), _shape_of(a), _shape_of(b))
    return Where.apply(condition, a, b, _dtypes.result_type(a, b))


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


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit each element to ``[min, max]`` (either bound may be a tensor or None)."""
    if min is None and max is None:
        raise RuntimeError("convkit.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [o for o in (min, max) if o is not None]
    if len(bounds) == 2 and isinstance(min, Tensor) != isinstance(max, Tensor):
        # PyTorch has a (Tensor, Tensor) and a (Number, Number) overload, not a mixed one
        raise TypeError(f"clamp() received an invalid combination of arguments - got (Tensor, "
                        f"min={type(min).__name__}, max={type(max).__name__}), but expected "
                        "both bounds to be Tensors or both to be Numbers")
    bounds = [_check_operand(o, "clamp") for o in bounds]
    dtype = _dtypes.result_type(input, *bounds)
    if dtype.is_complex:
        raise NotImplementedError("clamp is not supported for complex types")
    if dtype is _dtypes.bool and not any(isinstance(o, Tensor) for o in bounds):
        kernel = "clamp_scalar_cpu" if len(bounds) == 2 else (
            "clamp_min_scalar_cpu" if min is not None else "clamp_max_scalar_cpu")
        raise _not_implemented(kernel, dtype)
    if dtype is _dtypes.bool and len(bounds) == 2:
        raise _not_implemented("clamp_cpu", dtype)
    _broadcast(tuple(input.shape), *(_shape_of(o) for o in bounds))
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


def _extremum(cls: type[_Extremum], name: str, input: Any, other: Any) -> Tensor:
    for arg, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(value).__name__}")
    a, b, dtype = _prepare(name, input, other)
    if dtype.is_complex:
        raise RuntimeError(f"{name} not implemented for complex tensors.")
    return cls.apply(a, b, dtype)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise maximum of two tensors (NaN propagates)."""
    return _extremum(Maximum, "maximum", input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise minimum of two tensors (NaN propagates)."""
    return _extremum(Minimum, "minimum", input, other)


class CopyFrom(Function):
    """The value written by ``x.copy_(src)``: ``src`` broadcast and cast to ``x``."""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, src: Tensor) -> np.ndarray:
        ctx.src_dtype = src.dtype
        return np.broadcast_to(src._data, tuple(x.shape)).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor, Tensor]:
        # The old value of the destination is overwritten: its gradient is zero, not absent.
        return Tensor._from_array(np.zeros(tuple(g.shape), g.dtype.np)), g


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
        _refuse_partial_overlap(self, src)
        src = Tensor._from_array(src._data.copy()) if not src.requires_grad else src.clone()
    return inplace(self, lambda t: CopyFrom.apply(t, src), src)


def _refuse_partial_overlap(dst: Tensor, src: Tensor) -> None:
    """PyTorch refuses a copy between different but overlapping windows of one storage
    (the result would depend on the copy order); the very same window is fine."""
    from convkit.ops.shape import _storage_index

    same = (tuple(dst.shape) == tuple(src.shape) and dst.stride() == src.stride()
            and dst.storage_offset() == src.storage_offset())
    if same:
        return
    written = _storage_index(tuple(dst.shape), dst.stride(), dst.storage_offset())
    read = _storage_index(tuple(src.shape), src.stride(), src.storage_offset())
    if np.intersect1d(written, read).size:
        raise RuntimeError("unsupported operation: some elements of the input tensor and the "
                           "written-to tensor refer to a single memory location. Please clone() "
                           "the tensor before performing the operation.")
