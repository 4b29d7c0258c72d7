"""Pooling layers. They hold their arguments only (no parameters) and call
``convkit.nn.functional``; each family is one class template instantiated per rank."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.nn import functional as F
from convkit.nn.modules.module import Module, ranked

__all__ = [f"{family}{n}d" for family in ("MaxPool", "AvgPool", "AdaptiveAvgPool",
                                          "AdaptiveMaxPool", "LPPool", "MaxUnpool")
           for n in (1, 2, 3)]


def _single(value: Any) -> Any:
    """``(value,)``, or ``tuple(value)`` for an iterable (PyTorch's ``_single``)."""
    return tuple(value) if isinstance(value, Iterable) else (value,)


class _MaxPoolNd(Module):
    ndim: int

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None and stride != [] else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return getattr(F, f"max_pool{self.ndim}d")(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _AvgPoolNd(Module):
    ndim: int

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None and stride != [] else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        if self.ndim == 1:  # PyTorch's AvgPool1d (only) stores its arguments as 1-tuples
            self.kernel_size, self.stride, self.padding = (
                _single(v) for v in (self.kernel_size, self.stride, self.padding))

    def forward(self, input: Tensor) -> Tensor:
        extra = {} if self.ndim == 1 else {"divisor_override": self.divisor_override}
        return getattr(F, f"avg_pool{self.ndim}d")(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, **extra)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    ndim: int

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, f"adaptive_avg_pool{self.ndim}d")(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(Module):
    ndim: int

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:
        return getattr(F, f"adaptive_max_pool{self.ndim}d")(input, self.output_size,
                                                            self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _LPPoolNd(Module):
    ndim: int

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, f"lp_pool{self.ndim}d")(input, self.norm_type, self.kernel_size,
                                                  self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class _MaxUnpoolNd(Module):
    ndim: int

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        n = self.ndim
        self.kernel_size = F._ntuple(kernel_size, n, "kernel_size", type(self).__name__)
        self.stride = F._ntuple(stride if stride is not None else kernel_size, n, "stride",
                                type(self).__name__)
        self.padding = F._ntuple(padding, n, "padding", type(self).__name__)

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return getattr(F, f"max_unpool{self.ndim}d")(input, indices, self.kernel_size,
                                                     self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _ranked(base: type, n: int) -> type:
    return ranked(base, n, f"{n}-d {base.__name__[1:-2]} (see convkit.nn.functional).",
                  __name__)


MaxPool1d, MaxPool2d, MaxPool3d = (_ranked(_MaxPoolNd, n) for n in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (_ranked(_AvgPoolNd, n) for n in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    _ranked(_AdaptiveAvgPoolNd, n) for n in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    _ranked(_AdaptiveMaxPoolNd, n) for n in (1, 2, 3))
LPPool1d, LPPool2d, LPPool3d = (_ranked(_LPPoolNd, n) for n in (1, 2, 3))
MaxUnpool1d, MaxUnpool2d, MaxUnpool3d = (_ranked(_MaxUnpoolNd, n) for n in (1, 2, 3))
