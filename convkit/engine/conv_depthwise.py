"""The "depthwise" algorithms: convolutions with one input channel per group (``C == groups``).

Each output channel ``c*M + m`` (``M = O / C``, the channel multiplier) reads input channel
``c`` only, so the three kinds are per-plane cross-correlations with one scalar weight per
kernel tap; no channel contraction is left for a GEMM to do::

    forward      out[n, c*M+m, o] = sum_k w[c*M+m, 0, k] * xpad[n, c, o*stride + k*dil]
    grad_input   gx[n, c, i]      = sum_{m, k, o : o*stride + k*dil = i + lo} w[c*M+m, 0, k]
                                                                          * g[n, c*M+m, o]
    grad_weight  gw[c*M+m, 0, k]  = sum_{n, o} g[n, c*M+m, o] * xpad[n, c, o*stride + k*dil]

(``grad_input`` is also the transposed depthwise convolution.) Both algorithms copy a tile
of (batch, channel) planes into a zero-padded buffer and then add one shifted multiple of
it per tap. With stride 1 on every axis a tap's window is a single contiguous slice of the
flattened padded plane, ``buf[j + offset(k)]``, if ``j`` runs over whole padded rows (the
columns past the output width are computed and dropped), so each tap is one long vector
operation; other strides use strided windows.

* ``depthwise`` (NumPy): tiles of planes sized to stay in L2, two ufunc calls per tap
  written into preallocated tiles (``out=``), weight gradient as one batched dot product
  per tap.
* ``depthwise_numba`` (with numba installed, ``convkit[fast]``): the same loops compiled,
  parallel over planes; registered only when numba is importable, compiled on first use.

Problems so large that the buffers of one plane exceed the workspace budget are cut into
blocks of output rows along the first spatial axis (each block reads its rows plus the
kernel's halo), so the workspace stays bounded at any image size.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convkit.engine import _numba
from convkit.engine import conv as _conv
from convkit.engine.conv import Algorithm, ConvProblem, register

__all__ = ["Depthwise", "DepthwiseNumba"]

#: bytes of buffers one NumPy tile may use, so that its passes stay in the L2 cache
_TILE_BYTES = 1 << 20


@dataclass(frozen=True)
class _Geometry:
    """A depthwise problem on exactly three spatial axes (leading axes of size 1 added)."""

    n: int                       # batch
    c: int                       # channels (== groups)
    m: int                       # channel multiplier O / C
    size: tuple[int, int, int]   # input spatial
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    lo: tuple[int, int, int]     # leading padding
    dilation: tuple[int, int, int]
    out: tuple[int, int, int]
    padded: tuple[int, int, int]

    @property
    def flat(self) -> bool:
        """Stride 1 everywhere: every tap is one contiguous slice of the padded plane."""
        return self.stride == (1, 1, 1)

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    @property
    def planes(self) -> int:
        return self.n * self.c

    @property
    def span(self) -> int:
        """Length of the flat accumulator: output rows of full padded width."""
        return self.out[0] * self.padded[1] * self.padded[2]

    def offsets(self) -> list[int]:
        """Flat offset in the padded plane of each tap, row-major over the kernel."""
        p1, p2 = self.padded[1], self.padded[2]
        return [(a * self.dilation[0] * p1 + b * self.dilation[1]) * p2 + c * self.dilation[2]
                for a in range(self.kernel[0]) for b in range(self.kernel[1])
                for c in range(self.kernel[2])]

    @property
    def buffer(self) -> int:
        """Elements of one padded plane buffer, with room for the flat slices' overrun."""
        reach = self.offsets()[-1]
        return max(math.prod(self.padded), (self.span if self.flat else 0) + reach)

    def array_args(self) -> tuple[np.ndarray, ...]:
        """(stride, lo, dilation, padded, offsets) as the numba kernels take them."""
        return tuple(np.array(v, dtype=np.int64) for v in
                     (self.stride, self.lo, self.dilation, self.padded, self.offsets()))


def _geometry(p: ConvProblem) -> _Geometry:
    lead = 3 - p.nd
    pad = ((0, 0),) * lead + tuple(p.padding)
    size = (1,) * lead + tuple(p.x_shape[2:])
    kernel = (1,) * lead + tuple(p.w_shape[2:])
    stride = (1,) * lead + tuple(p.stride)
    dilation = (1,) * lead + tuple(p.dilation)
    out = (1,) * lead + tuple(p.out_shape[2:])
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, pad, strict=True))
    return _Geometry(p.x_shape[0], p.x_shape[1], p.w_shape[0] // p.x_shape[1], size, kernel,
                     stride, tuple(lo for lo, _ in pad), dilation, out, padded)


def _threads() -> int:
    # numba's default pool size, read without importing numba
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env:
        return max(1, int(env))
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return max(1, len(affinity(0)) if affinity else os.cpu_count() or 1)


# ------------------------------------------------------------------ row blocks (budget)
def _block_problem(p: ConvProblem, rows: int) -> ConvProblem:
    """The problem of one interior block of ``rows`` output rows (first spatial axis)."""
    need = (rows - 1) * p.stride[0] + (p.w_shape[2] - 1) * p.dilation[0] + 1
    x_shape = p.x_shape[:2] + (need,) + p.x_shape[3:]
    padding = ((0, 0),) + tuple(p.padding[1:])
    return ConvProblem(p.kind, x_shape, p.w_shape, p.stride, padding, p.dilation, p.groups,
                       p.dtype)


def _block_rows(p: ConvProblem, workspace, budget: int) -> int:
    """Output rows per block so that ``workspace(block) + block result`` fits ``budget``."""
    rows = p.out_shape[2]
    if workspace(p) <= budget:
        return rows
    lo, hi = 1, rows - 1  # workspace grows with the rows: bisect for the largest that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _blocked_workspace(p, mid, workspace) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _blocked_workspace(p: ConvProblem, rows: int, workspace) -> int:
    bp = _block_problem(p, rows)
    # a block's result is a temporary too (the weight gradient's is summed, small)
    result = 0 if p.kind == "grad_weight" else math.prod(bp.result_shape) * p.dtype.itemsize
    return workspace(bp) + result


def _run_blocks(p: ConvProblem, a: np.ndarray, b: np.ndarray, rows: int, run) -> np.ndarray:
    """Compute ``p`` in blocks of ``rows`` output rows along the first spatial axis.

    Output rows ``[r0, r1)`` read padded input rows ``[r0*s, (r1-1)*s + d*(k-1) + 1)``;
    the part of that range inside the input is sliced out and the rest becomes the block's
    padding, so every block is an ordinary problem of the same kind.
    """
    s, d, k = p.stride[0], p.dilation[0], p.w_shape[2]
    lo, size, total = p.padding[0][0], p.x_shape[2], p.out_shape[2]
    # output rows that read padding only stay zero (forward) or give nothing (grad_input)
    result = None if p.kind == "grad_weight" else np.zeros(p.result_shape, dtype=p.dtype)
    for r0 in range(0, total, rows):
        r1 = min(r0 + rows, total)
        start, end = r0 * s - lo, (r1 - 1) * s - lo + d * (k - 1) + 1
        first, last = max(start, 0), min(end, size)
        if first >= last:
            continue
        padding = ((first - start, end - last),) + tuple(p.padding[1:])
        x_shape = p.x_shape[:2] + (last - first,) + p.x_shape[3:]
        bp = ConvProblem(p.kind, x_shape, p.w_shape, p.stride, padding, p.dilation, p.groups,
                         p.dtype)
        if p.kind == "forward":
            result[:, :, r0:r1] = run(bp, a[:, :, first:last], b)
        elif p.kind == "grad_input":
            result[:, :, first:last] += run(bp, a[:, :, r0:r1], b)
        else:
            part = run(bp, a[:, :, first:last], b[:, :, r0:r1])
            result = part if result is None else result.__iadd__(part)
    if result is None:  # no block read the input: the weight gradient is zero
        result = np.zeros(p.result_shape, dtype=p.dtype)
    return result


def _as_output(g: np.ndarray, p: ConvProblem) -> np.ndarray:
    """``g`` zero-extended to the forward output's size: a transposed convolution with
    ``output_padding`` hands over fewer rows than ``x_shape`` has outputs (the missing
    trailing rows have zero gradient)."""
    if g.shape[2:] == p.out_shape[2:]:
        return g
    extra = tuple((0, o - s) for o, s in zip(p.out_shape[2:], g.shape[2:], strict=True))
    return np.pad(g, ((0, 0), (0, 0)) + extra)


class _DepthwiseBase(Algorithm):
    """What both depthwise algorithms share: support, row blocks, cost features."""

    def supports(self, p: ConvProblem) -> bool:
        # one input channel per group; groups == 1 with one channel is the same thing
        return p.w_shape[1] == 1 and p.x_shape[1] == p.groups

    def _workspace(self, p: ConvProblem) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def _run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - interface

    def workspace(self, p: ConvProblem) -> int:
        rows = _block_rows(p, self._workspace, _conv.get_workspace_limit())
        if rows >= p.out_shape[2]:
            return self._workspace(p)
        return _blocked_workspace(p, rows, self._workspace)

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if p.kind == "grad_input":
            a = _as_output(a, p)
        elif p.kind == "grad_weight":
            b = _as_output(b, p)
        rows = _block_rows(p, self._workspace, _conv.get_workspace_limit())
        if rows >= p.out_shape[2]:
            return self._run(p, a, b)
        return _run_blocks(p, a, b, rows, self._run)

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """(1, contiguous tap elements, strided tap elements, strided rows, copied elements).

        Tap elements are multiply-adds done as long contiguous runs (stride 1: the padded
        plane's full rows) or along strided output rows; each strided row is also one
        inner loop started. Copies are the padded planes filled and the results cropped.
        """
        geo = _geometry(p)
        per_tap = geo.planes * geo.m * geo.taps
        if geo.flat:
            flat, strided, rows = per_tap * geo.span, 0, 0
        else:
            flat, strided = 0, per_tap * math.prod(geo.out)
            rows = per_tap * geo.out[0] * geo.out[1]
        copied = geo.planes * (math.prod(geo.padded) + geo.m * math.prod(geo.out))
        return (1.0, float(flat), float(strided), float(rows), float(copied))


# ------------------------------------------------------------------------------ NumPy
def _tile_planes(geo: _Geometry, itemsize: int) -> int:
    """Planes per tile: the buffer, the accumulator and a scratch tile fit ``_TILE_BYTES``
    (and half the workspace budget, when that is smaller: the other half is left for the
    results of row blocks)."""
    room = min(_TILE_BYTES, _conv.get_workspace_limit() // 2)
    return max(1, min(geo.planes, room // (_per_plane(geo) * itemsize)))


def _per_plane(geo: _Geometry) -> int:
    work = geo.span if geo.flat else math.prod(geo.out)
    return geo.buffer + 2 * geo.m * work + work


def _windows(buf: np.ndarray, geo: _Geometry, offset: int, planes: int) -> np.ndarray:
    """(planes, *out) strided view of tap ``offset``'s inputs in the padded buffers."""
    item = buf.itemsize
    p1, p2 = geo.padded[1], geo.padded[2]
    strides = (buf.strides[0], geo.stride[0] * p1 * p2 * item, geo.stride[1] * p2 * item,
               geo.stride[2] * item)
    return as_strided(buf[:planes, offset:], (planes,) + geo.out, strides, writeable=True)


def _interior(buf: np.ndarray, geo: _Geometry) -> np.ndarray:
    """(tile, *size) view of the unpadded part of the padded buffers."""
    item = buf.itemsize
    p1, p2 = geo.padded[1], geo.padded[2]
    body = as_strided(buf, (buf.shape[0],) + geo.padded,
                      (buf.strides[0], p1 * p2 * item, p2 * item, item), writeable=True)
    return body[(slice(None),) + tuple(slice(lo, lo + s) for lo, s in
                                       zip(geo.lo, geo.size, strict=True))]


def _valid(full: np.ndarray, geo: _Geometry) -> np.ndarray:
    """(tile, M, *out) view of the flat accumulator's valid corner of each padded row."""
    tile = full.shape[0]
    grid = full.reshape((tile, geo.m, geo.out[0]) + geo.padded[1:])
    return grid[..., :geo.out[1], :geo.out[2]]


def _numpy_forward(geo: _Geometry, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    dtype = np.result_type(x, w)
    tile = _tile_planes(geo, dtype.itemsize)
    xs = x.reshape((geo.planes,) + geo.size)
    ws = w.reshape(geo.c, geo.m, geo.taps)
    out = np.empty((geo.planes, geo.m) + geo.out, dtype=dtype)
    buf = np.zeros((tile, geo.buffer), dtype=dtype)  # the padding stays zero
    inside = _interior(buf, geo)
    work = (geo.span,) if geo.flat else geo.out
    acc = np.empty((tile, geo.m) + work, dtype=dtype)
    tmp = np.empty_like(acc)
    expand = (slice(None), slice(None), slice(None)) + (None,) * len(work)
    for p0 in range(0, geo.planes, tile):
        p1 = min(p0 + tile, geo.planes)
        n = p1 - p0
        inside[:n] = xs[p0:p1]
        wt = ws[np.arange(p0, p1) % geo.c][expand]  # (n, M, K, 1...)
        target = acc[:n] if geo.flat else out[p0:p1]
        for k, off in enumerate(geo.offsets()):
            if geo.flat:
                window = buf[:n, None, off:off + geo.span]  # (n, 1, span)
            else:
                window = _windows(buf, geo, off, n)[:, None]  # (n, 1, *out)
            if k == 0:
                np.multiply(window, wt[:, :, k], out=target)
            else:
                np.multiply(window, wt[:, :, k], out=tmp[:n])
                np.add(target, tmp[:n], out=target)
        if geo.flat:
            out[p0:p1] = _valid(acc[:n], geo)
    return out


def _numpy_grad_input(geo: _Geometry, g: np.ndarray, w: np.ndarray) -> np.ndarray:
    dtype = np.result_type(g, w)
    tile = _tile_planes(geo, dtype.itemsize)
    gs = g.reshape((geo.planes, geo.m) + geo.out)
    ws = w.reshape(geo.c, geo.m, geo.taps)
    gx = np.empty((geo.planes,) + geo.size, dtype=dtype)
    buf = np.empty((tile, geo.buffer), dtype=dtype)
    inside = _interior(buf, geo)
    work = (geo.span,) if geo.flat else geo.out
    full = np.zeros((tile, geo.m) + work, dtype=dtype)  # flat: past-the-width columns stay 0
    tmp = np.empty((tile,) + work, dtype=dtype)
    part = np.empty_like(tmp) if geo.m > 1 else tmp
    expand = (slice(None), slice(None), slice(None)) + (None,) * len(work)
    for p0 in range(0, geo.planes, tile):
        p1 = min(p0 + tile, geo.planes)
        n = p1 - p0
        buf[:n] = 0
        if geo.flat:
            _valid(full[:n], geo)[...] = gs[p0:p1]
            source = full[:n]
        else:
            source = gs[p0:p1]
        wt = ws[np.arange(p0, p1) % geo.c][expand]
        for k, off in enumerate(geo.offsets()):
            # sum over the channel multiplier of w * g: (n, *work)
            np.multiply(source[:, 0], wt[:, 0, k], out=tmp[:n])
            for m in range(1, geo.m):
                np.multiply(source[:, m], wt[:, m, k], out=part[:n])
                np.add(tmp[:n], part[:n], out=tmp[:n])
            target = buf[:n, off:off + geo.span] if geo.flat else _windows(buf, geo, off, n)
            np.add(target, tmp[:n], out=target)
        gx[p0:p1] = inside[:n]
    return gx


def _numpy_grad_weight(geo: _Geometry, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    dtype = np.result_type(x, g)
    tile = _tile_planes(geo, dtype.itemsize)
    xs = x.reshape((geo.planes,) + geo.size)
    gs = g.reshape((geo.planes, geo.m) + geo.out)
    per_plane = np.empty((geo.planes, geo.m, geo.taps), dtype=dtype)
    buf = np.zeros((tile, geo.buffer), dtype=dtype)
    inside = _interior(buf, geo)
    full = np.zeros((tile, geo.m, geo.span), dtype=dtype) if geo.flat else None
    for p0 in range(0, geo.planes, tile):
        p1 = min(p0 + tile, geo.planes)
        n = p1 - p0
        inside[:n] = xs[p0:p1]
        if geo.flat:
            _valid(full[:n], geo)[...] = gs[p0:p1]
        for k, off in enumerate(geo.offsets()):
            if geo.flat:
                # (n, M, span) @ (n, span, 1) -> (n, M, 1): one dot product per plane
                window = buf[:n, off:off + geo.span, None]
                per_plane[p0:p1, :, k] = np.matmul(full[:n], window)[..., 0]
            else:
                per_plane[p0:p1, :, k] = np.einsum("nmabc,nabc->nm", gs[p0:p1],
                                                   _windows(buf, geo, off, n))
    # (N*C, M, K) -> (N, C, M, K), summed over the batch
    return per_plane.reshape(geo.n, geo.c, geo.m, geo.taps).sum(axis=0)


class Depthwise(_DepthwiseBase):
    """NumPy depthwise: per-tap multiply-adds over L2-sized tiles of padded planes."""

    name = "depthwise"
    dtypes = (np.float32, np.float64, np.complex64, np.complex128)

    def _workspace(self, p: ConvProblem) -> int:
        geo = _geometry(p)
        itemsize = p.dtype.itemsize
        tile = _tile_planes(geo, itemsize)
        extra = geo.planes * geo.m * geo.taps if p.kind == "grad_weight" else 0
        return (tile * _per_plane(geo) + extra) * itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """The shared features, plus the number of NumPy calls (tiles x taps x ops)."""
        geo = _geometry(p)
        tiles = -(-geo.planes // _tile_planes(geo, p.dtype.itemsize))
        per_tap = {"forward": 2, "grad_input": 2 * geo.m, "grad_weight": 1}[p.kind]
        return super().features(p) + (float(tiles * (geo.taps * per_tap + 4)),)

    def _run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        geo = _geometry(p)
        if p.kind == "forward":
            result = _numpy_forward(geo, a, b)
        elif p.kind == "grad_input":
            result = _numpy_grad_input(geo, a, b)
        else:
            result = _numpy_grad_weight(geo, a, b)
        return result.reshape(p.result_shape)


register(Depthwise())


# ------------------------------------------------------------------------------ numba
class DepthwiseNumba(_DepthwiseBase):
    """Compiled depthwise (numba): the same loops, parallel over planes (channels for the
    weight gradient), one pass over each plane's padded copy per tap."""

    name = "depthwise_numba"
    dtypes = (np.float32, np.float64)

    def _workspace(self, p: ConvProblem) -> int:
        geo = _geometry(p)
        threads = min(_threads(), geo.c if p.kind == "grad_weight" else geo.planes)
        per_job = geo.buffer + (geo.span if geo.flat else 1) + geo.m * geo.taps + 16
        return threads * per_job * p.dtype.itemsize

    def _run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        kernels = _numba.load()
        if kernels is None:  # numba vanished or broke after registration: same result
            return Depthwise()._run(p, a, b)
        geo = _geometry(p)
        args = geo.array_args()
        jobs = min(geo.planes, _threads())
        dtype = p.dtype
        if p.kind == "forward":
            x = np.ascontiguousarray(a).reshape((geo.n, geo.c) + geo.size)
            w = np.ascontiguousarray(b).reshape((geo.c, geo.m) + geo.kernel)
            out = np.empty((geo.n, geo.c, geo.m) + geo.out, dtype=dtype)
            kernels.depthwise_forward(x, w, out, *args, jobs)
        elif p.kind == "grad_input":
            g = np.ascontiguousarray(a).reshape((geo.n, geo.c, geo.m) + geo.out)
            w = np.ascontiguousarray(b).reshape((geo.c, geo.m) + geo.kernel)
            out = np.empty((geo.n, geo.c) + geo.size, dtype=dtype)
            kernels.depthwise_grad_input(g, w, out, *args, jobs)
        else:
            x = np.ascontiguousarray(a).reshape((geo.n, geo.c) + geo.size)
            g = np.ascontiguousarray(b).reshape((geo.n, geo.c, geo.m) + geo.out)
            out = np.empty((geo.c, geo.m) + geo.kernel, dtype=dtype)
            kernels.depthwise_grad_weight(x, g, out, *args)
        return out.reshape(p.result_shape)


if _numba.enabled():
    register(DepthwiseNumba())

