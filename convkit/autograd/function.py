"""``Function``: an operation's forward and backward, declared side by side.

Each differentiable op subclasses :class:`Function` with two static methods::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):            # Tensors in, ndarray or Tensor out (no graph)
            ctx.save_for_backward(a, b)
            return a._data * b._data

        @staticmethod
        def backward(ctx, grad):           # Tensors in, one gradient per forward argument
            a, b = ctx.saved_tensors
            return grad * b, grad * a      # written with convkit ops: differentiable again

Calling ``Mul.apply(a, b)`` runs ``forward`` without recording, wraps the result, and, when
grad mode is on and an input requires grad, attaches a node of the graph to the output.
The node is an instance of a class named after PyTorch's backward node (``MulBackward0``)
so that ``repr`` shows ``grad_fn=<MulBackward0>``. Gradients whose shape differs from
their input's (broadcasting) are summed back to the input's shape here, once for all ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convkit.autograd.grad_mode import is_grad_enabled, no_grad

if TYPE_CHECKING:
    from convkit.autograd.tensor import Tensor

__all__ = ["Function", "Node", "AccumulateGrad"]


class Node:
    """A node of the backward graph; ``next_functions`` point towards the inputs."""

    next_functions: tuple[tuple[Node | None, int], ...] = ()

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"


class AccumulateGrad(Node):
    """The graph's sink for a leaf tensor: adds the arriving gradient to ``tensor.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable


class BackwardNode(Node):
    """The context of one ``Function`` call, and its node in the graph."""

    _function: ClassVar[type[Function]]

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self._saved: tuple[Tensor | None, ...] | None = None
        self._saved_versions: tuple[int, ...] = ()
        self._freed = False
        self._non_differentiable: set[int] = set()
        self.materialize_grads = True

    # --- what forward may call -------------------------------------------------------
    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for backward; modifying one in place later makes backward fail."""
        self._saved = tensors
        self._saved_versions = tuple(t._version if t is not None else 0 for t in tensors)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    # --- what backward may call ------------------------------------------------------
    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        saved = self._saved or ()
        for i, (t, version) in enumerate(zip(saved, self._saved_versions, strict=True)):
            if t is not None and t._version != version:
                fn = t.grad_fn
                origin = (f"which is output {t._output_nr} of {fn.name()}" if fn is not None
                          else "which is a leaf tensor")
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.type()} {list(t.shape)}], {origin}, is at "
                    f"version {t._version}; expected version {version} instead "
                    f"(saved tensor {i} of {self.name()}).")
        return saved

    def _release(self) -> None:
        self._saved = None
        self._freed = True

    # --- used by the graph walk ------------------------------------------------------
    def _call_backward(self, grads: list[Tensor | None]) -> tuple[Tensor | None, ...]:
        from convkit.autograd.tensor import Tensor

        if self.materialize_grads:
            grads = [g if g is not None else Tensor._from_array(np.zeros(shape, d.np))
                     for g, (shape, d) in zip(grads, self._output_meta, strict=True)]
        result = self._function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) < len(self._input_meta):
            result = result + (None,) * (len(self._input_meta) - len(result))
        out: list[Tensor | None] = []
        for g, meta, needed in zip(result, self._input_meta, self.needs_input_grad, strict=False):
            if g is None or not needed or meta is None:
                out.append(None)
                continue
            shape, dtype = meta
            if tuple(g.shape) != shape:
                g = _sum_to_shape(g, shape)
            if g.dtype is not dtype and not (g.dtype.is_complex and not dtype.is_complex):
                g = g.to(dtype)
            elif g.dtype.is_complex and not dtype.is_complex:
                g = g.real.to(dtype)
            out.append(g)
        return tuple(out)


def _sum_to_shape(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched."""
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise RuntimeError(f"gradient of shape {tuple(grad.shape)} cannot be reduced to the "
                           f"input's shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


class _FunctionMeta(type):
    """Gives each Function its own node class, named as PyTorch names the backward node."""

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> None:
        super().__init__(name, bases, ns)
        node_name = ns.get("node_name") or f"{name}Backward0"
        cls._node_class = type(node_name, (BackwardNode,), {"_function": cls})


class Function(metaclass=_FunctionMeta):
    """Base class of differentiable operations (see the module docstring).

    Class attributes: ``node_name`` names the graph node (``"AddBackward0"``); ``is_view``
    marks ops whose output shares the first input's memory.
    """

    node_name: ClassVar[str | None] = None
    is_view: ClassVar[bool] = False
    _node_class: ClassVar[type[BackwardNode]]

    @staticmethod
    def forward(ctx: BackwardNode, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: BackwardNode, *grads: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from convkit.autograd.tensor import Tensor

        ctx = cls._node_class()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        record = any(needs) and is_grad_enabled()
        with no_grad():
            raw = cls.forward(ctx, *args, **kwargs)
        multiple = isinstance(raw, tuple)
        outputs = [_as_tensor(r) for r in (raw if multiple else (raw,))]
        base = args[0] if cls.is_view and isinstance(args[0], Tensor) else None
        if base is not None:
            for out in outputs:
                out._set_view_of(base)
        if record:
            ctx.next_functions = tuple(
                (a._grad_node(), a._output_nr if a.grad_fn is not None else 0)
                if isinstance(a, Tensor) and a.requires_grad else (None, 0) for a in args)
            ctx._input_meta = tuple((tuple(a.shape), a.dtype) if isinstance(a, Tensor) else None
                                    for a in args)
            ctx._output_meta = [(tuple(o.shape), o.dtype) for o in outputs]
            for i, out in enumerate(outputs):
                if id(out) in ctx._non_differentiable:
                    continue
                out._attach(ctx, i)
        return tuple(outputs) if multiple else outputs[0]


def _as_tensor(value: Any) -> Tensor:
    from convkit.autograd.tensor import Tensor

    if isinstance(value, Tensor):
        return value
    return Tensor._from_array(np.asarray(value))


def differentiable_outputs(values: Sequence[Tensor]) -> list[Tensor]:
    return [v for v in values if v.requires_grad]
