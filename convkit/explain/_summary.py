"""``summary(model, input_shape)``: a per-layer table of a model, from a real forward pass.

The model runs once, in eval mode and under ``no_grad``, on zeros of ``input_shape``, with a
forward pre-hook and hook on every module; the hooks record what each call received and
returned. Nothing about the model changes: its training flags are restored and the hooks
removed afterwards, even when the forward pass raises.

Columns
-------
parameters
    Parameters the module owns directly (a container shows the total below it in
    parentheses); the totals count every parameter once, shared or not.
MACs
    Multiply-adds of a leaf call: convolutions count every product of the direct
    definition (``out.numel() * C_in/groups * prod(k)``; transposed: ``in.numel() *
    C_out/groups * prod(k)``), Linear ``out.numel() * in_features``, pooling one
    comparison or addition per window tap read, normalisation one multiply-add per output
    element (the scale-and-shift; the statistics are not counted), everything else 0. Bias
    additions are not counted. A container shows the sum of its calls in parentheses.
activation memory
    Bytes of the call's output tensor(s) (what a training step keeps for backward).
receptive field, jump
    Per spatial axis, in pixels of the model input: how wide a region of the input one
    output element depends on, and how far apart (in input pixels) neighbouring output
    elements are. Composed call by call in the executed order, ``rf += (rf_layer - 1) *
    jump`` and ``jump *= jump_layer``, where a layer's own values are those
    :func:`explain` reports (a transposed convolution's jump is ``1/stride``). A call
    continues from the field of the tensor it receives: the field of the call that returned
    it, or, for a tensor made by operations between modules (a residual sum, a
    concatenation), the widest field among the same-sized tensors of the enclosing call (its
    inputs and its children's outputs) - an upper bound, exact for sums and concatenations
    of branches; functional calls between modules are assumed elementwise. Elementwise
    layers (activations, normalisation, dropout) leave both unchanged; Flatten, Linear and
    the like make the field ``global``; a leaf convkit does not know gives ``?`` from there
    on.
algorithm
    For convolutions, the algorithm the engine's planner chose for this call (recorded
    while the forward pass ran; see ``convkit.explain(layer, shape).plan`` for why) and its
    workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convkit import nn
from convkit.autograd.grad_mode import no_grad
from convkit.autograd.tensor import Tensor
from convkit.engine import conv_plan
from convkit.explain._layers import Layer, describe
from convkit.explain._render import (
    esc,
    fmt_bytes,
    fmt_int,
    fmt_number,
    html_table,
    jsonable,
    text_table,
)
from convkit.explain._report import layer_macs
from convkit.nn.modules.module import Module
from convkit.ops import creation

__all__ = ["summary", "SummaryReport", "SummaryRow"]

GLOBAL = "global"  # the output depends on every input position

_POINTWISE = tuple(getattr(nn, name) for name in (
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid",
    "Hardtanh", "Sigmoid", "Tanh", "Softplus", "PReLU", "Identity", "Dropout", "Dropout1d",
    "Dropout2d", "Dropout3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "GroupNorm", "LayerNorm", "LocalResponseNorm",
    "ChannelShuffle") if hasattr(nn, name))
_NORMS = tuple(getattr(nn, name) for name in (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "GroupNorm", "LayerNorm") if hasattr(nn, name))
_SOFTMAX = tuple(getattr(nn, name) for name in ("Softmax", "LogSoftmax") if hasattr(nn, name))
_GLOBAL = tuple(getattr(nn, name) for name in ("Flatten", "Linear", "Unflatten")
                if hasattr(nn, name))


@dataclass(frozen=True)
class SummaryRow:
    """One module call. ``parameters``/``trainable`` are the module's own;
    ``parameters_total``/``trainable_total`` count its whole subtree.
    ``receptive_field``/``jump`` are per spatial axis (Fractions), ``"global"``, or ``None``
    when unknown (see the module docstring)."""

    name: str
    type: str
    depth: int
    is_leaf: bool
    input_shape: tuple | None
    output_shape: Any
    parameters: int
    trainable: int
    parameters_total: int
    trainable_total: int
    macs: int
    activation_bytes: int
    receptive_field: Any
    jump: Any
    call: int = 1
    algorithm: str | None = None
    workspace: int = 0

    def to_dict(self) -> dict:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SummaryReport:
    """The table of :func:`summary`, with totals over the model.

    ``total_parameters``/``trainable_parameters`` count each parameter of the model once;
    ``total_macs`` and ``activation_bytes`` sum the leaf calls.
    """

    model: str
    input_shape: tuple
    rows: tuple[SummaryRow, ...]
    total_parameters: int
    trainable_parameters: int
    total_macs: int
    activation_bytes: int
    input_bytes: int
    parameter_bytes: int
    notes: tuple[str, ...] = field(default=())

    @property
    def non_trainable_parameters(self) -> int:
        return self.total_parameters - self.trainable_parameters

    def to_dict(self) -> dict:
        out = {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        out["rows"] = [r.to_dict() for r in self.rows]
        return out

    def _table(self) -> tuple[list[str], list[list[str]], list[bool]]:
        headers = ["layer (type)", "output shape", "params", "trainable", "MACs",
                   "activations", "RF", "jump", "algorithm"]
        rows = []
        for r in self.rows:
            label = "  " * r.depth + (f"{r.name} ({r.type})" if r.name else r.type)
            if r.call > 1:
                label += f" [call {r.call}]"
            if r.is_leaf:
                params, macs = fmt_int(r.parameters), fmt_int(r.macs)
            else:
                own = f"{fmt_int(r.parameters)} + " if r.parameters else ""
                params = f"{own}({fmt_int(r.parameters_total - r.parameters)})"
                macs = f"({fmt_int(r.macs)})"
            trainable = ("--" if r.parameters_total == 0 else "yes" if r.trainable_total ==
                         r.parameters_total else "no" if r.trainable_total == 0 else "partly")
            algorithm = (f"{r.algorithm} ({fmt_bytes(r.workspace)})" if r.algorithm else "")
            rows.append([label, _shape(r.output_shape), params, trainable, macs,
                         fmt_bytes(r.activation_bytes), _rf(r.receptive_field),
                         _rf(r.jump), algorithm])
        right = [False, False, True, False, True, True, False, False, False]
        return headers, rows, right

    def __str__(self) -> str:
        table = text_table(*self._table())
        width = max(len(line) for line in table.split("\n"))
        totals = [
            f"Total params: {fmt_int(self.total_parameters)}",
            f"Trainable params: {fmt_int(self.trainable_parameters)}",
            f"Non-trainable params: {fmt_int(self.non_trainable_parameters)}",
            f"Total MACs: {fmt_int(self.total_macs)}",
            f"Input size: {fmt_bytes(self.input_bytes)}",
            f"Activations (forward, leaf outputs): {fmt_bytes(self.activation_bytes)}",
            f"Params size: {fmt_bytes(self.parameter_bytes)}",
            f"Estimated total: "
            f"{fmt_bytes(self.input_bytes + self.activation_bytes + self.parameter_bytes)}",
        ]
        bar = "=" * width
        lines = [bar, f"{self.model} on input {_shape(self.input_shape)}", bar, table, bar,
                 *totals, bar]
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        totals = (f"<p>Total params {fmt_int(self.total_parameters)} (trainable "
                  f"{fmt_int(self.trainable_parameters)}); total MACs "
                  f"{fmt_int(self.total_macs)}; activations "
                  f"{esc(fmt_bytes(self.activation_bytes))}</p>")
        return (f"<div><b>{esc(self.model)}</b> on input "
                f"<code>{esc(_shape(self.input_shape))}</code>"
                + html_table(*self._table()) + totals + "</div>")


def _shape(shape: Any) -> str:
    if shape is None:
        return "--"
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _rf(value: Any) -> str:
    if value is None:
        return "?"
    if value == GLOBAL:
        return GLOBAL
    if not value:
        return "--"
    return "x".join(fmt_number(v) for v in value)


def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, tuple | list):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _shapes(obj: Any) -> Any:
    ts = _tensors(obj)
    if isinstance(obj, Tensor):
        return tuple(obj.shape)
    return [tuple(t.shape) for t in ts] if ts else None


class _Field:
    """Receptive field and jump per spatial axis (Fractions), GLOBAL, or None (unknown)."""

    __slots__ = ("jump", "rf")

    def __init__(self, rf: Any, jump: Any) -> None:
        self.rf, self.jump = rf, jump


def _sliding(module: Module, x: Tensor | None) -> Layer | None:
    """The geometry of a convolution, pooling or padding call (None for other modules)."""
    if x is None or isinstance(module, _POINTWISE + _NORMS + _SOFTMAX + _GLOBAL):
        return None
    try:
        return describe(module, tuple(x.shape))
    except (TypeError, ValueError, RuntimeError):
        return None


def _compose(module: Module, field_in: _Field, x: Tensor | None, out: Any,
             layer: Layer | None) -> _Field:
    """The receptive field after ``module`` (see the module docstring for the rules)."""
    rf, jump = field_in.rf, field_in.jump
    if rf is None or rf == GLOBAL:
        return field_in
    if isinstance(module, _POINTWISE):
        return field_in
    if isinstance(module, _SOFTMAX):
        dim = module.dim if module.dim is not None else 1
        nd = x.ndim if x is not None else 0
        return field_in if dim in (1, 1 - nd) else _Field(GLOBAL, GLOBAL)
    if isinstance(module, _GLOBAL):
        return _Field(GLOBAL, GLOBAL)
    if x is None:
        return _Field(None, None)
    n = len(rf)
    if hasattr(nn, "Upsample") and isinstance(module, nn.Upsample):
        outs = _tensors(out)
        if not outs or outs[0].ndim != x.ndim or x.ndim - 2 != n:
            return _Field(None, None)
        taps = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2,
                "trilinear": 2, "bicubic": 4}.get(module.mode)
        if taps is None:
            return _Field(None, None)
        scales = [Fraction(i, o) for i, o in zip(x.shape[2:], outs[0].shape[2:], strict=True)]
        return _Field(tuple(r + (taps - 1) * j for r, j in zip(rf, jump, strict=True)),
                      tuple(j * s for j, s in zip(jump, scales, strict=True)))
    if hasattr(nn, "PixelShuffle") and isinstance(module, nn.PixelShuffle):
        r = module.upscale_factor
        return _Field(rf, tuple(j / r for j in jump))
    if hasattr(nn, "PixelUnshuffle") and isinstance(module, nn.PixelUnshuffle):
        r = module.downscale_factor
        return _Field(tuple(v + (r - 1) * j for v, j in zip(rf, jump, strict=True)),
                      tuple(j * r for j in jump))
    if layer is None or layer.kind in ("unfold", "fold") or layer.ndim != n:
        return _Field(None, None)
    return _Field(tuple(r + (a.receptive_field - 1) * j
                        for r, j, a in zip(rf, jump, layer.axes, strict=True)),
                  tuple(j * a.jump for j, a in zip(jump, layer.axes, strict=True)))


def _macs(module: Module, x: Tensor | None, out: Any, layer: Layer | None) -> int:
    outs = _tensors(out)
    if x is None or not outs:
        return 0
    if isinstance(module, nn.Linear):
        return outs[0].numel() * module.in_features
    if isinstance(module, _NORMS):
        return outs[0].numel()
    return layer_macs(layer)[0] if layer is not None else 0


def _widest(fields: list[_Field]) -> _Field | None:
    """The elementwise widest of several fields (GLOBAL wins; unknown only if all are)."""
    known = [f for f in fields if f.rf is not None]
    if not known:
        return fields[0] if fields else None
    if any(f.rf == GLOBAL for f in known):
        return _Field(GLOBAL, GLOBAL)
    return _Field(tuple(max(v) for v in zip(*(f.rf for f in known), strict=True)),
                  tuple(max(v) for v in zip(*(f.jump for f in known), strict=True)))


class _Tracker:
    """The hooks of :func:`summary`: one record per call, and the receptive field of every
    tensor a call returns.

    Each open call keeps a *frame*: the fields of its input tensors and of its children's
    outputs. A tensor no call returned (a residual sum, a concatenation, any operation
    between modules) gets the widest field in the innermost open frame among tensors of its
    spatial size: an upper bound, exact for sums and concatenations of branches.
    """

    def __init__(self, inputs: list[Tensor], start: _Field) -> None:
        self.records: list[dict] = []
        self.open: list[dict] = []
        self.calls: dict[int, int] = {}
        self.fields: dict[int, tuple[Tensor, _Field]] = {id(x): (x, start) for x in inputs}
        self.root_frame = [(tuple(x.shape[2:]), start) for x in inputs]
        self.last = start
        self.plans: list = []  # filled by conv_plan.recording() during the forward pass

    def _frame(self) -> list:
        return self.open[-1]["frame"] if self.open else self.root_frame

    def field_of(self, t: Tensor) -> _Field:
        tagged = self.fields.get(id(t))
        if tagged is not None and tagged[0] is t:
            return tagged[1]
        frame = self._frame()
        same = [f for shape, f in frame if shape == tuple(t.shape[2:])]
        return _widest(same) or self.last

    def pre_hook(self, module: Module, args: tuple) -> None:
        self.calls[id(module)] = self.calls.get(id(module), 0) + 1
        tensors = [a for a in args if isinstance(a, Tensor)]
        frame = [(tuple(t.shape[2:]), self.field_of(t)) for t in tensors]
        record = {"module": module, "depth": len(self.open), "call": self.calls[id(module)],
                  "parent": self.open[-1]["index"] if self.open else None,
                  "index": len(self.records), "frame": frame,
                  "field_in": frame[0][1] if frame else self.last,
                  "plans_before": len(self.plans)}
        self.records.append(record)
        self.open.append(record)

    def hook(self, module: Module, args: tuple, out: Any) -> None:
        x = next((a for a in args if isinstance(a, Tensor)), None)
        is_leaf = not any(True for _ in module.children())
        record = self.open[-1]
        outs = _tensors(out)
        if is_leaf:
            layer = _sliding(module, x)
            field_out = _compose(module, record["field_in"], x, out, layer)
            record["macs"] = _macs(module, x, out, layer)
            record["plans"] = self.plans[record["plans_before"]:]
        else:
            field_out = self.field_of(outs[0]) if outs else self.last
            record["macs"] = None
        self.open.pop()
        for t in outs:
            self.fields[id(t)] = (t, field_out)  # the tensor is kept, so its id stays unique
            self._frame().append((tuple(t.shape[2:]), field_out))
        if is_leaf:
            self.last = field_out
        record.update(x=x, out=out, field=field_out, is_leaf=is_leaf)


def summary(model: Module, input_shape: Sequence[int] | Sequence[Sequence[int]],
            dtype: Any = None) -> SummaryReport:
    """Run ``model`` once on zeros of ``input_shape`` and tabulate every module call.

    ``input_shape`` is one shape, e.g. ``(1, 3, 224, 224)``, or a list of shapes for a model
    whose forward takes several tensors. ``dtype`` defaults to the dtype of the model's
    first floating-point parameter (else the default dtype). See the module docstring for
    what each column counts.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a convkit.nn.Module, got {type(model).__name__}")
    shapes = _input_shapes(input_shape)
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    inputs = [creation.zeros(s, dtype=dtype) if dtype is not None else creation.zeros(s)
              for s in shapes]
    spatial = len(shapes[0]) - 2
    start = _Field(tuple(Fraction(1) for _ in range(spatial)),
                   tuple(Fraction(1) for _ in range(spatial))) if spatial > 0 else _Field((), ())

    names: dict[int, str] = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name)
    tracker = _Tracker(inputs, start)
    handles = []
    training = {id(m): m.training for m in model.modules()}
    try:
        for module in {id(m): m for _, m in model.named_modules()}.values():
            handles.append(module.register_forward_pre_hook(tracker.pre_hook))
            handles.append(module.register_forward_hook(tracker.hook))
        model.eval()
        with no_grad(), conv_plan.recording() as plans:
            tracker.plans = plans
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            object.__setattr__(m, "training", training[id(m)])
    return _report(model, shapes, tracker.records, names, inputs)


def _input_shapes(input_shape: Any) -> list[tuple[int, ...]]:
    def is_shape(s: Any) -> bool:
        return isinstance(s, Sequence) and not isinstance(s, str) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in s)

    if is_shape(input_shape) and len(input_shape) > 0:
        return [tuple(input_shape)]
    if isinstance(input_shape, Sequence) and input_shape and all(
            is_shape(s) and len(s) > 0 for s in input_shape):
        return [tuple(s) for s in input_shape]
    raise ValueError(f"summary: input_shape must be a shape such as (1, 3, 32, 32) or a list "
                     f"of shapes, got {input_shape!r}")


def _report(model: Module, shapes: list, records: list[dict], names: dict[int, str],
            inputs: list[Tensor]) -> SummaryReport:
    # A call's MACs are its own (leaf) or its leaves' (container): children come after
    # their parent, so one backward sweep adds each total into its parent's.
    totals = [r["macs"] if r["is_leaf"] else 0 for r in records]
    for i in range(len(records) - 1, -1, -1):
        parent = records[i]["parent"]
        if parent is not None:
            totals[parent] += totals[i]
    rows = []
    for i, r in enumerate(records):
        m = r["module"]
        own = list(m.parameters(recurse=False))
        sub = list(m.parameters())
        outs = _tensors(r["out"])
        f: _Field = r["field"]
        rows.append(SummaryRow(
            name=names.get(id(m), ""), type=type(m).__name__, depth=r["depth"],
            is_leaf=r["is_leaf"], input_shape=tuple(r["x"].shape) if r["x"] is not None
            else None, output_shape=_shapes(r["out"]),
            parameters=sum(p.numel() for p in own),
            trainable=sum(p.numel() for p in own if p.requires_grad),
            parameters_total=sum(p.numel() for p in sub),
            trainable_total=sum(p.numel() for p in sub if p.requires_grad), macs=totals[i],
            activation_bytes=sum(t.numel() * t.element_size() for t in outs),
            receptive_field=f.rf, jump=f.jump, call=r["call"],
            algorithm=", ".join(dict.fromkeys(p.algorithm for p in r.get("plans", ()))) or None,
            workspace=max((p.workspace for p in r.get("plans", ())), default=0)))
    params = list(model.parameters())
    leaf_rows = [row for row in rows if row.is_leaf]
    notes = []
    if any(row.receptive_field is None for row in rows):
        notes.append("RF '?': a layer whose receptive field convkit cannot derive; the "
                     "layers after it are unknown too")
    return SummaryReport(
        model=type(model).__name__, input_shape=shapes[0] if len(shapes) == 1 else shapes,
        rows=tuple(rows), total_parameters=sum(p.numel() for p in params),
        trainable_parameters=sum(p.numel() for p in params if p.requires_grad),
        total_macs=sum(row.macs for row in leaf_rows),
        activation_bytes=sum(row.activation_bytes for row in leaf_rows),
        input_bytes=sum(x.numel() * x.element_size() for x in inputs),
        parameter_bytes=sum(p.numel() * p.element_size() for p in params),
        notes=tuple(notes))



