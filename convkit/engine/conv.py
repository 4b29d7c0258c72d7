"""The N-d convolution primitive family, dispatched to the fastest suitable algorithm.

Three entry points, all cross-correlations in PyTorch's sense (the kernel is not flipped)::

    conv_forward     x (N, C, *sp), w (O, C/G, *k)          -> out (N, O, *out)
    conv_grad_input  g (N, O, *out), w (O, C/G, *k), x.shape -> gx (N, C, *sp)
    conv_grad_weight x (N, C, *sp), g (N, O, *out), w.shape  -> gw (O, C/G, *k)

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xpad[n, g*Cg + c, p*stride + k*dilation]

``conv_grad_input`` is also the transposed convolution. Each call is described by a
:class:`ConvProblem` (shapes and arguments, no data); every :class:`Algorithm` registered here
says which problems it supports, how much workspace it needs and which cost features predict
its time, and the planner (:mod:`convkit.engine.conv_plan`) picks one per problem. Problems whose
workspace exceeds the budget are cut into batch tiles (the batch axis is independent for the
forward and input gradient, and summed over for the weight gradient).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["ConvProblem", "Algorithm", "register", "algorithms", "conv_forward",
           "conv_grad_input", "conv_grad_weight", "conv_output_shape", "set_algorithm",
           "get_algorithm", "forced_algorithm", "set_workspace_limit", "get_workspace_limit",
           "set_autotune", "get_autotune", "autotuning", "KINDS"]

Pairs = tuple[tuple[int, int], ...]
KINDS = ("forward", "grad_input", "grad_weight")


def conv_output_shape(spatial: tuple[int, ...], kernel: tuple[int, ...],
                      stride: tuple[int, ...], padding: Pairs,
                      dilation: tuple[int, ...]) -> tuple[int, ...]:
    """``floor((in + lo + hi - dilation*(k-1) - 1) / stride) + 1`` per spatial axis."""
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, k, s, (lo, hi), d in
                 zip(spatial, kernel, stride, padding, dilation, strict=True))


@dataclass(frozen=True)
class ConvProblem:
    """One call of the primitive family, without its data.

    ``x_shape`` is always the forward input's shape (N, C, *sp) and ``w_shape`` the weight's
    (O, C/groups, *k), whichever of the three ``kind`` s is computed; ``dtype`` is the result's.
    """

    kind: str
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pairs
    dilation: tuple[int, ...]
    groups: int
    dtype: np.dtype

    @property
    def nd(self) -> int:
        return len(self.w_shape) - 2

    @cached_property
    def out_shape(self) -> tuple[int, ...]:
        """(N, O, *out) of the forward convolution."""
        return (self.x_shape[0], self.w_shape[0]) + conv_output_shape(
            self.x_shape[2:], self.w_shape[2:], self.stride, self.padding, self.dilation)

    @cached_property
    def result_shape(self) -> tuple[int, ...]:
        return {"forward": self.out_shape, "grad_input": self.x_shape,
                "grad_weight": self.w_shape}[self.kind]

    @property
    def macs(self) -> int:
        """Multiply-adds of the direct definition (the same for all three kinds)."""
        return math.prod(self.out_shape) * math.prod(self.w_shape[1:])

    @property
    def batch(self) -> int:
        return self.x_shape[0]

    def with_batch(self, n: int) -> ConvProblem:
        """The same problem on a batch tile of ``n`` samples."""
        return ConvProblem(self.kind, (n,) + self.x_shape[1:], self.w_shape, self.stride,
                           self.padding, self.dilation, self.groups, self.dtype)

    @property
    def is_depthwise(self) -> bool:
        """One input channel per group (``C == groups``)."""
        return self.w_shape[1] == 1 and self.groups > 1


class Algorithm:
    """One way to compute the primitive family; subclasses register an instance.

    ``run(p, a, b)`` computes ``p.kind`` with ``(a, b)`` = ``(x, w)`` for 'forward',
    ``(g, w)`` for 'grad_input' and ``(x, g)`` for 'grad_weight', and returns a new array of
    ``p.result_shape`` in ``p.dtype`` (C-contiguous not required).
    """

    name: str = ""
    #: dtypes this algorithm computes in (others go to an algorithm that supports them)
    dtypes: tuple[type, ...] = (np.float32, np.float64, np.complex64, np.complex128)

    def supports(self, p: ConvProblem) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def workspace(self, p: ConvProblem) -> int:
        """Peak bytes allocated beyond the inputs and the result."""
        return 0

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """Cost features; predicted seconds = calibrated coefficients . features."""
        itemsize = np.dtype(p.dtype).itemsize
        moved = (math.prod(p.x_shape) + math.prod(p.w_shape) + math.prod(p.out_shape)) * itemsize
        return (1.0, float(p.macs), float(moved))

    def accurate(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> tuple[bool, str]:
        """Whether this algorithm's rounding is acceptable on this data (FFT checks range)."""
        return True, ""

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<convolution algorithm {self.name!r}>"


_REGISTRY: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add an algorithm to the planner's candidates (by its unique ``name``)."""
    if not algorithm.name or algorithm.name in _REGISTRY:
        raise ValueError(f"algorithm name {algorithm.name!r} is empty or already registered")
    _REGISTRY[algorithm.name] = algorithm
    return algorithm


def algorithms() -> dict[str, Algorithm]:
    """The registered algorithms by name."""
    _load_algorithms()
    return dict(_REGISTRY)


_LOADED = False


def _load_algorithms() -> None:
    # Importing the modules registers their algorithms; done lazily to keep imports acyclic.
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from convkit.engine import conv_taps  # noqa: F401  (the universal fallback)

    for module in ("conv_gemm", "conv_depthwise", "conv_winograd", "conv_fft"):
        try:
            __import__(f"convkit.engine.{module}")
        except ModuleNotFoundError as e:  # an algorithm module not written yet
            if e.name != f"convkit.engine.{module}":
                raise


# ------------------------------------------------------------------ user-settable state
_FORCED: str | None = None
_WORKSPACE_LIMIT = 256 * 2**20


def set_algorithm(name: str | None) -> None:
    """Force one algorithm (by name) wherever it supports the call; ``None`` restores the
    planner's choice. Calls the forced algorithm cannot compute still go to the planner."""
    global _FORCED
    if name is not None and name not in algorithms():
        raise ValueError(f"set_algorithm: unknown algorithm {name!r}; "
                         f"known: {', '.join(sorted(algorithms()))}")
    _FORCED = name


def get_algorithm() -> str | None:
    """The forced algorithm's name, or ``None`` when the planner chooses."""
    return _FORCED


@contextmanager
def forced_algorithm(name: str | None) -> Iterator[None]:
    """``with forced_algorithm('fft'): ...`` forces an algorithm inside the block only."""
    previous = _FORCED
    set_algorithm(name)
    try:
        yield
    finally:
        set_algorithm(previous)


_AUTOTUNE = False


def set_autotune(enabled: bool) -> None:
    """Time the planner's best candidates on the first call of each problem and keep the
    fastest (like ``torch.backends.cudnn.benchmark``). Off by default: the cost model's
    choice depends on shapes only, so results are the same run to run; with autotuning the
    algorithm, and so the rounding, can differ between runs on a noisy machine."""
    global _AUTOTUNE
    if not isinstance(enabled, bool):
        raise TypeError(f"set_autotune: enabled must be a bool, got {enabled!r}")
    _AUTOTUNE = enabled


def get_autotune() -> bool:
    return _AUTOTUNE


@contextmanager
def autotuning(enabled: bool = True) -> Iterator[None]:
    """``with autotuning(): ...`` times candidate algorithms inside the block only."""
    previous = _AUTOTUNE
    set_autotune(enabled)
    try:
        yield
    finally:
        set_autotune(previous)


def set_workspace_limit(nbytes: int) -> None:
    """Bound the scratch memory of one call; larger problems are tiled (default 256 MiB)."""
    global _WORKSPACE_LIMIT
    if not isinstance(nbytes, (int, np.integer)) or isinstance(nbytes, bool) or nbytes < 0:
        raise ValueError(f"set_workspace_limit: nbytes must be a non-negative int, got {nbytes!r}")
    _WORKSPACE_LIMIT = int(nbytes)


def get_workspace_limit() -> int:
    return _WORKSPACE_LIMIT


# ------------------------------------------------------------------ entry points
# Problems are interned by their arguments: a repeated call (every training step) finds its
# ConvProblem, and through it its cached plans, with one dictionary look-up.
_PROBLEMS: dict[tuple, ConvProblem] = {}
_MAX_PROBLEMS = 4096


def _problem(kind: str, x_shape, w_shape, stride, padding, dilation, groups, dtype_a,
             dtype_b) -> ConvProblem:
    key = (kind, x_shape, w_shape, stride, padding, dilation, groups, dtype_a, dtype_b)
    try:
        return _PROBLEMS[key]
    except (KeyError, TypeError):  # TypeError: an unhashable argument (a list)
        pass
    p = ConvProblem(kind, tuple(int(s) for s in x_shape), tuple(int(s) for s in w_shape),
                    tuple(int(s) for s in stride),
                    tuple((int(lo), int(hi)) for lo, hi in padding),
                    tuple(int(d) for d in dilation), int(groups),
                    np.result_type(dtype_a, dtype_b))
    if len(_PROBLEMS) >= _MAX_PROBLEMS:
        _PROBLEMS.clear()
    try:
        _PROBLEMS[key] = p
    except TypeError:
        pass
    return p


def _run(p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _conv_plan.execute(p, a, b)


def conv_forward(x: np.ndarray, w: np.ndarray, stride: tuple[int, ...], padding: Pairs,
                 dilation: tuple[int, ...], groups: int) -> np.ndarray:
    """Cross-correlate ``x`` (N, C, *sp) with ``w`` (O, C/groups, *k) -> (N, O, *out)."""
    p = _problem("forward", x.shape, w.shape, stride, padding, dilation, groups, x.dtype,
                 w.dtype)
    return _run(p, x, w)


def conv_grad_input(grad_out: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                    stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                    groups: int) -> np.ndarray:
    """d(loss)/d(x) (N, C, *sp) from d(loss)/d(out) (N, O, *out); also the transposed
    convolution of ``grad_out`` with ``w``."""
    p = _problem("grad_input", tuple(input_shape), w.shape, stride, padding, dilation, groups,
                 grad_out.dtype, w.dtype)
    return _run(p, grad_out, w)


def conv_grad_weight(x: np.ndarray, grad_out: np.ndarray, weight_shape: tuple[int, ...],
                     stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                     groups: int) -> np.ndarray:
    """d(loss)/d(w) (O, C/groups, *k): the input windows correlated with ``grad_out``."""
    p = _problem("grad_weight", x.shape, tuple(weight_shape), stride, padding, dilation,
                 groups, x.dtype, grad_out.dtype)
    return _run(p, x, grad_out)


# at the end: conv_plan imports this module
from convkit.engine import conv_plan as _conv_plan
