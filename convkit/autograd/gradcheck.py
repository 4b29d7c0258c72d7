"""``gradcheck`` and ``gradgradcheck``: compare autograd with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from convkit.autograd.grad_mode import enable_grad, no_grad
from convkit.autograd.graph import grad
from convkit.autograd.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """The differentiable-dtype tensors among ``fn``'s outputs (integer outputs carry no
    gradient, as in PyTorch)."""
    out = fn(*inputs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return [o for o in outs if isinstance(o, Tensor)
            and (o.dtype.is_floating_point or o.dtype.is_complex)]


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, **_: Any) -> bool:
    """Check ``func``'s gradients for every input that requires grad, in float64.

    Each Jacobian column is estimated as ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` and
    compared with the rows autograd gives for unit output gradients. An output that does
    not require grad has an analytical Jacobian of zero, so a backward that silently drops
    the graph is caught, not skipped.
    """
    inputs = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs, "
                             "finite differences are not reliable in lower precision")
    outputs = _outputs(func, inputs)
    for k, out in enumerate(outputs):
        n_out = out.numel()
        for i in diff:
            x = inputs[i]
            analytical = np.zeros((x.numel(), n_out))
            for j in range(n_out if out.requires_grad else 0):
                seed = np.zeros(n_out)
                seed[j] = 1.0
                g = grad([_outputs(func, inputs)[k]], [x],
                         [Tensor._from_array(seed.reshape(tuple(out.shape)).astype(out.dtype.np))],
                         allow_unused=True)[0]
                if g is not None:
                    analytical[:, j] = g._data.reshape(-1)
            numerical = np.zeros_like(analytical)
            with no_grad():
                for e in range(x.numel()):
                    index = np.unravel_index(e, tuple(x.shape))
                    orig = x._data[index].copy()
                    x._data[index] = orig + eps
                    plus = _outputs(func, inputs)[k]._data.astype(np.float64).reshape(-1)
                    x._data[index] = orig - eps
                    minus = _outputs(func, inputs)[k]._data.astype(np.float64).reshape(-1)
                    x._data[index] = orig
                    numerical[e] = (plus - minus) / (2 * eps)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
                worst = np.unravel_index(np.argmax(np.abs(analytical - numerical)),
                                         analytical.shape)
                return _fail(f"Jacobian mismatch for output {k} with respect to input {i}: "
                             f"numerical {numerical[worst]:.6g} vs analytical "
                             f"{analytical[worst]:.6g} at (input element {worst[0]}, output "
                             f"element {worst[1]})", raise_exception)
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, seed: int = 0, **_: Any) -> bool:
    """Check second derivatives: :func:`gradcheck` of ``(inputs, v) -> J(inputs)^T v``.

    ``v`` (``grad_outputs``) defaults to fixed pseudo-random float64 tensors shaped like the
    outputs; it is differentiated too, as in PyTorch.
    """
    inputs = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = [o for o in _outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor._from_array(rng.standard_normal(tuple(o.shape))
                                           .astype(o.dtype.np)).requires_grad_()
                        for o in outputs]
    grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, tuple | list) \
        else (grad_outputs,)
    n = len(inputs)

    def first_derivatives(*args: Any) -> tuple[Tensor, ...]:
        xs, vs = args[:n], args[n:]
        # The finite differences run under no_grad; the first derivatives still need a graph.
        with enable_grad():
            outs = [o for o in _outputs(func, xs) if o.requires_grad]
            grads = grad(outs, [xs[i] for i in diff], list(vs), create_graph=True,
                          allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
