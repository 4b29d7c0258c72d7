"""Index arithmetic of one spatial axis of a sliding-window layer.

Everything :mod:`convkit.explain` reports about an axis comes from :class:`AxisReport`:
the output size with its formula, which input positions each output reads (its
*window*), which input positions no window reads (*lost*), and the receptive field and
jump of the layer along the axis. The arithmetic is written out here independently of the
engine, so that tests can hold it against what running the layer gives.

Notation (per axis): ``n`` input size, ``k`` kernel size, ``s`` stride, ``d`` dilation,
``(lo, hi)`` padding before and after, ``p`` symmetric padding, ``op`` output padding.
Positions are input indices: ``-1`` is the first padded position before the input, ``n``
the first after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

import numpy as np

__all__ = ["AxisReport", "Tap", "axis_names", "conv_axis", "transposed_axis", "pool_axis",
           "adaptive_axis", "pad_axis", "blocks_axis", "source_index", "same_padding",
           "conv_output_size", "transposed_output_size"]

KINDS = ("conv", "transposed", "pool", "adaptive", "pad", "blocks")


class Tap(NamedTuple):
    """One kernel tap of one output element along one axis.

    ``tap`` indexes the layer's kernel axis (the weight as stored, never flipped);
    ``position`` is where the tap lands in input coordinates (outside ``[0, n)`` for
    padding; for transposed convolution the input element it multiplies); ``source`` is the
    input index whose value is actually read, or ``None`` when it reads a constant (zero
    padding, or ``-inf`` for max pooling); ``note`` says why they differ: ``""`` for a
    genuine read, else the padding mode (``"zeros"``, ``"reflect"``, ``"replicate"``,
    ``"circular"``, ``"constant"``).
    """

    tap: int
    position: int
    source: int | None
    note: str


def axis_names(ndim: int) -> tuple[str, ...]:
    """PyTorch's names of the spatial axes: L; H, W; D, H, W; beyond three d0, d1, ..."""
    if ndim == 1:
        return ("L",)
    if ndim <= 3:
        return ("D", "H", "W")[3 - ndim:]
    return tuple(f"d{i}" for i in range(ndim))


def conv_output_size(n: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    """``floor((n + lo + hi - d*(k-1) - 1) / s) + 1``."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def transposed_output_size(n: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """``(n-1)*s - 2*p + d*(k-1) + op + 1``."""
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def same_padding(n: int, k: int, s: int, d: int, lower: bool = False) -> tuple[int, int]:
    """'same' padding ``(lo, hi)`` with ``out = ceil(n / s)``: the rule of TensorFlow, JAX
    and ONNX, which is PyTorch's ``d*(k-1)`` split when ``s == 1``. The odd pad goes at the
    end, or at the start with ``lower`` (JAX's and ONNX's ``SAME_LOWER``)."""
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


def source_index(j: int, size: int, lo: int, hi: int, mode: str) -> int | None:
    """The index of an axis of length ``size`` that padded coordinate ``j`` reads.

    ``j`` counts from the first element of the unpadded axis (``j = -1`` is the last pad
    before it). Negative ``lo``/``hi`` crop first, as ``F.pad`` does, and the modes then
    pad the kept part: ``reflect`` mirrors without repeating the edge, ``replicate``
    repeats the edge, ``circular`` wraps around; ``zeros``/``constant`` read no element
    (``None``). Positions beyond the padded extent are ``None`` too.
    """
    start, stop = max(-lo, 0), size - max(-hi, 0)  # the kept part [start, stop)
    if start <= j < stop:
        return j
    kept = stop - start
    u = j - start  # position relative to the kept part
    if not -max(lo, 0) <= u < kept + max(hi, 0) or kept <= 0:
        return None
    if mode == "reflect":
        u = -u if u < 0 else 2 * (kept - 1) - u
    elif mode == "replicate":
        u = min(max(u, 0), kept - 1)
    elif mode == "circular":
        u %= kept
    else:
        return None
    return start + u


@dataclass(frozen=True)
class AxisReport:
    """One spatial axis of a layer: sizes, the output-size formula and the index arithmetic.

    ``padding`` is the ``(lo, hi)`` pair actually applied to the input (for transposed
    convolution: the ``(p, p)`` cropped from the full output). ``receptive_field`` is the
    widest span of input positions one output element depends on (``d*(k-1)+1`` for a
    convolution or pooling window) and ``jump`` the distance, in input positions, between
    neighbouring outputs (``s``; ``1/s`` for transposed convolution).
    """

    name: str
    kind: str
    input_size: int
    kernel_size: int
    stride: int
    padding: tuple[int, int]
    dilation: int
    output_size: int
    formula: str
    output_padding: int = 0
    ceil_mode: bool = False
    padding_mode: str = "zeros"
    lost: tuple[int, ...] = field(default=())
    receptive_field: int = 1
    jump: Fraction = Fraction(1)

    # ------------------------------------------------------------------ windows
    def window(self, o: int) -> tuple[Tap, ...]:
        """The taps output position ``o`` reads along this axis, in kernel order.

        For transposed convolution only the taps that meet an input element are listed (the
        others fall on the zeros inserted between inputs or on zero padding).
        """
        if not 0 <= o < self.output_size:
            raise IndexError(f"axis {self.name}: output index {o} is out of range for size "
                             f"{self.output_size}")
        return getattr(self, f"_window_{self.kind}")(o)

    def _read(self, t: int, j: int, mode: str) -> Tap:
        lo, hi = self.padding
        if 0 <= j < self.input_size:
            return Tap(t, j, j, "")
        return Tap(t, j, source_index(j, self.input_size, lo, hi, mode), mode)

    def _window_conv(self, o: int) -> tuple[Tap, ...]:
        lo = self.padding[0]
        return tuple(self._read(t, o * self.stride - lo + t * self.dilation, self.padding_mode)
                     for t in range(self.kernel_size))

    _window_blocks = _window_conv

    def _window_pool(self, o: int) -> tuple[Tap, ...]:
        # taps past the padded extent (ceil_mode's overhang) are not read at all
        lo, hi = self.padding
        taps = []
        for t in range(self.kernel_size):
            j = o * self.stride - lo + t * self.dilation
            if j < self.input_size + hi:
                taps.append(self._read(t, j, self.padding_mode))
        return tuple(taps)

    def _window_adaptive(self, o: int) -> tuple[Tap, ...]:
        n, out = self.input_size, self.output_size
        start, stop = (o * n) // out, -(-((o + 1) * n) // out)
        return tuple(Tap(t, j, j, "") for t, j in enumerate(range(start, stop)))

    def _window_pad(self, o: int) -> tuple[Tap, ...]:
        return (self._read(0, o - self.padding[0], self.padding_mode),)

    def _window_transposed(self, o: int) -> tuple[Tap, ...]:
        # The equivalent direct convolution (Dumoulin & Visin): the input spread by s-1
        # zeros between elements, padded by d*(k-1)-p each side (op more at the end) under
        # the padding mode, correlated at stride 1 with the flipped kernel.
        n, k, s, d = self.input_size, self.kernel_size, self.stride, self.dilation
        p = self.padding[0]
        spread = (n - 1) * s + 1
        before = d * (k - 1) - p
        after = before + self.output_padding
        taps = []
        for t_flipped in range(k):
            j = o + t_flipped * d - before  # coordinate in the spread input
            src = source_index(j, spread, before, after, self.padding_mode)
            if src is None or src % s:
                continue  # zero padding, or one of the inserted zeros
            note = "" if src == j else self.padding_mode
            taps.append(Tap(k - 1 - t_flipped, j // s, src // s, note))
        taps.sort()
        return tuple(taps)

    def reached(self) -> frozenset[int]:
        """The input indices that at least one output element reads."""
        return frozenset(np.flatnonzero(self._reached_mask()).tolist())

    def _reached_mask(self) -> np.ndarray:
        """Bool ``(input_size,)``: which input indices some output reads.

        The regular kinds (tap ``t`` of output ``o`` at ``o*s - lo + t*d``) mark each tap's
        in-range positions as one strided slice and look up only the few taps that land in
        the padding, so that a layer on a long axis (a minute of audio is millions of
        samples) is explained in milliseconds; the other kinds walk their windows.
        """
        n, out = self.input_size, self.output_size
        mask = np.zeros(n, dtype=bool)
        if self.kind not in ("conv", "blocks", "pool", "pad"):
            for o in range(out):
                for tap in self.window(o):
                    if tap.source is not None:
                        mask[tap.source] = True
            return mask
        s, lo, hi = self.stride, *self.padding
        # pooling drops the taps of ceil_mode's last window that fall past the padding
        limit = n + hi if self.kind == "pool" else None
        for t in range(self.kernel_size):
            first = -lo + t * self.dilation  # position of this tap for output 0
            # outputs whose tap lands before / at or past the input: a prefix and a suffix
            before = min(max(-(first // s), 0), out)
            past = min(max((n - 1 - first) // s + 1, before), out)
            if before < past:
                mask[first + before * s:first + (past - 1) * s + 1:s] = True
            for o in (*range(before), *range(past, out)):
                j = first + o * s
                if limit is not None and j >= limit:
                    continue
                src = source_index(j, n, lo, hi, self.padding_mode)
                if src is not None:
                    mask[src] = True
        return mask

    def taps_read(self) -> int:
        """How many window taps all outputs read along this axis, together
        (``sum(len(window(o)))``, counted without listing the windows)."""
        if self.kind == "pool":
            lo, hi = self.padding
            # tap t of output o is read while o*s - lo + t*d < n + hi
            return sum(min(max(-(-(self.input_size + hi + lo - t * self.dilation)
                                   // self.stride), 0), self.output_size)
                       for t in range(self.kernel_size))
        if self.kind in ("conv", "blocks"):
            return self.output_size * self.kernel_size
        return sum(len(self.window(o)) for o in range(self.output_size))

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["padding"] = list(self.padding)
        d["lost"] = list(self.lost)
        d["jump"] = float(self.jump) if self.jump.denominator != 1 else int(self.jump)
        return d


def _finish(axis: AxisReport) -> AxisReport:
    """Fill in the fields that follow from the windows: lost indices and receptive field."""
    lost = tuple(np.flatnonzero(~axis._reached_mask()).tolist())
    spans = [max(t.position for t in w) - min(t.position for t in w) + 1
             for w in (axis.window(o) for o in range(_period(axis))) if w]
    if axis.kind == "transposed":
        spans = [max(t.source for t in w) - min(t.source for t in w) + 1
                 for w in (axis.window(o) for o in range(axis.output_size)) if w]
    rf = max(spans, default=0)
    return AxisReport(**{**{k: getattr(axis, k) for k in axis.__dataclass_fields__},
                         "lost": lost, "receptive_field": rf})


def _period(axis: AxisReport) -> int:
    """How many outputs to inspect for the widest window (all, for the irregular kinds).

    Regular windows are translates of the first; a pooling window can only lose taps at
    the end (ceil_mode's overhang), and later windows lose more, so the first is widest."""
    if axis.kind in ("conv", "blocks", "pad", "pool"):
        return min(axis.output_size, 1)
    return axis.output_size


def _n(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def conv_axis(name: str, n: int, k: int, s: int, lo: int, hi: int, d: int,
              mode: str = "zeros") -> AxisReport:
    """A convolution axis: ``floor((n + lo + hi - d*(k-1) - 1)/s) + 1`` outputs."""
    out = conv_output_size(n, k, s, lo, hi, d)
    pad = f"2*{lo}" if lo == hi else f"({lo}+{hi})"
    formula = f"floor(({n} + {pad} - {d}*({k}-1) - 1)/{s}) + 1 = {out}"
    return _finish(AxisReport(name, "conv", n, k, s, (lo, hi), d, out, formula,
                              padding_mode=mode, jump=Fraction(s)))


def blocks_axis(name: str, n: int, k: int, s: int, p: int, d: int) -> AxisReport:
    """An axis of unfold/fold: the number of sliding blocks (windows) along it."""
    out = conv_output_size(n, k, s, p, p, d)
    formula = f"blocks = floor(({n} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1 = {out}"
    return _finish(AxisReport(name, "blocks", n, k, s, (p, p), d, out, formula,
                              jump=Fraction(s)))


def pool_axis(name: str, n: int, k: int, s: int, p: int, d: int, ceil_mode: bool,
              fill: str = "zeros") -> AxisReport:
    """A pooling axis; with ``ceil_mode`` the division rounds up, but a last window that
    would start in the right padding is dropped (PyTorch's rule)."""
    span = n + 2 * p - d * (k - 1) - 1
    rounded = -(-span // s) if ceil_mode else span // s
    out = rounded + 1
    formula = f"{'ceil' if ceil_mode else 'floor'}(({n} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1 = {out}"
    if ceil_mode and (out - 1) * s >= n + p:
        formula += (f"; the last window would start at {out - 1}*{s} = {(out - 1) * s} >= "
                    f"{n} + {p}, inside the right padding, so it is dropped: out = {out - 1}")
        out -= 1
    return _finish(AxisReport(name, "pool", n, k, s, (p, p), d, out, formula,
                              ceil_mode=ceil_mode, padding_mode=fill, jump=Fraction(s)))


def transposed_axis(name: str, n: int, k: int, s: int, p: int, d: int, op: int,
                    mode: str = "zeros") -> AxisReport:
    """A transposed-convolution axis: ``(n-1)*s - 2*p + d*(k-1) + op + 1`` outputs."""
    out = transposed_output_size(n, k, s, p, d, op)
    formula = f"({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1 = {out}"
    return _finish(AxisReport(name, "transposed", n, k, s, (p, p), d, out, formula,
                              output_padding=op, padding_mode=mode, jump=Fraction(1, s)))


def adaptive_axis(name: str, n: int, out: int) -> AxisReport:
    """An adaptive-pooling axis: window ``i`` covers ``[floor(i*n/out), ceil((i+1)*n/out))``."""
    formula = (f"adaptive: window i covers [floor(i*{n}/{out}), ceil((i+1)*{n}/{out})) "
               f"for i < output_size = {out}")
    widest = max((-(-((o + 1) * n) // out) - (o * n) // out for o in range(out)), default=0)
    axis = AxisReport(name, "adaptive", n, widest, 0, (0, 0), 1, out, formula,
                      jump=Fraction(n, out) if out else Fraction(0))
    return _finish(axis)


def pad_axis(name: str, n: int, lo: int, hi: int, mode: str) -> AxisReport:
    """A padding axis: ``n + lo + hi`` outputs (a negative pad crops)."""
    out = n + lo + hi
    formula = f"{n} + {_n(lo)} + {_n(hi)} = {out}"
    return _finish(AxisReport(name, "pad", n, 1, 1, (lo, hi), 1, out, formula,
                              padding_mode=mode))
