"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor
from convkit.optim.optimizer import Optimizer, _array, _check, _params_with_grad, _write

__all__ = ["SGD"]


class SGD(Optimizer):
    """PyTorch's SGD: ``g = grad (+ wd p)``; ``b = m b + (1 - dampening) g`` (``b = g`` at the
    first step); ``g = g + m b`` (Nesterov) or ``b``; ``p -= lr g``."""

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
            dampening, nesterov = group["dampening"], group["nesterov"]
            for p in _params_with_grad(group):
                param = _array(p)
                grad = _array(p.grad)
                if group["maximize"]:
                    grad = -grad
                if wd != 0:
                    grad = grad + wd * param
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    if buf_t is None:
                        buf_t = Tensor._from_array(np.array(grad, copy=True))
                        state["momentum_buffer"] = buf_t
                    else:
                        buf = _array(buf_t)
                        np.multiply(buf, momentum, out=buf)
                        np.add(buf, (1 - dampening) * grad, out=buf)
                    buf = _array(buf_t)
                    grad = grad + momentum * buf if nesterov else buf
                _write(p, param + (-lr) * grad)
        return loss
