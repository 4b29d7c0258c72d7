"""``convkit.explain``: explain any convolution, summarise any model.

The module is callable: ``convkit.explain(layer, input_shape)`` is :func:`explain`.

- :func:`explain` - one conv/pool/pad layer on an input shape: output-size formulas with the
  numbers substituted, padding per side, lost input positions, weight and bias shapes,
  parameters, MACs, receptive field and jump, channel wiring under ``groups``, the direct
  convolution equal to a transposed one, 'same' padding conventions, the engine's plan.
- :func:`summary` - a per-layer table of a model, from a real forward pass with hooks.
- :func:`trace` - one output element written out as the sum of products that made it.
- :func:`solve`, :func:`collisions` - the inverse shape problem.
- :func:`contamination` - how much of each output is made of padding.
- :func:`parse_layer` - a safe parser for layer strings such as ``"Conv2d(4, 4, 3)"``.

Everything is computed from index arithmetic and checked in the tests against running the
layers; nothing here changes a result. Pictures live in :mod:`convkit.explain.viz`
(matplotlib, imported on demand).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from convkit.explain._arithmetic import AxisReport, Tap
from convkit.explain._contamination import ContaminationReport, contamination
from convkit.explain._layers import LayerSpec
from convkit.explain._parse import parse_layer
from convkit.explain._report import (
    ExplainReport,
    GroupSavings,
    ParameterCount,
    PlanInfo,
    SamePaddingConventions,
    TransposedEquivalent,
    explain,
)
from convkit.explain._solve import Solution, SolveReport, collisions, solve
from convkit.explain._summary import SummaryReport, SummaryRow, summary
from convkit.explain._trace import Term, TraceReport, trace

__all__ = [
    "explain", "summary", "trace", "solve", "collisions", "contamination", "parse_layer",
    "LayerSpec", "ExplainReport", "AxisReport", "Tap", "ParameterCount", "GroupSavings",
    "TransposedEquivalent", "SamePaddingConventions", "PlanInfo", "SummaryReport",
    "SummaryRow", "TraceReport", "Term", "SolveReport", "Solution", "ContaminationReport",
]


class _CallableModule(types.ModuleType):
    """``convkit.explain`` is both this namespace and the :func:`explain` function."""

    def __call__(self, obj: Any, input_shape: Any) -> ExplainReport:
        return explain(obj, input_shape)


sys.modules[__name__].__class__ = _CallableModule
