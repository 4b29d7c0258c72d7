"""In-place operations: write a result into a tensor's memory and rewire its history.

``x.add_(y)`` is computed as ``x + y`` (on a snapshot of ``x`` when the graph is recorded,
so the values the op saves for backward are not the ones overwritten next), copied into
``x``'s memory, and ``x``'s version counter is bumped. If ``x`` is a view, its base's
history is rewritten the way PyTorch's ``CopySlices`` does: the base's gradient flows to the
untouched elements from the old base, and to the written region from the new value. Other
views of that base re-derive their history from the base's the next time it is read
(:func:`_regenerate_view_history`, installed into the autograd layer below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd import tensor as _tensor_module
from convkit.autograd.function import BackwardNode, Function
from convkit.autograd.grad_mode import enable_grad, is_grad_enabled
from convkit.autograd.tensor import Tensor
from convkit.ops.shape import _gather_by_geometry, _storage_index, as_strided

__all__ = ["inplace", "can_cast"]


def can_cast(src: _dtypes.dtype, dst: _dtypes.dtype) -> bool:
    """PyTorch's rule for writing results into an existing tensor: no category demotion."""
    return src._category <= dst._category


def inplace(x: Tensor, compute: Callable[[Tensor], Tensor], *others: Any,
            node_name: str = "FillBackward0") -> Tensor:
    """Run ``compute(x)`` out of place and store the result in ``x`` (returned).

    ``node_name`` names the node recorded when the result does not depend on anything that
    requires grad (``zero_``, ``fill_``, ``normal_`` ... on a tensor that does).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"in-place operation expected a Tensor, got {type(x).__name__}")
    x._check_inplace()
    recording = is_grad_enabled() and (
        x.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))
    # Snapshot even when x itself does not require grad: y.mul_(w) saves y's old values for
    # w's gradient, and they must survive the write below.
    source = x.clone() if recording else x
    result = compute(source)
    if not can_cast(result.dtype, x.dtype):
        raise RuntimeError(f"result type {_type_name(result.dtype)} can't be cast to the desired "
                           f"output type {_type_name(x.dtype)}")
    if tuple(result.shape) != tuple(x.shape):
        raise RuntimeError(f"output with shape {list(x.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    if x.stride().count(0) and x.numel() > 1 and 0 in [s for s, n in zip(
            x.stride(), x.shape, strict=True) if n > 1]:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    if recording and x.requires_grad and not result.requires_grad:
        # Constants overwrite values autograd tracks: their old history must end here, with a
        # node that sends the old values a zero gradient (PyTorch's FillBackward0 and kin).
        result = _overwrite_class(node_name).apply(source, result)
    np.copyto(x._data, result._data, casting="unsafe")
    x._bump_version()
    if recording and result.requires_grad:
        _rebase_history(x, result)
    return x


class _Overwrite(Function):
    """``new``, recorded as a function of the ``old`` values it replaces (gradient zero)."""

    @staticmethod
    def forward(ctx: BackwardNode, old: Tensor, new: Tensor) -> Tensor:
        return new.detach()

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor, None]:
        return Tensor._from_array(np.zeros(tuple(grad.shape), grad.dtype.np)), None


_OVERWRITE_CLASSES: dict[str, type[_Overwrite]] = {}


def _overwrite_class(node_name: str) -> type[_Overwrite]:
    cls = _OVERWRITE_CLASSES.get(node_name)
    if cls is None:
        cls = _OVERWRITE_CLASSES[node_name] = type(node_name.removesuffix("Backward0"),
                                                   (_Overwrite,), {"node_name": node_name})
    return cls


def _type_name(d: _dtypes.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}[d.name]


def _alias(t: Tensor) -> Tensor:
    """A second Tensor object carrying ``t``'s current history (and memory)."""
    a = t._make_view(tuple(t.shape), t.stride(), t.storage_offset())
    a.grad_fn, a._output_nr, a._requires_grad = t.grad_fn, t._output_nr, t._requires_grad
    a._accumulator = t._accumulator
    a._version_box = t._version_box
    return a


def _rebase_history(x: Tensor, result: Tensor) -> None:
    base = x._base
    if base is None:
        x.grad_fn, x._output_nr, x._requires_grad = result.grad_fn, result._output_nr, True
        return
    view_geometry = (tuple(x.shape), x.stride(), x.storage_offset())
    base_geometry = (tuple(base.shape), base.stride(), base.storage_offset())
    updated = CopySlices.apply(_alias(base), result, base_geometry, view_geometry)
    base.grad_fn, base._output_nr, base._requires_grad = updated.grad_fn, 0, True
    rebased = as_strided(base, *view_geometry)
    x.grad_fn, x._output_nr, x._requires_grad = rebased.grad_fn, 0, True


def _regenerate_view_history(view: Tensor) -> None:
    """Give a view whose base was rewritten the history ``as_strided(base, view geometry)``."""
    with enable_grad():  # the history is owed whatever the grad mode at the time of asking
        fresh = as_strided(view._base, tuple(view.shape), view.stride(), view.storage_offset())
    view._output_nr = 0
    view.grad_fn = fresh.grad_fn
    view._requires_grad = True


_tensor_module._regenerate_view_history = _regenerate_view_history


class CopySlices(Function):
    """The base after a write into one of its views (``base[region] = value``)."""

    node_name = "CopySlices"

    @staticmethod
    def forward(ctx: BackwardNode, base: Tensor, value: Tensor, base_geometry: Any,
                view_geometry: Any) -> Tensor:
        ctx.geometry = base_geometry, view_geometry
        return base.detach()

    @staticmethod
    def backward(ctx: BackwardNode, grad: Tensor) -> tuple[Tensor | None, ...]:
        base_geometry, view_geometry = ctx.geometry
        written = np.isin(_storage_index(*base_geometry), _storage_index(*view_geometry))
        keep = Tensor._from_array((~written).astype(grad.dtype.np))
        grad_base = grad * keep if ctx.needs_input_grad[0] else None
        grad_value = (_gather_by_geometry(grad, base_geometry, view_geometry)
                      if ctx.needs_input_grad[1] else None)
        return grad_base, grad_value, None, None
