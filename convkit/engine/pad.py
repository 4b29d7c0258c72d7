"""Padding of the trailing axes of an ndarray, and its adjoint, with one index map per axis.

Every mode is a gather along each padded axis: output position ``j`` reads input position
``source[j]`` (or the fill value where ``source[j] == -1``, for ``constant``). Negative
padding crops (as PyTorch does: the mode's mapping is applied before the crop). The gradient
is the matching scatter-add, so forward and backward share the same maps and cannot
disagree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_source_index", "pad", "pad_backward"]

Pairs = tuple[tuple[int, int], ...]

def pad_source_index(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """For each output position along one axis, the input position it copies (-1: fill).

    Output ``j`` sits at input coordinate ``v = j - lo``; coordinates outside ``[0, size)``
    are mapped back by the mode. Negative ``lo``/``hi`` simply start or end inside.
    """
    v = np.arange(size + lo + hi, dtype=np.intp) - lo
    if mode == "constant":
        return np.where((v >= 0) & (v < size), v, -1)
    if mode == "replicate":
        return np.clip(v, 0, size - 1)
    if mode == "circular":
        # PyTorch crops first, then wraps the remaining elements around.
        kept = np.arange(max(-lo, 0), size - max(-hi, 0), dtype=np.intp)
        w = np.arange(kept.size + max(lo, 0) + max(hi, 0), dtype=np.intp) - max(lo, 0)
        return kept[w % kept.size]
    # reflect: mirror about the edge elements, which are not repeated
    v = np.where(v < 0, -v, v)
    return np.where(v >= size, 2 * (size - 1) - v, v)


def pad(x: np.ndarray, pairs: Pairs, mode: str = "constant", value: float = 0.0) -> np.ndarray:
    """Pad the last ``len(pairs)`` axes of ``x``; ``pairs[i]`` is (before, after) of axis i."""
    first = x.ndim - len(pairs)
    if mode == "constant" and all(lo >= 0 and hi >= 0 for lo, hi in pairs):
        if not any(lo or hi for lo, hi in pairs):
            return x.copy()
        widths = [(0, 0)] * first + [tuple(p) for p in pairs]
        return np.pad(x, widths, mode="constant", constant_values=value)
    out = x
    for axis, (lo, hi) in enumerate(pairs, start=first):
        source = pad_source_index(x.shape[axis], lo, hi, mode)
        taken = np.take(out, np.maximum(source, 0), axis=axis)
        if mode == "constant" and (source < 0).any():
            shape = [1] * x.ndim
            shape[axis] = source.size
            taken = np.where((source < 0).reshape(shape), np.asarray(value, x.dtype), taken)
        out = taken
    return np.ascontiguousarray(out)


def pad_backward(grad: np.ndarray, input_shape: tuple[int, ...], pairs: Pairs,
                 mode: str) -> np.ndarray:
    """The adjoint of :func:`pad`: every output position adds its gradient to its source."""
    first = len(input_shape) - len(pairs)
    g = grad
    for axis in range(len(input_shape) - 1, first - 1, -1):
        lo, hi = pairs[axis - first]
        source = pad_source_index(input_shape[axis], lo, hi, mode)
        moved = np.moveaxis(g, axis, 0)
        acc = np.zeros((input_shape[axis],) + moved.shape[1:], dtype=grad.dtype)
        keep = source >= 0
        np.add.at(acc, source[keep], moved[keep])
        g = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(g)
