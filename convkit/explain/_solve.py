"""The inverse shape problem: which layer arguments turn one size into another.

``solve(input_size=32, output_size=16)`` lists every (kernel_size, stride, padding,
dilation) - and output_padding for a transposed convolution - in the searched ranges that
maps an axis of ``input_size`` to ``output_size``. ``collisions(...)`` lists the input sizes
a strided convolution maps to the same output size: the information the rounding-down in
``floor((in + 2p - d(k-1) - 1)/s) + 1`` throws away, and the reason a transposed convolution
needs ``output_padding`` to know which of them to restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from convkit.explain._arithmetic import conv_axis, conv_output_size, transposed_axis
from convkit.explain._render import jsonable, text_table

__all__ = ["solve", "collisions", "SolveReport", "Solution"]


def collisions(output_size: int, kernel_size: int, stride: int = 1, padding: int = 0,
               dilation: int = 1) -> tuple[int, ...]:
    """Every input size that a convolution with these arguments maps to ``output_size``
    (one axis). There are ``stride`` of them, fewer where they would be below 1:
    ``in = (out-1)*stride + dilation*(kernel_size-1) + 1 - 2*padding + r``,
    ``0 <= r < stride``."""
    for name, v, least in (("output_size", output_size, 1), ("kernel_size", kernel_size, 1),
                           ("stride", stride, 1), ("padding", padding, 0),
                           ("dilation", dilation, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < least:
            raise ValueError(f"collisions: {name} must be an int >= {least}, got {v!r}")
    smallest = (output_size - 1) * stride + dilation * (kernel_size - 1) + 1 - 2 * padding
    return tuple(n for n in range(smallest, smallest + stride) if n >= 1)


@dataclass(frozen=True)
class Solution:
    """One set of arguments that gives the requested size, with what it implies.

    ``lost`` are the input positions no window reads; ``collisions`` the input sizes the
    convolution (for a transposed solution: the forward convolution it is the adjoint of)
    maps to the same output size. A transposed solution's output is one of its collisions
    unless ``output_padding >= stride`` (PyTorch allows up to ``dilation - 1``): then the
    forward convolution does not even map the output back to the input size.
    """

    kernel_size: int
    stride: int
    padding: int
    dilation: int
    output_padding: int | None
    formula: str
    lost: tuple[int, ...]
    collisions: tuple[int, ...]

    def layer(self, in_channels: int = 1, out_channels: int = 1, ndim: int = 2) -> str:
        """The layer as a string :func:`convkit.explain.parse_layer` reads."""
        name = f"ConvTranspose{ndim}d" if self.output_padding is not None else f"Conv{ndim}d"
        args = (f"{name}({in_channels}, {out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
        if self.output_padding:
            args += f", output_padding={self.output_padding}"
        if self.dilation != 1:
            args += f", dilation={self.dilation}"
        return args + ")"

    def to_dict(self) -> dict:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SolveReport:
    """All solutions found, simplest first (no lost inputs, then smaller kernel, dilation,
    stride, padding, output_padding), and the ranges searched."""

    input_size: int
    output_size: int
    transposed: bool
    solutions: tuple[Solution, ...]
    searched: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.solutions)

    def __iter__(self) -> Iterator[Solution]:
        return iter(self.solutions)

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "output_size": self.output_size,
                "transposed": self.transposed,
                "solutions": [s.to_dict() for s in self.solutions],
                "searched": jsonable(self.searched)}

    def __str__(self) -> str:
        kind = "transposed convolutions" if self.transposed else "convolutions"
        ranges = ", ".join(f"{k} {v[0]}..{v[1]}" for k, v in self.searched.items())
        head = (f"{kind} taking an axis of {self.input_size} to {self.output_size} "
                f"({len(self.solutions)} found; searched {ranges})")
        if not self.solutions:
            return head + "\n  none"
        headers = ["kernel", "stride", "padding", "dilation"]
        if self.transposed:
            headers.append("output_padding")
        headers += ["formula", "lost inputs",
                    "sizes output_padding can give" if self.transposed else
                    "inputs with the same output"]
        rows = []
        for s in self.solutions:
            row = [s.kernel_size, s.stride, s.padding, s.dilation]
            if self.transposed:
                row.append(s.output_padding)
            row += [s.formula, len(s.lost), ", ".join(map(str, s.collisions))]
            rows.append(row)
        right = [True] * (len(headers) - 3) + [False, True, False]
        return head + "\n" + text_table(headers, rows, right, indent="  ")

    def _repr_html_(self) -> str:
        from convkit.explain._render import esc

        return "<pre>" + esc(str(self)) + "</pre>"


def solve(input_size: int, output_size: int, kernel_size: int | None = None,
          transposed: bool = False, max_stride: int = 4, max_dilation: int = 3,
          max_kernel: int = 7, max_padding: int | None = None) -> SolveReport:
    """Every convolution (or, with ``transposed``, transposed convolution) argument set in
    the searched ranges that maps an axis of ``input_size`` to ``output_size``.

    Searched: kernel sizes 1..``max_kernel`` (or just ``kernel_size``), strides
    1..``max_stride``, dilations 1..``max_dilation``, paddings 0..``max_padding`` (default
    ``dilation*(kernel_size-1)``: more padding than that only adds windows made entirely of
    padding), and for transposed convolutions every ``output_padding`` PyTorch allows
    (``< max(stride, dilation)``). Every solution is what building the layer gives.
    """
    for name, v in (("input_size", input_size), ("output_size", output_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"solve: {name} must be a positive int, got {v!r}")
    for name, v in (("max_stride", max_stride), ("max_dilation", max_dilation),
                    ("max_kernel", max_kernel)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"solve: {name} must be a positive int, got {v!r}")
    if kernel_size is not None and (not isinstance(kernel_size, int) or kernel_size < 1):
        raise ValueError(f"solve: kernel_size must be a positive int, got {kernel_size!r}")
    kernels = [kernel_size] if kernel_size is not None else list(range(1, max_kernel + 1))
    found = []
    for k in kernels:
        for d in range(1, max_dilation + 1):
            if k == 1 and d > 1:
                continue  # dilation is meaningless for a 1-tap kernel
            top = d * (k - 1) if max_padding is None else max_padding
            for s in range(1, max_stride + 1):
                for p in range(0, top + 1):
                    if transposed:
                        found.extend(_transposed(input_size, output_size, k, s, p, d))
                    elif conv_output_size(input_size, k, s, p, p, d) == output_size:
                        axis = conv_axis("L", input_size, k, s, p, p, d)
                        found.append(Solution(k, s, p, d, None, axis.formula, axis.lost,
                                              collisions(output_size, k, s, p, d)))
    found.sort(key=lambda z: (bool(z.lost), z.kernel_size, z.dilation, z.stride, z.padding,
                              z.output_padding or 0))
    searched = {"kernel_size": (kernels[0], kernels[-1]), "stride": (1, max_stride),
                "dilation": (1, max_dilation),
                "padding": (0, max_padding if max_padding is not None else "d*(k-1)")}
    return SolveReport(input_size, output_size, transposed, tuple(found), searched)


def _transposed(n: int, out: int, k: int, s: int, p: int, d: int) -> list[Solution]:
    sols = []
    for op in range(max(s, d)):
        axis_out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if axis_out != out:
            continue
        axis = transposed_axis("L", n, k, s, p, d, op)
        sols.append(Solution(k, s, p, d, op, axis.formula, axis.lost,
                             collisions(n, k, s, p, d)))
    return sols
