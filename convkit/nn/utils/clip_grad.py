"""Gradient clipping, in place on ``p.grad`` (PyTorch's ``torch.nn.utils.clip_grad``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from convkit.autograd.grad_mode import no_grad
from convkit.autograd.tensor import Tensor
from convkit.ops import creation
from convkit.ops import reduction as R
from convkit.ops import shape as S

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: Any = None) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; returns the norm before clipping (a 0-d tensor)."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return creation.tensor(0.0)
    with no_grad():
        norms = [R.vector_norm(g, norm_type) for g in grads]
        total = R.vector_norm(S.stack(norms), norm_type)
        value = float(total.item())
        if error_if_nonfinite and (math.isnan(value) or math.isinf(value)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                               "`parameters` is non-finite, so it cannot be clipped. To disable "
                               "this error and scale the gradients by the non-finite norm "
                               "anyway, set `error_if_nonfinite=False`")
        coef = (total + 1e-6).reciprocal() * max_norm
        coef = coef.clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: Any = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
