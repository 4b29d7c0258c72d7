"""``gradcheck``: compare autograd's gradients with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from convkit.autograd.graph import grad
from convkit.autograd.grad_mode import no_grad
from convkit.autograd.tensor import Tensor

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return [o for o in outs if isinstance(o, Tensor)]


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, **_: Any) -> bool:
    """Check ``func``'s gradients for every input that requires grad, in float64.

    Each Jacobian column is estimated as ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` and
    compared with the rows autograd gives for unit output gradients.
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
        if not out.requires_grad:
            continue
        n_out = out.numel()
        for i in diff:
            x = inputs[i]
            analytical = np.zeros((x.numel(), n_out))
            for j in range(n_out):
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
                msg = (f"Jacobian mismatch for output {k} with respect to input {i}: "
                       f"numerical {numerical[worst]:.6g} vs analytical {analytical[worst]:.6g} "
                       f"at (input element {worst[0]}, output element {worst[1]})")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True
