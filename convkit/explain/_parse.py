"""A safe parser for layer strings such as ``"Conv2d(4, 4, 3, groups=2)"``.

The string is parsed with :func:`ast.parse` and never evaluated: it must be one call of a
convkit.nn layer name (optionally spelt ``nn.Conv2d`` or ``torch.nn.Conv2d``) whose
arguments are literals (numbers, strings, booleans, ``None``, and tuples or lists of
them) or, for containers such as ``Sequential``, further layer calls. Anything else -
names, attribute access on a result, operators, comprehensions, ``**kwargs`` - is
refused with a ``ValueError`` that says what was wrong.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any

from convkit import nn
from convkit.explain._layers import layer_names
from convkit.nn.modules.module import Module

__all__ = ["parse_layer"]

_PREFIXES = ((), ("nn",), ("torch", "nn"), ("convkit", "nn"))
_MAX_LENGTH = 2000  # a layer spec is a line, not a program


def parse_layer(spec: str) -> Module:
    """Build the layer a string such as ``"MaxPool2d(2, stride=2, ceil_mode=True)"`` names.

    Raises
    ------
    ValueError
        On a syntax error, an unknown layer name (with close matches), or anything that is
        not a literal argument; the message is one line.
    TypeError, RuntimeError
        As the layer's constructor raises them for bad arguments.
    """
    if not isinstance(spec, str):
        raise TypeError(f"parse_layer: expected a string, got {type(spec).__name__}")
    text = spec.strip()
    if len(text) > _MAX_LENGTH:
        raise ValueError(f"layer spec is {len(text)} characters long; at most {_MAX_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"cannot parse layer spec {text!r}: {e.msg} (column "
                         f"{e.offset})") from None
    return _build(tree.body, text)


def _describe(node: ast.AST) -> str:
    return {ast.Attribute: "an attribute access", ast.BinOp: "an operator expression",
            ast.Name: "a name", ast.Subscript: "an indexing expression",
            ast.Lambda: "a lambda", ast.Compare: "a comparison", ast.BoolOp: "a boolean "
            "expression", ast.Dict: "a dict", ast.Set: "a set"}.get(
        type(node), f"a {type(node).__name__} expression")


def _layer_name(func: ast.AST, text: str) -> str:
    parts: list[str] = []
    node = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ValueError(f"{ast.unparse(func)!r} is not a layer name (in {text!r})")
    parts.append(node.id)
    *prefix, name = parts[::-1]
    if tuple(prefix) not in _PREFIXES:
        raise ValueError(f"{ast.unparse(func)!r} is not a convkit.nn layer; write the layer "
                         "name alone, e.g. Conv2d(...)")
    if name not in layer_names():
        close = close_matches(name, layer_names())
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown layer {name!r}{hint}")
    return name


def close_matches(name: str, names: tuple[str, ...]) -> list[str]:
    """Up to three known names like ``name``, ignoring case first (Conv2D -> Conv2d)."""
    by_lower = {n.lower(): n for n in names}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.5)
    return [by_lower[f] for f in found]


def _build(node: ast.AST, text: str) -> Module:
    if not isinstance(node, ast.Call):
        raise ValueError(f"expected a layer call such as Conv2d(1, 1, 3), got "
                         f"{_describe(node)}: {ast.unparse(node)!r}")
    name = _layer_name(node.func, text)
    nested = name == "Sequential"
    args = [_argument(a, name, f"argument {i + 1}", nested, text)
            for i, a in enumerate(node.args)]
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"{name}: **kwargs is not allowed in a layer spec")
        kwargs[kw.arg] = _argument(kw.value, name, f"argument {kw.arg!r}", nested, text)
    return getattr(nn, name)(*args, **kwargs)


def _argument(node: ast.AST, layer: str, where: str, nested: bool, text: str) -> Any:
    if isinstance(node, ast.Call) and nested:
        return _build(node, text)
    if isinstance(node, ast.Starred):
        raise ValueError(f"{layer}: *args is not allowed in a layer spec")
    try:
        return _literal(node)
    except ValueError:
        raise ValueError(f"{where} of {layer} is not a literal: {ast.unparse(node)!r} "
                         f"({_describe(node)}; only numbers, strings, True/False/None and "
                         "tuples or lists of them are allowed)") from None


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool
                                                     | type(None)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e) for e in node.elts]
    raise ValueError("not a literal")
