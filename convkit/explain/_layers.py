"""From a layer (a module, a :class:`LayerSpec`, a functional spec or a string) to the
geometry :mod:`convkit.explain` reasons about: the kind of operation, its channels and
one :class:`~convkit.explain._arithmetic.AxisReport` per spatial axis.

A layer is validated against an input shape the way running it validates: it is run once
on an empty batch (``N = 0``: no arithmetic, the same checks and the same exceptions as a
real call), so an explanation exists exactly when the call would succeed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convkit import nn
from convkit.autograd.grad_mode import no_grad
from convkit.explain._arithmetic import (
    AxisReport,
    adaptive_axis,
    axis_names,
    blocks_axis,
    conv_axis,
    pad_axis,
    pool_axis,
    same_padding,
    transposed_axis,
)
from convkit.nn.modules.module import Module
from convkit.ops import creation

__all__ = ["LayerSpec", "Layer", "as_module", "describe", "layer_names", "SPATIAL_KINDS"]

_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_LP_POOLS = (nn.LPPool1d, nn.LPPool2d, nn.LPPool3d)
_ADAPTIVE_AVG = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
_ADAPTIVE_MAX = (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_PADS = tuple(getattr(nn, f"{family}{n}d") for family in (
    "ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad")
    for n in (1, 2, 3))

#: the kinds :func:`describe` understands
SPATIAL_KINDS = ("conv", "conv_transpose", "max_pool", "avg_pool", "lp_pool",
                 "adaptive_avg_pool", "adaptive_max_pool", "pad", "unfold", "fold")

# functional name -> layer class name (``pad`` is chosen by its mode, see _pad_layer)
_FUNCTIONAL = {
    **{f"conv{n}d": f"Conv{n}d" for n in (1, 2, 3)}, "conv": "ConvNd",
    **{f"conv_transpose{n}d": f"ConvTranspose{n}d" for n in (1, 2, 3)},
    "conv_transpose": "ConvTransposeNd",
    **{f"{f}{n}d": f"{c}{n}d" for n in (1, 2, 3) for f, c in (
        ("max_pool", "MaxPool"), ("avg_pool", "AvgPool"), ("lp_pool", "LPPool"),
        ("adaptive_avg_pool", "AdaptiveAvgPool"), ("adaptive_max_pool", "AdaptiveMaxPool"))},
    "unfold": "Unfold", "fold": "Fold",
}
_NOT_LAYERS = {"Module", "ModuleList", "ModuleDict"}


def layer_names() -> tuple[str, ...]:
    """The convkit.nn layer classes a spec may name (every layer, and Sequential)."""
    return tuple(name for name in nn.modules.__all__ if name not in _NOT_LAYERS)


@dataclass(frozen=True)
class LayerSpec:
    """A layer described by name and arguments, built on demand.

    ``name`` is a convkit.nn layer class (``"Conv2d"``) or a functional name
    (``"conv2d"``, ``"max_pool2d"``, ``"conv_transpose"``, ``"pad"`` ...). Functional convolution
    specs take the module's keyword arguments, or ``weight_shape`` in place of the
    channels and kernel size (as ``F.conv2d`` takes a weight); ``"conv"`` and
    ``"conv_transpose"`` take ``ndim`` (default: the input's rank - 2); ``"pad"`` takes
    ``pad``, ``mode`` and ``value`` as ``F.pad`` does. Examples::

        LayerSpec("Conv2d", (4, 4, 3), {"groups": 2})
        LayerSpec("conv2d", kwargs={"weight_shape": (4, 2, 3, 3), "groups": 2})
        LayerSpec("pad", kwargs={"pad": (1, 1, 2, 2), "mode": "reflect"})

    The tuple forms ``("conv2d", {...})`` and ``("Conv2d", (4, 4, 3), {...})`` mean the same.
    """

    name: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, input_shape: Sequence[int] | None = None) -> Module:
        """The layer, constructed (its parameters initialised as the class does)."""
        kwargs = dict(self.kwargs)
        if self.name == "pad":
            return _pad_layer(self.args, kwargs)
        cls_name = _FUNCTIONAL.get(self.name, self.name)
        if cls_name not in layer_names():
            from convkit.explain._parse import close_matches

            close = close_matches(self.name, (*layer_names(), *_FUNCTIONAL, "pad"))
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown layer {self.name!r}{hint}")
        if cls_name in ("ConvNd", "ConvTransposeNd") and not self.args and "ndim" not in kwargs:
            if input_shape is None:
                raise ValueError(f"{self.name}: give ndim (the number of spatial dims)")
            kwargs["ndim"] = len(input_shape) - 2
        if "weight_shape" in kwargs:
            _channels_from_weight(cls_name, kwargs)
        return getattr(nn, cls_name)(*self.args, **kwargs)


def _channels_from_weight(cls_name: str, kwargs: dict) -> None:
    """Replace ``weight_shape`` by the channel counts and kernel size it implies."""
    w = tuple(kwargs.pop("weight_shape"))
    groups = kwargs.get("groups", 1)
    if len(w) < 3:
        raise ValueError(f"weight_shape must be (out, in/groups, *kernel), got {w}")
    if "Transpose" in cls_name:  # (C_in, C_out/groups, *k)
        kwargs.update(in_channels=w[0], out_channels=w[1] * groups)
    else:  # (C_out, C_in/groups, *k)
        kwargs.update(in_channels=w[1] * groups, out_channels=w[0])
    kwargs["kernel_size"] = w[2:]
    if cls_name in ("ConvNd", "ConvTransposeNd"):
        kwargs["ndim"] = len(w) - 2


def _pad_layer(args: tuple, kwargs: dict) -> Module:
    pad = kwargs.pop("pad", args[0] if args else None)
    mode = kwargs.pop("mode", args[1] if len(args) > 1 else "constant")
    value = kwargs.pop("value", args[2] if len(args) > 2 else None)
    if kwargs:
        raise TypeError(f"pad() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if not isinstance(pad, Sequence) or len(pad) % 2 or not 2 <= len(pad) <= 6:
        raise ValueError(f"pad: give pad as 2, 4 or 6 ints (last dim first), got {pad!r}")
    n = len(pad) // 2
    family = {"constant": "ConstantPad", "reflect": "ReflectionPad",
              "replicate": "ReplicationPad", "circular": "CircularPad"}.get(mode)
    if family is None:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    cls = getattr(nn, f"{family}{n}d")
    return cls(tuple(pad), 0.0 if value is None else value) if mode == "constant" else cls(
        tuple(pad))


def as_module(obj: Any, input_shape: Sequence[int] | None = None) -> Module:
    """A Module from a Module, a :class:`LayerSpec`, a ``(name, kwargs)`` /
    ``(name, args, kwargs)`` tuple, or a layer string such as ``"Conv2d(4, 4, 3)"``."""
    if isinstance(obj, Module):
        return obj
    if isinstance(obj, LayerSpec):
        return obj.build(input_shape)
    if isinstance(obj, str):
        from convkit.explain._parse import parse_layer

        return parse_layer(obj)
    if isinstance(obj, tuple) and obj and isinstance(obj[0], str):
        if len(obj) == 2 and isinstance(obj[1], Mapping):
            return LayerSpec(obj[0], (), obj[1]).build(input_shape)
        if len(obj) == 2 and isinstance(obj[1], tuple):
            return LayerSpec(obj[0], obj[1]).build(input_shape)
        if len(obj) == 3 and isinstance(obj[1], tuple) and isinstance(obj[2], Mapping):
            return LayerSpec(obj[0], obj[1], obj[2]).build(input_shape)
    raise TypeError(f"explain: expected a convkit.nn layer, a LayerSpec, a (name, kwargs) "
                    f"tuple or a layer string, got {type(obj).__name__}")


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    items = tuple(value)
    return items * n if len(items) == 1 else items


@dataclass(frozen=True)
class Layer:
    """A layer with an input shape: what it is, its channels, its axes, its output shape.

    ``input_shape`` and ``output_shape`` are as given/produced (unbatched stays unbatched);
    ``batched`` tells which. ``channels`` is ``(C_in, C_out)`` of the layer's channel axis.
    """

    module: Module
    kind: str
    ndim: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    batched: bool
    axes: tuple[AxisReport, ...]
    channels: tuple[int, int]
    groups: int
    padding_mode: str = "zeros"
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return self.input_shape[0] if self.batched else 1


def _kind(m: Module) -> str:
    if isinstance(m, nn.ConvTransposeNd):
        return "conv_transpose"
    if isinstance(m, nn.ConvNd):
        return "conv"
    for kinds, name in ((_MAX_POOLS, "max_pool"), (_AVG_POOLS, "avg_pool"),
                        (_LP_POOLS, "lp_pool"), (_ADAPTIVE_AVG, "adaptive_avg_pool"),
                        (_ADAPTIVE_MAX, "adaptive_max_pool"), (_PADS, "pad"),
                        ((nn.Unfold,), "unfold"), ((nn.Fold,), "fold")):
        if isinstance(m, kinds):
            return name
    raise TypeError(f"explain: {type(m).__name__} is not a convolution, pooling, padding or "
                    "fold/unfold layer (use convkit.summary for models)")


def _rank(m: Module, kind: str) -> int:
    if kind in ("unfold", "fold"):
        return 2
    if kind == "pad":
        return len(m.padding) // 2
    return m.ndim


def _dry_run(m: Module, shape: tuple[int, ...], batched_rank: int) -> tuple[int, ...]:
    """Run ``m`` on an empty batch of ``shape``: the checks of a real call, and its output
    shape (unbatched if ``shape`` is), at no cost. Hooks are not called."""
    full = len(shape) == batched_rank
    unbatched = len(shape) == batched_rank - 1
    probe = (0,) + shape[1:] if full else (0,) + shape if unbatched else shape
    dtype = getattr(getattr(m, "weight", None), "dtype", None)
    try:
        with no_grad():
            out = m.forward(creation.zeros(probe, dtype=dtype) if dtype else
                            creation.zeros(probe))
    except (RuntimeError, ValueError, TypeError) as e:
        # the message names the empty probe batch; name the shape the user gave instead
        # (unbatched as a batch of one, as PyTorch's message does)
        raise _with_shape(e, probe, shape if full else (1,) + shape if unbatched else shape
                          ) from None
    out = out[0] if isinstance(out, tuple) else out
    out_shape = tuple(out.shape)
    if full:
        return (shape[0],) + out_shape[1:]
    return out_shape[1:] if unbatched else out_shape


def _with_shape(error: Exception, probe: tuple[int, ...], shape: tuple[int, ...]
                ) -> Exception:
    """``error`` with ``probe`` replaced by ``shape`` in its message (same type, same
    traceback); ``error`` itself when the message does not mention the probe."""
    text = str(error)
    fixed = text
    for render in (lambda s: str(list(s)), str):  # [0, 3, 8, 8] and (0, 3, 8, 8)
        fixed = fixed.replace(render(probe), render(shape))
    if fixed == text or len(error.args) != 1:
        return error
    try:
        return type(error)(fixed).with_traceback(error.__traceback__)
    except TypeError:  # an exception class with a different constructor
        return error


def describe(obj: Any, input_shape: Sequence[int]) -> Layer:
    """The :class:`Layer` of ``obj`` (see :func:`as_module`) on an input of ``input_shape``.

    Raises what calling the layer on such an input raises.
    """
    shape = _shape(input_shape)
    m = as_module(obj, shape)
    kind = _kind(m)
    rank = _rank(m, kind)
    batched_rank = 3 if kind == "fold" else rank + 2  # fold's input is (N, C*prod(k), L)
    out_shape = _dry_run(m, shape, batched_rank)
    batched = len(shape) == batched_rank
    layer = _build(m, kind, rank, shape, batched)
    assert layer.output_shape == out_shape, (layer.output_shape, out_shape)
    return layer


def _shape(input_shape: Any) -> tuple[int, ...]:
    if isinstance(input_shape, int) or not isinstance(input_shape, Sequence) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in input_shape):
        raise ValueError(f"input_shape must be a sequence of non-negative ints, got "
                         f"{input_shape!r}")
    return tuple(int(s) for s in input_shape)


def _build(m: Module, kind: str, n: int, shape: tuple[int, ...], batched: bool) -> Layer:
    names = axis_names(n)
    lead = shape[:-n] if kind != "fold" else shape[:-2]
    spatial = shape[-n:]
    mode = "zeros"
    spec: dict[str, Any] = {}
    if kind == "conv":
        mode = m.padding_mode
        k, s, d = m.kernel_size, m.stride, m.dilation
        if isinstance(m.padding, str):
            pairs = [same_padding(size, *ksd) if m.padding == "same" else (0, 0)
                     for size, ksd in zip(spatial, zip(k, s, d, strict=True), strict=True)]
        else:
            pairs = [(p, p) for p in m.padding]
        axes = tuple(conv_axis(names[i], spatial[i], k[i], s[i], *pairs[i], d[i], mode)
                     for i in range(n))
        channels, groups = (m.in_channels, m.out_channels), m.groups
        spec = {"padding": m.padding}
    elif kind == "conv_transpose":
        mode = m.padding_mode
        axes = tuple(transposed_axis(names[i], spatial[i], m.kernel_size[i], m.stride[i],
                                     m.padding[i], m.dilation[i], m.output_padding[i], mode)
                     for i in range(n))
        channels, groups = (m.in_channels, m.out_channels), m.groups
    elif kind in ("max_pool", "avg_pool", "lp_pool"):
        k = _ntuple(m.kernel_size, n)
        s = k if m.stride is None or m.stride == [] or m.stride == () else _ntuple(m.stride, n)
        p = _ntuple(getattr(m, "padding", 0), n)
        d = _ntuple(getattr(m, "dilation", 1), n)
        fill = "-inf" if kind == "max_pool" else "zeros"
        axes = tuple(pool_axis(names[i], spatial[i], k[i], s[i], p[i], d[i],
                               bool(m.ceil_mode), fill) for i in range(n))
        channels, groups = (shape[-n - 1],) * 2, shape[-n - 1]
        if kind == "avg_pool":
            spec = {"count_include_pad": m.count_include_pad,
                    "divisor_override": getattr(m, "divisor_override", None)}
        if kind == "lp_pool":
            spec = {"norm_type": m.norm_type}
    elif kind in ("adaptive_avg_pool", "adaptive_max_pool"):
        size = m.output_size
        sizes = (size,) * n if size is None or isinstance(size, int) else tuple(size)
        sizes = tuple(spatial[i] if v is None else v for i, v in enumerate(sizes))
        axes = tuple(adaptive_axis(names[i], spatial[i], sizes[i]) for i in range(n))
        channels, groups = (shape[-n - 1],) * 2, shape[-n - 1]
    elif kind == "pad":
        mode = m.mode
        flat = m.padding  # F.pad order: last dim first
        pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(n)][::-1]
        axes = tuple(pad_axis(names[i], spatial[i], *pairs[i], mode) for i in range(n))
        channels = (shape[-n - 1],) * 2 if len(shape) > n else (1, 1)
        groups = channels[0]
        spec = {"value": m.value}
    else:  # unfold / fold: windows over a 2-d image
        image = spatial if kind == "unfold" else _ntuple(m.output_size, 2)
        k, d = _ntuple(m.kernel_size, 2), _ntuple(m.dilation, 2)
        p, s = _ntuple(m.padding, 2), _ntuple(m.stride, 2)
        axes = tuple(blocks_axis(names[i], image[i], k[i], s[i], p[i], d[i]) for i in range(2))
        c = shape[-3] if kind == "unfold" else shape[-2] // math.prod(k)
        channels, groups = (c, c), c
    out_spatial = tuple(a.output_size for a in axes)
    if kind in ("conv", "conv_transpose"):
        out = lead[:-1] + (m.out_channels,) + out_spatial
    elif kind == "unfold":
        out = lead[:-1] + (channels[0] * math.prod(a.kernel_size for a in axes),
                           math.prod(out_spatial))
    elif kind == "fold":
        out = lead + (channels[0],) + tuple(a.input_size for a in axes)
    else:
        out = lead + out_spatial
    return Layer(m, kind, n, shape, tuple(out), batched, axes, channels, groups, mode, spec)
