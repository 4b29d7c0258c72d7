"""Activation functions: one ``Function`` per op that needs its own kernel, the rest as
compositions of differentiable ops (each numerically sound over the whole real line).

Backward formulas are written with convkit ops, so every activation has higher-order
gradients. Formulas and boundary conventions are PyTorch's (``derivatives.yaml``):
``hardtanh``'s gradient is 0 at its corners, ``leaky_relu``'s uses the slope at 0,
``softplus`` reverts to the identity above ``threshold``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.ops import elementwise as E
from convkit.ops import reduction as R

__all__ = ["hardtanh", "relu6", "leaky_relu", "elu", "erf", "gelu", "silu", "mish",
           "hardswish", "hardsigmoid", "softplus", "softmax", "log_softmax", "prelu"]


def _float(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    if not x.dtype.is_floating_point:
        from convkit import _dtypes
        raise NotImplementedError(f'"{name}" not implemented for '
                                  f"'{_dtypes.scalar_type_name(x.dtype)}'")


def _ieee() -> Any:
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


class Hardtanh(Function):
    """``clamp(x, lo, hi)`` with gradient 1 strictly inside ``(lo, hi)``, 0 elsewhere."""

    node_name = "HardtanhBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, lo: float, hi: float) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return np.clip(x._data, lo, hi).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return g * ((x > lo) & (x < hi)), None, None


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    _float(input, "hardtanh")
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return Hardtanh.apply(input, float(min_val), float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0)


class LeakyRelu(Function):
    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, slope: float) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.slope = slope
        a = x._data
        return np.where(a > 0, a, a * slope).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        return E.where(x > 0, g, g * ctx.slope), None


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _float(input, "leaky_relu")
    return LeakyRelu.apply(input, float(negative_slope))


class Elu(Function):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    node_name = "EluBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, alpha: float) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        a = x._data
        with _ieee():
            return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0))).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        neg = E.exp(E.clamp(x, max=0)) * ctx.alpha
        return E.where(x > 0, g, g * neg), None


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _float(input, "elu")
    return Elu.apply(input, float(alpha))


class Erf(Function):
    node_name = "ErfBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor) -> np.ndarray:
        ctx.save_for_backward(x)
        return special.erf(x._data).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g * E.exp(-(x * x)) * (2 / math.sqrt(math.pi))


def erf(input: Tensor) -> Tensor:
    _float(input, "erf")
    return Erf.apply(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)``; ``approximate='tanh'`` uses Hendrycks & Gimpel's tanh formula."""
    _float(input, "GeluKernelImpl")
    if approximate == "none":
        return input * 0.5 * (1 + erf(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = (input + 0.044715 * input * input * input) * math.sqrt(2 / math.pi)
        return input * 0.5 * (1 + E.tanh(inner))
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    _float(input, "silu")
    return input * E.sigmoid(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    _float(input, "mish")
    return input * E.tanh(softplus(input))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    _float(input, "hardsigmoid")
    return Hardtanh.apply(input + 3, 0.0, 6.0) / 6


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _float(input, "hardswish")
    return input * Hardtanh.apply(input + 3, 0.0, 6.0) / 6


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, the identity where ``beta x > threshold``."""

    node_name = "SoftplusBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, beta: float, threshold: float) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.params = (beta, threshold)
        a = x._data
        with _ieee():
            bx = a * beta
            return np.where(bx > threshold, a, np.logaddexp(0, bx) / beta).astype(x.dtype.np)

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.params
        bx = x * beta
        return E.where(bx > threshold, g, g * E.sigmoid(bx)), None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _float(input, "softplus")
    return Softplus.apply(input, float(beta), float(threshold))


def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    if dim is None:  # PyTorch's legacy implicit choice (with a deprecation warning)
        import warnings
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", stacklevel=3)
        return 0 if ndim in (0, 1, 3) else 1
    return dim


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """``x - logsumexp(x, dim)``: exact for large logits, no overflow."""
    _float(input, "log_softmax")
    dim = _softmax_dim("log_softmax", input.ndim, dim)
    x = input.to(dtype) if dtype is not None else input
    if x.ndim == 0:
        return x - x.detach()
    return x - R.logsumexp(x, dim, keepdim=True)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    _float(input, "softmax")
    dim = _softmax_dim("softmax", input.ndim, dim)
    x = input.to(dtype) if dtype is not None else input
    if x.ndim == 0:
        return E.exp(x - x.detach())
    return E.exp(x - R.logsumexp(x, dim, keepdim=True))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``max(0, x) + weight * min(0, x)``, one weight per channel (dim 1) or one shared."""
    _float(input, "prelu")
    n = weight.numel()
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0]
        if n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
        shape = [1] * input.ndim
        shape[1 if input.ndim >= 2 else 0] = n
        w = weight.reshape(shape)
    else:
        w = weight.reshape(())
    return E.where(input > 0, input, w * input)
