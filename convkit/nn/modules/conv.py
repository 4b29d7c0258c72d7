"""Convolution layers: one ``_ConvNd`` base owns validation, parameters and printing;
``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and the generic ``ConvNd``/``ConvTransposeNd``
only fix the number of spatial dimensions."""

from __future__ import annotations

from typing import Any

from convkit import _dtypes
from convkit.autograd.tensor import Tensor
from convkit.nn import functional as F
from convkit.nn import init
from convkit.nn.modules.module import Module
from convkit.nn.parameter import Parameter
from convkit.ops import creation

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "ConvNd", "ConvTransposeNd"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

_DOC = """{kind} over an input of {n} spatial dimension(s) ({layout}).

    Shape:
        - Input: ``(N, C_in, {dims})`` or ``(C_in, {dims})``
        - Output: ``(N, C_out, {dims_out})`` or ``(C_out, {dims_out})``, where per axis
          ``{formula}``
        - weight: ``{weight}``; bias: ``(C_out,)``
"""
_CONV_FORMULA = "out = floor((in + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1"
_TRANSPOSED_FORMULA = ("out = (in-1)*stride - 2*padding + dilation*(kernel_size-1) "
                       "+ output_padding + 1")


def _doc(kind: str, n: int | str, transposed: bool) -> str:
    dims = ", ".join(f"{a}" for a in ("D", "H", "W")[-n:]) if isinstance(n, int) else "*spatial"
    return _DOC.format(
        kind=kind, n=n, layout="the adjoint of convolution" if transposed else
        "a cross-correlation: the kernel is not flipped", dims=dims,
        dims_out=dims.replace("D", "D_out").replace("H", "H_out").replace("W", "W_out")
        if isinstance(n, int) else "*out",
        formula=_TRANSPOSED_FORMULA if transposed else _CONV_FORMULA,
        weight="(C_in, C_out/groups, *kernel_size)" if transposed else
        "(C_out, C_in/groups, *kernel_size)")


def _tuple(value: Any, n: int, name: str, cls: str) -> tuple[int, ...]:
    """An int or n ints as an n-tuple.

    PyTorch stores these unchecked and fails on first use; convkit checks them here, with
    the exception class PyTorch raises then: TypeError for a non-int, RuntimeError for a
    sequence of the wrong length.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if not (isinstance(value, tuple | list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if len(value) != n:
        raise RuntimeError(f"{cls}: expected {name} to be a single integer value or a list of "
                           f"{n} values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    return tuple(value)


class _ConvNd(Module):
    """Shared constructor, validation, initialisation and repr of all convolution layers."""

    _transposed = False
    _strict = False  # the PyTorch-named classes refuse what PyTorch refuses

    def __init__(self, ndim: int, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None, output_padding: Any = 0) -> None:
        super().__init__()
        cls = type(self).__name__
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{cls}: {name} must be an int, got {value!r}")
        # PyTorch's own constructor checks (ValueError), in its order
        if groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got groups={groups}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{cls}: {name} must be divisible by groups (groups={groups}, "
                                 f"in_channels={in_channels}, out_channels={out_channels})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        # The checks below PyTorch makes on first use (RuntimeError or TypeError); convkit
        # makes them here, with the same class. in_channels=0 PyTorch accepts, but it then
        # leaves the bias uninitialised (its bound 1/sqrt(fan_in) is undefined), so the layer
        # outputs garbage: convkit refuses it.
        if in_channels <= 0 or out_channels <= 0:
            raise RuntimeError(f"{cls}: in_channels ({in_channels}) and out_channels "
                               f"({out_channels}) must be positive")
        self.kernel_size = _tuple(kernel_size, ndim, "kernel_size", cls)
        self.stride = _tuple(stride, ndim, "stride", cls)
        self.dilation = _tuple(dilation, ndim, "dilation", cls)
        if any(k <= 0 for k in self.kernel_size):
            raise RuntimeError(f"{cls}: kernel size should be greater than zero, but got "
                               f"kernel_size={self.kernel_size}")
        if any(s <= 0 for s in self.stride):
            raise RuntimeError(f"{cls}: non-positive stride is not supported, got "
                               f"stride={self.stride}")
        if any(d <= 0 for d in self.dilation):
            raise RuntimeError(f"{cls}: dilation should be greater than zero, got "
                               f"dilation={self.dilation}")
        if isinstance(padding, str):
            if self._transposed:  # PyTorch's conv_transpose refuses strings: a TypeError
                raise TypeError(f"{cls}: padding must be an int or a tuple of {ndim} ints, got "
                                f"{padding!r} ('same' and 'valid' are for convolution only)")
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride) and self._strict:
                raise ValueError(f"padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride}); convkit.nn.ConvNd supports it")
            self.padding: Any = padding
        else:
            self.padding = _tuple(padding, ndim, "padding", cls)
            if any(p < 0 for p in self.padding):
                raise RuntimeError(f"{cls}: negative padding is not supported, got "
                                   f"padding={self.padding}")
        self.output_padding = _tuple(output_padding, ndim, "output_padding", cls)
        if self._transposed:
            if any(p < 0 for p in self.output_padding):
                raise RuntimeError(f"{cls}: negative output_padding is not supported, got "
                                   f"output_padding={self.output_padding}")
            for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
                if op >= max(s, d):
                    raise RuntimeError(f"{cls}: output padding must be smaller than either "
                                       f"stride or dilation, but got output_padding="
                                       f"{self.output_padding}, stride={self.stride}, "
                                       f"dilation={self.dilation}")
        self.ndim = ndim
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        d = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        shape = ((in_channels, out_channels // groups) if self._transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(creation.empty(shape, dtype=d))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)), bias uniform in ±1/sqrt(fan_in)."""
        init._default_layer_init_(self.weight, self.bias, empty_fan_bias=False)

    def _padding_pairs(self) -> tuple[tuple[int, int], ...]:
        """(lo, hi) per spatial axis, 'same' split as PyTorch splits it (extra at the end)."""
        if self.padding == "valid":
            return ((0, 0),) * self.ndim
        if self.padding == "same":
            pairs = []
            for k, d in zip(self.kernel_size, self.dilation, strict=True):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        return tuple((p, p) for p in self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.ndim:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.ndim:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.ndim:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class ConvNd(_ConvNd):
    """Convolution with any number of spatial dims (``ndim``); 'same' works for any stride."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1:
            raise ValueError(f"ConvNd: ndim must be a positive int, got {ndim!r}")
        super().__init__(ndim, in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """Cross-correlate ``input`` (N, C_in, *spatial) or (C_in, *spatial) with the weight.

        A non-zeros ``padding_mode`` pads explicitly (as PyTorch does, so the same rank
        limits apply to Conv1d/2d/3d), then convolves with no padding.
        """
        name = type(self).__name__
        if self.padding_mode != "zeros":
            if self._strict:  # PyTorch pads first, with pairs fixed at construction
                flat = tuple(v for lo_hi in reversed(self._padding_pairs()) for v in lo_hi)
                input = F.pad(input, flat, mode=self.padding_mode)
            elif isinstance(input, Tensor) and input.ndim in (self.ndim + 1, self.ndim + 2):
                # ConvNd: 'same' may depend on the input size (strides), any rank pads
                pairs = F.resolve_padding(self.padding, input, self.weight, self.stride,
                                          self.dilation, name)
                input = F.pad_pairs(input, pairs, self.padding_mode)
            padding: Any = 0
        else:
            padding = self.padding
        return F._convolve(input, self.weight, self.bias, self.stride, padding, self.dilation,
                           self.groups, name, strict=self._strict)


class ConvTransposeNd(_ConvNd):
    """Transposed convolution (the adjoint of :class:`ConvNd`) with any number of dims.

    Beyond PyTorch, ``padding_mode`` may be reflect/replicate/circular: the input is padded
    by ``dilation*(kernel_size-1) - padding`` on each side under that mode and the result
    is the corresponding direct convolution (periodic boundaries with 'circular')."""

    _transposed = True

    def __init__(self, ndim: int, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1:
            raise ValueError(f"ConvTransposeNd: ndim must be a positive int, got {ndim!r}")
        super().__init__(ndim, in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups, bias, padding_mode, device, dtype, output_padding)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        output_padding = F.transposed_output_padding(
            input, output_size, self.stride, self.padding, self.kernel_size, self.dilation,
            self.output_padding, self.ndim, type(self).__name__)
        return F._transpose(input, self.weight, self.bias, self.stride, self.padding,
                            output_padding, self.groups, self.dilation, type(self).__name__,
                            self.padding_mode, strict=self._strict)


def _fixed_rank_init(n: int, base: type, transposed: bool) -> Any:
    if transposed:
        def __init__(self: Any, in_channels: int, out_channels: int, kernel_size: Any,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, bias: bool = True, dilation: Any = 1,
                     padding_mode: str = "zeros", device: Any = None,
                     dtype: Any = None) -> None:
            if padding_mode != "zeros":  # as in PyTorch; ConvTransposeNd accepts every mode
                raise ValueError(f'Only "zeros" padding mode is supported for '
                                 f"{type(self).__name__}")
            base.__init__(self, n, in_channels, out_channels, kernel_size, stride, padding,
                          output_padding, groups, bias, dilation, padding_mode, device, dtype)
    else:
        def __init__(self: Any, in_channels: int, out_channels: int, kernel_size: Any,
                     stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                     bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                     dtype: Any = None) -> None:
            base.__init__(self, n, in_channels, out_channels, kernel_size, stride, padding,
                          dilation, groups, bias, padding_mode, device, dtype)
    return __init__


def _make(n: int, transposed: bool) -> type:
    base = ConvTransposeNd if transposed else ConvNd
    name = f"{'ConvTranspose' if transposed else 'Conv'}{n}d"
    init = _fixed_rank_init(n, base, transposed)
    # Python names the function in argument errors: "Conv2d.__init__() got an unexpected
    # keyword argument", not "_fixed_rank_init.<locals>.__init__() ..."
    init.__qualname__ = f"{name}.__init__"
    return type(name, (base,), {"__init__": init,
                                "__module__": __name__, "_strict": True,
                                "__doc__": _doc(name, n, transposed)})


Conv1d, Conv2d, Conv3d = (_make(n, False) for n in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (_make(n, True) for n in (1, 2, 3))
ConvNd.__doc__ = (ConvNd.__doc__ or "") + "\n\n" + _doc("ConvNd", "N", False)
