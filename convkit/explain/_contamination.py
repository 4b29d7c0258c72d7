"""How much of each output element is made of padding.

A window tap is *genuine* when it reads the input element at its own position; every other
tap reads padding: a constant zero (``zeros``), a mirror image of an element from inside
the input (``reflect``), a copy of the edge element (``replicate``) or an element wrapped
around from the opposite edge (``circular``). The *padding share* of an output element is
the fraction of its receptive-field taps that are not genuine. For one layer that is a
matter of positions only, so it is the same number for every padding mode - what differs
is what the padded taps read, which :attr:`ContaminationReport.repeated` measures: the
share of taps that re-read an input element another tap of the same window already reads
(0 for zeros; high for replicate, whose padding is all copies of the edge; usually 0 for
circular, whose padding is genuine data from far away).

Through a stack of layers (a ``Sequential`` of convolution, pooling and padding layers;
elementwise layers pass through) the genuine share propagates: an output's genuine share
is the mean, over its taps, of the genuine share of what each genuine tap reads (a padded
tap contributes 0). The share is separable across axes, so it is computed per axis and
multiplied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convkit import nn
from convkit.explain._arithmetic import AxisReport, conv_axis
from convkit.explain._layers import Layer, as_module, describe
from convkit.explain._render import esc
from convkit.explain._summary import _POINTWISE

__all__ = ["contamination", "ContaminationReport"]

_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True, eq=False)  # holds ndarrays
class ContaminationReport:
    """``share[*out]`` = fraction of the receptive-field taps of each output element that
    read padding (see the module docstring); ``repeated[*out]`` = fraction of taps that
    re-read an element already read by the same window (single layers only, else None).
    Both have the output's spatial shape."""

    layer: str
    padding_mode: str
    input_shape: tuple[int, ...]
    share: np.ndarray
    repeated: np.ndarray | None

    @property
    def mean(self) -> float:
        """The average padding share over all output elements."""
        return float(self.share.mean()) if self.share.size else 0.0

    @property
    def clean(self) -> float:
        """The fraction of output elements that read no padding at all."""
        return float((self.share == 0).mean()) if self.share.size else 1.0

    def to_dict(self) -> dict:
        return {"layer": self.layer, "padding_mode": self.padding_mode,
                "input_shape": list(self.input_shape), "share": self.share.tolist(),
                "repeated": None if self.repeated is None else self.repeated.tolist(),
                "mean": self.mean, "clean": self.clean}

    def __str__(self) -> str:
        lines = [f"{self.layer} with {self.padding_mode} padding on input "
                 f"{tuple(self.input_shape)}",
                 f"  padding share of the receptive field: mean {self.mean:.3f}, max "
                 f"{self.share.max() if self.share.size else 0:.3f}; "
                 f"{self.clean:.1%} of outputs read no padding"]
        if self.repeated is not None and self.repeated.size:
            lines.append(f"  taps re-reading an element of their own window: mean "
                         f"{self.repeated.mean():.3f}")
        grid = self.share if self.share.ndim == 2 else (
            self.share[None, :] if self.share.ndim == 1 else None)
        if grid is not None and max(grid.shape) <= 32:
            lines.append("  share in tenths (0 = none, 9 = 90% or more, # = all padding):")
            for row in grid:
                lines.append("    " + " ".join("#" if v >= 1 else str(int(v * 10 + 1e-9))
                                               for v in row))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + esc(str(self)) + "</pre>"


def contamination(layer_or_spec: Any, input_shape: Sequence[int],
                  padding_mode: str | None = None) -> ContaminationReport:
    """The padding share of every output element of a layer or a ``Sequential`` of layers.

    ``padding_mode`` (``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'``) replaces a
    convolution's own mode (default: the layer's) - the share is the same for all modes,
    :attr:`ContaminationReport.repeated` is not. Returns a :class:`ContaminationReport`
    whose arrays have the output's spatial shape.
    """
    if padding_mode is not None and padding_mode not in _MODES:
        raise ValueError(f"contamination: padding_mode must be one of {list(_MODES)}, got "
                         f"{padding_mode!r}")
    shape = tuple(input_shape)
    module = as_module(layer_or_spec, shape)
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    genuine: list[np.ndarray] | None = None
    repeated = None
    spatial_layers = 0
    mode_seen = padding_mode
    for m in layers:
        if isinstance(m, _POINTWISE):
            continue
        info = describe(m, shape)
        if info.kind in ("conv_transpose", "unfold", "fold"):
            raise TypeError(f"contamination: {type(m).__name__} has no padded windows to "
                            "measure (transposed convolution crops its padding)")
        axes = _with_mode(info, padding_mode)
        if genuine is None:
            genuine = [np.ones(a.input_size) for a in axes]
        if len(genuine) != len(axes):
            raise TypeError(f"contamination: {type(m).__name__} works on {len(axes)} spatial "
                            f"axes, the layers before it on {len(genuine)}")
        genuine = [_propagate(a, g) for a, g in zip(axes, genuine, strict=True)]
        repeated = _repeated(axes)
        mode_seen = mode_seen or info.padding_mode
        spatial_layers += 1
        shape = info.output_shape
    if genuine is None:
        raise TypeError(f"contamination: {type(module).__name__} has no sliding windows")
    product = genuine[0]
    for g in genuine[1:]:
        product = np.multiply.outer(product, g)
    share = np.clip(1.0 - product, 0.0, 1.0)
    return ContaminationReport(repr(module), mode_seen or "zeros", tuple(input_shape), share,
                               repeated if spatial_layers == 1 else None)


def _with_mode(info: Layer, mode: str | None) -> tuple[AxisReport, ...]:
    if mode is None or info.kind != "conv":
        return info.axes
    return tuple(conv_axis(a.name, a.input_size, a.kernel_size, a.stride, *a.padding,
                           a.dilation, mode) for a in info.axes)


def _propagate(axis: AxisReport, genuine_in: np.ndarray) -> np.ndarray:
    """Genuine share per output position along one axis: the mean over its taps of the
    genuine share each genuine tap reads (a padded tap reads none)."""
    out = np.zeros(axis.output_size)
    for o in range(axis.output_size):
        taps = axis.window(o)
        if taps:
            out[o] = sum(genuine_in[t.source] for t in taps if not t.note) / len(taps)
    return out


def _repeated(axes: Sequence[AxisReport]) -> np.ndarray:
    """Share of taps that re-read an element their own window reads already."""
    per_axis = []
    for a in axes:
        counts = np.zeros((a.output_size, 3))  # taps, taps reading an element, distinct
        for o in range(a.output_size):
            taps = a.window(o)
            sources = [t.source for t in taps if t.source is not None]
            counts[o] = (len(taps), len(sources), len(set(sources)))
        per_axis.append(counts)
    total = per_axis[0]
    result_taps, result_read, result_distinct = total[:, 0], total[:, 1], total[:, 2]
    for counts in per_axis[1:]:
        result_taps = np.multiply.outer(result_taps, counts[:, 0])
        result_read = np.multiply.outer(result_read, counts[:, 1])
        result_distinct = np.multiply.outer(result_distinct, counts[:, 2])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(result_taps > 0, (result_read - result_distinct) / result_taps, 0.0)
    return share
