"""Control over the convolution engine: which algorithm, how much scratch memory, and why.

The engine computes every convolution (forward, input gradient / transposed convolution,
weight gradient) with one of several interchangeable algorithms — ``gemm1x1``, ``im2col``,
``shifted`` (implicit GEMM), ``winograd``, ``fft``, ``depthwise`` and the universal
``taps`` — chosen per call by a calibrated cost model (``convkit calibrate``). This module
is the user's handle on that choice::

    >>> import convkit
    >>> convkit.backends.available_algorithms()          # doctest: +SKIP
    ['depthwise', 'fft', 'gemm1x1', 'im2col', 'shifted', 'taps', 'winograd4']
    >>> with convkit.backends.algorithm("fft"):           # force one, where it applies
    ...     y = convkit.nn.functional.conv2d(x, w)        # doctest: +SKIP
    >>> with convkit.backends.autotuning():              # time the close candidates once
    ...     y = convkit.nn.functional.conv2d(x, w)        # doctest: +SKIP
    >>> convkit.backends.plan("forward", (8, 64, 56, 56), (64, 64, 3, 3), padding=1)
    ...                                                   # doctest: +SKIP
    Plan(algorithm='winograd4', tile=8, seconds=..., workspace=..., reason='lowest ...')
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from convkit import _dtypes
from convkit.engine import conv as _conv
from convkit.engine import conv_plan as _conv_plan
from convkit.engine.conv import ConvProblem
from convkit.engine.conv_plan import Plan, last_plan, recording

__all__ = ["set_algorithm", "get_algorithm", "algorithm", "available_algorithms",
           "set_workspace_limit", "get_workspace_limit", "set_autotune", "get_autotune",
           "autotuning", "plan", "last_plan", "recording", "Plan", "ConvProblem", "calibrate"]

set_algorithm = _conv.set_algorithm
get_algorithm = _conv.get_algorithm
set_workspace_limit = _conv.set_workspace_limit
get_workspace_limit = _conv.get_workspace_limit
set_autotune = _conv.set_autotune
get_autotune = _conv.get_autotune
autotuning = _conv.autotuning


@contextmanager
def algorithm(name: str | None) -> Iterator[None]:
    """Force algorithm ``name`` inside a ``with`` block (where it supports the call)."""
    with _conv.forced_algorithm(name):
        yield


def available_algorithms() -> list[str]:
    """Names of the algorithms registered in this installation (numba adds some)."""
    return sorted(_conv.algorithms())


def _tuple(value: int | Sequence[int], nd: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    value = tuple(int(v) for v in value)
    if len(value) != nd:
        raise ValueError(f"plan: {name} must be an int or {nd} ints, got {value}")
    return value


def plan(kind: str, input_shape: Sequence[int], weight_shape: Sequence[int],
         stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
         dilation: int | Sequence[int] = 1, groups: int = 1,
         dtype: object = None) -> Plan:
    """The plan the engine would use for one convolution primitive call.

    Parameters
    ----------
    kind : {'forward', 'grad_input', 'grad_weight'}
    input_shape : (N, C, *spatial) of the forward input
    weight_shape : (O, C/groups, *kernel)
    padding : int, or one int per spatial axis (both sides), or (lo, hi) pairs
    dtype : convkit or NumPy dtype (default: convkit's default float dtype)
    """
    if kind not in _conv.KINDS:
        raise ValueError(f"plan: kind must be one of {_conv.KINDS}, got {kind!r}")
    nd = len(weight_shape) - 2
    if len(input_shape) != nd + 2:
        raise ValueError(f"plan: input_shape {tuple(input_shape)} must have {nd + 2} dims "
                         f"to match weight_shape {tuple(weight_shape)}")
    if isinstance(padding, (int, np.integer)):
        pairs = ((int(padding), int(padding)),) * nd
    else:
        padding = tuple(padding)
        if len(padding) != nd:
            raise ValueError(f"plan: padding must be an int or {nd} entries, got {padding}")
        pairs = tuple((p, p) if isinstance(p, (int, np.integer)) else tuple(p) for p in padding)
    if dtype is None:
        dtype = _dtypes.get_default_dtype()
    np_dtype = dtype.np if isinstance(dtype, _dtypes.dtype) else np.dtype(dtype)
    problem = ConvProblem(kind, tuple(input_shape), tuple(weight_shape),
                          _tuple(stride, nd, "stride"), pairs, _tuple(dilation, nd, "dilation"),
                          int(groups), np_dtype)
    return _conv_plan.plan(problem)


def calibrate(path: str | None = None, quick: bool = False) -> dict:
    """Time every algorithm on this machine and write the planner's cost model (see
    :mod:`convkit.engine.conv_calibrate`); ``path=None`` writes the installed constants."""
    from convkit.engine import conv_calibrate

    return conv_calibrate.calibrate(path or _conv_plan.CONSTANTS_PATH, quick=quick)
