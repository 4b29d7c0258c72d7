"""convkit.signal against scipy.signal: direct and FFT methods, small and large kernels, 1-3 d.

Run from the repository root::

    python benchmarks/bench_signal.py            # all cases, about two minutes
    python benchmarks/bench_signal.py --quick    # smaller sizes, about 30 seconds

For every case the same inputs go through

* convkit ``convolve`` with ``method='direct'``, ``'fft'`` and ``'auto'`` (the planner; the
  method it chose is printed), and
* SciPy ``convolve`` with ``method='direct'`` and ``'fft'`` (and ``convolve2d``, always direct,
  for the 2-d cases),

timed as the median of interleaved repeats (each repeat runs every method once, in rotating
order, so that a noisy moment on a shared machine hits all of them alike). Ratios are
against anchors measured in the same run:

* ``pick/best``: the method the planner picks (its time in its own column) over the faster
  of convkit direct and convkit FFT -- the planner's goal is <= 1.2 on every case;
* ``auto/best``: the ``method='auto'`` call itself (planning and the accuracy check
  included, timed separately, so noise shows here too) over the same best;
* ``scipy/ck``: SciPy's time for the same method over convkit's (> 1: convkit is faster);
* ``c2d/ck``: ``scipy.signal.convolve2d`` over ``convkit.signal.convolve2d`` (same arguments)
  -- convkit's goal is >= 50 for large kernels on large images.

Methods that would take longer than ``--budget`` seconds per call (estimated from the
operation count) are not run, and shown as ``-``; ``convolve2d`` of SciPy is always run (once
per repeat) on the 2-d cases, since it is the anchor of the 50x claim.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal as ss

try:
    import convkit
except ModuleNotFoundError:  # a checkout without `pip install -e .`: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import convkit  # noqa: F401

import convkit.signal as cs
from convkit.engine import plan as ck_plan


@dataclass(frozen=True)
class Case:
    name: str
    shape1: tuple[int, ...]
    shape2: tuple[int, ...]
    mode: str = "same"
    dtype: str = "float64"


CASES = [
    Case("1-d, small kernel", (100_000,), (9,)),
    Case("1-d, medium kernel", (100_000,), (101,)),
    Case("1-d, large kernel", (100_000,), (2_001,)),
    Case("1-d, long signal, large kernel", (1_000_000,), (1_001,), "full"),
    Case("1-d, equal lengths", (20_000,), (20_000,), "full"),
    Case("2-d, 3x3 on 256^2", (256, 256), (3, 3)),
    Case("2-d, 5x5 on 1024^2", (1024, 1024), (5, 5)),
    Case("2-d, 5x5 on 512^2 float32", (512, 512), (5, 5), "same", "float32"),
    Case("2-d, 7x7 on 512^2 int32", (512, 512), (7, 7), "same", "int32"),
    Case("2-d, 15x15 on 512^2", (512, 512), (15, 15)),
    Case("2-d, 31x31 on 1024^2", (1024, 1024), (31, 31)),
    Case("2-d, 31x31 on 1024^2 full", (1024, 1024), (31, 31), "full"),
    Case("2-d, 63x63 on 2048^2", (2048, 2048), (63, 63)),
    Case("2-d, 31x31 on 256^2 complex", (256, 256), (31, 31), "same", "complex128"),
    Case("3-d, 3x3x3 on 64^3", (64, 64, 64), (3, 3, 3)),
    Case("3-d, 5x5x5 on 96^3", (96, 96, 96), (5, 5, 5)),
    Case("3-d, 11x11x11 on 96^3", (96, 96, 96), (11, 11, 11)),
]

QUICK = [
    Case("1-d, small kernel", (20_000,), (9,)),
    Case("1-d, large kernel", (20_000,), (1_001,)),
    Case("2-d, 3x3 on 128^2", (128, 128), (3, 3)),
    Case("2-d, 15x15 on 256^2", (256, 256), (15, 15)),
    Case("2-d, 31x31 on 512^2", (512, 512), (31, 31)),
    Case("3-d, 3x3x3 on 32^3", (32, 32, 32), (3, 3, 3)),
    Case("3-d, 7x7x7 on 48^3", (48, 48, 48), (7, 7, 7)),
]

# Direct sums per second, roughly, for skipping calls that would take minutes.
_SCIPY_DIRECT_MACS = {1: 3e9, 2: 1e8, 3: 1e8}  # (N-d: SciPy's _correlateND, slow)
_CK_DIRECT_MACS = {1: 3e9, 2: 1.5e9, 3: 1.5e9}
_SCIPY_C2D_MACS = 7e8  # scipy.signal.convolve2d
# Cases of the 50x claim (large kernels on large images).
LARGE_2D = {"2-d, 31x31 on 1024^2", "2-d, 31x31 on 1024^2 full", "2-d, 63x63 on 2048^2"}


def make_inputs(case: Case, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    def one(shape):
        if case.dtype.startswith("int"):
            return rng.integers(-50, 50, shape).astype(case.dtype)
        a = rng.standard_normal(shape)
        if case.dtype.startswith("complex"):
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(case.dtype)

    return one(case.shape1), one(case.shape2)


def macs(case: Case) -> float:
    out = (case.shape1 if case.mode == "same" else
           [a + b - 1 for a, b in zip(case.shape1, case.shape2, strict=True)])
    return math.prod(out) * math.prod(case.shape2)


def interleaved(methods: dict[str, Callable[[], object]], repeats: int,
                min_seconds: float = 1.0, max_rounds: int = 51) -> dict[str, float]:
    """Median seconds per method over rounds that each run every method once, in a rotated
    order (after one untimed warm-up call each): at least ``repeats`` rounds, more (up to
    ``max_rounds``) while the whole has taken less than ``min_seconds``."""
    for fn in methods.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    start = time.perf_counter()
    r = 0
    while r < repeats or (time.perf_counter() - start < min_seconds and r < max_rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            methods[name]()
            times[name].append(time.perf_counter() - t0)
        r += 1
    return {name: statistics.median(ts) for name, ts in times.items()}


def run(cases: list[Case], repeats: int, budget: float) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for case in cases:
        x, w = make_inputs(case, rng)
        nd = len(case.shape1)
        m = case.mode
        methods: dict[str, Callable[[], object]] = {}
        if macs(case) / _CK_DIRECT_MACS[nd] < budget:
            methods["ck direct"] = lambda x=x, w=w, m=m: cs.convolve(x, w, m, method="direct")
        methods["ck fft"] = lambda x=x, w=w, m=m: cs.convolve(x, w, m, method="fft")
        methods["ck auto"] = lambda x=x, w=w, m=m: cs.convolve(x, w, m, method="auto")
        if macs(case) / _SCIPY_DIRECT_MACS[nd] < budget:
            methods["scipy direct"] = lambda x=x, w=w, m=m: ss.convolve(x, w, m, method="direct")
        methods["scipy fft"] = lambda x=x, w=w, m=m: ss.convolve(x, w, m, method="fft")
        if nd == 2:
            methods["ck convolve2d"] = lambda x=x, w=w, m=m: cs.convolve2d(x, w, m)
        slow_c2d = nd == 2 and macs(case) / _SCIPY_C2D_MACS > 3 * budget
        if nd == 2 and not slow_c2d:
            methods["scipy convolve2d"] = lambda x=x, w=w, m=m: ss.convolve2d(x, w, m)
        t = interleaved(methods, repeats)
        if slow_c2d:  # tens of seconds per call: a single timed run (after none)
            t0 = time.perf_counter()
            ss.convolve2d(x, w, m)
            t["scipy convolve2d"] = time.perf_counter() - t0
        choice = cs.choose_conv_method(x, w, m)
        rows.append({"case": case, "t": t, "auto": choice})
        print_row(rows[-1])
    return rows


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:9.3f}" if ms < 10 else f"{ms:9.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:7.2f}"


HEADER = (f"{'case':34} {'ck direct':>9} {'ck fft':>9} {'ck auto':>9} {'(chose)':>8} "
          f"{'pick/best':>9} {'auto/best':>9} {'sp direct':>9} {'sp fft':>9} {'direct':>7} "
          f"{'fft':>7} {'ck c2d':>9} {'sp c2d':>9} {'c2d/ck':>7}")


def best_of(t: dict[str, float]) -> float:
    return min(v for k, v in t.items() if k in ("ck direct", "ck fft"))


def pick_time(row: dict) -> float:
    """Time of the method the planner chose, from that method's own column."""
    t = row["t"]
    return t.get("ck " + row["auto"], t["ck auto"])


def print_row(row: dict) -> None:
    t, case = row["t"], row["case"]
    best = best_of(t)
    label = f"{case.name} [{case.mode}{'' if case.dtype == 'float64' else ', ' + case.dtype}]"
    print(f"{label[:34]:34} {fmt_ms(t.get('ck direct'))} {fmt_ms(t['ck fft'])} "
          f"{fmt_ms(t['ck auto'])} {row['auto']:>8} {ratio(pick_time(row), best):>9} "
          f"{ratio(t['ck auto'], best):>9} "
          f"{fmt_ms(t.get('scipy direct'))} {fmt_ms(t['scipy fft'])} "
          f"{ratio(t.get('scipy direct'), t.get('ck direct')):>7} "
          f"{ratio(t['scipy fft'], t['ck fft']):>7} "
          f"{fmt_ms(t.get('ck convolve2d'))} {fmt_ms(t.get('scipy convolve2d'))} "
          f"{ratio(t.get('scipy convolve2d'), t.get('ck convolve2d')):>7}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about 30 s")
    parser.add_argument("--repeats", type=int, default=7,
                        help="interleaved rounds, at least (7; more for fast cases)")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="skip direct methods estimated slower than this (s per call)")
    args = parser.parse_args(argv)
    cases = QUICK if args.quick else CASES
    constants = ck_plan.load_constants()["meta"]
    print(f"convkit.signal vs scipy.signal; milliseconds, median of >= {args.repeats} "
          f"interleaved repeats; planner constants from {constants['date']} "
          f"({constants['written_by']})")
    print(HEADER)
    rows = run(cases, args.repeats, args.budget)
    print()
    worst = max(rows, key=lambda r: pick_time(r) / best_of(r["t"]))
    w_ratio = pick_time(worst) / best_of(worst["t"])
    overhead = statistics.median(r["t"]["ck auto"] / pick_time(r) for r in rows)
    print(f"planner: worst pick/best = {w_ratio:.2f} ({worst['case'].name}); goal <= 1.2: "
          f"{'met' if w_ratio <= 1.2 else 'NOT met'}; auto call / picked method: median "
          f"x{overhead:.2f}")
    for r in rows:
        if r["case"].name in LARGE_2D:
            f = r["t"]["scipy convolve2d"] / r["t"]["ck convolve2d"]
            print(f"convolve2d {r['case'].name} [{r['case'].mode}]: convkit "
                  f"{f:.0f}x faster than scipy.signal.convolve2d; goal >= 50: "
                  f"{'met' if f >= 50 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
