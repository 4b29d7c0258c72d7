"""Matrix products: ``matmul`` / ``@`` with NumPy's (and PyTorch's) broadcasting rules."""

from __future__ import annotations

import numpy as np

from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "dot", "mv", "outer"]


class Matmul(Function):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx: BackwardNode, a: Tensor, b: Tensor) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.asarray(np.matmul(a._data, b._data))

    @staticmethod
    def backward(ctx: BackwardNode, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
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
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{input.dtype} != {other.dtype}")
    k_a = input.shape[-1]
    k_b = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if k_a != k_b:
        if input.ndim == 1 and other.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src "
                               f"[{k_b}] to have the same number of elements, but got {k_a} "
                               f"and {k_b} elements respectively")
        rows = int(np.prod(input.shape[:-1])) if input.ndim > 1 else 1
        a_desc = f"{rows}x{k_a}"
        b_desc = f"{k_b}x{other.shape[-1] if other.ndim > 1 else 1}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a_desc} and {b_desc})")
    try:
        np.broadcast_shapes(tuple(input.shape[:-2]), tuple(other.shape[:-2]))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({list(input.shape[:-2])}) must match the size "
                           f"of tensor b ({list(other.shape[:-2])}) in the batch dimensions of "
                           "matmul") from None
    return Matmul.apply(input, other)


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
