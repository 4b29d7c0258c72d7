"""convkit against PyTorch on ten convolution workloads and one pooling one, forward and backward.

Run from the repository root::

    python benchmarks/bench_conv.py                       # every case
    python benchmarks/bench_conv.py --quick               # shorter budgets, fewer repeats
    python benchmarks/bench_conv.py --cases A,C,K         # a subset
    python benchmarks/bench_conv.py --markdown docs/performance.md   # also write the page

A default run takes 6-18 minutes on 2 cores, most of it PyTorch's case F (40-100 s per
call, depending on the CPU); ``--quick`` takes 3-5 minutes.

Both libraries go through their public path on the same float32 NCHW data:
``convkit.nn.functional`` and ``Tensor.backward`` against ``torch.nn.functional`` and
``torch.Tensor.backward``, with the same number of threads (the cores this process may use).
For every case and for forward (under ``no_grad``) and forward+backward (``out.backward(g)``
with a fixed random ``g``; input and weight gradients):

1. **check** -- convkit's output and gradients are compared with PyTorch's; an error above
   the float32 tolerance (relative to the output's scale) marks the case FAILED, and it is
   not timed;
2. **warm-up** -- one more call of each;
3. **time** -- repeats of one convkit call and one PyTorch call back to back (alternating
   which goes first), until a time budget per case is spent and at least 5 repeats are done
   (3 with ``--quick``); PyTorch takes seconds per call in cases F and G, which get a fixed
   count instead, the checked pair counting as the first (F: 3 forward / 2 forward+backward,
   G: 3 / 3; with ``--quick`` 1 / 1); fast calls are timed in blocks of several calls.
   Reported: the medians of both libraries' times, the **median of the per-repeat ratios**
   convkit/PyTorch (the number the targets apply to), and the minima;
4. **memory** -- in a fresh subprocess per (case, library, mode): the inputs are made and
   touched, one warm-up call runs, the peak-RSS mark is reset (``/proc/self/clear_refs``),
   the call runs once, and ``VmHWM - VmRSS(before)`` is its extra memory.

Also reported: the algorithm convkit's planner chose for each primitive call
(``fwd:``/``gi:``/``gw:`` = forward, input gradient, weight gradient; ``xN`` = N batch tiles)
and, for case F, SciPy's ``fftconvolve`` timed against convkit the same way.
"""

# OpenBLAS reads OPENBLAS_CORETYPE once, when NumPy loads it: _machine (stdlib only) is loaded
# from its file, without the convkit package (whose __init__ imports NumPy), before anything.
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_machine():
    spec = importlib.util.find_spec("convkit")
    if spec is None or not spec.submodule_search_locations:  # a checkout, not installed
        sys.path.insert(0, str(ROOT))
        package_dir = ROOT / "convkit"
    else:
        package_dir = Path(next(iter(spec.submodule_search_locations)))
    file_spec = importlib.util.spec_from_file_location("_convkit_machine_boot",
                                                       package_dir / "_machine.py")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[file_spec.name] = module  # dataclasses look their module up
    file_spec.loader.exec_module(module)
    return module


_machine = _load_machine()
CORETYPE_SET_HERE = _machine.apply_openblas_coretype()

import argparse
import datetime
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIB = 2**20
EPS32 = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    op: str                              # 'conv', 'conv_transpose' or 'max_pool'
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...] | None      # None for pooling
    stride: int = 1
    padding: int = 0
    groups: int = 1
    kernel_size: int = 0                 # pooling only
    target_fwd: float = 1.0              # convkit/PyTorch time ratio to reach (<=)
    target_bwd: float = 1.0
    issue_torch_ms: tuple[float, float] = (math.nan, math.nan)  # as measured in the issue
    torch_repeats: tuple[int, int] | None = None  # fixed repeats where PyTorch takes seconds
    memory_warmup_x: tuple[int, ...] | None = None  # smaller warm-up input for the memory run

    @property
    def nd(self) -> int:
        return len(self.x_shape) - 2


CASES = [
    Case("A", "resnet 3x3: N=8, 64->64, 56x56, pad 1", "conv", (8, 64, 56, 56), (64, 64, 3, 3),
         padding=1, target_fwd=1.5, target_bwd=1.5, issue_torch_ms=(4.6, 14.6)),
    Case("B", "pointwise 1x1: N=8, 256->64, 56x56", "conv", (8, 256, 56, 56), (64, 256, 1, 1),
         target_fwd=1.0, target_bwd=1.0, issue_torch_ms=(3.4, 11.6)),
    Case("C", "stem 7x7 stride 2: N=8, 3->64, 224x224, pad 3", "conv", (8, 3, 224, 224),
         (64, 3, 7, 7), stride=2, padding=3, target_fwd=2.0, target_bwd=1.0,
         issue_torch_ms=(5.9, 40)),
    Case("D", "depthwise 3x3: N=8, C=256, 28x28, pad 1", "conv", (8, 256, 28, 28),
         (256, 1, 3, 3), padding=1, groups=256, target_fwd=3.0, target_bwd=2.0,
         issue_torch_ms=(0.35, 2.2)),
    Case("E", "depthwise 31x31: N=4, C=64, 56x56, pad 15", "conv", (4, 64, 56, 56),
         (64, 1, 31, 31), padding=15, groups=64, target_fwd=0.05, target_bwd=0.05,
         issue_torch_ms=(211, 466)),
    Case("F", "image filter: 1x1x2048x2048, 63x63, pad 31", "conv", (1, 1, 2048, 2048),
         (1, 1, 63, 63), padding=31, target_fwd=0.05, target_bwd=0.05,
         issue_torch_ms=(28_000, 42_000), torch_repeats=(3, 2),
         memory_warmup_x=(1, 1, 256, 256)),
    Case("G", "long conv1d: N=1, 16->16, L=65536, k=1025, pad 512", "conv", (1, 16, 65536),
         (16, 16, 1025), padding=512, target_fwd=0.05, target_bwd=0.05,
         issue_torch_ms=(546, 1400), torch_repeats=(3, 3)),
    Case("H", "conv_transpose 4x4 s2 p1: N=8, 128->64, 28x28", "conv_transpose",
         (8, 128, 28, 28), (128, 64, 4, 4), stride=2, padding=1, target_fwd=1.5, target_bwd=1.5,
         issue_torch_ms=(4.6, 13.6)),
    Case("I", "conv3d 3x3x3: N=2, 32->32, 16x32x32, pad 1", "conv", (2, 32, 16, 32, 32),
         (32, 32, 3, 3, 3), padding=1, target_fwd=1.5, target_bwd=1.5,
         issue_torch_ms=(4.3, 13.5)),
    Case("J", "tiny: 1x1x8x8, 3x3, no pad", "conv", (1, 1, 8, 8), (1, 1, 3, 3),
         target_fwd=1.5, target_bwd=1.0, issue_torch_ms=(0.0041, 0.024)),
    Case("K", "max_pool2d 3x3 s2 p1: N=8, C=64, 112x112", "max_pool", (8, 64, 112, 112), None,
         stride=2, padding=1, kernel_size=3, target_fwd=1.0, target_bwd=1.0,
         issue_torch_ms=(21, 23)),
]
BY_KEY = {c.key: c for c in CASES}
MODES = ("fwd", "fwd+bwd")
SCIPY_TARGET = 1.0  # case F: convkit forward / scipy.signal.fftconvolve


# ----------------------------------------------------------------------------- data and calls
def make_arrays(case: Case, x_shape: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """Float32 input, weight (scaled so that outputs are O(1)) and upstream gradient."""
    rng = np.random.default_rng(ord(case.key))
    x_shape = x_shape or case.x_shape
    arrays = {"x": rng.standard_normal(x_shape, dtype=np.float32)}
    if case.w_shape is not None:
        fan_in = math.prod(case.w_shape[1:]) if case.op == "conv" else case.w_shape[0]
        arrays["w"] = (rng.standard_normal(case.w_shape, dtype=np.float32)
                       / np.float32(math.sqrt(fan_in)))
    arrays["g"] = rng.standard_normal(output_shape(case, x_shape), dtype=np.float32)
    return arrays


def output_shape(case: Case, x_shape: tuple[int, ...]) -> tuple[int, ...]:
    spatial = x_shape[2:]
    if case.op == "max_pool":
        k, s, p = case.kernel_size, case.stride, case.padding
        return x_shape[:2] + tuple((n + 2 * p - k) // s + 1 for n in spatial)
    kernel = case.w_shape[2:]
    s, p = case.stride, case.padding
    if case.op == "conv_transpose":
        channels = case.w_shape[1] * case.groups
        return (x_shape[0], channels) + tuple((n - 1) * s - 2 * p + k for n, k in
                                              zip(spatial, kernel, strict=True))
    return (x_shape[0], case.w_shape[0]) + tuple((n + 2 * p - k) // s + 1 for n, k in
                                                  zip(spatial, kernel, strict=True))


class Library:
    """One library's public API, the same few names for convkit and torch."""

    def __init__(self, name: str):
        self.name = name
        if name == "convkit":
            import convkit
            import convkit.nn.functional as functional

            self.module, self.F = convkit, functional
            self.from_numpy = convkit.from_numpy
        else:
            import torch
            import torch.nn.functional as functional

            self.module, self.F = torch, functional
            self.from_numpy = torch.from_numpy

    def op(self, case: Case) -> Callable:
        if case.op == "max_pool":
            pool = getattr(self.F, f"max_pool{case.nd}d")
            return lambda x, w: pool(x, case.kernel_size, case.stride, case.padding)
        name = "conv_transpose" if case.op == "conv_transpose" else "conv"
        fn = getattr(self.F, f"{name}{case.nd}d")
        return lambda x, w: fn(x, w, None, case.stride, case.padding, groups=case.groups)

    def calls(self, case: Case, arrays: dict[str, np.ndarray]
              ) -> dict[str, Callable[[], tuple]]:
        """``{'fwd': f, 'fwd+bwd': f}``: each call returns its results (output, gradients)."""
        op = self.op(case)
        no_grad = self.module.no_grad
        x = self.from_numpy(arrays["x"])
        w = self.from_numpy(arrays["w"]) if "w" in arrays else None
        g = self.from_numpy(arrays["g"])
        xg = self.from_numpy(arrays["x"].copy()).requires_grad_()
        wg = self.from_numpy(arrays["w"].copy()).requires_grad_() if w is not None else None
        leaves = [t for t in (xg, wg) if t is not None]

        def forward() -> tuple:
            with no_grad():
                return (op(x, w),)

        def forward_backward() -> tuple:
            for leaf in leaves:
                leaf.grad = None
            out = op(xg, wg)
            out.backward(g)
            return (out, *(leaf.grad for leaf in leaves))

        return {"fwd": forward, "fwd+bwd": forward_backward}


def as_numpy(results: tuple) -> list[np.ndarray]:
    return [np.asarray(r.detach().numpy()) for r in results]


def reduction_lengths(case: Case) -> list[int]:
    """Terms summed into one element of each result (output, grad input, grad weight)."""
    if case.op == "max_pool":
        return [1, case.kernel_size**case.nd]
    x, w = case.x_shape, case.w_shape
    out = output_shape(case, x)
    kernel = math.prod(w[2:])
    if case.op == "conv":
        return [w[1] * kernel, w[0] // case.groups * kernel, x[0] * math.prod(out[2:])]
    return [w[0] // case.groups * kernel, w[1] * kernel, x[0] * math.prod(x[2:])]


def tolerance(terms: int) -> float:
    """Float32 error bound relative to the largest element of a result: summation error
    grows like sqrt(terms); 16 eps per sqrt(term) leaves room for FFT and Winograd rounding."""
    return max(1e-5, 16 * EPS32 * math.sqrt(terms))


def compare(case: Case, mode: str, mine: list[np.ndarray], ref: list[np.ndarray]
            ) -> tuple[bool, list[dict]]:
    names = ["out", "grad input", "grad weight"][:len(ref)]
    if len(mine) != len(ref):
        return False, [{"result": "results", "ok": False,
                        "error": f"{len(mine)} results, PyTorch {len(ref)}"}]
    checks = []
    for name, a, b, terms in zip(names, mine, ref, reduction_lengths(case), strict=False):
        if a.shape != b.shape:
            checks.append({"result": name, "ok": False,
                           "error": f"shape {a.shape} != PyTorch's {b.shape}"})
            continue
        scale = float(np.max(np.abs(b))) or 1.0
        err = float(np.max(np.abs(a.astype(np.float64) - b))) / scale
        tol = tolerance(terms)
        checks.append({"result": name, "ok": bool(err <= tol), "rel_error": err, "tol": tol})
    return all(c["ok"] for c in checks) and len(checks) == len(names), checks


# ----------------------------------------------------------------------------- timing
# After a call, each library's worker threads keep spinning for a while (OpenBLAS for about
# 2^28 cycles, libgomp for its spin count) and steal the cores of whatever runs next: timed
# back to back, each library looks up to several times slower than it is. Each timed block
# therefore starts after a pause long enough for the other library's threads to sleep, and
# with one untimed call of its own.
SETTLE_SECONDS = 0.15


def block_seconds(fn: Callable[[], object], inner: int) -> float:
    """Seconds per call of ``fn`` over ``inner`` consecutive calls, after a settling pause
    and one untimed call."""
    time.sleep(SETTLE_SECONDS)
    fn()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def interleave(mine: Callable[[], object], theirs: Callable[[], object], single: tuple[float,
               float], budget: float, min_repeats: int, max_repeats: int,
               block: float = 2e-3, theirs_first: bool = False) -> dict:
    """Paired repeats: each times ``mine`` and ``theirs`` back to back, alternating order
    (``mine`` first in the first repeat, unless ``theirs_first``).

    ``single`` = rough seconds per call of each (sets how many calls make one timed block,
    so that microsecond calls are not timed at the clock's resolution).
    """
    inner = [max(1, min(1000, math.ceil(block / max(s, 1e-7)))) for s in single]
    mine_t: list[float] = []
    theirs_t: list[float] = []
    start = time.perf_counter()
    r = 0
    while r < min_repeats or (time.perf_counter() - start < budget and r < max_repeats):
        if (r + theirs_first) % 2 == 0:
            mine_t.append(block_seconds(mine, inner[0]))
            theirs_t.append(block_seconds(theirs, inner[1]))
        else:
            theirs_t.append(block_seconds(theirs, inner[1]))
            mine_t.append(block_seconds(mine, inner[0]))
        r += 1
    ratios = [a / b for a, b in zip(mine_t, theirs_t, strict=True)]
    return {"convkit_ms": statistics.median(mine_t) * 1e3,
            "other_ms": statistics.median(theirs_t) * 1e3,
            "ratio": statistics.median(ratios),
            "convkit_min_ms": min(mine_t) * 1e3, "other_min_ms": min(theirs_t) * 1e3,
            "repeats": r, "calls_per_block": inner, "ratios": ratios,
            "convkit_all_ms": [t * 1e3 for t in mine_t],
            "other_all_ms": [t * 1e3 for t in theirs_t]}


def timed(fn: Callable[[], tuple]) -> tuple[float, tuple]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def seconds_per_call(fn: Callable[[], object], calls: int = 5, within: float = 0.02) -> float:
    """One warm-up call, then an estimate robust to a descheduled call: the fastest of
    ``calls`` calls, fewer (at least 3) past ``within`` seconds, one if a call takes > 0.2 s."""
    fn()
    best = math.inf
    start = time.perf_counter()
    for i in range(calls):
        t, _ = timed(fn)
        best = min(best, t)
        if t > 0.2 or (i >= 2 and time.perf_counter() - start > within):
            break
    return best


def plan_summary(case: Case, plans: list) -> str:
    if case.op == "max_pool":
        return "pool"
    kinds = {"forward": "fwd", "grad_input": "gi", "grad_weight": "gw"}
    parts: list[str] = []
    for p in plans:
        part = f"{kinds.get(p.problem.kind, p.problem.kind)}:{p.algorithm}"
        part += f"x{p.tiles}" if p.tiles > 1 else ""
        if part not in parts:
            parts.append(part)
    return " ".join(parts) or "?"


def bench_mode(case: Case, mode: str, ck_call: Callable[[], tuple], torch_call: Callable[[],
               tuple], args: argparse.Namespace) -> dict:
    """Check, warm up and time one (case, mode); returns the row's numbers."""
    from convkit.engine import conv_plan

    row: dict = {"mode": mode}
    slow = case.torch_repeats is not None
    fixed = None
    if slow:
        fixed = case.torch_repeats[MODES.index(mode)]
        if args.quick:
            fixed = 1
    try:
        with conv_plan.recording() as plans:
            ck_first, ck_out = timed(ck_call)
        row["algorithms"] = plan_summary(case, plans)
        cold = slow and ck_first >= 5.0  # convkit's checked call then counts as timed
        if slow and not cold:
            # PyTorch takes seconds: the checked pair is also the first timed repeat, so
            # convkit's side of it should be a warm call too (unless that costs minutes)
            ck_first, ck_out = timed(ck_call)
        t_first, t_out = timed(torch_call)
        ok, checks = compare(case, mode, as_numpy(ck_out), as_numpy(t_out))
    except Exception as e:  # a convkit failure is a result to report, not a crash
        row.update(status="FAILED", error=f"{type(e).__name__}: {e}")
        return row
    row["checks"] = checks
    if case.key == "F" and mode == "fwd":
        row["_torch_out"] = as_numpy(t_out)[0]
    del ck_out, t_out
    if not ok:
        row["status"] = "FAILED"
        return row
    row["status"] = "ok"
    if slow:
        first = {"mine": ck_first, "theirs": t_first}
        # the checked pair ran convkit first: the next one starts with PyTorch
        rest = interleave(ck_call, torch_call, (ck_first, t_first), 0.0, fixed - 1,
                          fixed - 1, theirs_first=True) if fixed > 1 else None
        mine_t = [first["mine"] * 1e3] + (rest["convkit_all_ms"] if rest else [])
        theirs_t = [first["theirs"] * 1e3] + (rest["other_all_ms"] if rest else [])
        ratios = [a / b for a, b in zip(mine_t, theirs_t, strict=True)]
        row["timing"] = {"convkit_ms": statistics.median(mine_t),
                         "other_ms": statistics.median(theirs_t),
                         "ratio": statistics.median(ratios), "convkit_min_ms": min(mine_t),
                         "other_min_ms": min(theirs_t), "repeats": len(ratios),
                         "calls_per_block": [1, 1], "ratios": ratios,
                         "convkit_all_ms": mine_t, "other_all_ms": theirs_t,
                         "note": f"{len(ratios)} repeat(s) only (PyTorch takes seconds per "
                                 "call); the checked pair is the first repeat"
                                 + ("; convkit's call in it was its first (it is slow)"
                                    if cold else "")}
        return row
    if max(ck_first, t_first) > 1.0:  # the checked calls were the warm-up
        single = (ck_first, t_first)
    else:
        single = (seconds_per_call(ck_call), seconds_per_call(torch_call))
    row["timing"] = interleave(ck_call, torch_call, single, args.budget, args.min_repeats,
                               args.max_repeats)
    if args.min_repeats < 5:
        row["timing"]["note"] = f"at least {args.min_repeats} repeats (--quick)"
    return row


def bench_scipy(case: Case, arrays: dict[str, np.ndarray], ck_fwd: Callable[[], tuple],
                ck_seconds: float, torch_out: np.ndarray, args: argparse.Namespace) -> dict:
    """Case F's second anchor: scipy.signal.fftconvolve on the same image and kernel
    (``ck_seconds``: convkit's forward time measured already)."""
    import scipy.signal

    image, kernel = arrays["x"][0, 0], arrays["w"][0, 0, ::-1, ::-1]

    def fftconvolve() -> np.ndarray:
        return scipy.signal.fftconvolve(image, kernel, mode="same")

    t_sp, out = timed(fftconvolve)
    scale = float(np.max(np.abs(torch_out)))
    err = float(np.max(np.abs(out - torch_out[0, 0]))) / scale
    result = {"scipy_vs_torch_rel_error": err, "tol": tolerance(math.prod(kernel.shape))}
    if err > result["tol"]:
        result["status"] = "FAILED"  # the anchor itself is wrong: do not compare against it
        return result
    t_ck = ck_seconds if ck_seconds > 1.0 else seconds_per_call(ck_fwd)
    result["status"] = "ok"
    result["timing"] = interleave(ck_fwd, fftconvolve, (t_ck, t_sp), args.budget,
                                  args.min_repeats, args.max_repeats)
    return result


# ----------------------------------------------------------------------------- memory
def _status_kib() -> dict[str, int]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _peak_reset_works() -> bool:
    """Whether resetting VmHWM works here: raise the mark by 64 MiB, free, reset, compare.
    (A check of VmHWM == VmRSS right after a reset would race with threads freeing memory.)"""
    if not _reset_peak():
        return False
    block = np.ones(16 * MIB, dtype=np.float32)  # 64 MiB, freed to the OS on `del`
    del block
    raised = _status_kib()["VmHWM"]
    return _reset_peak() and _status_kib()["VmHWM"] < raised - 32 * 1024


def memory_probe(key: str, library: str, mode: str, threads: int) -> dict:
    """Runs in a fresh process: extra peak RSS of one call, after a warm-up call."""
    case = BY_KEY[key]
    resettable = _peak_reset_works()
    lib = Library(library)
    if library == "torch":
        lib.module.set_num_threads(threads)
    arrays = make_arrays(case)  # standard_normal writes every element: the pages are touched
    call = lib.calls(case, arrays)[mode]
    if resettable:
        method = "VmHWM after clear_refs"
        warm = call
        if case.memory_warmup_x is not None:  # one same-shape call would take PyTorch ~30 s
            warm = lib.calls(case, make_arrays(case, case.memory_warmup_x))[mode]
        results = warm()
        del results
        gc.collect()
        _reset_peak()
        before = _status_kib()["VmRSS"]
        results = call()
        peak = _status_kib()["VmHWM"]
    else:
        # ru_maxrss is the peak of the whole process's life, so a warm-up would hide the
        # call's own peak: none is run, and one-time caches are counted with the call
        before = _status_kib()["VmRSS"]
        earlier_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        results = call()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss, no warm-up (clear_refs does not work here)"
        if peak <= earlier_peak:
            method += "; below an earlier peak: an upper bound"
    del results
    return {"extra_mib": max(0, peak - before) / 1024, "method": method,
            "warmup_shape": list(case.memory_warmup_x or case.x_shape) if resettable else None}


def measure_memory(case: Case, library: str, mode: str, threads: int,
                   autotune: bool = False) -> dict:
    env = dict(os.environ)
    # A fixed mmap threshold (it also switches off glibc's adaptive one) returns every large
    # freed block to the OS, so that memory freed by the warm-up is not silently reused.
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-probe", case.key, library,
           mode, "--threads", str(threads)] + (["--autotune"] if autotune else [])
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                            timeout=900)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def fmt_ms(ms: float | None) -> str:
    if ms is None or not math.isfinite(ms):
        return "-"
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else (f"{r:.3f}" if r < 0.1 else f"{r:.2f}")


def mode_cells(result: dict, target: float) -> list[str]:
    if result.get("status") != "ok":
        return ["FAILED", "", "", fmt_ratio(target), "no"]
    t = result["timing"]
    met = "yes" if t["ratio"] <= target else "no"
    return [fmt_ms(t["convkit_ms"]), fmt_ms(t["other_ms"]), fmt_ratio(t["ratio"]),
            fmt_ratio(target), met]


def memory_cell(mem: dict | None) -> str:
    if not mem:
        return "-"
    ck, th = mem.get("convkit", {}), mem.get("torch", {})
    if "extra_mib" not in ck:
        return "error"
    if "extra_mib" not in th:
        return f"{ck['extra_mib']:.0f}/{th.get('skipped', 'error')}"
    ratio = ck["extra_mib"] / th["extra_mib"] if th["extra_mib"] > 0.5 else None
    return (f"{ck['extra_mib']:.0f}/{th['extra_mib']:.0f} "
            + ("(tiny)" if ratio is None else f"{ratio:.2f}"))


HEADERS = ["case", "fwd ck ms", "torch ms", "ratio", "target", "met", "f+b ck ms", "torch ms",
           "ratio", "target", "met", "mem fwd MiB ck/torch ratio", "mem f+b MiB ck/torch ratio",
           "algorithms"]


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        case = BY_KEY[r["case"]]
        cells = [case.key]
        cells += mode_cells(r["modes"]["fwd"], case.target_fwd)
        cells += mode_cells(r["modes"]["fwd+bwd"], case.target_bwd)
        cells += [memory_cell(r["memory"].get("fwd")), memory_cell(r["memory"].get("fwd+bwd"))]
        cells.append(r["modes"]["fwd+bwd"].get("algorithms") or r["modes"]["fwd"].get(
            "algorithms", "?"))
        out.append(cells)
    return out


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def detail_lines(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        for mode in MODES:
            m = r["modes"][mode]
            head = f"{r['case']} {mode:7}"
            if m.get("status") != "ok":
                why = m.get("error") or "; ".join(
                    f"{c['result']}: rel. error {c.get('rel_error', float('nan')):.2e} > "
                    f"{c.get('tol', float('nan')):.1e}" if "rel_error" in c else
                    f"{c['result']}: {c.get('error')}" for c in m.get("checks", [])
                    if not c["ok"])
                lines.append(f"{head} FAILED -- {why}")
                continue
            t = m["timing"]
            worst = max(c["rel_error"] / c["tol"] for c in m["checks"])
            lines.append(f"{head} min ck {fmt_ms(t['convkit_min_ms'])} ms, torch "
                         f"{fmt_ms(t['other_min_ms'])} ms; {t['repeats']} repeats "
                         f"(calls per block {t['calls_per_block'][0]}/"
                         f"{t['calls_per_block'][1]}); max error {worst:.2g} of tolerance"
                         + (f"; {t['note']}" if "note" in t else ""))
        sp = r.get("scipy")
        if sp:
            if sp.get("status") != "ok":
                lines.append(f"{r['case']} scipy   FAILED: fftconvolve differs from PyTorch "
                             f"({sp['scipy_vs_torch_rel_error']:.2e})")
            else:
                t = sp["timing"]
                lines.append(f"{r['case']} scipy   convkit fwd {fmt_ms(t['convkit_ms'])} ms vs "
                             f"scipy.signal.fftconvolve {fmt_ms(t['other_ms'])} ms: ratio "
                             f"{fmt_ratio(t['ratio'])} (target <= {SCIPY_TARGET}: "
                             f"{'met' if t['ratio'] <= SCIPY_TARGET else 'NOT met'}); "
                             f"{t['repeats']} repeats")
        for mode in MODES:
            for lib, mem in r["memory"].get(mode, {}).items():
                if "error" in mem:
                    lines.append(f"{r['case']} memory {mode} {lib}: ERROR {mem['error']}")
    return lines


def machine_description(threads: int, torch_version: str) -> dict:
    report = _machine.doctor()
    d = report.to_dict()
    d["torch"] = torch_version
    d["threads"] = threads
    env = os.environ.get("OPENBLAS_CORETYPE")
    if CORETYPE_SET_HERE:
        d["openblas_coretype_action"] = "set OPENBLAS_CORETYPE=SkylakeX for this process"
    elif env:
        d["openblas_coretype_action"] = f"OPENBLAS_CORETYPE={env} already set; left alone"
    else:
        d["openblas_coretype_action"] = "not set (the CPU lacks AVX-512)"
    d["text"] = str(report)
    return d


def machine_summary(m: dict) -> str:
    b = m["blas"]
    return (f"{m['cpu_model']}; {m['usable_cores']} usable cores; AVX-512 "
            f"{'yes' if m['avx512'] else 'no'}; {m['threads']} threads each "
            f"(torch.set_num_threads; convkit: BLAS {b.get('name')} {b.get('version')} "
            f"{b.get('core_type')} with {b.get('num_threads')} threads, FFT workers "
            f"{m['fft_workers']}); {m['openblas_coretype_action']}; Python {m['python']}, "
            f"NumPy {m['numpy']}, SciPy {m['scipy']}, PyTorch {m['torch']}")


def write_markdown(path: Path, shown: Path, payload: dict, table: str, details: list[str]
                   ) -> None:
    """Write the page to ``path``; ``shown`` is how its regenerating command names it."""
    m = payload["machine"]
    quick = (" --quick" if payload["quick"] else "") + (
        " --autotune" if payload.get("autotune") else "")
    text = f"""# Performance: convkit against PyTorch

Generated by `python benchmarks/bench_conv.py{quick} --markdown {shown.as_posix()}` on
{payload['date']} (convkit {payload['versions']['convkit']}, PyTorch
{payload['versions']['torch']}, NumPy {payload['versions']['numpy']}, SciPy
{payload['versions']['scipy']}). Raw numbers: `{payload['json']}`.

## How to run

```
python benchmarks/bench_conv.py                 # all cases (PyTorch's case F alone takes minutes)
python benchmarks/bench_conv.py --quick         # fewer repeats; F, G once; no F PyTorch memory
python benchmarks/bench_conv.py --cases A,C,K   # a subset
python benchmarks/bench_conv.py --autotune      # convkit times its close candidates first
python benchmarks/bench_conv.py --json out.json --markdown docs/performance.md
```

## Machine

{machine_summary(m)}. Load average (1 min) at the start / end of the run:
{payload['load_average_1min']['start']:.1f} / {payload['load_average_1min']['end']:.1f} on
{m['usable_cores']} cores (above the core count, other processes competed for them){
    '' if m['conv_constants_exist'] else (
        '. **No planner calibration** (' + str(m['conv_constants_path'])
        + "): the planner could price only the 'taps' fallback in this run")}

```
{m['text']}
```

## Results

Times are milliseconds per call, medians; `ratio` is convkit / PyTorch, the median of the
per-repeat ratios; `met` compares it with the target (ratio <=). Memory: extra peak RSS of
one call, convkit / PyTorch in MiB, and their ratio (target: <= 2 on every case).
Algorithms: the planner's choice per primitive call (`fwd` forward, `gi` input gradient,
`gw` weight gradient; `xN` = N batch tiles){
    ', measured on the first call of each problem (--autotune)' if payload.get('autotune')
    else ', from the calibrated cost model'}.

{table}

Details (minimum times, repeats, accuracy against PyTorch as a fraction of the tolerance):

```
{chr(10).join(details)}
```

## Method

* **Same work, same threads.** Both libraries run their public API (`nn.functional`,
  `Tensor.backward`) on the same float32 data; PyTorch gets `torch.set_num_threads(n)` with
  `n` the cores this process may use (`sched_getaffinity`), convkit uses them through its
  BLAS threads and FFT workers. Forward runs under `no_grad`; forward+backward is
  `out.backward(g)` with a fixed random `g`, computing the input and weight gradients.
* **Checked before timed.** convkit's output and gradients are compared with PyTorch's:
  max |difference| / max |PyTorch's| must stay below `16 eps32 sqrt(terms)` (terms summed
  per element; at least 1e-5). A case that fails is reported FAILED and not timed.
* **Interleaved, paired.** After one warm-up call of each, every repeat times one convkit
  call and one PyTorch call back to back, alternating which goes first, so that a busy moment
  on a shared machine hits both; calls faster than ~2 ms are timed in blocks. The ratio of
  each pair is recorded and the **median of the paired ratios** is the reported ratio (more
  robust to noise than a ratio of medians). Repeats continue until a time budget per case
  and mode is spent ({payload['budget_s']} s here), at least {3 if payload['quick'] else 5}.
  PyTorch takes seconds per call in cases F and G, which get a fixed count instead, the
  checked pair counting as the first: {'1 forward and 1 forward+backward (--quick)'
  if payload['quick'] else 'F 3 forward and 2 forward+backward, G 3 and 3'}.
  Case F also times `scipy.signal.fftconvolve(image, kernel[::-1, ::-1], mode='same')`
  interleaved with convkit's forward.
* **Memory.** A fresh subprocess per (case, library, mode) makes and touches the inputs,
  runs one warm-up call (case F: on a 256x256 image with the same kernel, since one
  same-shape PyTorch call takes ~30 s), frees its results, resets the peak-RSS mark
  (`echo 5 > /proc/self/clear_refs`), records VmRSS, runs the call once and reads VmHWM:
  extra = VmHWM - VmRSS before, results included. `MALLOC_MMAP_THRESHOLD_=131072` makes
  glibc return freed large blocks to the OS, so that neither library reuses warm-up memory
  unseen. Method used in this run: {payload['memory_method']}.
* **Noise.** The machine may be shared; the paired ratios are the numbers to trust, the
  absolute times less so. PyTorch times measured in the issue on this machine type are in
  the JSON (`issue_torch_ms`) for comparison.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter budgets; PyTorch's slow case F timed once per mode, "
                             "its memory not measured")
    parser.add_argument("--cases", default=",".join(BY_KEY),
                        help="comma-separated case letters (default: all)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" /
                        "conv.json", help="where to write the raw results")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also (re)write this page, e.g. docs/performance.md")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timed repeats per case and mode (2.5; --quick 0.6)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="time only (no memory subprocesses)")
    parser.add_argument("--autotune", action="store_true",
                        help="convkit times its close candidate algorithms on the first call "
                             "of each problem (convkit.backends.set_autotune) instead of "
                             "trusting the cost model")
    parser.add_argument("--max-repeats", type=int, default=400, help=argparse.SUPPRESS)
    parser.add_argument("--memory-probe", nargs=3, metavar=("CASE", "LIB", "MODE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = args.threads or _machine.usable_cores()
    if args.autotune:
        import convkit

        convkit.backends.set_autotune(True)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe, threads)))
        return 0
    keys = [k.strip().upper() for k in args.cases.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        parser.error(f"--cases: unknown case(s) {unknown}; known: {','.join(BY_KEY)}")
    if args.budget is None:
        args.budget = 0.6 if args.quick else 2.5
    args.min_repeats = 3 if args.quick else 5

    if CORETYPE_SET_HERE:
        print("OPENBLAS_CORETYPE=SkylakeX set for this process (the CPU has AVX-512)")
    elif os.environ.get("OPENBLAS_CORETYPE"):
        print(f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} was already set: left alone")
    else:
        print("OPENBLAS_CORETYPE not set: the CPU lacks AVX-512")

    import scipy
    import torch

    import convkit

    torch.set_num_threads(threads)
    machine = machine_description(threads, torch.__version__)
    print(machine_summary(machine))
    blas_threads = machine["blas"].get("num_threads")
    if blas_threads is not None and blas_threads != threads:
        print(f"WARNING: NumPy's BLAS runs {blas_threads} threads, PyTorch {threads}")
    if not machine["conv_constants_exist"]:
        print(f"WARNING: no convolution planner calibration at {machine['conv_constants_path']}: "
              "the planner can price only the 'taps' fallback")
    print(f"budget {args.budget} s per case and mode; convkit's algorithms "
          f"{'autotuned (timed on the first call)' if args.autotune else 'from the cost model'}"
          "; the table comes after all cases\n")

    libs = {"convkit": Library("convkit"), "torch": Library("torch")}
    load_start = os.getloadavg()[0]
    rows = []
    start = time.perf_counter()
    for key in keys:
        case = BY_KEY[key]
        arrays = make_arrays(case)
        calls = {name: lib.calls(case, arrays) for name, lib in libs.items()}
        row: dict = {"case": key, "title": case.title, "modes": {}, "memory": {},
                     "targets": {"fwd": case.target_fwd, "fwd+bwd": case.target_bwd},
                     "issue_torch_ms": dict(zip(MODES, case.issue_torch_ms, strict=True))}
        for mode in MODES:
            t0 = time.perf_counter()
            result = bench_mode(case, mode, calls["convkit"][mode], calls["torch"][mode], args)
            torch_out = result.pop("_torch_out", None)
            row["modes"][mode] = result
            if result.get("status") == "ok":
                t = result["timing"]
                print(f"{key} {mode:7} convkit {fmt_ms(t['convkit_ms'])} ms, torch "
                      f"{fmt_ms(t['other_ms'])} ms, ratio {fmt_ratio(t['ratio'])} "
                      f"({t['repeats']} repeats, {time.perf_counter() - t0:.1f} s) "
                      f"[{result['algorithms']}]", flush=True)
            else:
                print(f"{key} {mode:7} *** FAILED *** {result.get('error') or result['checks']}",
                      flush=True)
            if torch_out is not None and result.get("status") == "ok":
                row["scipy"] = bench_scipy(case, arrays, calls["convkit"]["fwd"],
                                           result["timing"]["convkit_min_ms"] / 1e3, torch_out,
                                           args)
                sp = row["scipy"]
                if sp.get("status") == "ok":
                    print(f"{key} scipy   convkit {fmt_ms(sp['timing']['convkit_ms'])} ms, "
                          f"fftconvolve {fmt_ms(sp['timing']['other_ms'])} ms, ratio "
                          f"{fmt_ratio(sp['timing']['ratio'])}", flush=True)
        rows.append(row)
        del calls, arrays
        gc.collect()
    timing_seconds = time.perf_counter() - start

    methods = set()
    if not args.skip_memory:
        print("\nmemory (fresh subprocess per case, library and mode) ...", flush=True)
    for row in rows if not args.skip_memory else []:
        case = BY_KEY[row["case"]]
        for mode in MODES:
            row["memory"][mode] = {}
            for lib in libs:
                if args.quick and case.key == "F" and lib == "torch":
                    row["memory"][mode][lib] = {"skipped": "not measured (--quick)"}
                    continue
                mem = measure_memory(case, lib, mode, threads, args.autotune)
                methods.add(mem.get("method", "error"))
                row["memory"][mode][lib] = mem
        print(f"{row['case']} {memory_cell(row['memory']['fwd'])}; "
              f"{memory_cell(row['memory']['fwd+bwd'])}", flush=True)

    table = table_rows(rows)
    details = detail_lines(rows)
    print()
    print(text_table(HEADERS, table))
    print()
    print("\n".join(details))
    met = [(r["case"], mode) for r in rows for mode in MODES
           if r["modes"][mode].get("status") == "ok"
           and r["modes"][mode]["timing"]["ratio"] <= r["targets"][mode]]
    failed = [(r["case"], mode) for r in rows for mode in MODES
              if r["modes"][mode].get("status") != "ok"]
    print(f"\ntime targets met: {len(met)} of {2 * len(rows)}"
          + (f"; FAILED checks: {', '.join(f'{c} {m}' for c, m in failed)}" if failed else ""))
    print(f"total {time.perf_counter() - start:.0f} s (timing {timing_seconds:.0f} s); "
          f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"on {threads} cores")

    json_path = args.json if args.json.is_absolute() else Path.cwd() / args.json
    payload = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick, "autotune": args.autotune, "budget_s": args.budget,
        "threads": threads,
        "versions": {"convkit": convkit.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__},
        "machine": machine,
        "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]},
        "memory_method": ", ".join(sorted(methods)) or "not measured",
        "json": os.path.relpath(json_path, ROOT) if json_path.is_relative_to(ROOT)
        else str(json_path),
        "cases": rows,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    print(f"wrote {json_path}")
    if args.markdown is not None:
        md_path = args.markdown if args.markdown.is_absolute() else Path.cwd() / args.markdown
        shown = md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path
        write_markdown(md_path, shown, payload, markdown_table(HEADERS, table), details)
        print(f"wrote {md_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
