"""``Parameter``: a leaf tensor that a Module registers as learnable."""

from __future__ import annotations

from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad=True`` by default, shares memory
    with the tensor it wraps, and prints as ``Parameter containing:``."""

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor._from_array(np.empty(0, dtype=np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, got {type(data).__name__}")
        # Become a detached alias of ``data``: same storage, version counter and geometry.
        source = data.detach()
        for slot in Tensor.__slots__:
            if slot not in ("__weakref__", "__dict__") and hasattr(source, slot):
                object.__setattr__(self, slot, getattr(source, slot))
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + self._repr()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Parameter, (Tensor._from_array(self._data.copy()), self.requires_grad))
