"""``explain(layer, input_shape)``: everything about one convolution, pooling or padding
layer on one input shape, as a :class:`ExplainReport`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convkit.engine import conv_plan
from convkit.engine.conv import ConvProblem
from convkit.explain._arithmetic import AxisReport, same_padding
from convkit.explain._layers import Layer, describe
from convkit.explain._render import (
    esc,
    fmt_bytes,
    fmt_int,
    fmt_number,
    html_table,
    jsonable,
    text_table,
    wiring_html,
    wiring_text,
)

__all__ = ["explain", "ExplainReport", "ParameterCount", "GroupSavings", "TransposedEquivalent",
           "SamePaddingConventions", "PlanInfo", "layer_macs"]

_WIRING_DRAW_LIMIT = 32  # channels beyond which the text report summarises the matrix


@dataclass(frozen=True)
class ParameterCount:
    """Learnable numbers of the layer: ``total = weight + bias``; ``trainable`` counts
    those with ``requires_grad``."""

    total: int
    trainable: int
    weight: int
    bias: int

    def to_dict(self) -> dict:
        return {"total": self.total, "trainable": self.trainable, "weight": self.weight,
                "bias": self.bias}


@dataclass(frozen=True)
class GroupSavings:
    """What ``groups`` saves against ``groups=1``: each output channel reads only
    ``in_per_group`` input channels, so weights and MACs shrink by the factor ``groups``."""

    groups: int
    in_per_group: int
    out_per_group: int
    parameters: int
    parameters_dense: int
    macs: int
    macs_dense: int

    @property
    def parameter_saving(self) -> int:
        return self.parameters_dense - self.parameters

    @property
    def mac_saving(self) -> int:
        return self.macs_dense - self.macs

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__},
                "parameter_saving": self.parameter_saving, "mac_saving": self.mac_saving}


@dataclass(frozen=True)
class TransposedEquivalent:
    """The direct convolution that computes a transposed one (Dumoulin & Visin, "A guide to
    convolution arithmetic for deep learning", 2016, section 4).

    Per axis: insert ``stride-1`` zeros between neighbouring inputs (the *spread* input of
    ``(n-1)*stride + 1`` elements), pad it by ``dilation*(k-1) - padding`` before and that
    plus ``output_padding`` after (a negative amount crops), then cross-correlate at stride 1
    with the same dilation and the kernel flipped along every spatial axis, its in/out
    channel axes swapped within each group: weight ``(C_out, C_in/groups, *k)``.
    """

    axes: tuple[dict, ...]
    weight_shape: tuple[int, ...]
    groups: int
    padding_mode: str

    def input(self, x: np.ndarray) -> np.ndarray:
        """The spread, padded input (N, C_in, *padded) for ``x`` (N, C_in, *in); zeros mode."""
        spread_shape = x.shape[:2] + tuple(a["spread_size"] for a in self.axes)
        spread = np.zeros(spread_shape, dtype=x.dtype)
        spread[(slice(None),) * 2 + tuple(slice(None, None, a["stride"]) for a in self.axes)] = x
        for axis, a in enumerate(self.axes, start=2):
            lo, hi = a["padding"]
            spread = _pad_or_crop(spread, axis, lo, hi)
        return spread

    def weight(self, w: np.ndarray) -> np.ndarray:
        """The direct convolution's weight from the transposed one's (C_in, C_out/G, *k)."""
        c_in, c_out_g, *k = w.shape
        g = self.groups
        # (C_in, C_out/G, *k) -> (G, C_in/G, C_out/G, *k) -> (G, C_out/G, C_in/G, *k)
        swapped = w.reshape((g, c_in // g, c_out_g, *k)).swapaxes(1, 2)
        # -> (C_out, C_in/G, *k), flipped along every spatial axis
        direct = swapped.reshape((g * c_out_g, c_in // g, *k))
        return np.flip(direct, axis=tuple(range(2, direct.ndim))).copy()

    def to_dict(self) -> dict:
        return {"axes": jsonable(self.axes), "weight_shape": list(self.weight_shape),
                "groups": self.groups, "kernel_flipped": True, "stride": 1,
                "padding_mode": self.padding_mode}


def _pad_or_crop(x: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    start, stop = max(-lo, 0), x.shape[axis] - max(-hi, 0)
    x = x[(slice(None),) * axis + (slice(start, stop),)]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (max(lo, 0), max(hi, 0))
    return np.pad(x, widths)


@dataclass(frozen=True)
class SamePaddingConventions:
    """Where frameworks put the odd pixel of ``'same'`` padding, for this layer's axes, and
    whether their transposed convolutions flip the kernel.

    For each axis: the total padding 'same' needs, PyTorch's split (``None`` where PyTorch
    refuses 'same': stride > 1), TensorFlow's/JAX's ``'SAME'`` split and JAX's/ONNX's
    ``'SAME_LOWER'`` split, all as ``(before, after)``.
    """

    uses_same: bool
    axes: tuple[dict, ...]
    notes: tuple[str, ...]
    transposed_kernel_flip: dict[str, str]

    def to_dict(self) -> dict:
        return {"uses_same": self.uses_same, "axes": jsonable(self.axes),
                "notes": list(self.notes),
                "transposed_kernel_flip": dict(self.transposed_kernel_flip)}


_FLIP = {
    "PyTorch": "ConvTranspose/conv_transpose is the gradient of conv: as a direct "
               "convolution its kernel is flipped (and in/out channels swapped)",
    "TensorFlow/Keras": "Conv2DTranspose is the gradient of conv2d: kernel flipped, as "
                        "in PyTorch",
    "JAX": "lax.conv_transpose does NOT flip the kernel by default (a fractionally strided "
           "cross-correlation); transpose_kernel=True flips it and swaps in/out to match "
           "TensorFlow and PyTorch",
}


@dataclass(frozen=True)
class PlanInfo:
    """The engine planner's choice for one of the layer's three convolutions.

    ``role`` is what the layer computes (``forward``, ``grad_input``, ``grad_weight``);
    ``problem.kind`` the engine primitive that does it (a transposed convolution's forward
    is the engine's ``grad_input``). ``cost`` is the planner's number: predicted seconds when
    ``calibrated``, else the multiply-add count it falls back to.
    """

    role: str
    problem: ConvProblem
    algorithm: str
    cost: float
    calibrated: bool
    workspace: int
    tiles: int
    reason: str

    def to_dict(self) -> dict:
        p = self.problem
        return {"role": self.role, "engine_kind": p.kind, "x_shape": list(p.x_shape),
                "w_shape": list(p.w_shape), "stride": list(p.stride),
                "padding": [list(q) for q in p.padding], "dilation": list(p.dilation),
                "groups": p.groups, "dtype": str(p.dtype), "algorithm": self.algorithm,
                "cost": self.cost, "calibrated": self.calibrated,
                "workspace": self.workspace, "tiles": self.tiles, "reason": self.reason}


@dataclass(frozen=True, eq=False)  # holds an ndarray: compare to_dict() instead
class ExplainReport:
    """Everything about one layer on one input shape; ``str()`` for terminals,
    ``_repr_html_`` for notebooks, :meth:`to_dict` for programs.

    Fields: ``layer`` (repr), ``kind``, ``operation`` (what one output element is),
    ``input_shape``/``output_shape``, ``axes`` (one :class:`AxisReport` per spatial axis),
    ``weight_shape`` with ``weight_axes`` (what each axis means), ``bias_shape``,
    ``parameters``, ``macs`` with ``macs_formula``, ``wiring`` (bool, out_channels x
    in_channels: ``wiring[o, c]`` when input channel c feeds output channel o),
    ``group_savings``, ``transposed`` (the equivalent direct convolution),
    ``same_padding_conventions``, ``plan`` (role -> :class:`PlanInfo`) and ``notes``.
    """

    layer: str
    kind: str
    operation: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    axes: tuple[AxisReport, ...]
    weight_shape: tuple[int, ...] | None
    weight_axes: tuple[str, ...] | None
    bias_shape: tuple[int, ...] | None
    parameters: ParameterCount
    macs: int
    macs_formula: str
    wiring: np.ndarray
    group_savings: GroupSavings | None
    transposed: TransposedEquivalent | None
    same_padding_conventions: SamePaddingConventions | None
    plan: dict[str, PlanInfo] | None
    notes: tuple[str, ...] = ()
    _layer: Layer | None = field(default=None, repr=False, compare=False)

    @property
    def receptive_field(self) -> tuple[int, ...]:
        return tuple(a.receptive_field for a in self.axes)

    @property
    def jump(self) -> tuple[Any, ...]:
        return tuple(a.jump for a in self.axes)

    @property
    def lost(self) -> dict[str, tuple[int, ...]]:
        """Per axis name, the input indices that no output reads."""
        return {a.name: a.lost for a in self.axes}

    # ------------------------------------------------------------------ rendering
    def to_dict(self) -> dict:
        out = {}
        for name in self.__dataclass_fields__:
            if name.startswith("_"):
                continue
            out[name] = jsonable(getattr(self, name))
        return out

    def __str__(self) -> str:
        lines = [self.layer, f"  {self.operation}", ""]
        lines.append(f"input  {_shape(self.input_shape)}")
        lines.append(f"output {_shape(self.output_shape)}")
        lines.append("")
        lines.append(text_table(*_axis_table(self.axes), indent="  "))
        for a in self.axes:
            lines.append(f"  {a.name}: {a.formula}")
        lines.append("")
        lines.append("  receptive field (span of input positions one output depends on): "
                     + ", ".join(
            f"{a.name} {a.receptive_field}" for a in self.axes) + "; jump (input positions "
            "between neighbouring outputs): " + ", ".join(
            f"{a.name} {fmt_number(a.jump)}" for a in self.axes))
        lost = [(a.name, a.lost) for a in self.axes if a.lost]
        if lost:
            lines.append("  lost (input positions no output reads): " + "; ".join(
                f"{name} {_indices(ix)}" for name, ix in lost))
        if self.weight_shape is not None:
            lines.append("")
            meaning = ", ".join(f"{ax}={n}" for ax, n in zip(self.weight_axes,
                                                             self.weight_shape, strict=True))
            lines.append(f"weight {_shape(self.weight_shape)}: {meaning}")
            lines.append(f"bias   {_shape(self.bias_shape) if self.bias_shape else 'none'}"
                         + (": one per output channel" if self.bias_shape else ""))
        p = self.parameters
        lines.append(f"parameters {fmt_int(p.total)} ({fmt_int(p.trainable)} trainable)"
                     + (f" = {fmt_int(p.weight)} weights + {fmt_int(p.bias)} biases"
                        if p.total else ""))
        lines.append(f"MACs {fmt_int(self.macs)} = {self.macs_formula}")
        if self.group_savings is not None or self.kind in ("conv", "conv_transpose"):
            lines.append("")
            lines.extend(self._wiring_lines())
        if self.transposed is not None:
            lines.append("")
            lines.extend(_transposed_lines(self.transposed))
        same = self.same_padding_conventions
        if same is not None and self.kind == "conv":
            lines.append("")
            lines.extend(_same_lines(same, full=same.uses_same))
        if same is not None and self.kind == "conv_transpose":
            lines.append("does the kernel get flipped?")
            lines.extend(f"  {k}: {v}" for k, v in same.transposed_kernel_flip.items())
        if self.plan:
            lines.append("")
            lines.append("engine plan (convkit.engine.conv_plan):")
            for info in self.plan.values():
                cost = (f"predicted {info.cost * 1e3:.3g} ms" if info.calibrated else
                        f"cost {info.cost:.3g} (uncalibrated: multiply-adds)")
                lines.append(f"  {info.role:<11} {info.algorithm:<10} ({info.problem.kind}) "
                             f"{cost}, workspace {fmt_bytes(info.workspace)}"
                             + (f", {info.tiles} batch tiles" if info.tiles > 1 else "")
                             + f": {info.reason}")
        if self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _wiring_lines(self) -> list[str]:
        g = self.group_savings
        out_c, in_c = self.wiring.shape
        if g is None:
            head = "channel wiring"
        elif g.groups == 1:
            head = (f"channel wiring (groups=1: every output channel reads all {in_c} input "
                    "channels)")
        else:
            head = (f"channel wiring (groups={g.groups}: each group of {g.in_per_group} input "
                    f"channels feeds its own {g.out_per_group} output channels)")
        lines = [head]
        if max(out_c, in_c) <= _WIRING_DRAW_LIMIT:
            lines.append(wiring_text(self.wiring))
        else:
            lines.append(f"  ({out_c} x {in_c}: too many channels to draw; see "
                         "report.wiring)")
        if g and g.groups > 1:
            lines.append(f"  vs groups=1: weights {fmt_int(g.parameters_dense)} -> "
                         f"{fmt_int(g.parameters)}, MACs {fmt_int(g.macs_dense)} -> "
                         f"{fmt_int(g.macs)} ({g.groups}x fewer)")
        return lines

    def _repr_html_(self) -> str:
        parts = [f"<div><b>{esc(self.layer)}</b><br><code>{esc(self.operation)}</code>",
                 f"<p>input <code>{esc(_shape(self.input_shape))}</code> &rarr; output "
                 f"<code>{esc(_shape(self.output_shape))}</code></p>",
                 html_table(*_axis_table(self.axes)),
                 "<ul>" + "".join(f"<li>{esc(a.name)}: <code>{esc(a.formula)}</code></li>"
                                  for a in self.axes) + "</ul>"]
        if self.weight_shape is not None:
            meaning = ", ".join(f"{ax}={n}" for ax, n in zip(self.weight_axes,
                                                             self.weight_shape, strict=True))
            parts.append(f"<p>weight <code>{esc(_shape(self.weight_shape))}</code>: "
                         f"{esc(meaning)}; bias <code>{esc(self.bias_shape)}</code></p>")
        p = self.parameters
        parts.append(f"<p>parameters {fmt_int(p.total)} ({fmt_int(p.trainable)} trainable); "
                     f"MACs {fmt_int(self.macs)} = {esc(self.macs_formula)}</p>")
        if max(self.wiring.shape) <= 64 and self.kind in ("conv", "conv_transpose"):
            parts.append(wiring_html(self.wiring))
        for block in (_transposed_lines(self.transposed) if self.transposed else [],
                      _same_lines(self.same_padding_conventions)
                      if self.same_padding_conventions else []):
            if block:
                parts.append("<pre>" + esc("\n".join(block)) + "</pre>")
        if self.plan:
            rows = [(i.role, i.algorithm, i.problem.kind, f"{i.cost:.3g}",
                     fmt_bytes(i.workspace), i.reason) for i in self.plan.values()]
            parts.append(html_table(("role", "algorithm", "engine call", "cost", "workspace",
                                     "reason"), rows))
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in self.notes) + "</ul>")
        return "".join(parts) + "</div>"


def _shape(shape: Sequence[int] | None) -> str:
    return str(tuple(shape)) if shape is not None else "()"


def _indices(ix: Sequence[int]) -> str:
    """``[0, 3]``, or ``[0, 2, 4, 6, 8, ..., 98] (50 positions)`` for long lists."""
    if len(ix) > 12:
        head = ", ".join(str(i) for i in ix[:5])
        return f"[{head}, ..., {ix[-1]}] ({len(ix)} positions)"
    return str(list(ix))


def _axis_table(axes: Sequence[AxisReport]) -> tuple[list[str], list[list[Any]], list[bool]]:
    transposed = any(a.kind == "transposed" for a in axes)
    headers = ["axis", "in", "kernel", "stride", "padding", "dilation"]
    if transposed:
        headers.append("out_pad")
    headers += ["out", "RF", "jump", "lost"]
    rows = []
    for a in axes:
        lo, hi = a.padding
        row = [a.name, a.input_size, a.kernel_size, a.stride if a.kind != "adaptive" else "--",
               f"{lo}" if lo == hi else f"{lo}+{hi}", a.dilation]
        if transposed:
            row.append(a.output_padding)
        row += [a.output_size, a.receptive_field, fmt_number(a.jump), len(a.lost)]
        rows.append(row)
    right = [False] + [True] * (len(headers) - 1)
    return headers, rows, right


def _transposed_lines(t: TransposedEquivalent) -> list[str]:
    lines = ["as a direct convolution (Dumoulin & Visin): spread the input with stride-1 "
             "zeros, pad, correlate at stride 1 with the flipped kernel"]
    for a in t.axes:
        lo, hi = a["padding"]
        lines.append(f"  {a['name']}: {a['input_size']} inputs + {a['stride'] - 1} zeros between "
                     f"-> {a['spread_size']}; pad {a['dilation']}*({a['kernel_size']}-1) - "
                     f"{a['transposed_padding']} = {lo} before, {lo} + {a['output_padding']} = "
                     f"{hi} after -> {a['padded_size']}; stride 1 -> {a['output_size']}")
    lines.append(f"  weight {_shape(t.weight_shape)} = the transposed weight with in/out "
                 "swapped per group, flipped along every spatial axis")
    return lines


def _same_lines(c: SamePaddingConventions, full: bool = True) -> list[str]:
    if not full:
        splits = ", ".join(f"{a['name']} {tuple(a['tensorflow_jax'])}" for a in c.axes)
        return [f"'same' would pad (before, after): {splits} - the odd pixel at the end in "
                "PyTorch, TensorFlow and JAX, at the start with 'SAME_LOWER' (JAX, ONNX)"]
    lines = ["'same' padding (this layer uses it):"]
    for a in c.axes:
        torch_split = a["pytorch"]
        lines.append(f"  {a['name']}: total {a['total']}; PyTorch "
                     f"{tuple(torch_split) if torch_split else 'refuses (stride > 1)'}, "
                     f"TensorFlow/JAX 'SAME' {tuple(a['tensorflow_jax'])}, JAX/ONNX "
                     f"'SAME_LOWER' {tuple(a['same_lower'])}  (before, after)")
    lines.extend(f"  {n}" for n in c.notes)
    return lines


# ---------------------------------------------------------------------- computation
def explain(obj: Any, input_shape: Sequence[int]) -> ExplainReport:
    """Explain a convolution, pooling, padding or fold/unfold layer on an input shape.

    ``obj`` is a convkit.nn layer, a :class:`LayerSpec`, a functional spec such as
    ``("conv2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 2})``,
    or a layer string such as ``"Conv2d(4, 4, 3, groups=2)"``. ``input_shape`` is
    ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``.

    Raises what running the layer on such an input raises (the layer is validated by a
    call on an empty batch), and TypeError for layers that are not sliding windows.
    """
    layer = describe(obj, input_shape)
    m = layer.module
    weight = getattr(m, "weight", None) if layer.kind in ("conv", "conv_transpose") else None
    bias = getattr(m, "bias", None) if weight is not None else None
    params = [p for p in m.parameters()]
    parameters = ParameterCount(
        total=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad),
        weight=weight.numel() if weight is not None else 0,
        bias=bias.numel() if bias is not None else 0)
    macs, macs_formula = layer_macs(layer)
    wiring = _wiring(layer)
    return ExplainReport(
        layer=repr(m), kind=layer.kind, operation=_operation(layer),
        input_shape=layer.input_shape, output_shape=layer.output_shape, axes=layer.axes,
        weight_shape=tuple(weight.shape) if weight is not None else None,
        weight_axes=_weight_axes(layer) if weight is not None else None,
        bias_shape=tuple(bias.shape) if bias is not None else None,
        parameters=parameters, macs=macs, macs_formula=macs_formula, wiring=wiring,
        group_savings=_savings(layer, macs) if weight is not None else None,
        transposed=_transposed(layer) if layer.kind == "conv_transpose" else None,
        same_padding_conventions=_same(layer) if weight is not None else None,
        plan=_plan(layer) if weight is not None else None,
        notes=_notes(layer), _layer=layer)


def _weight_axes(layer: Layer) -> tuple[str, ...]:
    kernel = tuple(f"k{a.name}" for a in layer.axes)
    if layer.kind == "conv_transpose":
        return ("in_channels", "out_channels/groups") + kernel
    return ("out_channels", "in_channels/groups") + kernel


def layer_macs(layer: Layer) -> tuple[int, str]:
    """Multiply-adds of the layer on its input, and how they were counted.

    Convolution: every output element sums ``C_in/groups * prod(k)`` products (padding
    taps included: the direct definition). Transposed convolution: every input element is
    multiplied into ``C_out/groups * prod(k)`` outputs. Pooling: one comparison (max) or
    addition (average, Lp) per window tap read. Padding, unfold and fold: 0 (they move data).
    Bias additions are not counted.
    """
    n, axes = layer.batch, layer.axes
    c_in, c_out = layer.channels
    k = math.prod(a.kernel_size for a in axes)
    ks = "x".join(str(a.kernel_size) for a in axes)
    if layer.kind == "conv":
        outs = math.prod(a.output_size for a in axes)
        per = c_in // layer.groups * k
        os_ = "x".join(str(a.output_size) for a in axes)
        return (n * c_out * outs * per,
                f"{n} x {c_out} channels x {os_} outputs x ({c_in // layer.groups} x {ks}) "
                f"products each")
    if layer.kind == "conv_transpose":
        ins = math.prod(a.input_size for a in axes)
        per = c_out // layer.groups * k
        is_ = "x".join(str(a.input_size) for a in axes)
        return (n * c_in * ins * per,
                f"{n} x {c_in} channels x {is_} inputs x ({c_out // layer.groups} x {ks}) "
                f"products each")
    if layer.kind in ("max_pool", "avg_pool", "lp_pool"):
        taps = math.prod(a.taps_read() for a in axes)
        what = "comparisons" if layer.kind == "max_pool" else "additions"
        return n * c_in * taps, f"{n} x {c_in} channels x {taps} window taps read ({what})"
    if layer.kind in ("adaptive_avg_pool", "adaptive_max_pool"):
        taps = math.prod(a.taps_read() for a in axes)
        what = "comparisons" if layer.kind == "adaptive_max_pool" else "additions"
        return n * c_in * taps, f"{n} x {c_in} channels x {taps} window taps read ({what})"
    return 0, "0 (the layer only moves data)"


def _wiring(layer: Layer) -> np.ndarray:
    c_in, c_out = layer.channels
    g = layer.groups
    if layer.kind not in ("conv", "conv_transpose"):
        return np.eye(c_in, dtype=bool)  # channel c to channel c
    group_of_out = np.arange(c_out) // (c_out // g)
    group_of_in = np.arange(c_in) // (c_in // g)
    # (C_out, 1) == (1, C_in) -> (C_out, C_in)
    return group_of_out[:, None] == group_of_in[None, :]


def _savings(layer: Layer, macs: int) -> GroupSavings:
    c_in, c_out = layer.channels
    g = layer.groups
    k = math.prod(a.kernel_size for a in layer.axes)
    return GroupSavings(groups=g, in_per_group=c_in // g, out_per_group=c_out // g,
                        parameters=c_out * c_in // g * k, parameters_dense=c_out * c_in * k,
                        macs=macs, macs_dense=macs * g)


def _transposed(layer: Layer) -> TransposedEquivalent:
    axes = []
    for a in layer.axes:
        lo = a.dilation * (a.kernel_size - 1) - a.padding[0]
        hi = lo + a.output_padding
        spread = (a.input_size - 1) * a.stride + 1
        axes.append({"name": a.name, "input_size": a.input_size, "stride": a.stride,
                     "spread_size": spread, "kernel_size": a.kernel_size,
                     "dilation": a.dilation, "transposed_padding": a.padding[0],
                     "output_padding": a.output_padding, "padding": (lo, hi),
                     "padded_size": spread + lo + hi,
                     "output_size": spread + lo + hi - a.dilation * (a.kernel_size - 1)})
    c_in, c_out = layer.channels
    k = tuple(a.kernel_size for a in layer.axes)
    return TransposedEquivalent(tuple(axes), (c_out, c_in // layer.groups) + k, layer.groups,
                                layer.padding_mode)


def _same(layer: Layer) -> SamePaddingConventions:
    axes = []
    for a in layer.axes:
        s = a.stride if layer.kind == "conv" else 1
        tf = same_padding(a.input_size, a.kernel_size, s, a.dilation)
        lower = same_padding(a.input_size, a.kernel_size, s, a.dilation, lower=True)
        axes.append({"name": a.name, "total": sum(tf),
                     "pytorch": tf if s == 1 else None, "tensorflow_jax": tf,
                     "same_lower": lower})
    uses = layer.kind == "conv" and layer.spec.get("padding") == "same"
    notes = ["PyTorch, TensorFlow and JAX all put the odd pixel at the end (right/bottom); "
             "JAX's and ONNX's 'SAME_LOWER' put it at the start.",
             "PyTorch's Conv*d refuses 'same' with stride > 1; TensorFlow and JAX then pad so "
             "that out = ceil(in/stride), which convkit.nn.ConvNd also does."]
    if any(sum(a["tensorflow_jax"]) % 2 and a["pytorch"] for a in axes):
        notes.append("An odd total cannot be split evenly: PyTorch pads the input "
                     "explicitly (one extra at the end) before a symmetric convolution.")
    return SamePaddingConventions(uses, tuple(axes), tuple(notes), dict(_FLIP))


def _plan(layer: Layer) -> dict[str, PlanInfo]:
    """The engine problems the layer's forward and backward run, and the planner's picks."""
    m = layer.module
    n = layer.ndim
    x_shape = (layer.batch,) + layer.input_shape[-n - 1:]
    w_shape = tuple(m.weight.shape)
    dtype = m.weight.dtype.np
    d = tuple(a.dilation for a in layer.axes)
    if layer.kind == "conv":
        pairs = tuple(a.padding for a in layer.axes)
        if layer.padding_mode != "zeros":  # padded explicitly, then convolved unpadded
            x_shape = x_shape[:2] + tuple(a.input_size + sum(a.padding) for a in layer.axes)
            pairs = ((0, 0),) * n
        stride = tuple(a.stride for a in layer.axes)
        roles = {"forward": "forward", "grad_input": "grad_input",
                 "grad_weight": "grad_weight"}
    elif layer.padding_mode == "zeros":  # transposed: the engine's grad_input of a conv
        x_shape = (layer.batch,) + layer.output_shape[-n - 1:]
        pairs = tuple(a.padding for a in layer.axes)
        stride = tuple(a.stride for a in layer.axes)
        roles = {"forward": "grad_input", "grad_input": "forward",
                 "grad_weight": "grad_weight"}
    else:  # transposed with a padding mode: the equivalent direct convolution
        t = _transposed(layer)
        x_shape = x_shape[:2] + tuple(a["padded_size"] for a in t.axes)
        w_shape = t.weight_shape
        pairs = ((0, 0),) * n
        stride = (1,) * n
        roles = {"forward": "forward", "grad_input": "grad_input",
                 "grad_weight": "grad_weight"}
    constants = conv_plan.load_constants().get("coef", {})
    plans = {}
    for role, kind in roles.items():
        problem = ConvProblem(kind, x_shape, w_shape, stride, pairs, d, layer.groups,
                              np.dtype(dtype))
        chosen = conv_plan.plan(problem)
        calibrated = kind in constants.get(chosen.algorithm, {})
        plans[role] = PlanInfo(role, problem, chosen.algorithm, chosen.seconds, calibrated,
                               chosen.workspace, chosen.tiles, chosen.reason)
    return plans


def _position(out: str, tap: str, a: AxisReport) -> str:
    """``2*i - 1 + 2*kh``: where tap ``tap`` of output ``out`` lands, terms that are 0 or
    factors that are 1 left out."""
    text = out if a.stride == 1 else f"{a.stride}*{out}"
    if a.padding[0]:
        text += f" - {a.padding[0]}"
    return text + (f" + {tap}" if a.dilation == 1 else f" + {a.dilation}*{tap}")


def _operation(layer: Layer) -> str:
    """One output element written out, in the layer's own index names."""
    n = layer.ndim
    outs = ("i", "j", "l")[:n] if n <= 3 else tuple(f"i{k}" for k in range(n))
    if n == 3:
        outs = ("d", "i", "j")
    taps = tuple(f"k{a.name.lower()}" if len(a.name) == 1 else f"t{k}"
                 for k, a in enumerate(layer.axes))
    lead = "n, " if layer.batched else ""
    pos = ", ".join(_position(o, t, a) for o, t, a in zip(outs, taps, layer.axes, strict=True))
    out_idx = ", ".join(outs)
    if layer.kind == "conv":
        cg = layer.channels[0] // layer.groups
        og = layer.channels[1] // layer.groups
        kernel = ", ".join(taps)
        what = ": a cross-correlation (the kernel is not flipped)"
        if layer.groups > 1 and cg == 1:  # depthwise: no sum over input channels
            chan = "o" if og == 1 else f"o // {og}"
            return (f"out[{lead}o, {out_idx}] = bias[o] + sum over {kernel} of "
                    f"weight[o, 0, {kernel}] * x[{lead}{chan}, {pos}] (depthwise: one input "
                    f"channel per group){what}")
        chan = "c" if layer.groups == 1 else f"g*{cg} + c"
        group = "" if layer.groups == 1 else f", g = o // {og} (the group of o)"
        return (f"out[{lead}o, {out_idx}] = bias[o] + sum over c < {cg}, {kernel} of "
                f"weight[o, c, {kernel}] * x[{lead}{chan}, {pos}]{group}{what}")
    if layer.kind == "conv_transpose":
        og = layer.channels[1] // layer.groups
        chan = "o" if layer.groups == 1 else f"g*{og} + o"
        group = "" if layer.groups == 1 else " (g = the group of c)"
        return (f"every input x[{lead}c, {out_idx}] adds x * weight[c, o, {', '.join(taps)}] "
                f"to out[{lead}{chan}, {pos}]{group}: the adjoint (gradient) of a "
                "convolution, not its inverse")
    if layer.kind in ("max_pool", "avg_pool", "lp_pool"):
        what = {"max_pool": "max", "avg_pool": "mean", "lp_pool": "(sum of x**p)**(1/p)"}
        return (f"out[{lead}c, {out_idx}] = {what[layer.kind]} over {', '.join(taps)} of "
                f"x[{lead}c, {pos}]: each channel on its own")
    if layer.kind.startswith("adaptive"):
        what = "max" if "max" in layer.kind else "mean"
        return (f"out[{lead}c, {out_idx}] = {what} of x[{lead}c] over the window "
                "[floor(i*in/out), ceil((i+1)*in/out)) along each axis")
    if layer.kind == "pad":
        mode = layer.padding_mode
        return (f"out = x with {mode} padding around the last {layer.ndim} dim(s)"
                + (f" (value {layer.spec.get('value')})" if mode == "constant" else ""))
    if layer.kind == "unfold":
        return ("out[n, c*prod(k) + tap, block] = x_pad[n, c, window position of tap in "
                "block] (im2col: one column per window)")
    return ("out[n, c, pixel] = sum of the column entries that windows put on that pixel "
            "(col2im, the adjoint of unfold)")


def _notes(layer: Layer) -> tuple[str, ...]:
    """Plain-language warnings: lost input positions and why, and layer-specific caveats."""
    notes = []
    for a in layer.axes:
        if not a.lost:
            continue
        if layer.kind == "pad":
            notes.append(f"axis {a.name}: input positions {_indices(a.lost)} are cropped by "
                         "the negative padding")
            continue
        if layer.kind == "conv_transpose":
            notes.append(f"axis {a.name}: input positions {_indices(a.lost)} only reach "
                         "outputs that the padding crops away (or the zeros between them)")
            continue
        lost = set(a.lost)
        last_read = next((i for i in range(a.input_size - 1, -1, -1) if i not in lost), -1)
        tail = [i for i in a.lost if i > last_read]
        inner = [i for i in a.lost if i < last_read]
        if tail:
            notes.append(f"axis {a.name}: the last {len(tail)} input position(s) "
                         f"{_indices(tail)} are never read - PyTorch's note: 'several of the "
                         "last columns of your input might be lost, because it is a valid "
                         "cross-correlation'; add padding, or choose sizes with (in + pads - "
                         "dilated kernel) divisible by the stride, to keep them")
        if inner:
            notes.append(f"axis {a.name}: input positions {_indices(inner)} fall between "
                         "windows (a stride larger than the dilated kernel, or a dilation "
                         "that steps over them)")
    if layer.kind == "conv_transpose" and any(a.stride > 1 for a in layer.axes):
        notes.append("stride > 1: several input sizes give the same convolution output; "
                     "output_padding (or output_size=) picks which one this transposed "
                     "convolution restores (see convkit.explain.collisions)")
    if layer.kind in ("max_pool", "avg_pool", "lp_pool") and any(
            a.ceil_mode for a in layer.axes):
        notes.append("ceil_mode: the last window may hang over the padded input; its "
                     "missing taps are not read (and not counted by avg_pool's divisor)")
    return tuple(notes)
