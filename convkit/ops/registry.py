"""The op registry: every differentiable op with a generator of sample inputs.

Generic tests run off this list (PyTorch's OpInfo idea): for each op and each sample they
compare convkit with PyTorch on the same arrays, with contiguous and non-contiguous inputs,
compare gradients, and run ``gradcheck`` in float64. Adding an op means adding one entry.

Samples are plain NumPy arrays and Python values, so the registry stays free of any test
framework; ``call`` names the function on the ``convkit``/``torch`` module or, prefixed with
``.``, the Tensor method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OpInfo", "Sample", "OPS"]


@dataclass(frozen=True)
class Sample:
    """One call: array arguments (tensors) mixed with plain values, and keyword arguments."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpInfo:
    name: str
    call: str
    samples: Callable[[np.random.Generator], Iterator[Sample]]
    positive: bool = False  # inputs must be > 0 (log, sqrt, ...)
    needs_contiguous: bool = False  # PyTorch itself refuses other layouts (view)


def _r(rng: np.random.Generator, *shape: int, positive: bool = False) -> np.ndarray:
    a = np.asarray(rng.standard_normal(shape))
    return np.asarray(np.abs(a) + 0.5) if positive else a


def _unary(positive: bool = False) -> Callable[[np.random.Generator], Iterator[Sample]]:
    def gen(rng: np.random.Generator) -> Iterator[Sample]:
        for shape in [(), (5,), (3, 4), (2, 3, 2)]:
            yield Sample((_r(rng, *shape, positive=positive),))

    return gen


def _binary(positive: bool = False) -> Callable[[np.random.Generator], Iterator[Sample]]:
    def gen(rng: np.random.Generator) -> Iterator[Sample]:
        for a, b in [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((5,), ())]:
            yield Sample((_r(rng, *a, positive=positive), _r(rng, *b, positive=positive)))
        yield Sample((_r(rng, 3, 2, positive=positive), 2.5))

    return gen


def _reduction(rng: np.random.Generator) -> Iterator[Sample]:
    x = _r(rng, 3, 4, 2)
    yield Sample((x,))
    yield Sample((x,), {"dim": 1})
    yield Sample((x,), {"dim": (0, 2), "keepdim": True})
    yield Sample((x,), {"dim": -1, "keepdim": False})


def _single_dim_reduction(rng: np.random.Generator) -> Iterator[Sample]:
    x = _r(rng, 3, 4, 2)
    yield Sample((x,))
    yield Sample((x,), {"dim": 1})
    yield Sample((x,), {"dim": -1, "keepdim": True})


def _views(rng: np.random.Generator) -> Iterator[Sample]:
    yield Sample((_r(rng, 2, 3, 4),))


def _matmul(rng: np.random.Generator) -> Iterator[Sample]:
    for a, b in [((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)),
                 ((2, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2))]:
        yield Sample((_r(rng, *a), _r(rng, *b)))


def _conv(rng: np.random.Generator) -> Iterator[Sample]:
    yield Sample((_r(rng, 2, 2, 7), _r(rng, 3, 2, 3), _r(rng, 3)), {"stride": 2, "padding": 1})
    yield Sample((_r(rng, 1, 4, 5, 6), _r(rng, 4, 2, 3, 2), None),
                 {"padding": "same", "dilation": (2, 1), "groups": 2})
    yield Sample((_r(rng, 1, 2, 4, 4, 3), _r(rng, 2, 1, 2, 2, 2), _r(rng, 2)),
                 {"groups": 2, "stride": (1, 2, 1)})


def _conv_transpose(rng: np.random.Generator) -> Iterator[Sample]:
    yield Sample((_r(rng, 2, 2, 5), _r(rng, 2, 3, 3), _r(rng, 3)),
                 {"stride": 2, "padding": 1, "output_padding": 1})
    yield Sample((_r(rng, 1, 4, 3, 4), _r(rng, 4, 1, 2, 3), None),
                 {"stride": (2, 1), "groups": 2, "dilation": (1, 2)})
    yield Sample((_r(rng, 1, 2, 2, 3, 2), _r(rng, 2, 2, 2, 2, 2), None), {"stride": 2})


OPS: list[OpInfo] = [
    OpInfo("add", "add", _binary()),
    OpInfo("sub", "sub", _binary()),
    OpInfo("mul", "mul", _binary()),
    OpInfo("div", "div", _binary(positive=True)),
    OpInfo("pow", "pow", _binary(positive=True), positive=True),
    OpInfo("maximum", "maximum", lambda rng: (s for s in _binary()(rng)
                                              if not isinstance(s.args[1], float))),
    OpInfo("minimum", "minimum", lambda rng: (s for s in _binary()(rng)
                                              if not isinstance(s.args[1], float))),
    OpInfo("neg", "neg", _unary()),
    OpInfo("abs", "abs", _unary()),
    OpInfo("exp", "exp", _unary()),
    OpInfo("log", "log", _unary(positive=True), positive=True),
    OpInfo("sqrt", "sqrt", _unary(positive=True), positive=True),
    OpInfo("rsqrt", "rsqrt", _unary(positive=True), positive=True),
    OpInfo("tanh", "tanh", _unary()),
    OpInfo("sigmoid", "sigmoid", _unary()),
    OpInfo("relu", "relu", _unary()),
    OpInfo("clamp", "clamp", lambda rng: iter([Sample((_r(rng, 3, 4),), {"min": -0.5,
                                                                         "max": 0.7}),
                                               Sample((_r(rng, 5),), {"min": 0.1})])),
    OpInfo("where", "where", lambda rng: iter([Sample((rng.random((3, 4)) > 0.5, _r(rng, 3, 4),
                                                       _r(rng, 4)))])),
    OpInfo("sum", "sum", _reduction),
    OpInfo("mean", "mean", _reduction),
    OpInfo("var", "var", _reduction),
    OpInfo("std", "std", _reduction),
    OpInfo("prod", "prod", _single_dim_reduction),
    OpInfo("amax", "amax", lambda rng: (s for s in _reduction(rng) if s.kwargs)),
    OpInfo("norm", "norm", _reduction),
    OpInfo("matmul", "matmul", _matmul),
    OpInfo("view", ".view", lambda rng: iter([Sample((_r(rng, 2, 3, 4), 6, -1))]),
           needs_contiguous=True),
    OpInfo("reshape", ".reshape", lambda rng: iter([Sample((_r(rng, 2, 3, 4), 4, 6))])),
    OpInfo("permute", ".permute", lambda rng: iter([Sample((_r(rng, 2, 3, 4), 2, 0, 1))])),
    OpInfo("transpose", "transpose", lambda rng: iter([Sample((_r(rng, 2, 3, 4), 0, 2))])),
    OpInfo("squeeze", "squeeze", lambda rng: iter([Sample((_r(rng, 2, 1, 4),), {"dim": 1})])),
    OpInfo("unsqueeze", "unsqueeze", lambda rng: iter([Sample((_r(rng, 2, 4), 1))])),
    OpInfo("flatten", "flatten", lambda rng: iter([Sample((_r(rng, 2, 3, 4), 1))])),
    OpInfo("expand", ".expand", lambda rng: iter([Sample((_r(rng, 3, 1), 2, 3, 4))])),
    OpInfo("repeat", ".repeat", lambda rng: iter([Sample((_r(rng, 2, 3), 2, 1, 2))])),
    OpInfo("narrow", "narrow", lambda rng: iter([Sample((_r(rng, 4, 5), 1, 1, 3))])),
    OpInfo("flip", "flip", lambda rng: iter([Sample((_r(rng, 3, 4), (0, 1)))])),
    OpInfo("cat", "cat", lambda rng: iter([Sample(([_r(rng, 2, 3), _r(rng, 4, 3)],), {"dim": 0})])),
    OpInfo("stack", "stack", lambda rng: iter([Sample(([_r(rng, 2, 3), _r(rng, 2, 3)],),
                                                      {"dim": 1})])),
    OpInfo("getitem", ".__getitem__", lambda rng: iter([
        Sample((_r(rng, 4, 5), (slice(1, None, 2), 3))),
        Sample((_r(rng, 4, 5), (np.array([0, 2, 2]),))),
    ])),
    OpInfo("conv", "nn.functional.conv{n}d", _conv),
    OpInfo("conv_transpose", "nn.functional.conv_transpose{n}d", _conv_transpose),
    OpInfo("max_pool2d", "nn.functional.max_pool2d", lambda rng: iter([
        Sample((_r(rng, 2, 3, 7, 6), (3, 2)), {"stride": 2, "padding": 1, "dilation": (1, 2),
                                               "ceil_mode": True})])),
    OpInfo("avg_pool3d", "nn.functional.avg_pool3d", lambda rng: iter([
        Sample((_r(rng, 1, 2, 5, 4, 6), 3), {"stride": 2, "padding": 1, "ceil_mode": True,
                                             "count_include_pad": False})])),
    OpInfo("adaptive_avg_pool2d", "nn.functional.adaptive_avg_pool2d", lambda rng: iter([
        Sample((_r(rng, 2, 3, 7, 5), (3, 4)))])),
    OpInfo("adaptive_max_pool1d", "nn.functional.adaptive_max_pool1d", lambda rng: iter([
        Sample((_r(rng, 2, 3, 9), 4))])),
    OpInfo("pad", "nn.functional.pad", lambda rng: iter([
        Sample((_r(rng, 2, 3, 5, 4), (1, 2, -1, 3)), {"mode": mode})
        for mode in ("constant", "reflect", "replicate", "circular")])),
    OpInfo("unfold", "nn.functional.unfold", lambda rng: iter([
        Sample((_r(rng, 2, 3, 6, 5), (2, 3)), {"dilation": (2, 1), "padding": 1,
                                               "stride": (1, 2)})])),
    OpInfo("fold", "nn.functional.fold", lambda rng: iter([
        Sample((_r(rng, 2, 12, 12), (4, 5), 2), {"stride": 1, "padding": 0})])),
]
