"""Slow, obviously correct loop oracles for the generic N-d surface.

Written straight from the definitions, one output element at a time, so that they can be
checked by eye; used on tiny inputs only.
"""

from __future__ import annotations

import itertools

import numpy as np


def conv_nd(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, ...],
            padding: tuple[tuple[int, int], ...], dilation: tuple[int, ...],
            groups: int) -> np.ndarray:
    """Cross-correlation: out[n, o, p] = b[o] + sum_{c,k} w[o, c, k] x_pad[n, g*Cg + c,
    p*stride + k*dilation], over any number of spatial dims."""
    n_batch = x.shape[0]
    c_out, c_group = w.shape[:2]
    kernel = w.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    out_shape = tuple((xpad.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                      for i in range(len(kernel)))
    out = np.zeros((n_batch, c_out) + out_shape, dtype=np.result_type(x, w))
    per_group = c_out // groups
    for n in range(n_batch):
        for o in range(c_out):
            g = o // per_group
            for pos in itertools.product(*(range(s) for s in out_shape)):
                total = b[o] if b is not None else 0.0
                for c in range(c_group):
                    for k in itertools.product(*(range(s) for s in kernel)):
                        src = tuple(p * s + kk * d for p, s, kk, d in
                                    zip(pos, stride, k, dilation))
                        total += w[(o, c) + k] * xpad[(n, g * c_group + c) + src]
                out[(n, o) + pos] = total
    return out


def conv_transpose_nd(x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                      stride: tuple[int, ...], padding: tuple[int, ...],
                      output_padding: tuple[int, ...], dilation: tuple[int, ...],
                      groups: int) -> np.ndarray:
    """Transposed convolution by scattering: every input element adds w * x to the output
    window it would have been computed from, then ``padding`` is cropped."""
    n_batch, c_in = x.shape[:2]
    c_out_g = w.shape[1]
    kernel = w.shape[2:]
    spatial = x.shape[2:]
    full = tuple((s - 1) * st + d * (k - 1) + 1 + op for s, st, d, k, op in
                 zip(spatial, stride, dilation, kernel, output_padding))
    out = np.zeros((n_batch, c_out_g * groups) + full, dtype=np.result_type(x, w))
    in_per_group = c_in // groups
    for n in range(n_batch):
        for c in range(c_in):
            g = c // in_per_group
            for pos in itertools.product(*(range(s) for s in spatial)):
                for o in range(c_out_g):
                    for k in itertools.product(*(range(s) for s in kernel)):
                        dst = tuple(p * s + kk * d for p, s, kk, d in
                                    zip(pos, stride, k, dilation))
                        out[(n, g * c_out_g + o) + dst] += w[(c, o) + k] * x[(n, c) + pos]
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full))
    out = out[(slice(None), slice(None)) + crop]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * len(kernel))
    return out


def max_pool_nd(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                padding: tuple[int, ...]) -> np.ndarray:
    """Max over each window of the -inf padded input (floor mode)."""
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding),
                  constant_values=-np.inf)
    out_shape = tuple((xpad.shape[2 + i] - kernel[i]) // stride[i] + 1
                      for i in range(len(kernel)))
    out = np.empty(x.shape[:2] + out_shape)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(s) for s in out_shape)):
            window = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel))
            out[(n, c) + pos] = xpad[(n, c) + window].max()
    return out
