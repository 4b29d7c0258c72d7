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
so that ``repr`` shows ``grad_fn=<MulBackward0>``; a Function without a ``node_name`` gets
PyTorch's name for custom Functions (``MyExp`` -> ``MyExpBackward``). Gradients whose shape
differs from their input's (broadcasting) are summed back to the input's shape here, once
for all ops.

Saved values. Backward may read tensors given to ``ctx.save_for_backward`` and tensors the
forward keeps as attributes of ``ctx`` (``ctx.out = ...``). Both are checked against their
version counters before backward runs, so an in-place change made after the forward is an
error, as in PyTorch, rather than a silently wrong gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convkit.autograd.grad_mode import _set_enabled, is_grad_enabled

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
        # Tensors kept as ctx attributes: (tensor, version at the end of forward, the index
        # of the output it is (or whose memory it is), else None).
        self._kept: list[tuple[Tensor, int, int | None]] = []
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
        self._check_not_freed()
        saved = self._saved or ()
        for i, (t, version) in enumerate(zip(saved, self._saved_versions, strict=True)):
            if t is not None:
                self._check_version(t, version, self._output_index(t), i)
        return saved

    def _check_not_freed(self) -> None:
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")

    def _output_index(self, t: Tensor) -> int | None:
        return next((nr for kept, _, nr in self._kept if kept is t), None)

    def _check_version(self, t: Tensor, version: int, output_nr: int | None,
                       index: int | None) -> None:
        if t._version == version:
            return
        # PyTorch names the node without its "Backward0" suffix: "output 0 of Exp".
        if output_nr is not None:
            origin = f", which is output {output_nr} of {_short(self.name())},"
        elif t.grad_fn is not None:
            origin = f", which is output {t._output_nr} of {_short(t.grad_fn.name())},"
        else:
            origin = ""
        which = f"saved tensor {index}" if index is not None else "a tensor kept"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{t.type()} {list(t.shape)}]{origin} is at version "
            f"{t._version}; expected version {version} instead ({which} of {self.name()}).")

    def _keep(self, inputs: Sequence[Any], outputs: Sequence[Tensor]) -> None:
        """Record the tensors backward may read (see the module docstring).

        A kept tensor built over the same buffer as an input or output (an op that wraps
        its result array twice, once for ctx and once to return) is the same memory, so it
        takes that tensor's version counter: writes through either are then seen.
        """
        tensor_type = _tensor_type()
        owners = [(o, i) for i, o in enumerate(outputs)] + [
            (a, None) for a in inputs if isinstance(a, tensor_type)]
        kept = [t for t in self._saved or () if t is not None]
        for name, value in vars(self).items():
            if name[0] == "_":
                continue
            if isinstance(value, tensor_type):
                kept.append(value)
            elif isinstance(value, tuple | list):
                kept.extend(v for v in value if isinstance(v, tensor_type))
        for t in dict.fromkeys(kept):  # unique, in order
            owner, output_nr = next(((o, nr) for o, nr in owners if o is t), (None, None))
            if owner is None:
                root = _root(t._storage)
                owner, output_nr = next(((o, nr) for o, nr in owners
                                         if _root(o._storage) is root), (None, None))
                if owner is not None:
                    t._version_box = owner._version_box
            self._kept.append((t, t._version, output_nr))
        # Versions of save_for_backward's tensors are those at the end of forward too.
        self._saved_versions = tuple(t._version if t is not None else 0
                                     for t in self._saved or ())

    def _release(self) -> None:
        self._saved = None
        self._freed = True

    # --- used by the graph walk ------------------------------------------------------
    def _call_backward(self, grads: list[Tensor | None]) -> tuple[Tensor | None, ...]:
        if self._kept:
            self._check_not_freed()
            for t, version, output_nr in self._kept:
                if self._saved is None or all(t is not s for s in self._saved):
                    self._check_version(t, version, output_nr, None)
        if self.materialize_grads:
            grads = [g if g is not None else _tensor_type()._from_array(np.zeros(shape, d.np))
                     for g, (shape, d) in zip(grads, self._output_meta, strict=True)]
        result = self._function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self._input_meta):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                               f"gradients (expected {len(self._input_meta)}, got "
                               f"{len(result)})")
        out: list[Tensor | None] = []
        for i, (g, meta, needed) in enumerate(zip(result, self._input_meta,
                                                   self.needs_input_grad, strict=True)):
            if g is None or not needed or meta is None:
                out.append(None)
                continue
            shape, dtype = meta
            if g._data.shape != shape:
                g = _sum_to_shape(g, shape)
            if g._data.shape != shape:
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at "
                                   f"index {i} - got {list(result[i].shape)} but expected "
                                   f"shape compatible with {list(shape)}")
            if g.dtype is not dtype and not (g.dtype.is_complex and not dtype.is_complex):
                g = g.to(dtype)
            elif g.dtype.is_complex and not dtype.is_complex:
                g = g.real.to(dtype)
            out.append(g)
        return tuple(out)


def _sum_to_shape(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched.

    A gradient that is not a broadcast of ``shape`` comes back unchanged (the caller raises).
    """
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[lead:],
                                                          strict=True)):
        return grad
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
        node_name = ns.get("node_name") or f"{name}Backward"
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
        # Written for speed: every op of every step passes here, and tiny problems are
        # dominated by this overhead.
        tensor_type = _tensor_type()
        ctx = cls._node_class()
        needs = tuple(a.requires_grad if isinstance(a, tensor_type) else False for a in args)
        ctx.needs_input_grad = needs
        enabled = is_grad_enabled()
        record = enabled and True in needs
        if enabled:
            _set_enabled(False)
            try:
                raw = cls.forward(ctx, *args, **kwargs)
            finally:
                _set_enabled(True)
        else:
            raw = cls.forward(ctx, *args, **kwargs)
        multiple = isinstance(raw, tuple)
        outputs = [r if isinstance(r, tensor_type) else tensor_type._from_array(np.asarray(r))
                   for r in (raw if multiple else (raw,))]
        for i, out in enumerate(outputs):
            if _is_one_of(out, args):
                # An input handed back unchanged: return a new tensor viewing it, as PyTorch
                # does, so that attaching this node does not rewrite the input's own history.
                alias = out._make_view(out._data.shape, out.stride(), out._offset, out._data)
                alias._set_view_of(out)
                if id(out) in ctx._non_differentiable:
                    ctx._non_differentiable.add(id(alias))
                outputs[i] = alias
        base = args[0] if cls.is_view and isinstance(args[0], tensor_type) else None
        if base is not None:
            for out in outputs:
                out._set_view_of(base)
        if record:
            ctx._keep(args, outputs)
            ctx.next_functions = tuple(
                (a._grad_node(), a._output_nr if a.grad_fn is not None else 0)
                if isinstance(a, tensor_type) and a.requires_grad else (None, 0) for a in args)
            ctx._input_meta = tuple((a._data.shape, a.dtype) if isinstance(a, tensor_type)
                                    else None for a in args)
            ctx._output_meta = [(o._data.shape, o.dtype) for o in outputs]
            for i, out in enumerate(outputs):
                if id(out) in ctx._non_differentiable:
                    continue
                out._attach(ctx, i)
        return tuple(outputs) if multiple else outputs[0]


_TENSOR: list[type] = []


def _tensor_type() -> type:
    """The Tensor class (autograd.tensor imports this module, so it is looked up once)."""
    if not _TENSOR:
        from convkit.autograd.tensor import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _is_one_of(value: Any, args: tuple[Any, ...]) -> bool:
    for a in args:
        if value is a:
            return True
    return False


def _is_tensor(value: Any) -> bool:
    return isinstance(value, _tensor_type())


def _root(arr: Any) -> Any:
    """The object that owns an array's memory (the end of its ``.base`` chain)."""
    while getattr(arr, "base", None) is not None:
        arr = arr.base
    return arr


def _short(node_name: str) -> str:
    return node_name.replace("Backward0", "").replace("Backward", "")


def _as_tensor(value: Any) -> Tensor:
    tensor_type = _tensor_type()
    if isinstance(value, tensor_type):
        return value
    return tensor_type._from_array(np.asarray(value))


def differentiable_outputs(values: Sequence[Tensor]) -> list[Tensor]:
    return [v for v in values if v.requires_grad]
