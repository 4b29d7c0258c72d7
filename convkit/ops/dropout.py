"""Dropout: inverted (survivors scaled by ``1 / (1 - p)``), element-wise or per channel.

Masks are drawn from convkit's generator (NumPy's PCG64), not PyTorch's stream: the
statistics match PyTorch, the individual masks do not. The mask is a constant of the
graph, so the gradient is ``grad * mask / (1 - p)``.
"""

from __future__ import annotations

from typing import Any

from convkit import _random
from convkit.autograd.tensor import Tensor
from convkit.ops import creation

__all__ = ["dropout", "feature_dropout"]


def _check_p(p: Any) -> float:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _apply(input: Tensor, p: float, mask_shape: tuple[int, ...], inplace: bool) -> Tensor:
    if p == 1.0:
        scale = creation.zeros(mask_shape, dtype=input.dtype)
    else:
        keep = _random.rng(None).random(mask_shape) >= p
        scale = creation.from_numpy((keep / (1.0 - p)).astype(input.dtype.np))
    return input.mul_(scale) if inplace else input * scale


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    p = _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply(input, p, tuple(input.shape), inplace)


def feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                    batched: bool) -> Tensor:
    """Zero whole channels: one draw per (sample, channel), or per channel if unbatched."""
    p = _check_p(p)
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _apply(input, p, shape, inplace)
