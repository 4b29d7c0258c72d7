"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad`` for 1-3 spatial dims, all one template over ``F.pad``."""

from __future__ import annotations

from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.nn import functional as F
from convkit.nn.modules.module import Module, ranked

__all__ = [f"{family}{n}d" for family in ("ZeroPad", "ConstantPad", "ReflectionPad",
                                          "ReplicationPad", "CircularPad") for n in (1, 2, 3)]


class _PadNd(Module):
    """Pads the last ``ndim`` dims; ``padding`` is an int or ``2*ndim`` ints, last dim first
    (left, right, top, bottom, front, back), as in ``F.pad``."""

    ndim: int
    mode: str

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        n = 2 * self.ndim
        cls = type(self).__name__
        if isinstance(padding, int) and not isinstance(padding, bool):
            padding = (padding,) * n
        if not (isinstance(padding, tuple | list)
                and all(isinstance(p, int) and not isinstance(p, bool) for p in padding)):
            raise TypeError(f"{cls}: padding must be an int or a tuple of {n} ints, got "
                            f"{padding!r}")
        # PyTorch keeps any tuple and lets F.pad judge it on first use (a 2-tuple given to a
        # 2-d layer pads the last dim only); an odd length can never work, so refuse it now
        # with the class F.pad raises.
        if len(padding) % 2:
            raise RuntimeError(f"{cls}: Padding length must be divisible by 2, got "
                               f"padding={tuple(padding)}")
        self.padding = tuple(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.mode, self.value)

    def extra_repr(self) -> str:
        if self.mode == "constant" and not type(self).__name__.startswith("Zero"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class _ZeroPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class _ReflectionPadNd(_PadNd):
    mode = "reflect"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class _ReplicationPadNd(_PadNd):
    mode = "replicate"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class _CircularPadNd(_PadNd):
    mode = "circular"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


def _ranked(base: type, n: int) -> type:
    return ranked(base, n, f"Pads the last {n} dim(s) ({base.mode}).", __name__)


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_ranked(_ZeroPadNd, n) for n in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_ranked(_ConstantPadNd, n) for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _ranked(_ReflectionPadNd, n) for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _ranked(_ReplicationPadNd, n) for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_ranked(_CircularPadNd, n) for n in (1, 2, 3))
