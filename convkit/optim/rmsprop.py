"""RMSprop (optionally centered, with momentum) and Adagrad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor
from convkit.optim.optimizer import (
    Optimizer,
    _array,
    _check,
    _increment,
    _lerp,
    _params_with_grad,
    _step_tensor,
    _write,
    _zeros_like,
)

__all__ = ["RMSprop", "Adagrad"]


class RMSprop(Optimizer):
    """PyTorch's RMSprop: ``v = alpha v + (1 - alpha) g g``; centered subtracts the squared
    running mean of ``g``; ``p -= lr g / (sqrt(v) + eps)`` (through a momentum buffer if
    ``momentum > 0``)."""

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in _params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if centered:
                        state["grad_avg"] = _zeros_like(p)
                param = _array(p)
                grad = _array(p.grad)
                if group["maximize"]:
                    grad = -grad
                _increment(state["step"])
                if wd != 0:
                    grad = grad + wd * param
                square_avg = _array(state["square_avg"])
                np.multiply(square_avg, alpha, out=square_avg)
                square_avg += (1 - alpha) * grad * grad
                if centered:
                    grad_avg = _array(state["grad_avg"])
                    grad_avg[...] = _lerp(grad_avg, grad, 1 - alpha)
                    avg = np.sqrt(square_avg + (-1.0) * grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg = avg + eps
                if momentum > 0:
                    buf = _array(state["momentum_buffer"])
                    np.multiply(buf, momentum, out=buf)
                    buf += grad / avg
                    _write(p, param + (-lr) * buf)
                else:
                    _write(p, param + (-lr) * grad / avg)
        return loss


class Adagrad(Optimizer):
    """PyTorch's Adagrad: ``s += g g``; ``p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)``."""

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly, at construction.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_tensor()
                state["sum"] = Tensor._from_array(np.full(
                    tuple(p.shape), group["initial_accumulator_value"], dtype=p.dtype.np))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps, wd = (group["lr"], group["lr_decay"], group["eps"],
                                     group["weight_decay"])
            for p in _params_with_grad(group):
                state = self.state[p]
                param = _array(p)
                grad = _array(p.grad)
                step = _increment(state["step"])
                if group["maximize"]:
                    grad = -grad
                if wd != 0:
                    grad = grad + wd * param
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = _array(state["sum"])
                state_sum += grad * grad
                std = np.sqrt(state_sum) + eps
                _write(p, param + (-clr) * grad / std)
        return loss
