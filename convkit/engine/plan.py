"""The convolution planner: direct sums or FFT, chosen by a measured cost model and accuracy.

One question, asked per call: which algorithm computes a window of the true convolution of
``x`` and ``w`` fastest *without losing accuracy*?

* **Cost.** Each algorithm's run time is predicted from operation counts of what the engine
  will actually execute (see :func:`direct_seconds` and :func:`fft_seconds`): taps x outputs and
  per-tap overheads for the direct sums, ``N log2 N`` of every transform and the elementwise
  passes for the FFT (whole-array or overlap-add); calls closer than the model's typical
  error go to the direct sums. The coefficients are not typed in: they
  are fitted to timings taken on the machine by ``python -m convkit.engine.plan --calibrate``
  and stored in ``plan_constants.json`` next to this module (the shipped file was measured
  on the machine convkit was developed on; recalibrate on yours).
* **Accuracy.** The FFT's rounding error is relative to the *largest* values of the inputs,
  not to each output, so it is refused (see :func:`fft_accuracy`) when it cannot match the
  direct sums: integer results that rounding could not recover exactly or that would
  overflow, booleans, non-finite values (one NaN would spread to every output), and inputs
  whose dynamic range is so wide that the small outputs would drown in the error of the
  large ones (SciPy issue 22390).

:func:`convolve` runs the chosen plan; :func:`select` only returns it.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from convkit.engine import direct as _direct
from convkit.engine import fft as _fft

__all__ = ["Plan", "select", "convolve", "direct_seconds", "fft_seconds", "fft_accuracy",
           "fft_workers", "workers_for", "load_constants", "calibrate", "CONSTANTS_PATH"]

CONSTANTS_PATH = Path(__file__).with_name("plan_constants.json")
Window = tuple[tuple[int, int], ...]


# ------------------------------------------------------------------------- constants
@cache
def _constants_from(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


_MEASURED_HERE: dict | None = None  # constants measured in this process, if the file is missing


def load_constants(path: str | os.PathLike | None = None) -> dict:
    """The calibrated constants, cached: from ``path``, else ``$CONVKIT_PLAN_CONSTANTS``, else
    ``CONSTANTS_PATH`` (shipped with convkit).

    If the shipped file is missing (an installation that dropped package data), quick
    constants are measured once for this process (a few seconds, with a RuntimeWarning)
    rather than planning from numbers nobody measured.

    Raises
    ------
    FileNotFoundError
        When an explicitly given file (argument or environment variable) is missing.
    """
    global _MEASURED_HERE
    explicit = path or os.environ.get("CONVKIT_PLAN_CONSTANTS")
    path = os.fspath(explicit or CONSTANTS_PATH)
    try:
        return _constants_from(path)
    except FileNotFoundError:
        if explicit:
            raise FileNotFoundError(
                f"convkit planner constants not found at {path}; run "
                "`python -m convkit.engine.plan --calibrate --output PATH` to measure them"
            ) from None
    if _MEASURED_HERE is None:
        warnings.warn(f"convkit planner constants not found at {path}; measuring quick ones "
                      "for this process (run `python -m convkit.engine.plan --calibrate` to "
                      "store them)", RuntimeWarning, stacklevel=2)
        _MEASURED_HERE = calibrate(path=None, quick=True, log=lambda message: None)
    return _MEASURED_HERE


def _dtype_class(dtype: np.dtype) -> str:
    """The arithmetic class whose speed the calibration measured for this dtype."""
    if dtype.kind in "biu":
        return "int"
    if dtype.kind == "c":
        return "complex64" if dtype.itemsize <= 8 else "complex128"
    return "float32" if dtype.itemsize <= 4 else "float64"


def fft_workers(elements: int, constants: dict | None = None) -> int:
    """Threads for one FFT convolution of ``elements`` transform points (calibrated)."""
    c = constants or load_constants()
    threshold = c["fft"]["parallel_min_elements"]
    return c["fft"]["workers"] if threshold is not None and elements >= threshold else 1


def workers_for(x: np.ndarray, w: np.ndarray, axes: Sequence[int], window: Window) -> int:
    """Threads for :func:`convkit.engine.fft.fft_convolve` of ``x`` and ``w`` (calibrated).

    Counts the points of all the transforms' batch (the broadcast axes included).
    """
    real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
    size = math.prod(_fft.circular_length(x.shape[a], w.shape[a], s, m, real)
                     for a, (s, m) in zip(axes, window, strict=True))
    batch = math.prod(max(x.shape[a], w.shape[a]) for a in range(x.ndim) if a not in axes)
    return fft_workers(size * batch)


# ------------------------------------------------------------------------- cost model
def _direct_geometry(n: Sequence[int], k: Sequence[int], window: Window
                     ) -> dict[str, list[float]]:
    """Features of each direct strategy that applies to this window of ``conv(x, w)``.

    Mirrors :func:`convkit.engine.direct.direct_convolve`: the input with fewer elements is the
    kernel, the other is padded to ``length + k - 1`` per axis.
    """
    if math.prod(k) > math.prod(n):
        n, k = k, n
    out = [m for _, m in window]
    taps, outputs = math.prod(k), math.prod(out)
    padded = math.prod(m + kk - 1 for m, kk in zip(out, k, strict=True))
    if len(n) == 1:
        return {"direct_1d": [1.0, taps * outputs, outputs, padded]}
    row = math.prod(out[1:])
    tiles = -(-out[0] // max(1, _direct._TILE_ELEMENTS // max(1, row)))
    chunks = -(-out[0] // max(1, _direct._WINDOW_BUDGET // max(1, taps * row)))
    strategies = {"direct_taps": [1.0, taps * tiles, taps * outputs, padded]}
    if outputs <= max(_direct.DOT_MAX_OUTPUTS, taps - 1):
        strategies["direct_dot"] = [1.0, chunks, taps * outputs, padded]
    return strategies


def _direct_best(n, k, window, dtype, c) -> tuple[float, str]:
    """(predicted seconds, engine strategy) of the fastest direct strategy."""
    if 0 in n or 0 in k or any(m == 0 for _, m in window):
        return 0.0, _direct.default_strategy((1,) * len(n), (1,) * len(n))
    scale = c["direct_scale"][_dtype_class(dtype)]
    best = min((scale * sum(a * f for a, f in zip(c[name]["coef"], features, strict=True)), name)
               for name, features in _direct_geometry(n, k, window).items())
    return best[0], best[1].removeprefix("direct_")


def direct_seconds(n: Sequence[int], k: Sequence[int], window: Window, dtype: np.dtype,
                   constants: dict | None = None) -> float:
    """Predicted run time of the (fastest strategy of the) direct method for this window.

    Parameters
    ----------
    n, k : shapes of the two inputs (same length d)
    window : d pairs (start, length) of the full convolution
    dtype : the result dtype (the arithmetic's)
    """
    return _direct_best(n, k, window, dtype, constants or load_constants())[0]


def _fft_size(n, k, window, real) -> int:
    """Points of each transform of the whole-array FFT method for this window."""
    return math.prod(_fft.circular_length(a, b, s, m, real) for a, b, (s, m) in
                     zip(n, k, window, strict=True))


_LOG_TABLES: dict[int, tuple[list[float], list[float]]] = {}


def _table_seconds(table: list[list[float]], size: float) -> float:
    """Interpolate a measured (points, seconds) table in log-log; extrapolate as N log N."""
    logs = _LOG_TABLES.get(id(table))
    if logs is None:  # the tables live as long as the cached constants
        logs = _LOG_TABLES[id(table)] = ([math.log(r[0]) for r in table],
                                         [math.log(r[1]) for r in table])
    points, seconds = logs
    x = math.log(max(size, 1.0))
    if x <= points[0]:
        return math.exp(seconds[0])  # below the smallest transform: fixed costs
    if x >= points[-1]:
        n0 = float(table[-1][0])
        return table[-1][1] * (size * math.log2(max(size, 2))) / (n0 * math.log2(n0))
    i = bisect.bisect_right(points, x)
    t = (x - points[i - 1]) / (points[i] - points[i - 1])
    return math.exp(seconds[i - 1] + t * (seconds[i] - seconds[i - 1]))


def _oa_features(n, k, blocks):
    """Features of overlap-add: ``N log2 N`` of its batched transforms, and its passes."""
    geometry = [_fft.oa_geometry(a, b, blk) for a, b, blk in zip(n, k, blocks, strict=True)]
    per_block = math.prod(g[2] for g in geometry)
    batch = math.prod(g[0] for g in geometry) * per_block  # all segments of the long input
    log = math.log2(max(per_block, 2))
    # forward of the segments and of the short input, inverse of the segments; then the
    # cut/pad, multiply and overlap-add passes over the batch
    return batch, [1.0, (2 * batch + per_block) * log, batch]


def fft_seconds(n: Sequence[int], k: Sequence[int], window: Window, dtype: np.dtype,
                constants: dict | None = None) -> tuple[float, tuple[int | None, ...] | None]:
    """Predicted run time of the best FFT variant, and its overlap-add blocks (or None).

    The whole-array method is priced from a table of measured FFT-convolution times against
    transform size (per number of axes), interpolated: FFT speed depends on cache sizes and
    on the factors of the length far too much for one ``N log N`` constant.

    Returns
    -------
    seconds : float
    blocks : tuple of (int or None) per axis when overlap-add is predicted faster than one
        whole-array FFT, else None.
    """
    c = constants or load_constants()
    if 0 in n or 0 in k or any(m == 0 for _, m in window):
        return 0.0, None
    scale = c["fft_scale"][_dtype_class(dtype)]
    table = c["fft"]["table"][str(min(len(n), 3))]
    best = scale * _table_seconds(table, _fft_size(n, k, window, dtype.kind != "c")), None
    # Overlap-add only in 1-d: there it wins by up to 3x for long signals; in 2-d and 3-d the
    # strided batch of small transforms and the extra passes lost to one large FFT at every
    # size measured (so `oaconvolve` still cuts N-d arrays when asked, the planner does not).
    blocks = (_fft.oa_block_length(n[0], k[0]),) if len(n) == 1 else (None,)
    if blocks[0] is not None:
        _, features = _oa_features(n, k, blocks)
        oa = scale * sum(a * f for a, f in zip(c["oa"]["coef"], features, strict=True))
        if oa < best[0]:
            best = oa, blocks
    return best


# ------------------------------------------------------------------------- accuracy
def _max_abs(a: np.ndarray) -> float:
    """max |a| (integers and booleans), in two reductions without an |a| temporary."""
    if not a.size:
        return 0.0
    if a.dtype.kind == "b":
        return float(a.any())
    return float(max(abs(int(a.max())), abs(int(a.min()))))


def _rms(a: np.ndarray) -> float:
    """Root mean square of ``a`` in one BLAS pass (``inf``/``nan`` if any value is not finite,
    or if the squares overflow, beyond 1e154: both send the planner to the direct sums)."""
    flat = a.ravel(order="K")  # a view for C- and F-ordered arrays alike
    return math.sqrt(abs(np.vdot(flat, flat).real) / a.size) if a.size else 0.0


def _typical_abs(a: np.ndarray) -> float:
    """Median magnitude of the non-zero entries, from a strided sample of at most ~512."""
    step = [max(1, s // max(1, round(512 ** (1 / a.ndim)))) for s in a.shape]
    sample = np.abs(a[tuple(slice(None, None, s) for s in step)]).ravel()
    sample = sample[sample > 0]
    if sample.size == 0:  # sparse: the sample missed every non-zero, look at all of them
        sample = np.abs(a[a != 0]).ravel()
    if sample.size == 0:
        return 0.0
    half = sample.size // 2
    return float(np.partition(sample, half)[half])  # (np.median costs 5x more)


def fft_accuracy(x: np.ndarray, w: np.ndarray, out_dtype: np.dtype) -> tuple[bool, str]:
    """Whether the FFT can deliver the direct method's accuracy here, and why (not).

    Parameters
    ----------
    x, w : ndarray
        The two inputs (any shapes).
    out_dtype : dtype
        The dtype the caller returns (``np.result_type(x, w)`` for convolve).

    Notes
    -----
    * Integer results: the FFT result is rounded, which is exact when the rounding error
      bound ``4 eps log2(N) ||x||_2 ||w||_2 < 1/4`` (with ``||x||_2 <= sqrt(x.size) max|x|``)
      and the true result fits ``out_dtype`` (else the direct sums wrap around modulo 2**bits,
      which no rounding reproduces).
    * Floating results: the FFT's rounding errors are spread over all outputs at the level
      of ``eps * rms(x) * ||w||`` (the root mean square, one BLAS pass, which also catches
      NaN and inf); an output of typical size ``|x|_typ * ||w||`` keeps about half its
      significant digits as long as ``(rms(x) / |x|_typ) * (rms(w) / |w|_typ) <=
      1 / sqrt(eps)``, with ``|.|_typ`` the median non-zero magnitude (of a sample). Wider
      dynamic ranges -- a few huge values among ordinary ones -- stay direct.
    """
    if x.dtype.kind == "b" and w.dtype.kind == "b":
        return False, "boolean inputs"
    if x.dtype.kind not in "biufc" or w.dtype.kind not in "biufc":
        return False, "non-numeric dtype"
    if out_dtype.kind in "iub":
        mx, mw = _max_abs(x), _max_abs(w)
        bound = mx * mw * min(x.size, w.size)
        if out_dtype.kind != "b" and bound > np.iinfo(out_dtype).max:
            return False, f"the result may overflow {out_dtype} (direct sums wrap around)"
        error = 4 * np.finfo(np.float64).eps * math.log2(max(x.size + w.size, 2)) * math.sqrt(
            float(x.size) * w.size) * mx * mw
        if error >= 0.25:
            return False, "integer result too large to be recovered exactly by rounding"
        return True, "integer result recovered exactly by rounding"
    rx, rw = _rms(x.astype(np.float64) if x.dtype.kind in "biu" else x), \
        _rms(w.astype(np.float64) if w.dtype.kind in "biu" else w)
    if not (math.isfinite(rx) and math.isfinite(rw)):
        return False, "non-finite values (the FFT would spread them to every output)"
    tx, tw = _typical_abs(x), _typical_abs(w)
    if tx == 0 or tw == 0:
        return True, "an all-zero input"
    # the FFT works in single precision for float16/float32/complex64 results
    single = out_dtype.itemsize <= (8 if out_dtype.kind == "c" else 4)
    eps = float(np.finfo(np.float32 if single else np.float64).eps)
    spread = (rx / tx) * (rw / tw)
    if spread > 1 / math.sqrt(eps):
        return False, f"dynamic range {spread:.3g} too wide for the FFT's rounding"
    return True, f"dynamic range {spread:.3g}"


# ------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Plan:
    """The planner's decision for one convolution.

    Attributes
    ----------
    method : {'direct', 'fft', 'oa'}
        Direct sums, one whole-array FFT, or FFT by overlap-add.
    strategy : str or None
        The direct method's strategy ('1d', 'dot' or 'taps'; see
        :func:`convkit.engine.direct.correlate_valid`), when known.
    blocks : tuple of (int or None), or None
        Overlap-add block lengths per axis (``method == 'oa'`` only).
    seconds : dict
        Predicted run times of 'direct' and 'fft' (the better FFT variant).
    reason : str
        Why this method (cost, or the accuracy rule that vetoed the FFT).
    """

    method: str
    strategy: str | None = None
    blocks: tuple[int | None, ...] | None = None
    seconds: dict = field(default_factory=dict)
    reason: str = ""


def select(x: np.ndarray, w: np.ndarray, window: Window, out_dtype: np.dtype | None = None,
           constants: dict | None = None) -> Plan:
    """Choose how to compute ``window`` of the true convolution of ``x`` and ``w``.

    The FFT is taken when it is predicted faster by more than the calibrated ``tie_margin``
    (the model's median misprediction: closer calls go to the exact direct sums) *and*
    :func:`fft_accuracy` allows it; the accuracy check costs one pass over the inputs and is
    skipped when direct wins anyway.
    """
    c = constants or load_constants()
    out_dtype = np.dtype(out_dtype or np.result_type(x, w))
    if x.ndim == 0 or x.size == 0 or w.size == 0:
        return Plan("direct", reason="trivial")
    t_direct, strategy = _direct_best(x.shape, w.shape, window, out_dtype, c)
    t_fft, blocks = fft_seconds(x.shape, w.shape, window, out_dtype, c)
    seconds = {"direct": t_direct, "fft": t_fft}
    if t_fft * c.get("tie_margin", 1.0) >= t_direct:
        return Plan("direct", strategy, seconds=seconds, reason="predicted faster (or a tie)")
    ok, why = fft_accuracy(x, w, out_dtype)
    if not ok:
        return Plan("direct", strategy, seconds=seconds, reason=f"FFT refused: {why}")
    method = "fft" if blocks is None else "oa"
    return Plan(method, None, blocks, seconds, f"predicted faster; {why}")


def convolve(x: np.ndarray, w: np.ndarray, window: Window, method: str = "auto",
             workers: int | None = None) -> tuple[np.ndarray, Plan]:
    """A window of the true convolution of ``x`` and ``w`` (zero outside both), planned.

    Parameters
    ----------
    x, w : ndarray, same ndim d
    window : d pairs (start, length) of the full convolution (length ``n + k - 1``)
    method : {'auto', 'direct', 'fft'}
        'fft' takes the better of whole-array and overlap-add by the cost model, without the
        accuracy check (the caller asked for it).
    workers : int, optional
        FFT threads (default: :func:`fft_workers`).

    Returns
    -------
    out : ndarray, shape (length_0, ..., length_{d-1})
        dtype ``np.result_type(x, w)`` for direct, the transform's dtype for the FFT.
    plan : Plan
    """
    if method == "auto":
        plan = select(x, w, window)
    elif method == "fft":
        dtype = np.result_type(x, w)
        _, blocks = fft_seconds(x.shape, w.shape, window, dtype)
        plan = Plan("fft" if blocks is None else "oa", None, blocks, reason="requested")
    else:
        _, strategy = _direct_best(x.shape, w.shape, window, np.result_type(x, w),
                                   load_constants())
        plan = Plan("direct", strategy, reason="requested")
    if plan.method == "direct":
        return _direct.direct_convolve(x, w, window, plan.strategy), plan
    axes = range(x.ndim)
    if workers is None:
        real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
        workers = fft_workers(_fft_size(x.shape, w.shape, window, real))
    if plan.method == "oa":
        return _fft.oa_convolve(x, w, axes, plan.blocks, window, workers), plan
    return _fft.fft_convolve(x, w, axes, window, workers), plan


# ------------------------------------------------------------------------- calibration
def _seconds(fn: Callable[[], object], budget: float = 0.05, min_runs: int = 3,
             max_runs: int = 15) -> float:
    """Best wall time of ``fn`` over at least ``min_runs`` runs (more while under budget).

    The minimum, not the mean: on a shared machine the noise only ever adds time.
    """
    fn()  # warm-up: FFT plan caches, page faults
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < budget
                                    and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(min(times))


def _same_window(n, k):
    return tuple(((b - 1) // 2, a) for a, b in zip(n, k, strict=True))


def _valid_window(n, k):
    return tuple((b - 1, a - b + 1) for a, b in zip(n, k, strict=True))


def _fit(rows: list[list[float]], times: list[float]) -> list[float]:
    """Non-negative least squares on *relative* errors: ``sum (pred/t - 1)^2`` is minimised."""
    from scipy.optimize import nnls

    a = np.array(rows) / np.array(times)[:, None]
    coef, _ = nnls(a, np.ones(len(times)))
    return [float(v) for v in coef]


def _report(name: str, predicted, times, log, labels=None) -> np.ndarray:
    """Log how far the fitted model is off; returns the factor for every timing."""
    ratio = np.array(predicted) / np.array(times)
    off = np.maximum(ratio, 1 / ratio)
    i = int(np.argmax(off))
    where = f" ({labels[i]}: predicted {predicted[i] * 1e3:.3g} ms, took " \
            f"{times[i] * 1e3:.3g} ms)" if labels else ""
    log(f"  {name}: {len(times)} timings, median misprediction x{np.median(off):.2f}, "
        f"worst x{off[i]:.2f}{where}")
    return off


def calibrate(path: str | os.PathLike | None = CONSTANTS_PATH, quick: bool = False,
              log: Callable[[str], object] = print) -> dict:
    """Time the engine's direct and FFT paths on this machine and fit the cost model.

    Measures (float64): the three direct strategies on 1-d, 2-d and 3-d problems (fitted
    linearly in their operation counts), whole-array FFT convolution against transform size
    (kept as a table per number of axes), overlap-add (fitted against the table), whether
    several FFT threads pay off and from which size, and the speed of the other dtypes
    relative to float64.

    Parameters
    ----------
    path : path-like or None
        Where to write the JSON (default: next to this module); None writes nothing.
    quick : bool
        Fewer, smaller problems (a few seconds instead of about a minute); for tests.
    log : callable
        Progress messages.

    Returns
    -------
    dict
        The constants, as written.
    """
    rng = np.random.default_rng(0)
    shrink = 4 if quick else 1

    def rand(shape, dtype=np.float64):
        return rng.standard_normal(shape).astype(dtype)

    def sizes(seq):
        return sorted({max(1, s // shrink) for s in seq})

    constants: dict = {}
    worst: dict = {}
    cpu = os.cpu_count() or 1

    # --- FFT threads: from which transform size do all cores beat one?
    threshold = None
    if cpu > 1:
        for side in sizes([256, 512, 1024, 2048]):
            x, w = rand((side, side)), rand((15, 15))
            win = _fft.full_window(x.shape, w.shape)
            one = _seconds(lambda x=x, w=w, win=win: _fft.fft_convolve(x, w, (0, 1), win, 1))
            many = _seconds(lambda x=x, w=w, win=win: _fft.fft_convolve(x, w, (0, 1), win,
                                                                       cpu))
            if many < 0.9 * one:
                threshold = (side + 14) ** 2
                break
    constants["fft"] = {"workers": cpu, "parallel_min_elements": threshold}
    log(f"FFT threads: {cpu} from {threshold} transform points" if threshold else
        "FFT threads: 1 (more threads never paid off by 10%)")

    # --- direct strategies, float64, fitted linearly in their features
    log("direct sums ...")
    cases: dict[str, list] = {"direct_1d": [], "direct_dot": [], "direct_taps": []}
    for n in sizes([100, 1000, 10000, 100000, 400000]):
        for k in (1, 3, 10, 32, 100, 300, 1000):
            if k <= n:
                cases["direct_1d"].append(((n,), (k,)))
    # the two N-d strategies are timed on the same problems, small to large, so that the
    # planner can tell where one stops paying and the other starts
    nd_cases = [((side, side), (k, k)) for side in sizes([8, 16, 32, 64, 128, 256, 512])
                for k in (1, 2, 3, 5, 7, 11, 15, 21)]
    nd_cases += [((side, 4 * side), (3, 9)) for side in sizes([16, 64, 256])]
    nd_cases += [((side,) * 3, (k,) * 3) for side in sizes([8, 16, 32, 48, 64]) for k in (1, 3, 5)]
    for n, k in nd_cases:
        if any(b > a for a, b in zip(n, k, strict=True)):
            continue
        cases["direct_taps"].append((n, k))
        if math.prod(n) * math.prod(k) <= 2 ** 24:  # (the larger ones take seconds)
            cases["direct_dot"].append((n, k))
    for side in sizes([16, 32, 64, 96, 128]):
        for k in (side - 3, side - 1, side // 2 + 2, side // 4 + 1):
            if k >= 1:
                cases["direct_dot"].append(((side, side), (k, k)))
    for strategy, problems in cases.items():
        rows, times, labels = [], [], []
        for n, k in problems:
            window = (_valid_window if k[0] > n[0] // 2 else _same_window)(n, k)
            features = _direct_geometry(n, k, window).get(strategy)
            if features is None:
                continue
            x, w = rand(n), rand(k)
            rows.append(features)
            labels.append(f"{n} * {k}")
            engine_strategy = strategy.removeprefix("direct_")
            times.append(_seconds(lambda x=x, w=w, window=window, s=engine_strategy:
                                  _direct.direct_convolve(x, w, window, s)))
        coef = _fit(rows, times)
        constants[strategy] = {"coef": coef}
        worst[strategy] = _report(strategy, np.array(rows) @ coef, times, log, labels)

    # --- whole-array FFT convolution: a table of seconds against transform points
    log("FFT ...")
    constants["fft"]["table"] = {}
    sides = {1: [2 ** e for e in range(4, 23 if not quick else 18, 1)],
             2: [2 ** e for e in range(2, 12 if not quick else 10)] + [48, 96, 192, 384, 768,
                                                                       1536],
             3: [4, 8, 12, 16, 24, 32, 48, 64, 96, 128][:None if not quick else 7]}
    for ndim, side_list in sides.items():
        table = []
        for side in sorted(side_list):
            n, k = (side,) * ndim, (3,) * ndim
            window = _same_window(n, k)
            size = _fft_size(n, k, window, True)
            x, w = rand(n), rand(k)
            table.append([size, _seconds(lambda x=x, w=w, window=window, size=size:
                                         _fft.fft_convolve(x, w, range(x.ndim), window,
                                                           fft_workers(size, constants)))])
        table.sort()
        constants["fft"]["table"][str(ndim)] = table
    # check the table on shapes it was not measured on
    predicted, times, labels = [], [], []
    for n, k in [((1000,), (100,)), ((30000,), (1000,)), ((100, 300), (9, 9)),
                 ((700, 500), (31, 31)), ((40, 50, 60), (5, 5, 5))]:
        window = _same_window(n, k)
        size = _fft_size(n, k, window, True)
        x, w = rand(n), rand(k)
        predicted.append(_table_seconds(constants["fft"]["table"][str(len(n))], size))
        labels.append(f"{n} * {k}")
        times.append(_seconds(lambda x=x, w=w, window=window, size=size:
                              _fft.fft_convolve(x, w, range(x.ndim), window,
                                                fft_workers(size, constants))))
    worst["fft"] = _report("fft (held-out shapes)", predicted, times, log, labels)

    # --- overlap-add (1-d, the only place the planner uses it), fitted against the table
    rows, times, labels = [], [], []
    oa_cases = [((n,), (k,)) for n in sizes([3000, 10000, 30000, 100000, 300000, 1000000])
                for k in (10, 30, 100, 300, 1000)]
    for n, k in oa_cases:
        blocks = tuple(_fft.oa_block_length(a, b) for a, b in zip(n, k, strict=True))
        if all(b is None for b in blocks):
            continue
        batch, features = _oa_features(n, k, blocks)
        x, w = rand(n), rand(k)
        window = _same_window(n, k)
        rows.append(features)
        labels.append(f"{n} * {k}")
        times.append(_seconds(lambda x=x, w=w, blocks=blocks, window=window, batch=batch:
                              _fft.oa_convolve(x, w, range(x.ndim), blocks, window,
                                               fft_workers(batch, constants))))
    coef = _fit(rows, times)
    constants["oa"] = {"coef": coef}
    worst["oa"] = _report("oa", np.array(rows) @ coef, times, log, labels)

    # --- dtype speed relative to float64, on one mid-size problem per method
    log("dtypes ...")
    constants["direct_scale"] = {"float64": 1.0}
    constants["fft_scale"] = {"float64": 1.0, "int": 1.0}  # integers transform as float64
    n, k = (192, 192), (5, 5)
    window = _same_window(n, k)
    x64, w64 = rand(n), rand(k)
    base = (_seconds(lambda: _direct.direct_convolve(x64, w64, window)),
            _seconds(lambda: _fft.fft_convolve(x64, w64, (0, 1), window)))
    for name, dtype in [("float32", np.float32), ("int", np.int64),
                        ("complex128", np.complex128), ("complex64", np.complex64)]:
        x, w = x64 * 10, w64 * 10
        if name.startswith("complex"):
            x, w = x + 1j * rand(n), w + 1j * rand(k)
        x, w = x.astype(dtype), w.astype(dtype)
        constants["direct_scale"][name] = _seconds(
            lambda x=x, w=w: _direct.direct_convolve(x, w, window)) / base[0]
        if name != "int":
            constants["fft_scale"][name] = _seconds(
                lambda x=x, w=w: _fft.fft_convolve(x, w, (0, 1), window)) / base[1]

    # Where the FFT is predicted faster by less than the model's typical error, the choice is
    # a coin flip on speed but not on accuracy: the direct sums win such ties.
    constants["tie_margin"] = float(np.median(np.concatenate(list(worst.values()))))
    log(f"tie margin: the FFT must be predicted x{constants['tie_margin']:.2f} faster")
    constants["meta"] = {
        "written_by": "python -m convkit.engine.plan --calibrate" + (" --quick" if quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.machine(), "cpu_count": cpu,
        "python": platform.python_version(), "numpy": np.__version__,
        "worst_misprediction": {key: round(float(v.max()), 3) for key, v in worst.items()},
        "median_misprediction": {key: round(float(np.median(v)), 3)
                                 for key, v in worst.items()},
    }
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(constants, f, indent=1, sort_keys=True)
            f.write("\n")
        _constants_from.cache_clear()
        log(f"wrote {path}")
    return constants


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convkit.engine.plan",
        description="Measure the direct and FFT convolution paths on this machine and write "
                    "the planner's constants.")
    parser.add_argument("--calibrate", action="store_true", help="time and fit the cost model")
    parser.add_argument("--quick", action="store_true", help="smaller problems, a few seconds")
    parser.add_argument("--output", default=str(CONSTANTS_PATH),
                        help=f"JSON file to write (default: {CONSTANTS_PATH})")
    args = parser.parse_args(argv)
    if not args.calibrate:
        print(json.dumps(load_constants(), indent=2, sort_keys=True))
        return 0
    calibrate(args.output, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
