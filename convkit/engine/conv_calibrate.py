"""Calibration of the convolution planner: time every algorithm here, fit its cost model.

Each algorithm predicts its run time as ``coef . features(problem)`` (its own features:
operation counts, bytes moved, number of calls). This module times every registered
algorithm on a fixed, seeded set of problems shaped like real layers (CNN layers of every
common kind, long 1-d signals, volumes, large-kernel image filters), for the three kinds
and float32/float64, and fits one non-negative coefficient vector per (algorithm, kind,
precision) by least squares on *relative* error, so that a 50 us call is predicted as well
as a 50 ms one. The result is written to ``conv_constants.json`` (``convkit calibrate``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from convkit.engine import conv as _conv
from convkit.engine import conv_plan
from convkit.engine.conv import ConvProblem

__all__ = ["calibration_problems", "calibrate", "precision_class"]


def precision_class(dtype: np.dtype) -> str:
    """'32' for float32/complex64, '64' otherwise: the two speeds BLAS and FFT run at."""
    return "32" if np.dtype(dtype) in (np.float32, np.complex64) else "64"


def _problem(kind, n, c, o, spatial, k, stride=1, pad=None, dilation=1, groups=1,
             dtype=np.float32) -> ConvProblem:
    nd = len(spatial)
    pad = k // 2 if pad is None else pad
    return ConvProblem(kind, (n, c) + tuple(spatial), (o, c // groups) + (k,) * nd,
                       (stride,) * nd, ((pad, pad),) * nd, (dilation,) * nd, groups,
                       np.dtype(dtype))


def calibration_problems(quick: bool = False) -> list[tuple]:
    """Forward-problem shapes ``(n, c, o, spatial, k, stride, groups)`` spanning the space
    the planner decides over, kept small enough that the slowest algorithm takes < 1 s."""
    shapes = [
        # 2-d CNN layers: 3x3, 1x1, stems, strided, grouped, depthwise
        (8, 64, 64, (28, 28), 3, 1, 1), (2, 64, 64, (56, 56), 3, 1, 1),
        (4, 32, 32, (14, 14), 3, 1, 1), (1, 16, 16, (64, 64), 3, 1, 1),
        (8, 128, 128, (14, 14), 3, 1, 1), (1, 3, 16, (32, 32), 3, 1, 1),
        (4, 128, 64, (28, 28), 1, 1, 1), (8, 256, 64, (14, 14), 1, 1, 1),
        (1, 64, 256, (28, 28), 1, 1, 1), (2, 32, 32, (28, 28), 1, 2, 1),
        (2, 3, 32, (112, 112), 7, 2, 1), (4, 16, 32, (28, 28), 5, 1, 1),
        (2, 64, 64, (28, 28), 3, 2, 1), (4, 64, 64, (28, 28), 3, 1, 4),
        (8, 128, 128, (14, 14), 3, 1, 128), (4, 64, 64, (28, 28), 3, 1, 64),
        (2, 32, 32, (56, 56), 5, 1, 32), (1, 16, 16, (48, 48), 15, 1, 16),
        (1, 1, 1, (256, 256), 31, 1, 1), (1, 1, 1, (512, 512), 15, 1, 1),
        (1, 1, 1, (8, 8), 3, 1, 1), (1, 1, 1, (32, 32), 3, 1, 1),
        (1, 2, 4, (16, 16), 3, 1, 1),
        # 1-d: short and long signals, long kernels
        (4, 32, 32, (256,), 3, 1, 1), (1, 4, 4, (8192,), 129, 1, 1),
        (1, 8, 8, (16384,), 257, 1, 1), (2, 16, 16, (1024,), 9, 1, 1),
        (1, 1, 1, (65536,), 65, 1, 1),
        # 3-d volumes
        (1, 16, 16, (8, 16, 16), 3, 1, 1), (1, 4, 4, (16, 16, 16), 5, 1, 1),
        (1, 8, 8, (8, 8, 8), 1, 1, 1),
    ]
    if not quick:
        return shapes
    # a rough model fast: every third shape, none that takes the slowest algorithm long
    return [s for s in shapes[::3] if s[0] * s[2] * math.prod(s[3]) * s[4] ** len(s[3])
            * s[1] // s[6] <= 2e7]


def _features_row(alg: _conv.Algorithm, p: ConvProblem) -> list[float]:
    return [float(f) for f in alg.features(p)]


def _time(fn: Callable[[], object], budget: float) -> float:
    """Best of a few runs (the noise of a shared machine only ever adds time)."""
    best = math.inf
    start = time.perf_counter()
    runs = 0
    while runs < 2 or (time.perf_counter() - start < budget and runs < 7):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
        if best > 4 * budget:  # one slow run is enough for a slow algorithm
            break
    return best


def _operands(p: ConvProblem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal(p.x_shape).astype(p.dtype)
    w = rng.standard_normal(p.w_shape).astype(p.dtype)
    g = rng.standard_normal(p.out_shape).astype(p.dtype)
    return {"forward": (x, w), "grad_input": (g, w), "grad_weight": (x, g)}[p.kind]


def calibrate(path: str | os.PathLike | None = conv_plan.CONSTANTS_PATH, quick: bool = False,
              log: Callable[[str], None] = print, max_seconds: float = 2.0) -> dict:
    """Time every algorithm on :func:`calibration_problems` and fit the cost models.

    Algorithms slower than ``max_seconds`` on a problem are timed once and not fitted
    beyond it. Returns the constants (and writes them to ``path`` unless it is None).
    """
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > cores / 2:
        # BLAS threads that wait for a busy core spin: timings taken now are inflated
        # unevenly, and the fitted model would mislead the planner on a quiet machine
        log(f"warning: load average {load:.1f} on {cores} cores: other processes compete "
            "for the CPU, so these timings (and the constants) may be off; calibrate on a "
            "quiet machine")
    rng = np.random.default_rng(0)
    algs = _conv.algorithms()
    rows: dict[tuple[str, str, str], list[list[float]]] = {}
    times: dict[tuple[str, str, str], list[float]] = {}
    budget = 0.02 if quick else 0.08
    t_start = time.perf_counter()
    for dtype in (np.float32, np.float64):
        for shape in calibration_problems(quick):
            n, c, o, spatial, k, stride, groups = shape
            for kind in _conv.KINDS:
                p = _problem(kind, n, c, o, spatial, k, stride, groups=groups, dtype=dtype)
                if min(p.out_shape[2:]) < 1:
                    continue
                a, b = _operands(p, rng)
                for name, alg in algs.items():
                    if (alg.dtypes and p.dtype.type not in alg.dtypes) or not alg.supports(p):
                        continue
                    key = (name, kind, precision_class(dtype))
                    seconds = _time(lambda alg=alg, p=p, a=a, b=b: alg.run(p, a, b), budget)
                    if seconds > max_seconds:
                        log(f"  {name:>16} {kind:<11} {shape}: {seconds:.2f} s (slow)")
                    rows.setdefault(key, []).append(_features_row(alg, p))
                    times.setdefault(key, []).append(seconds)
        log(f"timed {np.dtype(dtype).name} in {time.perf_counter() - t_start:.0f} s")

    coef: dict = {}
    errors: dict = {}
    for (name, kind, prec), r in sorted(rows.items()):
        a = np.array(r)
        t = np.array(times[(name, kind, prec)])
        # relative least squares: each row divided by its time
        scaled = a / t[:, None]
        norms = np.linalg.norm(scaled, axis=0)
        norms[norms == 0] = 1.0
        solution, _ = nnls(scaled / norms, np.ones(len(t)))
        fitted = solution / norms
        predicted = a @ fitted
        ratio = np.maximum(predicted / t, t / np.maximum(predicted, 1e-12))
        coef.setdefault(name, {}).setdefault(kind, {})[prec] = [float(v) for v in fitted]
        errors[f"{name}/{kind}/{prec}"] = {"median": round(float(np.median(ratio)), 2),
                                           "worst": round(float(ratio.max()), 2),
                                           "problems": len(t)}
        log(f"{name:>16} {kind:<11} f{prec}: {len(t):3d} problems, misprediction median "
            f"x{np.median(ratio):.2f}, worst x{ratio.max():.2f}")
    constants = {
        "coef": coef,
        "misprediction": errors,
        "meta": {
            "written_by": "convkit calibrate" + (" --quick" if quick else ""),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": platform.machine(),
            "cores": cores, "load_average_at_start": round(load, 2),
            "python": platform.python_version(), "numpy": np.__version__,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "seconds": round(time.perf_counter() - t_start, 1),
        },
    }
    if path is not None:
        Path(path).write_text(json.dumps(constants, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")
        conv_plan.clear_cache()
        log(f"wrote {path}")
    return constants
