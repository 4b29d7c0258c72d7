"""Matrix products: ``matmul`` / ``@`` with NumPy's (and PyTorch's) broadcasting rules."""

from __future__ import annotations

import math

import numpy as np

from convkit import _dtypes
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor
from convkit.ops.elementwise import _broadcast

__all__ = ["matmul", "mm", "bmm", "dot", "mv", "outer"]


class Matmul(Function):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Tensor, b: Tensor) -> np.ndarray:
        ctx.save_for_backward(a, b)
        if a.dtype is _dtypes.float16:  # accumulate in float32 and round once, as PyTorch
            return np.asarray(np.matmul(a._data.astype(np.float32), b._data.astype(np.float32))
                              ).astype(np.float16)
        return np.asarray(np.matmul(a._data, b._data))

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        if a.ndim == 1 and b.ndim == 1:  # dot: g is 0-d
            return (g * b.conj() if ctx.needs_input_grad[0] else None,
                    g * a.conj() if ctx.needs_input_grad[1] else None)
        # Lift 1-d operands to matrices so one formula serves all cases:
        # a (.., n, k) @ b (.., k, m) = g (.., n, m); 1-d a is (1, k), 1-d b is (k, 1).
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2 @ b2.mT.conj()
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
            ga = _reduce_batch(ga, tuple(a.shape))
        if ctx.needs_input_grad[1]:
            gb = a2.mT.conj() @ g2
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
            gb = _reduce_batch(gb, tuple(b.shape))
        return ga, gb


def _reduce_batch(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    from convkit.autograd.function import _sum_to_shape

    return g if tuple(g.shape) == shape else _sum_to_shape(g, shape)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product: dot for 1-d, mm for 2-d, batched with broadcasting beyond."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"matmul(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    _check_matmul(input, other)
    return Matmul.apply(input, other)


def _should_fold(a: Tensor, b: Tensor) -> bool:
    """PyTorch's choice (``should_fold``) to fold the batch dims of the larger operand into
    rows and call mm/mv instead of bmm; it decides which error a size mismatch raises."""
    a_larger = a.ndim >= b.ndim
    big, small = (a, b) if a_larger else (b, a)
    if not (big.ndim >= 3 and small.ndim <= 2):
        return False
    if small.requires_grad:
        return True
    if a.ndim == 2:
        return False
    if big.numel() == 0:
        return True
    # folding is free when the leading dims of the larger operand (b.mT if b is larger)
    # are contiguous with one another
    shape, strides = list(big.shape), list(big.stride())
    if not a_larger:
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(big.ndim - 2))


def _check_matmul(a: Tensor, b: Tensor) -> None:
    """Raise PyTorch's error for the kernel ``matmul`` would dispatch to: dot, mv, mm
    (2-d operands, or batch dims folded into rows) or bmm (batch dims broadcast)."""
    shape_a, shape_b, dtype_a, dtype_b = tuple(a.shape), tuple(b.shape), a.dtype, b.dtype
    if a.ndim == 1 and b.ndim == 1:
        kind = "dot"
    elif a.ndim <= 2 and b.ndim <= 2:
        kind = "mv" if b.ndim == 1 else "mm"
    elif _should_fold(a, b):
        kind = "mv" if min(a.ndim, b.ndim) == 1 else "mm"
        if a.ndim < b.ndim:
            # PyTorch folds b.mT into rows and computes (b.mT @ a.mT).mT: the roles swap
            shape_a = (math.prod(shape_b[:-2]) * shape_b[-1], shape_b[-2])
            shape_b = (a.shape[0],) if a.ndim == 1 else (a.shape[1], a.shape[0])
            dtype_a, dtype_b = dtype_b, dtype_a
    else:
        kind = "bmm"
    # dot checks dtypes before sizes; mv, mm and bmm check sizes first
    if kind == "dot":
        _check_matmul_dtypes(kind, dtype_a, dtype_b)
    k_a, k_b = shape_a[-1], shape_b[0] if len(shape_b) == 1 else shape_b[-2]
    rows = math.prod(shape_a[:-1])  # a's leading dims folded into rows (1 for a vector)
    if kind == "bmm":
        batch = _broadcast(shape_a[:-2], shape_b[:-2])
        if k_a != k_b:
            count = math.prod(batch)
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{count}, {k_a}] but got: [{count}, {k_b}].")
    elif k_a == k_b:
        pass
    elif kind == "dot":
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src [{k_b}] "
                           f"to have the same number of elements, but got {k_a} and {k_b} "
                           "elements respectively")
    elif kind == "mv":
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k_a}), vec ({k_b})")
    else:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and "
                           f"{k_b}x{shape_b[-1]})")
    _check_matmul_dtypes(kind, dtype_a, dtype_b)
    # the kernel (and its dtype refusal) runs only when there is something to multiply
    if dtype_a is _dtypes.bool and (kind == "dot" or (a.numel() and b.numel())):
        kernel = {"dot": "dot", "mv": "addmv_impl_cpu", "mm": "addmm_impl_cpu_",
                  "bmm": "bmm"}[kind]
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_matmul_dtypes(kind: str, a: _dtypes.dtype, b: _dtypes.dtype) -> None:
    if a is b:
        return
    name = _dtypes.scalar_type_name
    message = {
        "dot": f"dot : expected both vectors to have same dtype, but found {name(a)} and "
               f"{name(b)}",
        "mv": f"addmv input tensors must have the same dtype, but got {name(b)}, {name(a)}, "
              f"and {name(b)}",
        "mm": f"expected m1 and m2 to have the same dtype, but got: {_dtypes.cpp_type_name(a)} "
              f"!= {_dtypes.cpp_type_name(b)}",
        "bmm": f"expected scalar type {name(a)} but found {name(b)}",
    }[kind]
    # PyTorch's text, then the dtypes as convkit names them (the C++ names are obscure)
    raise RuntimeError(f"{message} ({a} and {b})")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-d tensors, got {input.ndim}-d and {mat2.ndim}-d")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got {input.ndim}-d and {mat2.ndim}-d)")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    return matmul(input, other)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {vec.ndim}")
    return matmul(input, vec)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    return input.reshape(-1, 1) * vec2.reshape(1, -1)
