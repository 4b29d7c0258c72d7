"""``Optimizer``: parameter groups, per-parameter state and PyTorch's ``state_dict`` layout.

The updates themselves run on the NumPy arrays behind the tensors, written back into each
parameter in place (under ``no_grad``, so the version counter moves as with ``param.add_``);
every subclass follows PyTorch's single-tensor (``foreach=False``) order of operations, which
is what PyTorch runs on the CPU, so float32 results round the same way.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from convkit.autograd.grad_mode import enable_grad, no_grad
from convkit.autograd.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter a group must set (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _typename(obj: Any) -> str:
    """PyTorch's ``torch.typename``: ``convkit.FloatTensor``, ``int``, ``pkg.Class``."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


class Optimizer:
    """Base of the optimizers: holds ``param_groups`` (dicts with ``"params"`` and options)
    and ``state`` (per-parameter dicts of tensors), as PyTorch does."""

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    text += f"\n    {key}: {group[key]}"
        return text + "\n)"

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    with no_grad():
                        p.grad.zero_()

    def _closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``,
        parameters numbered in group order, as in PyTorch (tensors are not copied)."""
        mapping: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                mapping.setdefault(id(p), len(mapping))
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {mapping[id(p)]: s for p, s in self.state.items() if id(p) in mapping}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict`` (from convkit or, by structure, from PyTorch)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and "
                             "'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups, strict=True)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups, strict=True):
            id_map.update(zip(s["params"], g["params"], strict=True))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict.get("state", {}).items():
            index = int(key)
            if index not in id_map:
                state[key] = copy.deepcopy(value)
                continue
            param = id_map[index]
            state[param] = {k: self._cast_state(param, k, v) for k, v in value.items()}
        groups = []
        for g, s in zip(self.param_groups, saved_groups, strict=True):
            new = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            if isinstance(new.get("betas"), list):
                new["betas"] = tuple(new["betas"])
            new["params"] = g["params"]
            groups.append(new)
        self.state = state
        self.param_groups = groups

    @staticmethod
    def _cast_state(param: Tensor, key: str, value: Any) -> Any:
        """A private copy of a saved state entry; tensors other than ``step`` take the
        parameter's dtype (PyTorch's policy)."""
        if isinstance(value, Tensor):
            arr = np.array(value.detach().numpy(), copy=True)
            if key != "step" and param.is_floating_point():
                arr = arr.astype(param.dtype.np, copy=False)
            return Tensor._from_array(arr)
        if isinstance(value, np.ndarray):
            return Tensor._from_array(np.array(value, copy=True))
        return copy.deepcopy(value)


# ---------------------------------------------------------------- helpers for subclasses
def _array(t: Tensor) -> np.ndarray:
    """The ndarray behind ``t`` (shared memory)."""
    return t.detach().numpy()


def _zeros_like(p: Tensor) -> Tensor:
    return Tensor._from_array(np.zeros(tuple(p.shape), dtype=p.dtype.np))


def _step_tensor() -> Tensor:
    """PyTorch keeps ``step`` as a float32 0-d tensor."""
    return Tensor._from_array(np.array(0.0, dtype=np.float32))


def _increment(step: Tensor) -> float:
    arr = _array(step)
    arr[...] = arr + 1
    return float(arr)


def _write(param: Tensor, value: np.ndarray) -> None:
    """Store ``value`` into ``param`` in place (bumping its version, like ``param.add_``)."""
    with no_grad():
        param.copy_(Tensor._from_array(np.asarray(value, dtype=param.dtype.np)))


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """PyTorch's CPU lerp: ``start + w (end - start)`` for ``w < 0.5``, else from ``end``."""
    w = start.dtype.type(weight)
    if abs(weight) < 0.5:
        return start + w * (end - start)
    return end - (end - start) * (start.dtype.type(1) - w)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _params_with_grad(group: dict[str, Any]) -> Iterable[Tensor]:
    for p in group["params"]:
        if p.grad is not None:
            yield p
