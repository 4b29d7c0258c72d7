"""``trace(layer, input, index)``: where one output element comes from.

For one element of a layer's output, list every input element (or padding) it reads, the
weight each is multiplied by, and the sum written out term by term, recomputed in float64
and checked against the value running the layer gives. The point the lecture makes with
its step-edge test is visible in every trace: ``weight[o, c, u, v]`` multiplies the input
at ``stride*i - padding + dilation*u`` - the kernel is *not* flipped, so PyTorch's
"convolution" is a cross-correlation. ``flipped_value`` shows what a true convolution
(SciPy's ``convolve2d``, kernel flipped) would have put there instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convkit.autograd.grad_mode import no_grad
from convkit.autograd.tensor import Tensor
from convkit.explain._layers import Layer, as_module, describe
from convkit.explain._render import esc, jsonable
from convkit.ops import creation

__all__ = ["trace", "TraceReport", "Term"]

_WRITE_OUT_LIMIT = 64  # terms beyond which the sum is summarised, not written out


@dataclass(frozen=True)
class Term:
    """One input element (or padding) read for the traced output element.

    ``position`` is where the tap lands per spatial axis (outside the input for padding);
    ``input_index`` the full index of the input element actually read (``None`` for a
    constant: zero padding, or max pooling's ``-inf``); ``weight_index`` the full index of
    the weight it is multiplied by (``None`` for pooling and padding layers).
    """

    position: tuple[int, ...]
    input_index: tuple[int, ...] | None
    weight_index: tuple[int, ...] | None
    x: float
    w: float | None
    note: str = ""

    @property
    def product(self) -> float:
        return self.x * (self.w if self.w is not None else 1.0)

    def to_dict(self) -> dict:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class TraceReport:
    """The trace of output element ``index``; see :func:`trace`.

    ``value`` is what running the layer gives, ``computed`` the float64 recomputation from
    ``terms`` (``matches`` says they agree to the input dtype's precision). ``window`` lists
    per spatial axis the input positions read, ``channels`` the input channels, ``group``
    the group of the output channel. ``reduction`` is ``sum`` (convolutions), ``max``,
    ``mean`` (with ``divisor``), ``lp`` or ``copy`` (padding).
    """

    layer: str
    kind: str
    index: tuple[int, ...]
    value: float
    computed: float
    matches: bool
    reduction: str
    terms: tuple[Term, ...]
    window: tuple[tuple[int, ...], ...]
    padding_positions: int
    channels: tuple[int, ...]
    group: int | None
    bias: float | None
    divisor: float | None
    flipped_value: float | None
    expression: str | None

    def to_dict(self) -> dict:
        out = {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        out["terms"] = [t.to_dict() for t in self.terms]
        return out

    def __str__(self) -> str:
        idx = ", ".join(str(i) for i in self.index)
        lines = [f"{self.layer}", f"out[{idx}] = {self.value:.6g}"]
        if self.group is not None:
            lines.append(f"  output channel {self.index[-len(self.window) - 1]} is in group "
                         f"{self.group}: it reads input channels {list(self.channels)}")
        else:
            lines.append(f"  input channels read: {list(self.channels)}")
        for name, positions in zip(_names(len(self.window)), self.window, strict=True):
            lines.append(f"  window along {name}: input positions {list(positions)}")
        if self.padding_positions:
            lines.append(f"  {self.padding_positions} of {len(self.terms)} terms read padding")
        if self.expression:
            lines.append("")
            lines.append(self.expression)
        else:
            lines.append(f"  ({len(self.terms)} terms: too many to write out; see .terms)")
        lines.append("")
        check = "equals" if self.matches else "DOES NOT equal"
        lines.append(f"recomputed in float64: {self.computed:.6g}, which {check} the layer's "
                     f"output {self.value:.6g}")
        if self.flipped_value is not None:
            lines.append(f"with the kernel flipped (a true convolution) it would be "
                         f"{self.flipped_value:.6g}: the layer is a cross-correlation"
                         if not math.isclose(self.flipped_value, self.computed, rel_tol=1e-9,
                                             abs_tol=1e-12) else
                         "a flipped kernel would give the same value here (the window or "
                         "kernel is symmetric): try another element to tell correlation from "
                         "convolution")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + esc(str(self)) + "</pre>"


def _names(n: int) -> tuple[str, ...]:
    from convkit.explain._arithmetic import axis_names

    return axis_names(n)


def _index(index: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(index, int):
        index = (index,)
    index = tuple(int(i) for i in index)
    if len(index) != len(shape):
        raise IndexError(f"trace: index {index} has {len(index)} entries; the output has "
                         f"shape {shape} ({len(shape)} dims)")
    out = []
    for i, size in zip(index, shape, strict=True):
        if not -size <= i < size:
            raise IndexError(f"trace: index {index} is out of range for the output shape "
                             f"{shape}")
        out.append(i % size)
    return tuple(out)


def trace(layer: Any, input: Any, index: Sequence[int] | int) -> TraceReport:
    """Trace output element ``index`` of ``layer`` applied to ``input`` back to its inputs.

    ``layer``: a convolution, transposed convolution, pooling or padding layer (or anything
    :func:`convkit.explain` accepts); ``input``: a Tensor or array of the layer's input
    shape; ``index``: a full index into the output, e.g. ``(0, 1, 2, 3)`` for
    ``out[0, 1, 2, 3]``.

    Raises
    ------
    IndexError
        If ``index`` does not address one output element.
    TypeError
        For layers without a per-element trace (unfold, fold).
    """
    x = input if isinstance(input, Tensor) else creation.tensor(np.asarray(input))
    module = as_module(layer, tuple(x.shape))
    info = describe(module, tuple(x.shape))
    if info.kind in ("unfold", "fold"):
        raise TypeError(f"trace: {type(module).__name__} only moves data; trace the "
                        "convolution it is part of")
    with no_grad():
        out = module.forward(x)
    out = out[0] if isinstance(out, tuple) else out
    idx = _index(index, tuple(out.shape))
    value = float(np.asarray(out.numpy()[idx]).real)
    xs = np.asarray(x.detach().numpy(), dtype=np.float64)
    tracer = {"conv": _conv, "conv_transpose": _transposed, "pad": _pad}.get(
        info.kind, _pool)
    result = tracer(info, xs, idx)
    tol = 1e-9 if x.dtype.name == "float64" else 1e-4
    matches = math.isclose(result["computed"], value, rel_tol=tol, abs_tol=tol)
    terms = result["terms"]
    window = tuple(tuple(sorted({t.position[a] for t in terms})) for a in range(info.ndim))
    return TraceReport(
        layer=repr(module), kind=info.kind, index=idx, value=value,
        computed=result["computed"], matches=matches, reduction=result["reduction"],
        terms=tuple(terms), window=window,
        padding_positions=sum(1 for t in terms if t.note), channels=result["channels"],
        group=result.get("group"), bias=result.get("bias"), divisor=result.get("divisor"),
        flipped_value=result.get("flipped"),
        expression=_expression(result, value) if len(terms) <= _WRITE_OUT_LIMIT else None)


def _split(info: Layer, idx: tuple[int, ...]) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
    """(batch prefix, channel, spatial index) of an output index."""
    n = info.ndim
    lead = idx[:-n - 1]
    return lead, idx[-n - 1], idx[-n:]


def _taps(info: Layer, spatial: tuple[int, ...]) -> list[tuple]:
    """Every combination of one tap per axis for the output position ``spatial``."""
    return list(itertools.product(*(a.window(o) for a, o in zip(info.axes, spatial,
                                                                strict=True))))


def _read(xs: np.ndarray, lead: tuple, channel: int, combo: tuple) -> tuple:
    position = tuple(t.position for t in combo)
    note = ",".join(sorted({t.note for t in combo if t.note}))
    if any(t.source is None for t in combo):
        return position, None, 0.0, note
    index = lead + (channel,) + tuple(t.source for t in combo)
    return position, index, float(xs[index]), note


def _conv(info: Layer, xs: np.ndarray, idx: tuple[int, ...]) -> dict:
    m = info.module
    w = np.asarray(m.weight.detach().numpy(), dtype=np.float64)
    lead, o, spatial = _split(info, idx)
    c_in, c_out = info.channels
    per_in, per_out = c_in // info.groups, c_out // info.groups
    group = o // per_out
    channels = tuple(range(group * per_in, (group + 1) * per_in))
    kernel = tuple(a.kernel_size for a in info.axes)
    terms, flipped = [], 0.0
    for c_local, channel in enumerate(channels):
        for combo in _taps(info, spatial):
            position, index, value, note = _read(xs, lead, channel, combo)
            w_index = (o, c_local) + tuple(t.tap for t in combo)
            flip_index = (o, c_local) + tuple(k - 1 - t.tap for k, t in zip(kernel, combo,
                                                                             strict=True))
            terms.append(Term(position, index, w_index, value, float(w[w_index]),
                              note or ("" if index is not None else "zeros")))
            flipped += value * float(w[flip_index])
    bias = float(m.bias.detach().numpy()[o]) if m.bias is not None else None
    total = math.fsum(t.product for t in terms) + (bias or 0.0)
    return {"terms": terms, "computed": total, "reduction": "sum", "channels": channels,
            "group": group, "bias": bias, "flipped": flipped + (bias or 0.0), "out": o}


def _transposed(info: Layer, xs: np.ndarray, idx: tuple[int, ...]) -> dict:
    m = info.module
    w = np.asarray(m.weight.detach().numpy(), dtype=np.float64)
    lead, o, spatial = _split(info, idx)
    c_in, c_out = info.channels
    per_in, per_out = c_in // info.groups, c_out // info.groups
    group = o // per_out
    o_local = o - group * per_out
    channels = tuple(range(group * per_in, (group + 1) * per_in))
    terms = []
    for channel in channels:
        for combo in _taps(info, spatial):
            position, index, value, note = _read(xs, lead, channel, combo)
            w_index = (channel, o_local) + tuple(t.tap for t in combo)
            terms.append(Term(position, index, w_index, value, float(w[w_index]), note))
    bias = float(m.bias.detach().numpy()[o]) if m.bias is not None else None
    total = math.fsum(t.product for t in terms) + (bias or 0.0)
    return {"terms": terms, "computed": total, "reduction": "sum", "channels": channels,
            "group": group, "bias": bias, "out": o}


def _pad(info: Layer, xs: np.ndarray, idx: tuple[int, ...]) -> dict:
    n = info.ndim
    lead, spatial = idx[:-n], idx[-n:]
    combo = _taps(info, spatial)[0]
    position = tuple(t.position for t in combo)
    note = ",".join(sorted({t.note for t in combo if t.note}))
    if any(t.source is None for t in combo):
        value = float(info.spec.get("value") or 0.0)
        term = Term(position, None, None, value, None, note)
    else:
        index = lead + tuple(t.source for t in combo)
        term = Term(position, index, None, float(xs[index]), None, note)
    channel = lead[-1] if lead else 0
    return {"terms": [term], "computed": term.x, "reduction": "copy", "channels": (channel,)}


def _pool(info: Layer, xs: np.ndarray, idx: tuple[int, ...]) -> dict:
    lead, c, spatial = _split(info, idx)
    terms = []
    for combo in _taps(info, spatial):
        position, index, value, note = _read(xs, lead, c, combo)
        if index is None and info.kind == "max_pool":
            value = -math.inf
        terms.append(Term(position, index, None, value, None, note))
    genuine = [t.x for t in terms if t.input_index is not None]
    result: dict[str, Any] = {"terms": terms, "channels": (c,)}
    if info.kind in ("max_pool", "adaptive_max_pool"):
        result.update(computed=max(t.x for t in terms), reduction="max")
    elif info.kind in ("avg_pool", "adaptive_avg_pool"):
        override = info.spec.get("divisor_override")
        if info.kind == "adaptive_avg_pool":
            divisor = float(len(terms))
        elif override:
            divisor = float(override)
        elif info.spec.get("count_include_pad", True):
            divisor = float(len(terms))
        else:
            divisor = float(len(genuine))
        result.update(computed=math.fsum(t.x for t in terms) / divisor, reduction="mean",
                      divisor=divisor)
    else:  # lp_pool: PyTorch computes avg_pool(x**p) * prod(kernel), then the p-th root
        p = float(info.spec["norm_type"])
        k = math.prod(a.kernel_size for a in info.axes)
        mean = math.fsum(t.x ** p for t in terms) / len(terms)
        s = mean * k
        value = s ** (1.0 / p) if s > 0 else 0.0 if s == 0 else math.nan
        result.update(computed=value, reduction="lp", divisor=len(terms) / k, norm_type=p,
                      kernel_taps=k)
    return result


def _fmt(v: float) -> str:
    if v == -math.inf:
        return "-inf"
    text = f"{v:.4g}"
    return f"({text})" if v < 0 else text


def _expression(result: dict, value: float) -> str:
    terms: list[Term] = result["terms"]
    red = result["reduction"]

    def sym(t: Term) -> str:
        if t.input_index is None:
            return "pad" if t.x == 0 else _fmt(t.x)
        name = "x[" + ",".join(str(i) for i in t.input_index) + "]"
        return name + (f"({t.note})" if t.note else "")

    if red == "sum":
        symbolic = " + ".join(f"{sym(t)}*w[{','.join(str(i) for i in t.weight_index)}]"
                              for t in terms)
        numeric = " + ".join(f"{_fmt(t.x)}*{_fmt(t.w)}" for t in terms)
        if result.get("bias") is not None:
            symbolic += f" + b[{result['out']}]"
            numeric += f" + {_fmt(result['bias'])}"
        return (f"out = {symbolic}\n    = {numeric}\n    = {result['computed']:.6g}")
    if red == "copy":
        return f"out = {sym(terms[0])} = {_fmt(terms[0].x)}"
    if red == "max":
        listed = ", ".join(sym(t) for t in terms)
        values = ", ".join(_fmt(t.x) for t in terms)
        return f"out = max({listed})\n    = max({values}) = {result['computed']:.6g}"
    if red == "mean":
        return (f"out = ({' + '.join(sym(t) for t in terms)}) / {result['divisor']:g}\n"
                f"    = ({' + '.join(_fmt(t.x) for t in terms)}) / {result['divisor']:g} = "
                f"{result['computed']:.6g}")
    # PyTorch's lp_pool is avg_pool(x**p) * prod(kernel) to the power 1/p: a window cut short
    # by ceil_mode is scaled up to the full kernel size
    p, count, k = result["norm_type"], len(terms), result["kernel_taps"]
    powers = " + ".join(f"{sym(t)}**{p:g}" for t in terms)
    numbers = " + ".join(f"{_fmt(t.x)}**{p:g}" for t in terms)
    return (f"out = (({powers}) / {count} * {k}) ** (1/{p:g})\n"
            f"    = (({numbers}) / {count} * {k}) ** (1/{p:g}) = {result['computed']:.6g}")
