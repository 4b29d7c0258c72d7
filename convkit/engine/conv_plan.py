"""The planner of the convolution primitive family: which algorithm, in how many tiles.

For a :class:`~convkit.engine.conv.ConvProblem` every registered algorithm that supports it
is priced by its cost model, ``seconds = coef . features(problem)``, with one coefficient
vector per algorithm and kind fitted to timings taken on the machine (``convkit calibrate``,
stored in ``conv_constants.json``). The cheapest whose workspace fits the budget wins; one
that fits only on a smaller batch is run in batch tiles. Plans depend on shapes only and are
cached, so a small call pays one dictionary look-up. An algorithm that is accurate only on
some data (the FFT on inputs of very wide dynamic range) is asked at run time and, when it
declines, the next plan is taken.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

from convkit.engine import conv as _conv
from convkit.engine.conv import Algorithm, ConvProblem

__all__ = ["Plan", "plan", "execute", "predicted_seconds", "load_constants",
           "CONSTANTS_PATH", "clear_cache", "last_plan", "recording"]

CONSTANTS_PATH = Path(__file__).with_name("conv_constants.json")


@cache
def _constants_from(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def load_constants() -> dict:
    """Calibrated coefficients: ``$CONVKIT_CONV_CONSTANTS`` or the shipped file."""
    return _constants_from(os.fspath(os.environ.get("CONVKIT_CONV_CONSTANTS") or CONSTANTS_PATH))


def predicted_seconds(algorithm: Algorithm, p: ConvProblem) -> float:
    """The cost model's time for ``algorithm`` on ``p``; ``inf`` if it was never calibrated
    (the universal 'taps' algorithm then counts its multiply-adds, so that an uncalibrated
    installation still runs, on the slowest but surest path)."""
    prec = "32" if p.dtype in (np.float32, np.complex64) else "64"
    coef = load_constants().get("coef", {}).get(algorithm.name, {}).get(p.kind, {}).get(prec)
    if coef is None:
        return float(p.macs) if algorithm.name == "taps" else math.inf
    return float(np.dot(coef, algorithm.features(p)))


@dataclass(frozen=True)
class Plan:
    """How one problem is computed: the algorithm, the batch tile, and why."""

    problem: ConvProblem
    algorithm: str
    tile: int                     # samples per batch tile (== batch when not tiled)
    seconds: float                # predicted, for the whole problem
    workspace: int                # bytes, for one tile
    reason: str
    alternatives: tuple[tuple[str, float, int], ...] = field(default=(), repr=False)

    @property
    def tiles(self) -> int:
        return -(-self.problem.batch // self.tile)

    def __str__(self) -> str:
        p = self.problem
        shapes = f"{p.kind} x{tuple(p.x_shape)} w{tuple(p.w_shape)} {p.dtype.name}"
        tiles = f" in {self.tiles} batch tiles of {self.tile}" if self.tiles > 1 else ""
        return (f"{shapes}: {self.algorithm}{tiles}, predicted {self.seconds * 1e3:.3g} ms, "
                f"workspace {self.workspace / 2**20:.3g} MiB ({self.reason})")


def _candidates(p: ConvProblem) -> list[Algorithm]:
    out = []
    for alg in _conv.algorithms().values():
        if alg.dtypes and p.dtype.type not in alg.dtypes:
            continue
        if alg.supports(p):
            out.append(alg)
    return out


def _fit_tile(alg: Algorithm, p: ConvProblem, budget: int) -> int:
    """The largest batch tile whose workspace fits ``budget`` (at least 1)."""
    if alg.workspace(p) <= budget or p.batch == 1:
        return p.batch
    lo, hi = 1, p.batch  # workspace grows with the batch: bisect for the largest that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if alg.workspace(p.with_batch(mid)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


@cache
def _plans(p: ConvProblem, forced: str | None, budget: int) -> tuple[Plan, ...]:
    """Every feasible plan for ``p``, best first."""
    plans = []
    for alg in _candidates(p):
        tile = _fit_tile(alg, p, budget)
        ws = alg.workspace(p.with_batch(tile))
        tiles = -(-p.batch // tile)
        seconds = predicted_seconds(alg, p.with_batch(tile)) * tiles
        over = ws > budget  # even one sample does not fit: last resort only
        plans.append((over, alg.name != forced, seconds, alg.name, tile, ws))
    plans.sort()
    alternatives = tuple((name, sec, ws) for _, _, sec, name, _, ws in plans)
    result = []
    for over, not_forced, seconds, name, tile, ws in plans:
        if not not_forced:
            reason = "forced by set_algorithm"
        elif over:
            reason = f"no algorithm fits the {budget} B workspace budget; smallest workspace"
        else:
            reason = "lowest predicted time"
        if tile < p.batch:
            reason += f"; batch tiles of {tile} to fit the workspace budget"
        result.append(Plan(p, name, tile, seconds, ws, reason, alternatives))
    return tuple(result)


def plan(p: ConvProblem) -> Plan:
    """The plan :func:`execute` would use for ``p`` (ignoring data-dependent refusals); with
    autotuning, the measured winner once ``p`` has run."""
    key = (_conv._FORCED, _conv._WORKSPACE_LIMIT, _conv._AUTOTUNE)
    tuned = p.__dict__.get("_plans")
    if tuned is not None and tuned[0] == key:
        return tuned[1][0]
    return _plans(p, _conv.get_algorithm(), _conv.get_workspace_limit())[0]


_LAST: list[Plan] = []
_RECORDERS: list[list[Plan]] = []


def last_plan() -> Plan | None:
    """The plan of the most recent convolution computed in this process."""
    return _LAST[0] if _LAST else None


@contextmanager
def recording() -> Iterator[list[Plan]]:
    """``with recording() as plans:`` collects the plan of every convolution run inside."""
    plans: list[Plan] = []
    _RECORDERS.append(plans)
    try:
        yield plans
    finally:
        _RECORDERS.remove(plans)


def clear_cache() -> None:
    """Forget cached plans and constants (after recalibration)."""
    _plans.cache_clear()
    _constants_from.cache_clear()


def _full_size_gradient(p: ConvProblem, a: np.ndarray,
                        b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-extend an output gradient smaller than the forward output.

    A transposed convolution with ``output_padding`` (and dilation > stride) can produce an
    ``x`` whose forward convolution is larger than the ``g`` it came from; the missing
    outputs have no gradient, so the algorithms see the full-size ``g`` padded with zeros.
    """
    g_index = 0 if p.kind == "grad_input" else 1 if p.kind == "grad_weight" else None
    if g_index is None:
        return a, b
    g = (a, b)[g_index]
    if g.shape == p.out_shape:
        return a, b
    full = np.zeros(p.out_shape, dtype=g.dtype)
    full[tuple(slice(0, s) for s in g.shape)] = g
    return (full, b) if g_index == 0 else (a, full)


def execute(p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Compute ``p`` on ``(a, b)`` with the best plan that accepts the data."""
    if p.batch == 0 or 0 in p.result_shape or 0 in p.out_shape:
        return np.zeros(p.result_shape, dtype=p.dtype)
    if a.dtype != p.dtype:
        a = a.astype(p.dtype)
    if b.dtype != p.dtype:
        b = b.astype(p.dtype)
    a, b = _full_size_gradient(p, a, b)
    key = (_conv._FORCED, _conv._WORKSPACE_LIMIT, _conv._AUTOTUNE)
    cached = p.__dict__.get("_plans")
    if cached is None or cached[0] != key:
        plans = _plans(p, *key[:2])
        if key[2] and key[0] is None and len(plans) > 1:
            result, plans = _autotune(p, a, b, plans)
            object.__setattr__(p, "_plans", (key, plans))
            _note(plans[0])
            return result
        cached = (key, plans)
        object.__setattr__(p, "_plans", cached)  # memo on the interned problem
    chosen = _accepting(p, a, b, cached[1])
    _note(chosen)
    return _run_plan(chosen, p, a, b)


def _accepting(p: ConvProblem, a: np.ndarray, b: np.ndarray, plans: tuple[Plan, ...]) -> Plan:
    """The first plan whose algorithm accepts this data (the FFT may decline; the universal
    last plans never do)."""
    for chosen in plans:
        ok, _why = _conv._REGISTRY[chosen.algorithm].accurate(p, a, b)
        if ok:
            return chosen
    return chosen


def _note(chosen: Plan) -> None:
    _LAST[:] = [chosen]
    for plans in _RECORDERS:
        plans.append(chosen)


# Autotuning times only candidates the cost model rates close to the best: a grossly slower
# algorithm is never run on a large problem just to be measured.
_AUTOTUNE_SPREAD = 4.0
_AUTOTUNE_CANDIDATES = 3


def _autotune(p: ConvProblem, a: np.ndarray, b: np.ndarray, plans: tuple[Plan, ...]
              ) -> tuple[np.ndarray, tuple[Plan, ...]]:
    """Run the promising plans on this data, twice each (the first run may compile or
    fault in memory), and return the fastest's result with the plans reordered."""
    best = plans[0].seconds
    candidates = [pl for pl in plans
                  if pl.seconds <= _AUTOTUNE_SPREAD * best and pl.workspace
                  <= _conv._WORKSPACE_LIMIT and _conv._REGISTRY[pl.algorithm].accurate(
                      p, a, b)[0]][:_AUTOTUNE_CANDIDATES]
    if len(candidates) < 2:
        return _run_plan(_accepting(p, a, b, plans), p, a, b), plans
    timed = []
    result = None
    for candidate in candidates:
        seconds = math.inf
        for _ in range(2):
            start = time.perf_counter()
            out = _run_plan(candidate, p, a, b)
            seconds = min(seconds, time.perf_counter() - start)
        timed.append((seconds, candidate))
        if seconds <= min(t for t, _ in timed):
            result = out
        del out
    timed.sort(key=lambda item: item[0])
    measured = ", ".join(f"{c.algorithm} {t * 1e3:.3g} ms" for t, c in timed)
    winner = replace(timed[0][1], reason=f"fastest when timed (autotune: {measured})")
    return result, (winner,) + tuple(pl for pl in plans if pl is not timed[0][1])


def _run_plan(chosen: Plan, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    alg = _conv._REGISTRY[chosen.algorithm]
    if chosen.tile >= p.batch:
        return alg.run(p, a, b)
    tile_problem = p.with_batch(chosen.tile)
    if p.kind == "grad_weight":
        total = None
        for start in range(0, p.batch, chosen.tile):
            stop = min(start + chosen.tile, p.batch)
            part = alg.run(tile_problem if stop - start == chosen.tile else p.with_batch(
                stop - start), a[start:stop], b[start:stop])
            total = part if total is None else total.__iadd__(part)
        return total
    out = np.empty(p.result_shape, dtype=p.dtype)
    for start in range(0, p.batch, chosen.tile):
        stop = min(start + chosen.tile, p.batch)
        tp = tile_problem if stop - start == chosen.tile else p.with_batch(stop - start)
        out[start:stop] = alg.run(tp, a[start:stop], b)
    return out
