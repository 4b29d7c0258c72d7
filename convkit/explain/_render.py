"""Small text and HTML rendering helpers shared by the reports."""

from __future__ import annotations

import html
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["text_table", "html_table", "fmt_int", "fmt_bytes", "fmt_number", "wiring_text",
           "wiring_html", "esc", "jsonable"]


def fmt_int(n: int | None) -> str:
    """``1,234,567`` (``--`` for None)."""
    return "--" if n is None else f"{n:,}"


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def fmt_number(x: Any) -> str:
    """Integers as integers, fractions as ``7/3`` (exact), None as ``--``."""
    if x is None:
        return "--"
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    return str(x)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
               right: Sequence[bool] | None = None, indent: str = "") -> str:
    """A plain aligned table; ``right[i]`` right-aligns column ``i`` (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = right or [False] * len(headers)

    def line(row: list[str]) -> str:
        return indent + "  ".join(c.rjust(w) if r else c.ljust(w)
                                  for c, w, r in zip(row, widths, right, strict=True)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def esc(x: Any) -> str:
    return html.escape(str(x))


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
               right: Sequence[bool] | None = None) -> str:
    right = right or [False] * len(headers)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:{'right' if r else 'left'}'>{esc(c)}</td>"
                         for c, r in zip(row, right, strict=True)) + "</tr>" for row in rows)
    return (f"<table style='border-collapse:collapse;font-family:monospace'><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")


def wiring_text(matrix: np.ndarray, indent: str = "  ") -> str:
    """The out x in wiring matrix drawn with ``#`` (connected) and ``.``; rows are output
    channels, columns input channels."""
    out_c, in_c = matrix.shape
    width = len(str(max(out_c, in_c) - 1))
    header = indent + " " * (width + 5) + " ".join(str(i).rjust(width) for i in range(in_c))
    lines = [indent + "in".rjust(width + 5 + width), header]
    lines[0] = indent + " " * (width + 5) + "in ->"
    for o in range(out_c):
        label = f"out {str(o).rjust(width)}"
        row = " ".join(("#" if matrix[o, i] else ".").rjust(width) for i in range(in_c))
        lines.append(f"{indent}{label} {row}")
    return "\n".join(lines)


def wiring_html(matrix: np.ndarray) -> str:
    rows = []
    for o in range(matrix.shape[0]):
        cells = "".join(
            f"<td style='width:12px;height:12px;background:{'#2b6cb0' if v else '#edf2f7'}'>"
            "</td>" for v in matrix[o])
        rows.append(f"<tr><th style='font-weight:normal;padding-right:4px'>{o}</th>{cells}"
                    "</tr>")
    return ("<table style='border-spacing:1px'><caption>rows: output channels, columns: "
            "input channels</caption>" + "".join(rows) + "</table>")


def jsonable(obj: Any) -> Any:
    """Plain Python (lists, dicts, numbers, strings) for ``to_dict``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Fraction):
        return int(obj) if obj.denominator == 1 else float(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj
