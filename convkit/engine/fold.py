"""im2col (``unfold``) and col2im (``fold``): an adjoint pair over N spatial axes.

``unfold`` lays every sliding window out as a column: ``(N, C, *spatial) ->
(N, C * prod(kernel), L)`` with rows ordered channel-major then kernel taps row-major, and
``L`` the number of window positions. ``fold`` sums columns back into place, so
``fold(unfold(x))`` counts each element once per window that covers it.
"""

from __future__ import annotations

import math

import numpy as np

from convkit.engine.pool import window_view

__all__ = ["unfold", "fold", "sliding_positions"]


def sliding_positions(spatial: tuple[int, ...], kernel: tuple[int, ...],
                      dilation: tuple[int, ...], padding: tuple[int, ...],
                      stride: tuple[int, ...]) -> tuple[int, ...]:
    """Window positions per axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1``."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in
                 zip(spatial, kernel, dilation, padding, stride, strict=True))


def unfold(x: np.ndarray, kernel: tuple[int, ...], dilation: tuple[int, ...],
           padding: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """``(N, C, *spatial) -> (N, C*prod(kernel), L)``."""
    nd = len(kernel)
    n, c = x.shape[:2]
    out = sliding_positions(x.shape[2:], kernel, dilation, padding, stride)
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding)) if any(padding) else x
    windows = window_view(xpad, out, kernel, stride, dilation)  # (N, C, *out, *kernel)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    cols = windows.transpose(order)  # (N, C, *kernel, *out)
    return np.ascontiguousarray(cols).reshape(n, c * math.prod(kernel), math.prod(out))


def fold(cols: np.ndarray, output_size: tuple[int, ...], kernel: tuple[int, ...],
         dilation: tuple[int, ...], padding: tuple[int, ...],
         stride: tuple[int, ...]) -> np.ndarray:
    """``(N, C*prod(kernel), L) -> (N, C, *output_size)``, summing overlapping windows."""
    nd = len(kernel)
    n = cols.shape[0]
    c = cols.shape[1] // math.prod(kernel)
    out = sliding_positions(output_size, kernel, dilation, padding, stride)
    blocks = cols.reshape((n, c) + tuple(kernel) + tuple(out))
    padded = tuple(s + 2 * p for s, p in zip(output_size, padding, strict=True))
    acc = np.zeros((n, c) + padded, dtype=cols.dtype)
    for tap in np.ndindex(*kernel):
        region = tuple(slice(t * dilation[i], t * dilation[i] + stride[i] * (out[i] - 1) + 1,
                             stride[i]) for i, t in enumerate(tap))
        acc[(slice(None), slice(None)) + region] += blocks[(slice(None), slice(None)) + tap]
    crop = tuple(slice(p, p + s) for s, p in zip(output_size, padding, strict=True))
    return np.ascontiguousarray(acc[(slice(None), slice(None)) + crop]) if nd else acc
