"""The reverse-mode graph walk behind ``Tensor.backward`` and ``autograd.grad``.

Iterative (no recursion limit on deep nets): count, for every node reachable from the
roots, how many edges lead into it; a node runs once all of its consumers have sent their
gradient, which is the order of a topological sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from convkit.autograd.function import AccumulateGrad, BackwardNode, Node
from convkit.autograd.grad_mode import set_grad_enabled

if TYPE_CHECKING:
    from convkit.autograd.tensor import Tensor

__all__ = ["backward", "grad"]


def _as_list(x: Any) -> list[Any]:
    from convkit.autograd.tensor import Tensor

    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(outputs: list[Tensor], grad_outputs: Sequence[Tensor | None] | None,
                ) -> list[Tensor]:
    from convkit.autograd.tensor import Tensor

    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(output {i} has shape {list(out.shape)}; pass gradient=)")
            g = Tensor._from_array(np.ones(tuple(out.shape), out.dtype.np))
        elif not isinstance(g, Tensor):
            g = Tensor._from_array(np.asarray(g, dtype=out.dtype.np))
        if tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{g.shape} and output[{i}] has a shape of {out.shape}.")
        if g.dtype is not out.dtype:
            g = g.to(out.dtype)  # as PyTorch: a gradient has its tensor's dtype
        grads.append(g)
    return grads


def _run(outputs: list[Tensor], grads: list[Tensor], retain_graph: bool, create_graph: bool,
         capture: dict[tuple[int, int], Any] | None) -> dict[tuple[int, int], Tensor]:
    """Propagate ``grads`` from ``outputs`` through the graph.

    With ``capture`` (``autograd.grad``): gradients arriving at the captured
    ``(id(node), output_nr)`` slots are returned and no leaf's ``.grad`` changes.
    Otherwise leaves accumulate into ``.grad``.
    """
    roots = [o._grad_node() for o in outputs]
    dependencies: dict[Node, int] = {}
    seen: set[int] = set()
    stack = list(roots)
    for node in roots:
        seen.add(id(node))
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            dependencies[nxt] = dependencies.get(nxt, 0) + 1
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)

    buffers: dict[Node, list[Tensor | None]] = {}

    def deposit(node: Node, nr: int, g: Tensor) -> None:
        slots = buffers.get(node)
        if slots is None:
            size = len(getattr(node, "_output_meta", ())) or 1
            slots = buffers[node] = [None] * size
        slots[nr] = g if slots[nr] is None else slots[nr] + g

    for out, g, node in zip(outputs, grads, roots, strict=True):
        deposit(node, out._output_nr if out.grad_fn is not None else 0, g)
    ready = [n for n in dict.fromkeys(roots) if dependencies.get(n, 0) == 0]
    captured: dict[tuple[int, int], Tensor] = {}

    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            slots = buffers.pop(node, [None])
            if capture is not None:
                for nr, g in enumerate(slots):
                    if (id(node), nr) in capture and g is not None:
                        captured[(id(node), nr)] = g
            if isinstance(node, AccumulateGrad):
                if capture is None and slots[0] is not None:
                    _accumulate(node.variable, slots[0], create_graph)
                continue
            assert isinstance(node, BackwardNode)
            for nr, t in getattr(node, "_retained", {}).items():
                g = slots[nr]
                if g is not None and capture is None:
                    _accumulate(t, g, create_graph)
            if any(g is not None for g in slots):
                in_grads = node._call_backward(slots)
            else:
                in_grads = (None,) * len(node.next_functions)
            if not retain_graph:
                node._release()
            for (nxt, nr), g in zip(node.next_functions, in_grads, strict=False):
                if nxt is None:
                    continue
                if g is not None:
                    deposit(nxt, nr, g)
                dependencies[nxt] -= 1
                if dependencies[nxt] == 0:
                    ready.append(nxt)
    return captured


def _accumulate(t: Tensor, g: Tensor, create_graph: bool) -> None:
    from convkit.autograd.tensor import Tensor

    if not create_graph:
        g = g.detach()
    if t._grad is None:
        # A fresh, contiguous tensor: never alias a gradient another leaf also receives
        # (x + y hands both the same one). Under create_graph the copy is recorded
        # (PyTorch's CopyBackwards), so x.grad stays differentiable.
        if create_graph:
            fresh = Tensor._from_array(np.empty(tuple(g.shape), g.dtype.np))
            with set_grad_enabled(True):
                t._grad = fresh.copy_(g)
        elif _canonical(g._data):
            # clone() of a row-major tensor, without the layout inference it goes through
            t._grad = Tensor._from_array(g._data.copy())
        else:
            t._grad = g.clone()
    elif create_graph:
        t._grad = t._grad + g
    else:
        np.add(t._grad._data, g._data, out=t._grad._data, casting="unsafe")


def _canonical(data: np.ndarray) -> bool:
    """Row-major with PyTorch's strides, size-1 dims' included (NumPy's flag ignores them)."""
    return bool(data.size) and data.flags.c_contiguous and (
        data.strides == data.reshape(-1).reshape(data.shape).strides)


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves of their graph."""
    outputs = _as_list(tensors)
    grads = _root_grads(outputs, _as_list(grad_tensors) if grad_tensors is not None else None)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        wanted = _as_list(inputs)
        results = grad(outputs, wanted, grads, retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True)
        for t, g in zip(wanted, results, strict=True):
            if g is not None:
                _accumulate(t, g, create_graph)
        return
    _run(outputs, grads, retain_graph, create_graph, None)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched)."""
    from convkit.autograd.tensor import Tensor

    outs = _as_list(outputs)
    ins = _as_list(inputs)
    if not ins:
        raise RuntimeError("grad requires at least one input tensor")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (inputs[{i}]) does not "
                               "require grad")
    grads = _root_grads(outs, _as_list(grad_outputs) if grad_outputs is not None else None)
    if retain_graph is None:
        retain_graph = create_graph
    keys = [(id(t._grad_node()), t._output_nr if t.grad_fn is not None else 0) for t in ins]
    captured = _run(outs, grads, retain_graph, create_graph, dict.fromkeys(keys))
    result: list[Tensor | None] = []
    for i, (t, key) in enumerate(zip(ins, keys, strict=True)):
        g = captured.get(key)
        if g is None:
            if materialize_grads:
                g = Tensor._from_array(np.zeros(tuple(t.shape), t.dtype.np))
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
        result.append(g)
    return tuple(result)
