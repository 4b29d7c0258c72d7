"""Reverse-mode automatic differentiation: Tensor, Function, the graph walk, gradcheck."""

from convkit.autograd.function import Function
from convkit.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from convkit.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from convkit.autograd.graph import backward, grad

__all__ = ["Function", "backward", "grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
