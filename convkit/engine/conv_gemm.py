"""GEMM-based algorithms of the convolution primitive family: 'gemm1x1', 'im2col', 'shifted'.

All three compute PyTorch's cross-correlation (the kernel is not flipped), with ``G`` groups,
``Cg = C/G`` input and ``Og = O/G`` output channels per group and ``K`` kernel taps::

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xpad[n, g*Cg + c, p*stride + k*dilation]

and recast it as matrix products that BLAS runs at full speed:

``gemm1x1``  kernels of size 1: a plain product ``(Og, Cg) @ (Cg, L)`` per sample and group on
             the (subsampled) input; padding only adds a border of zeros to the output.
``im2col``   any geometry: the windows of the padded input are copied into a column matrix
             ``(Cg*K, L)`` and multiplied by the weight ``(Og, Cg*K)``. The columns are built
             chunk by chunk (several samples, or a block of output rows) into one reused
             buffer small enough to stay in cache, padding only the input each chunk reads,
             so the workspace is bounded whatever the batch or image size. The input
             gradient multiplies first and scatters the columns back tap by tap (col2im);
             the weight gradient multiplies the output gradient by the columns. Small
             problems gather all their columns at once through a cached index.
``shifted``  implicit GEMM, no column matrix. With the padded input of one sample flattened
             spatially, ``(C, R)``, kernel tap ``k`` reads the same matrix shifted by
             ``sum_i k_i*dilation_i*rowstride_i`` elements, so each tap is one GEMM on a view,
             accumulated in place (beta = 1) into an output laid out on the padded grid;
             the positions that wrap around a row are computed and cropped away. A stride
             splits the input into phases read at stride 1 (polyphase); the input gradient
             is one such correlation of the output gradient per phase of the result, and
             the weight gradient one GEMM per tap.

The in-place accumulation over views with arbitrary leading dimensions is not expressible
with ``numpy.matmul`` or SciPy's f2py wrappers (which copy such views), so ``shifted`` calls
``?gemm`` itself through ctypes (see ``_gemm_function``).
"""

from __future__ import annotations

import ctypes
import itertools
import math
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from convkit.engine.conv import Algorithm, ConvProblem, register

__all__ = ["Gemm1x1", "Im2col", "Shifted"]

#: Bytes of the im2col column chunk (and of the shifted output block): small enough to stay
#: in the per-core L2 cache between the copy that writes it and the GEMM that reads it.
_CHUNK_BYTES = 1 << 20
#: col2im chunks are larger: its columns come from a GEMM, not a copy, and every chunk costs
#: one strided add per kernel tap (measured best at 8x).
_COL2IM_CHUNKS = 8

#: im2col gathers the columns of problems up to this many column elements through a cached
#: index array: one NumPy call instead of window views and chunk loops, whose per-call
#: overhead is what small problems cost (measured faster up to ~20-70K elements). The cache
#: holds at most _GATHER_CACHE index arrays of 8-byte indices (8 MiB).
_GATHER_ELEMENTS = 1 << 15
_GATHER_CACHE = 32

_BLAS_DTYPES = (np.float32, np.float64, np.complex64, np.complex128)


# ------------------------------------------------------------------ geometry
class _Dims(NamedTuple):
    """The sizes of a problem that every algorithm here needs."""

    n: int                      # samples
    c: int                      # input channels
    o: int                      # output channels
    cg: int                     # input channels per group
    og: int                     # output channels per group
    taps: int                   # kernel taps, K = prod(kernel)
    sp: tuple[int, ...]         # input spatial sizes
    padded: tuple[int, ...]     # padded input spatial sizes
    out: tuple[int, ...]        # forward output spatial sizes


@lru_cache(maxsize=1024)
def _dims(p: ConvProblem) -> _Dims:
    n, c = p.x_shape[:2]
    o = p.w_shape[0]
    sp = p.x_shape[2:]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(sp, p.padding, strict=True))
    return _Dims(n, c, o, c // p.groups, o // p.groups, math.prod(p.w_shape[2:]), sp, padded,
                 p.out_shape[2:])


def _is_padded(padding: tuple[tuple[int, int], ...]) -> bool:
    return any(lo or hi for lo, hi in padding)


def _interior(shape: tuple[int, ...], padding) -> tuple[slice, ...]:
    """The slices of a padded (N, C, *P) array that hold the unpadded (N, C, *sp) input."""
    return (slice(None), slice(None)) + tuple(
        slice(lo, lo + s) for s, (lo, _) in zip(shape[2:], padding, strict=True))


def _tap_range(n_in: int, n_out: int, tap: int, stride: int, dilation: int, lo: int,
               o_first: int = 0) -> tuple[slice, slice] | None:
    """Output positions ``o`` in ``[o_first, n_out)`` at which kernel tap ``tap`` reads the
    input rather than its zero padding, and the input positions they read.

    Returns ``(output slice, input slice)`` or ``None`` when the tap reads only padding.
    Position ``o`` reads input index ``o*stride + tap*dilation - lo``.
    """
    shift = tap * dilation - lo
    first = max(o_first, -(shift // stride))       # ceil(-shift / stride)
    stop = min(n_out, (n_in - 1 - shift) // stride + 1)
    if stop <= first:
        return None
    start = first * stride + shift
    return slice(first, stop), slice(start, start + (stop - first - 1) * stride + 1, stride)


def _windows(xpad: np.ndarray, kernel: tuple[int, ...], out_sp: tuple[int, ...],
             stride: tuple[int, ...], dilation: tuple[int, ...]) -> np.ndarray:
    """Read-only strided view (N, C, *k, *out) of ``xpad`` (N, C, *P): the window of every
    output position, element ``[n, c, k, p] = xpad[n, c, p*stride + k*dilation]``."""
    st = xpad.strides
    shape = xpad.shape[:2] + tuple(kernel) + tuple(out_sp)
    strides = (st[:2] + tuple(s * d for s, d in zip(st[2:], dilation, strict=True))
               + tuple(s * t for s, t in zip(st[2:], stride, strict=True)))
    if xpad.flags.c_contiguous:  # the constructor costs a fraction of as_strided's call
        view = np.ndarray(shape, xpad.dtype, xpad, 0, strides)
    else:
        view = np.lib.stride_tricks.as_strided(xpad, shape, strides)
    view.flags.writeable = False
    return view


def _padded_copy(x: np.ndarray, padding, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` (N, C, *sp) inside a zero border of ``(lo, hi)`` per spatial axis (N, C, *P).

    When ``out`` is given (a reused buffer whose border is already zero) only the interior
    is written.
    """
    if out is None:
        shape = x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in
                                    zip(x.shape[2:], padding, strict=True))
        out = np.zeros(shape, dtype=x.dtype)
    out[_interior(x.shape, padding)] = x
    return out


def _embed(a: np.ndarray, shape: tuple[int, ...], offset: tuple[int, ...]) -> np.ndarray:
    """Zeros of ``shape`` (N, C, *Q) with ``a`` (N, C, *sp) placed at spatial ``offset``
    (negative offsets and overhangs cut ``a``)."""
    out = np.zeros(shape, dtype=a.dtype)
    dst, src = [slice(None)] * 2, [slice(None)] * 2
    for size, q, e in zip(a.shape[2:], shape[2:], offset, strict=True):
        first = max(0, -e)
        count = min(size - first, q - max(0, e))
        if count <= 0:
            return out
        dst.append(slice(max(0, e), max(0, e) + count))
        src.append(slice(first, first + count))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _row_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    return tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))


def _flat(index: tuple[int, ...], grid: tuple[int, ...]) -> int:
    """Offset of a spatial ``index`` in a C-contiguous grid."""
    return sum(i * s for i, s in zip(index, _row_strides(grid), strict=True))


def _span(out_sp: tuple[int, ...], grid: tuple[int, ...]) -> int:
    """Flat positions from the first to the last output laid out on ``grid``, inclusive."""
    return _flat(tuple(o - 1 for o in out_sp), grid) + 1


def _buffer(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous array of ``shape`` on the start of a reused flat buffer (a shorter last
    chunk must stay contiguous, which slicing the full-size buffer would not give)."""
    return flat[:math.prod(shape)].reshape(shape)


# ------------------------------------------------------------------ gemm1x1
class Gemm1x1(Algorithm):
    """Kernels of size 1 in every axis: one matrix product per sample and group.

    Any stride (the input is subsampled), padding (the border of the output is zero, as no
    bias is added here), dilation (irrelevant for one tap) and groups::

        forward      out (N, G, Og, L) = w (G, Og, Cg) @ x (N, G, Cg, L)
        grad_input   gx  (N, G, Cg, L) = w^T (G, Cg, Og) @ g (N, G, Og, L)
        grad_weight  gw  (G, Og, Cg)   = sum_n g (n, G, Og, L) @ x^T (n, G, L, Cg)

    with ``L`` the output positions that read the input rather than its padding.
    """

    name = "gemm1x1"
    dtypes = _BLAS_DTYPES

    def supports(self, p: ConvProblem) -> bool:
        return p.nd >= 1 and all(k == 1 for k in p.w_shape[2:])

    @staticmethod
    def _ranges(p: ConvProblem, out_sp: tuple[int, ...]) -> tuple[tuple[slice, slice], ...] | None:
        """Per axis, the output positions that read the input and the input positions read
        (``None`` when every output position lies in the padding)."""
        ranges = tuple(_tap_range(n, o, 0, s, 1, lo) for n, o, s, (lo, _) in
                       zip(p.x_shape[2:], out_sp, p.stride, p.padding, strict=True))
        return None if None in ranges else ranges

    def _sizes(self, p: ConvProblem) -> tuple[int, bool, bool]:
        """(output positions that read the input, input subsampled or cut?, output
        bordered by padding?)."""
        ranges = self._ranges(p, p.out_shape[2:])
        if ranges is None:
            return 0, False, True
        used = math.prod(o.stop - o.start for o, _ in ranges)
        return used, used != math.prod(p.x_shape[2:]), used != math.prod(p.out_shape[2:])

    @staticmethod
    def _merged(d: _Dims, used: int) -> bool:
        """Whether the weight gradient contracts over samples and positions in one product
        per group (after copying both operands channel-first) rather than summing one
        product per sample: whichever writes fewer elements."""
        return d.n > 1 and d.o * d.cg > (d.c + d.o) * used

    def _copied(self, p: ConvProblem) -> int:
        """Elements written besides the result: subsampled operands, the product before it
        is placed inside a zero border, per-sample weight-gradient products."""
        d = _dims(p)
        used, cut, bordered = self._sizes(p)
        if p.kind == "forward":
            return d.n * (d.c * cut + d.o * bordered) * used
        if p.kind == "grad_input":
            return d.n * (d.o * bordered + d.c * cut) * used
        partials = d.n * (d.c + d.o) * used if self._merged(d, used) else d.n * d.o * d.cg
        return d.n * (d.c * cut + d.o * bordered) * used + partials

    def workspace(self, p: ConvProblem) -> int:
        return self._copied(p) * p.dtype.itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        d = _dims(p)
        used = self._sizes(p)[0]
        merged = p.kind == "grad_weight" and self._merged(d, used)
        calls = p.groups if merged else d.n * p.groups
        macs = d.n * d.o * d.cg * used
        return (1.0, float(macs), float(self._copied(p) * p.dtype.itemsize), float(calls))

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = _dims(p)
        groups = p.groups
        # a given output gradient may be shorter than the forward output (a transposed
        # convolution's output_padding): its missing positions are zeros
        out_sp = {"forward": p.out_shape, "grad_input": a.shape, "grad_weight": b.shape}[
            p.kind][2:]
        ranges = self._ranges(p, out_sp)
        if ranges is None:
            return np.zeros(p.result_shape, dtype=p.dtype)
        o_sl = (slice(None), slice(None)) + tuple(r[0] for r in ranges)
        x_sl = (slice(None), slice(None)) + tuple(r[1] for r in ranges)
        used = tuple(r[0].stop - r[0].start for r in ranges)
        size = math.prod(used)

        if p.kind == "forward":
            xs = a[x_sl].reshape(d.n, groups, d.cg, size)          # (N, G, Cg, L); copy if cut
            res = np.matmul(b.reshape(groups, d.og, d.cg), xs)     # (N, G, Og, L)
            if used == out_sp:
                return res.reshape(p.result_shape)
            out = np.zeros(p.result_shape, dtype=p.dtype)
            out[o_sl] = res.reshape((d.n, d.o) + used)
            return out

        if p.kind == "grad_input":
            gs = a[o_sl].reshape(d.n, groups, d.og, size)          # (N, G, Og, L)
            wt = b.reshape(groups, d.og, d.cg).transpose(0, 2, 1)  # (G, Cg, Og): BLAS transposes
            res = np.matmul(wt, gs)                                # (N, G, Cg, L)
            if used == d.sp:
                return res.reshape(p.result_shape)
            gx = np.zeros(p.result_shape, dtype=p.dtype)
            gx[x_sl] = res.reshape((d.n, d.c) + used)
            return gx

        xs = a[x_sl].reshape(d.n, groups, d.cg, size)              # (N, G, Cg, L)
        gs = b[o_sl].reshape(d.n, groups, d.og, size)              # (N, G, Og, L)
        if self._merged(d, size):
            # samples join the contraction: (G, Og, N*L) @ (G, N*L, Cg)
            g2 = gs.transpose(1, 2, 0, 3).reshape(groups, d.og, d.n * size)
            x2 = xs.transpose(1, 2, 0, 3).reshape(groups, d.cg, d.n * size)
            gw = np.matmul(g2, x2.transpose(0, 2, 1))              # (G, Og, Cg)
        else:
            gw = np.matmul(gs, xs.transpose(0, 1, 3, 2))           # (N, G, Og, Cg)
            gw = gw[0] if d.n == 1 else gw.sum(axis=0)
        return gw.reshape(p.result_shape)


# ------------------------------------------------------------------ im2col
class _ChunkPlan(NamedTuple):
    """How im2col cuts its work so that one column chunk holds about ``_CHUNK_BYTES``.

    A chunk is ``samples`` samples and a block of output positions contiguous in row-major
    order: one index on each output axis before ``axis``, ``rows`` positions of ``axis``,
    and all positions of the axes after it. Small images take several samples per chunk;
    huge ones are cut on a later axis too, so that the workspace is bounded for any size.
    """

    samples: int
    axis: int
    rows: int


def _chunk_plan(n: int, out_sp: tuple[int, ...], per_position: int, itemsize: int,
                nbytes: int) -> _ChunkPlan:
    positions = max(1, nbytes // (per_position * itemsize))
    total = math.prod(out_sp)
    if total <= positions:
        return _ChunkPlan(min(n, positions // total), 0, out_sp[0])
    for axis in range(len(out_sp)):
        inner = math.prod(out_sp[axis + 1:])
        if inner <= positions:
            return _ChunkPlan(1, axis, min(out_sp[axis], positions // inner))
    raise AssertionError("unreachable: the last axis has inner size 1")  # pragma: no cover


class _Chunk(NamedTuple):
    n0: int                      # samples n0:n1
    n1: int
    outer: tuple[int, ...]       # the index on each axis before the chunked one
    r0: int                      # rows r0:r1 of the chunked axis
    r1: int
    start: int                   # flat output positions start:stop
    stop: int

    def out_slices(self, nd: int) -> tuple[slice, ...]:
        """The chunk's output positions as slices of the spatial axes."""
        return (tuple(slice(o, o + 1) for o in self.outer) + (slice(self.r0, self.r1),)
                + (slice(None),) * (nd - len(self.outer) - 1))

    def shape(self, out_sp: tuple[int, ...]) -> tuple[int, ...]:
        """The chunk's spatial shape, with ``out_sp`` the whole output's."""
        axis = len(self.outer)
        return (1,) * axis + (self.r1 - self.r0,) + out_sp[axis + 1:]


def _iter_chunks(n: int, out_sp: tuple[int, ...], plan: _ChunkPlan):
    inner = math.prod(out_sp[plan.axis + 1:])
    for n0 in range(0, n, plan.samples):
        n1 = min(n, n0 + plan.samples)
        for outer in itertools.product(*(range(o) for o in out_sp[:plan.axis])):
            base = _flat(outer, out_sp[:plan.axis]) * out_sp[plan.axis]
            for r0 in range(0, out_sp[plan.axis], plan.rows):
                r1 = min(out_sp[plan.axis], r0 + plan.rows)
                yield _Chunk(n0, n1, outer, r0, r1, (base + r0) * inner, (base + r1) * inner)


class Im2col(Algorithm):
    """Every geometry: a column matrix of input windows times the weight matrix.

    Forward, per chunk of ``n`` samples and ``l`` output positions (see :class:`_ChunkPlan`)::

        cols (n, G, Cg*K, l)  <- windows of the padded input   (one strided copy)
        out  (n, G, Og, l)     = w (G, Og, Cg*K) @ cols         (one batched GEMM, in place)

    Input gradient (col2im; also the transposed convolution)::

        cols (n, G, K*Cg, l)   = w^T (G, K*Cg, Og) @ g (n, G, Og, l)
        gx[window of tap k]   += cols[:, :, k]                  (one strided add per tap)

    Weight gradient::

        gw (G, Og, Cg*K)      += sum_n g (n, G, Og, l) @ cols^T (n, G, l, Cg*K)

    With padding, each chunk pads only the box of input its windows read, into a reused
    buffer; small problems gather their columns through a cached index (:class:`_Gathered`).
    """

    name = "im2col"
    dtypes = _BLAS_DTYPES

    def supports(self, p: ConvProblem) -> bool:
        return p.nd >= 1

    @staticmethod
    def _plan(p: ConvProblem) -> _ChunkPlan:
        d = _dims(p)
        nbytes = _CHUNK_BYTES * (_COL2IM_CHUNKS if p.kind == "grad_input" else 1)
        return _chunk_plan(d.n, d.out, d.c * d.taps, p.dtype.itemsize, nbytes)

    @staticmethod
    def _box(p: ConvProblem, plan: _ChunkPlan, rows: int) -> tuple[int, ...]:
        """Spatial size of the padded input box that a chunk with ``rows`` rows reads."""
        d = _dims(p)
        reach = [(k - 1) * dl + 1 for k, dl in zip(p.w_shape[2:], p.dilation, strict=True)]
        return (tuple(reach[:plan.axis])
                + ((rows - 1) * p.stride[plan.axis] + reach[plan.axis],)
                + d.padded[plan.axis + 1:])

    def workspace(self, p: ConvProblem) -> int:
        if _gathered(p):
            return _gather_workspace(p)
        d = _dims(p)
        plan = self._plan(p)
        cols = plan.samples * d.c * d.taps * plan.rows * math.prod(d.out[plan.axis + 1:])
        if p.kind == "grad_input":
            # the tap-major weight; NumPy's iteration buffers for the strided in-place adds
            extra = d.o * d.cg * d.taps + 3 * np.getbufsize()
        else:
            extra = (plan.samples * d.c * math.prod(self._box(p, plan, plan.rows))
                     if _is_padded(p.padding) else 0)
            if p.kind == "grad_weight":
                extra += (plan.samples + 1) * d.o * d.cg * d.taps  # per-sample products, sum
        return (cols + extra) * p.dtype.itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """(1, multiply-adds, bytes of columns and padded input written, NumPy calls,
        matrix products: one per sample, group and chunk, each run by BLAS separately)."""
        d = _dims(p)
        if _gathered(p):
            return (1.0, float(p.macs), float(_gather_workspace(p)), 3.0,
                    float(d.n * p.groups))
        plan = self._plan(p)
        per_sample = math.prod(d.out[:plan.axis]) * -(-d.out[plan.axis] // plan.rows)
        chunks = -(-d.n // plan.samples) * per_sample
        cols = d.n * d.c * d.taps * math.prod(d.out)               # written (and added back)
        padding = 0
        if _is_padded(p.padding) and p.kind != "grad_input":
            rows = [min(plan.rows, d.out[plan.axis] - r0)
                    for r0 in range(0, d.out[plan.axis], plan.rows)]
            padding = (d.n * d.c * math.prod(d.out[:plan.axis])
                       * sum(math.prod(self._box(p, plan, r)) for r in rows))
        calls = chunks * (2 + (d.taps if p.kind == "grad_input" else 0))
        products = d.n * p.groups * per_sample
        return (1.0, float(p.macs), float((cols + padding) * p.dtype.itemsize), float(calls),
                float(products))

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        small = _gather_plan(p, a.shape[2:] if p.kind == "grad_input" else None)
        if small is not None:
            return small.run(a, b)
        if p.kind == "forward":
            return self._forward(p, a, b)
        if p.kind == "grad_input":
            return self._grad_input(p, a, b)
        return self._grad_weight(p, a, b)

    def _column_chunks(self, p: ConvProblem, x: np.ndarray):
        """Yield ``(chunk, cols)``: the columns (n, C, *k, *chunk shape) of every chunk,
        written into one reused buffer (a chunk's columns are overwritten by the next's)."""
        d = _dims(p)
        kernel = p.w_shape[2:]
        plan = self._plan(p)
        flat = np.empty(plan.samples * d.c * d.taps * plan.rows
                        * math.prod(d.out[plan.axis + 1:]), dtype=p.dtype)
        padded = _is_padded(p.padding)
        if padded:
            # the zero borders of the axes after the chunked one are written once here and
            # never overwritten; on the others each chunk zeroes what lies in the padding
            box = np.zeros((plan.samples, d.c) + self._box(p, plan, plan.rows), dtype=p.dtype)
            later = tuple(slice(lo, lo + n) for n, (lo, _) in
                          zip(d.sp[plan.axis + 1:], p.padding[plan.axis + 1:], strict=True))
        for chunk in _iter_chunks(d.n, d.out, plan):
            shape = chunk.shape(d.out)
            if padded:
                src = self._fill_box(p, plan, box, x, chunk, later)
                view = _windows(src, kernel, shape, p.stride, p.dilation)
            else:
                view = _windows(x[chunk.n0:chunk.n1], kernel, d.out, p.stride, p.dilation)
                view = view[(slice(None),) * (2 + p.nd) + chunk.out_slices(p.nd)]
            cols = _buffer(flat, view.shape)
            np.copyto(cols, view)
            yield chunk, cols

    def _fill_box(self, p: ConvProblem, plan: _ChunkPlan, box: np.ndarray, x: np.ndarray,
                  chunk: _Chunk, later: tuple[slice, ...]) -> np.ndarray:
        """The padded input box that ``chunk`` reads, (n, C, *box), in ``box``'s memory."""
        height = self._box(p, plan, chunk.r1 - chunk.r0)
        src = box[(slice(0, chunk.n1 - chunk.n0), slice(None))
                  + tuple(slice(0, h) for h in height[:plan.axis + 1])]
        dst_sl, x_sl = [], []
        firsts = [o * s for o, s in zip(chunk.outer, p.stride, strict=False)]
        firsts.append(chunk.r0 * p.stride[plan.axis])
        for i, first in enumerate(firsts):
            lo, size, h = p.padding[i][0], p.x_shape[2 + i], height[i]
            top = min(max(0, lo - first), h)                  # box rows above the input
            start = max(0, first - lo)
            count = max(0, min(size, first + h - lo) - start)
            lead = (slice(None),) * (2 + i)
            src[lead + (slice(0, top),)] = 0
            src[lead + (slice(top + count, None),)] = 0
            dst_sl.append(slice(top, top + count))
            x_sl.append(slice(start, start + count))
        src[(slice(None), slice(None)) + tuple(dst_sl) + later] = \
            x[(slice(chunk.n0, chunk.n1), slice(None)) + tuple(x_sl)]
        return src

    def _forward(self, p: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        d = _dims(p)
        groups = p.groups
        out = np.empty(p.result_shape, dtype=p.dtype)
        out_v = out.reshape(d.n, groups, d.og, math.prod(d.out))  # (N, G, Og, L)
        wm = w.reshape(groups, d.og, d.cg * d.taps)                # (G, Og, Cg*K)
        for c, cols in self._column_chunks(p, x):
            cols = cols.reshape(c.n1 - c.n0, groups, d.cg * d.taps, c.stop - c.start)
            np.matmul(wm, cols, out=out_v[c.n0:c.n1, :, :, c.start:c.stop])
        return out

    def _grad_weight(self, p: ConvProblem, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        d = _dims(p)
        groups = p.groups
        if g.shape[2:] != d.out:  # shorter than the windows (transposed conv's output_padding)
            g = _embed(g, p.out_shape, (0,) * p.nd)
        g_v = np.ascontiguousarray(g).reshape(d.n, groups, d.og, math.prod(d.out))
        gw = np.zeros((groups, d.og, d.cg * d.taps), dtype=p.dtype)
        part = np.empty((self._plan(p).samples, groups, d.og, d.cg * d.taps), dtype=p.dtype)
        for c, cols in self._column_chunks(p, x):
            m = c.n1 - c.n0
            cols = cols.reshape(m, groups, d.cg * d.taps, c.stop - c.start)  # (n, G, CgK, l)
            # (n, G, Og, l) @ (n, G, l, CgK) -> (n, G, Og, CgK)
            np.matmul(g_v[c.n0:c.n1, :, :, c.start:c.stop], cols.transpose(0, 1, 3, 2),
                      out=part[:m])
            gw += part[0] if m == 1 else part[:m].sum(axis=0)
        return gw.reshape(p.result_shape)

    def _grad_input(self, p: ConvProblem, g: np.ndarray, w: np.ndarray) -> np.ndarray:
        d = _dims(p)
        groups = p.groups
        kernel = p.w_shape[2:]
        g_sp = g.shape[2:]  # may be shorter than d.out (transposed conv's output_padding)
        # (O, Cg, *k) -> (G, Og, Cg, K) -> (G, K, Cg, Og) -> (G, K*Cg, Og): tap-major rows make
        # each tap's part of the product one (Cg, l) block
        wt = np.ascontiguousarray(w.reshape(groups, d.og, d.cg, d.taps).transpose(0, 3, 2, 1))
        wt = wt.reshape(groups, d.taps * d.cg, d.og)
        g_v = np.ascontiguousarray(g).reshape(d.n, groups, d.og, math.prod(g_sp))
        gx = np.zeros(p.result_shape, dtype=p.dtype)
        gx_v = gx.reshape((d.n, groups, d.cg) + d.sp)              # (N, G, Cg, *sp)
        taps = list(itertools.product(*(range(k) for k in kernel)))
        plan = self._plan(p)
        axis = plan.axis

        def reach(i: int, t: int, first: int = 0, stop: int | None = None):
            """Positions of ``g`` (from ``first``) on axis ``i`` whose tap ``t`` lands in the
            input, and the input positions it lands on."""
            return _tap_range(d.sp[i], g_sp[i] if stop is None else stop, t, p.stride[i],
                              p.dilation[i], p.padding[i][0], first)

        later = [[reach(i, t) for t in range(kernel[i])] for i in range(axis + 1, p.nd)]
        flat = np.empty(plan.samples * d.c * d.taps * plan.rows * math.prod(g_sp[axis + 1:]),
                        dtype=p.dtype)
        for c in _iter_chunks(d.n, g_sp, plan):
            m = c.n1 - c.n0
            cols = _buffer(flat, (m, groups, d.taps * d.cg, c.stop - c.start))
            np.matmul(wt, g_v[c.n0:c.n1, :, :, c.start:c.stop], out=cols)
            cols = cols.reshape((m, groups, d.taps, d.cg) + c.shape(g_sp))
            firsts = tuple(c.outer) + (c.r0,)
            stops = tuple(o + 1 for o in c.outer) + (c.r1,)
            near = [[reach(i, t, firsts[i], stops[i]) for t in range(kernel[i])]
                    for i in range(axis + 1)]
            for index, tap in enumerate(taps):
                ranges = [near[i][tap[i]] for i in range(axis + 1)] + [
                    later[i - axis - 1][tap[i]] for i in range(axis + 1, p.nd)]
                if None in ranges:
                    continue  # in this chunk the tap reads only padding
                # chunk-relative positions on the cut axes; whole axes after them
                g_sl = tuple(slice(r[0].start - f, r[0].stop - f) for r, f in
                             zip(ranges[:axis + 1], firsts, strict=True)) + tuple(
                                 r[0] for r in ranges[axis + 1:])
                x_sl = (slice(c.n0, c.n1), slice(None), slice(None)) + tuple(
                    r[1] for r in ranges)
                gx_v[x_sl] += cols[(slice(None), slice(None), index, slice(None)) + g_sl]
        return gx


# ------------------------------------------------------------------ im2col, small problems
def _gather_size(p: ConvProblem) -> int:
    """Elements of the gathered column matrix: (N, C, K, L) of the input's windows, or for
    the input gradient (N, O, K, sp) of the output gradient's."""
    d = _dims(p)
    if p.kind == "grad_input":
        return d.n * d.o * d.taps * math.prod(d.sp)
    return d.n * d.c * d.taps * math.prod(d.out)


def _gathered(p: ConvProblem) -> bool:
    return _gather_size(p) <= _GATHER_ELEMENTS


def _gather_workspace(p: ConvProblem) -> int:
    d = _dims(p)
    source = d.n * (d.o * math.prod(d.out) if p.kind == "grad_input" else
                    d.c * math.prod(d.sp))
    partials = d.n * d.o * d.cg * d.taps if p.kind == "grad_weight" else 0
    weights = d.o * d.cg * d.taps if p.kind == "grad_input" else 0
    # the source with one zero appended (the target of every index into the padding)
    return (_gather_size(p) + source + 1 + partials + weights) * p.dtype.itemsize


class _Gathered:
    """im2col of one small problem: a cached index gathers the whole column matrix in one
    call, and one matrix product batched over samples and groups uses it.

    forward / grad_weight gather (N, G, Cg*K, L) from x (N, C, *sp)::

        cols[n, c, k, q] = x[n, c, q*stride + k*dilation - lo]
        out = w (G, Og, Cg*K) @ cols          gw = sum_n g (n, G, Og, L) @ cols^T

    grad_input gathers (N, G, Og*K, sp) from g (N, O, *g_sp), the transposed correlation::

        cols[n, o, k, i] = g[n, o, (i + lo - k*dilation) / stride]   where that divides
        gx = w^T (G, Cg, Og*K) @ cols

    Indices into the padding (or between strided outputs) point one past the source, at a
    zero appended to it.
    """

    __slots__ = ("kind", "index", "padded", "w_shape", "g_shape", "result_shape", "dims",
                 "g_full")

    def __init__(self, p: ConvProblem, g_sp: tuple[int, ...]):
        d = _dims(p)
        nd = p.nd
        kernel = p.w_shape[2:]
        if p.kind == "grad_input":
            channels, source, inner = d.o, g_sp, d.sp
        else:
            channels, source, inner = d.c, d.sp, d.out
        # index arrays broadcast over (N, channels, *k, *inner)
        flat = np.arange(d.n * channels).reshape((d.n, channels) + (1,) * (2 * nd))
        valid = np.ones((1,) * (2 + 2 * nd), dtype=bool)
        for i in range(nd):
            tap = np.arange(kernel[i]).reshape(
                (1, 1) + (1,) * i + (kernel[i],) + (1,) * (2 * nd - i - 1))
            pos = np.arange(inner[i]).reshape(
                (1, 1) + (1,) * (nd + i) + (inner[i],) + (1,) * (nd - i - 1))
            lo = p.padding[i][0]
            if p.kind == "grad_input":
                moved = pos + lo - tap * p.dilation[i]
                coord = moved // p.stride[i]
                valid = valid & (moved % p.stride[i] == 0) & (coord >= 0) & (coord < source[i])
            else:
                coord = pos * p.stride[i] + tap * p.dilation[i] - lo
                valid = valid & (coord >= 0) & (coord < source[i])
            flat = flat * source[i] + coord
        index = np.where(valid, flat, d.n * channels * math.prod(source))
        # (N, Ch, *k, *inner) -> (N, G, Ch/G*K, L)
        # left writeable: ndarray.take copies a read-only index array on every call
        self.index = index.reshape(d.n, p.groups, channels // p.groups * d.taps,
                                   math.prod(inner))
        self.padded = not bool(valid.all())
        self.kind = p.kind
        self.dims = d
        self.result_shape = p.result_shape
        self.w_shape = (p.groups, d.og, d.cg * d.taps)
        self.g_shape = (d.n, p.groups, d.og, math.prod(d.out))
        self.g_full = p.out_shape  # a given output gradient may be shorter (output_padding)

    def run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        flat = a.reshape(-1)
        if self.padded:
            flat = np.concatenate((flat, np.zeros(1, dtype=a.dtype)))
        cols = flat.take(self.index)
        if self.kind == "forward":
            return np.matmul(b.reshape(self.w_shape), cols).reshape(self.result_shape)
        d = self.dims
        groups = self.w_shape[0]
        if self.kind == "grad_input":
            # (O, Cg, *k) -> (G, Og, Cg, K) -> (G, Cg, Og, K) -> (G, Cg, Og*K)
            wt = b.reshape(groups, d.og, d.cg, d.taps).transpose(0, 2, 1, 3).reshape(
                groups, d.cg, d.og * d.taps)
            return np.matmul(wt, cols).reshape(self.result_shape)   # (N, G, Cg, sp)
        if b.shape != self.g_full:
            b = _embed(b, self.g_full, (0,) * (b.ndim - 2))
        gw = np.matmul(b.reshape(self.g_shape), cols.transpose(0, 1, 3, 2))  # (N, G, Og, CgK)
        return (gw[0] if d.n == 1 else gw.sum(axis=0)).reshape(self.result_shape)


@lru_cache(maxsize=_GATHER_CACHE)
def _gather_plan(p: ConvProblem, g_sp: tuple[int, ...] | None) -> _Gathered | None:
    """The small-problem plan of ``p`` (``g_sp``: the given output gradient's spatial size,
    for the input gradient), or ``None`` when the problem is too large to gather."""
    if not _gathered(p):
        return None
    return _Gathered(p, g_sp if g_sp is not None else p.out_shape[2:])


# ------------------------------------------------------------------ BLAS through ctypes
# 'shifted' accumulates GEMMs in place (beta = 1) on views with arbitrary leading dimensions,
# which neither numpy.matmul nor SciPy's f2py wrappers (they copy such views) can express, so
# it calls ?gemm itself. It prefers the OpenBLAS that NumPy's wheels bundle (the one
# numpy.matmul uses; measured 1.2-1.4x faster on these shapes than the older build in SciPy's
# wheels), through its 64-bit-integer CBLAS interface, and otherwise the Fortran ?gemm that
# SciPy exports for Cython (scipy.linalg.cython_blas), present in every SciPy.
_INT32_MAX = 2**31 - 1
_CBLAS_COL_MAJOR, _CBLAS_NO_TRANS, _CBLAS_TRANS = 102, 111, 112


def _numpy_openblas() -> ctypes.CDLL | None:
    """NumPy's bundled OpenBLAS (already loaded by NumPy; opening it again shares it)."""
    package = Path(np.__file__).parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):  # Linux/Windows, macOS
        for path in sorted(folder.glob("libscipy_openblas64_*")):
            try:
                return ctypes.CDLL(str(path))
            except OSError:  # pragma: no cover - a file we cannot load
                continue
    return None


@cache
def _gemm_function(dtype: np.dtype) -> tuple[Callable[..., None], bool]:
    """(``?gemm`` for ``dtype``, whether it is the 64-bit CBLAS one)."""
    letter = {"f": "s", "d": "d", "F": "c", "D": "z"}[np.dtype(dtype).char]
    lib = _numpy_openblas()
    fn = getattr(lib, f"scipy_cblas_{letter}gemm64_", None) if lib is not None else None
    if fn is not None:
        integer, pointer = ctypes.c_int64, ctypes.c_void_p
        scalar = {"s": ctypes.c_float, "d": ctypes.c_double}.get(letter, pointer)
        fn.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [scalar, pointer, integer, pointer,
                                                            integer, scalar, pointer, integer]
        fn.restype = None
        return fn, True
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[f"{letter}gemm"]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(address), False


def _blas_available() -> bool:
    try:
        _gemm_function(np.dtype(np.float64))
    except (ImportError, AttributeError, KeyError, ValueError, OSError):  # pragma: no cover
        return False
    return True


def _blas_int_max() -> int:
    return 2**63 - 1 if _gemm_function(np.dtype(np.float64))[1] else _INT32_MAX


class _Gemm:
    """``C = op(A) @ op(B) + beta*C`` of one fixed shape, in BLAS's column-major terms.

    ``C`` is ``m x n`` with leading dimension ``ldc``, ``op(A)`` is ``m x k`` and ``op(B)``
    ``k x n``; a row-major ``(r, s)`` block with row stride ``ld`` is a column-major
    ``s x r`` matrix with the same leading dimension. Calls take element offsets into the
    three arrays, which must stay alive and unmoved while this object is used.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, trans_a: bool,
                 trans_b: bool, m: int, n: int, k: int, lda: int, ldb: int, ldc: int):
        self._fn, cblas = _gemm_function(c.dtype)
        self._size = c.dtype.itemsize
        self._base = (a.ctypes.data, b.ctypes.data, c.ctypes.data)
        self._lds = (lda, ldb, ldc)
        # alpha = 1, beta = 0 or 1; kept alive here for the calls taking their addresses
        self._scalars = np.array([1, 0, 1], dtype=c.dtype)
        s = self._scalars.ctypes.data
        if cblas:
            trans = (_CBLAS_TRANS if trans_a else _CBLAS_NO_TRANS,
                     _CBLAS_TRANS if trans_b else _CBLAS_NO_TRANS)
            if c.dtype.kind == "c":
                alpha, betas = s, (s + self._size, s + 2 * self._size)
            else:
                alpha, betas = 1.0, (0.0, 1.0)
            self._head = (_CBLAS_COL_MAJOR, *trans, m, n, k, alpha)
            self._betas = betas
            self._lds = (lda, ldb, ldc)
        else:
            # Fortran: every argument by address
            self._ints = np.array([m, n, k, lda, ldb, ldc], dtype=np.int32)
            i, step = self._ints.ctypes.data, self._ints.itemsize
            flags = {False: ctypes.c_char_p(b"N"), True: ctypes.c_char_p(b"T")}
            self._head = (flags[trans_a], flags[trans_b], i, i + step, i + 2 * step, s)
            self._betas = (s + self._size, s + 2 * self._size)
            self._lds = (i + 3 * step, i + 4 * step, i + 5 * step)

    def __call__(self, a: int, b: int, c: int, accumulate: bool) -> None:
        base_a, base_b, base_c = self._base
        lda, ldb, ldc = self._lds
        size = self._size
        self._fn(*self._head, base_a + a * size, lda, base_b + b * size, ldb,
                 self._betas[accumulate], base_c + c * size, ldc)


# ------------------------------------------------------------------ shifted
Tap = tuple[int, int, int]  # (source, flat shift, weight tap)


class _InputPhases(NamedTuple):
    """The polyphase form of a strided correlation's input side (forward, grad_weight).

    Tap ``k`` reads ``xpad[o*stride + k*dilation]``; with ``k*dilation = a*stride + b`` that
    is ``phase_b[o + a]``, where ``phase_b[j] = xpad[j*stride + b]``: a stride-1 correlation
    of each phase. For stride 1 the only phase is the padded input.
    """

    grid: tuple[int, ...]                 # spatial size of every phase
    residues: tuple[tuple[int, ...], ...]  # the phases ``b`` some tap reads, one per source
    taps: tuple[Tap, ...]                 # every kernel tap, grouped by source


@lru_cache(maxsize=256)
def _input_phases(p: ConvProblem) -> _InputPhases:
    d = _dims(p)
    grid = tuple(-(-n // s) for n, s in zip(d.padded, p.stride, strict=True))
    sources: dict[tuple[int, ...], int] = {}
    taps = []
    for t, k in enumerate(itertools.product(*(range(n) for n in p.w_shape[2:]))):
        offsets = [ki * dl for ki, dl in zip(k, p.dilation, strict=True)]
        a = tuple(o // s for o, s in zip(offsets, p.stride, strict=True))
        b = tuple(o % s for o, s in zip(offsets, p.stride, strict=True))
        taps.append((sources.setdefault(b, len(sources)), _flat(a, grid), t))
    return _InputPhases(grid, tuple(sources), tuple(sorted(taps)))


def _split_phases(x: np.ndarray, p: ConvProblem, phases: _InputPhases) -> np.ndarray:
    """The phases of the zero-padded ``x`` (N, C, *sp) -> (S, N, C, *grid), C-contiguous."""
    if (all(s == 1 for s in p.stride) and not _is_padded(p.padding)
            and x.flags.c_contiguous):
        return x[None]  # stride 1 without padding: the only phase is the input itself
    out = np.zeros((len(phases.residues),) + x.shape[:2] + phases.grid, dtype=x.dtype)
    for source, residue in enumerate(phases.residues):
        ranges = [_tap_range(n, g, b, s, 1, lo) for n, g, b, s, (lo, _) in
                  zip(x.shape[2:], phases.grid, residue, p.stride, p.padding, strict=True)]
        if None not in ranges:  # otherwise this phase lies wholly in the padding
            out[(source, slice(None), slice(None)) + tuple(r[0] for r in ranges)] = \
                x[(slice(None), slice(None)) + tuple(r[1] for r in ranges)]
    return out


class _OutputPhase(NamedTuple):
    out_sp: tuple[int, ...]               # input-gradient positions of this phase, per axis
    target: tuple[slice, ...]             # where they sit in the input gradient
    taps: tuple[Tap, ...]


class _OutputPhases(NamedTuple):
    """The polyphase form of the input gradient (the transposed convolution).

    ``gx[i] = sum_k w[k] g[(i + lo - k*dilation) / stride]`` over the taps for which that
    divides. With ``i + lo = j*stride + r`` and ``k*dilation = a*stride + b`` the taps with
    ``b = r`` give phase ``r``: ``gx_r[j] = sum_k w[k] g[j - a]``, a stride-1 correlation
    of the output gradient (moved right by ``max(a)``) with that phase's taps.
    """

    source: tuple[int, ...]               # spatial size of the moved output gradient
    offset: tuple[int, ...]               # where the output gradient sits in it
    phases: tuple[_OutputPhase, ...]      # phases with at least one tap and one position
    complete: bool                        # whether they cover every input position


@lru_cache(maxsize=256)
def _output_phases(p: ConvProblem) -> _OutputPhases:
    kernel = p.w_shape[2:]
    # per axis and residue r: the first input position i with i + lo = r (mod stride), how
    # many there are, and the phase index j of the first; then the largest tap advance a
    # and the smallest first j, which fix how far the output gradient moves right
    residues, a_max, base = [], [], []
    for n, k, s, dl, (lo, _) in zip(p.x_shape[2:], kernel, p.stride, p.dilation, p.padding,
                                     strict=True):
        axis = []
        for r in range(s):
            first = (r - lo) % s
            axis.append((first, len(range(first, n, s)), (first + lo) // s))
        residues.append(axis)
        a_max.append((k - 1) * dl // s)
        base.append(min(j for _, count, j in axis if count))
    source = tuple(max(count + j for _, count, j in axis if count) + top - low
                   for axis, top, low in zip(residues, a_max, base, strict=True))
    offset = tuple(top - low for top, low in zip(a_max, base, strict=True))
    taps_of: dict[tuple[int, ...], list[tuple[tuple[int, ...], int]]] = {}
    for t, k in enumerate(itertools.product(*(range(n) for n in kernel))):
        offsets = [ki * dl for ki, dl in zip(k, p.dilation, strict=True)]
        residue = tuple(o % s for o, s in zip(offsets, p.stride, strict=True))
        advance = tuple(o // s for o, s in zip(offsets, p.stride, strict=True))
        taps_of.setdefault(residue, []).append((advance, t))
    phases, covered = [], 0
    for residue in itertools.product(*(range(s) for s in p.stride)):
        axes = [axis[r] for axis, r in zip(residues, residue, strict=True)]
        out_sp = tuple(count for _, count, _ in axes)
        if 0 in out_sp or residue not in taps_of:
            continue  # no input position in this phase, or no tap reaches it (stays zero)
        # gx_r[j'] reads the moved gradient at j' + j_first + offset - a
        taps = tuple((0, _flat(tuple(j + shift - a for (_, _, j), shift, a in
                                     zip(axes, offset, advance, strict=True)), source), t)
                     for advance, t in taps_of[residue])
        target = tuple(slice(first, None, s) for (first, _, _), s in
                       zip(axes, p.stride, strict=True))
        phases.append(_OutputPhase(out_sp, target, taps))
        covered += math.prod(out_sp)
    return _OutputPhases(source, offset, tuple(phases), covered == math.prod(p.x_shape[2:]))


# GEMM dimensions from which BLAS's register blocking runs at full width (AVX2/AVX-512
# sgemm kernels are 8-16 columns wide)
_WIDE = 16


def _block(rows: int, per_row: int, itemsize: int) -> int:
    """GEMM rows per call so that the block accumulated over the taps stays in cache."""
    return min(rows, max(1, _CHUNK_BYTES // (per_row * itemsize)))


def _accumulate(src: np.ndarray, wt: np.ndarray, taps: tuple[Tap, ...], groups: int,
                out_sp: tuple[int, ...]) -> np.ndarray:
    """Stride-1 correlation, one GEMM per tap accumulated in place (beta = 1).

    ``src`` (S, N, Ci, *grid) C-contiguous sources, ``wt`` (T, Co, Ci/G) tap-major weights;
    for every output ``q`` of ``out_sp`` laid out on ``grid``::

        out[n, g*Co/G + o, q] = sum_{(s, shift, t) in taps} sum_c
                                    wt[t, g*Co/G + o, c] * src[s, n, g*Ci/G + c, q + shift]

    Returns (N, Co, out_sp[0], *grid[1:]); positions past ``out_sp`` in the later axes are
    the wrapped rows, left for the caller to crop.
    """
    _, n, ci = src.shape[:3]
    grid = src.shape[3:]
    co, ci_g = wt.shape[1:]
    co_g = co // groups
    size = math.prod(grid)
    rows = out_sp[0] * math.prod(grid[1:])
    out = np.empty((n, co, rows), dtype=src.dtype)
    span = _span(out_sp, grid)
    block = _block(span, co_g, src.dtype.itemsize)
    calls = {}
    for q0 in range(0, span, block):
        m = min(block, span - q0)
        if m not in calls:
            # column-major: C (m x Co/G, ld rows) += X (m x Ci/G, ld size) @ W^T (Ci/G x Co/G)
            calls[m] = _Gemm(src, wt, out, False, False, m, co_g, ci_g, size, ci_g, rows)
    for s in range(n):
        for g in range(groups):
            for q0 in range(0, span, block):
                gemm = calls[min(block, span - q0)]
                for i, (source, shift, t) in enumerate(taps):
                    gemm(((source * n + s) * ci + g * ci_g) * size + q0 + shift,
                         (t * co + g * co_g) * ci_g, (s * co + g * co_g) * rows + q0, i > 0)
    return out.reshape((n, co, out_sp[0]) + grid[1:])


def _crop(a: np.ndarray, out_sp: tuple[int, ...]) -> np.ndarray:
    """The view of a grid-laid-out (N, C, *grid) result without its wrapped positions."""
    if a.shape[2:] == out_sp:
        return a
    return a[(slice(None), slice(None)) + tuple(slice(0, n) for n in out_sp)]


class Shifted(Algorithm):
    """Implicit GEMM: one GEMM per kernel tap on a shifted view of the padded input, summed
    in place by BLAS (beta = 1); no column matrix.

    Any stride, padding, dilation and groups: a stride ``s`` splits the input into ``s**nd``
    phases (one copy of the input, like padding), each read at stride 1 (see
    :class:`_InputPhases`); the input gradient computes each phase of the result as a
    stride-1 correlation of the output gradient and interleaves them (see
    :class:`_OutputPhases`). Each GEMM contracts over ``C/G`` channels only, so few channels
    per group make it inefficient (im2col then contracts over ``C/G * K``).
    """

    name = "shifted"
    dtypes = _BLAS_DTYPES

    def supports(self, p: ConvProblem) -> bool:
        if p.nd < 1 or not _blas_available():
            return False
        d = _dims(p)
        # leading dimensions and offsets within one sample must fit BLAS's integers
        largest = max(d.c * math.prod(d.padded), d.o * math.prod(d.out),
                      d.o * math.prod(self._source(p)) if p.kind == "grad_input" else 0)
        return 2 * largest <= _blas_int_max()

    @staticmethod
    def _source(p: ConvProblem) -> tuple[int, ...]:
        return _output_phases(p).source

    def _work(self, p: ConvProblem) -> tuple[int, int, int, int, int]:
        """(GEMM multiply-adds including wrapped positions, elements of the accumulated
        blocks summed over calls, GEMM calls, elements copied into sources, grid outputs)."""
        d = _dims(p)
        per_g = d.og * d.cg * d.n * p.groups
        if p.kind == "grad_input":
            ph = _output_phases(p)
            spans = [(_span(f.out_sp, ph.source), len(f.taps)) for f in ph.phases]
            grid_out = d.n * d.c * sum(f.out_sp[0] * math.prod(ph.source[1:])
                                       for f in ph.phases)
            copied = d.n * d.o * math.prod(ph.source)
            out_g = d.cg
        else:
            ph = _input_phases(p)
            spans = [(_span(d.out, ph.grid), len(ph.taps))]
            grid_out = d.n * d.o * d.out[0] * math.prod(ph.grid[1:])
            copied = d.n * d.c * math.prod(ph.grid) * len(ph.residues)
            out_g = d.og if p.kind == "forward" else d.og + d.cg
        macs = sum(span * taps for span, taps in spans) * per_g
        traffic = sum(span * taps for span, taps in spans) * d.n * p.groups * out_g
        calls = sum(-(-span // _block(span, out_g, p.dtype.itemsize)) * taps
                    for span, taps in spans) * d.n * p.groups
        return macs, traffic, calls, copied, grid_out

    def workspace(self, p: ConvProblem) -> int:
        d = _dims(p)
        _, _, _, copied, grid_out = self._work(p)
        weights = 2 * d.o * d.cg * d.taps                  # tap-major copy (+ transposed back)
        if p.kind == "grad_input":
            ph = _output_phases(p)
            grid_out = max(d.n * d.c * f.out_sp[0] * math.prod(ph.source[1:])
                           for f in ph.phases) if ph.phases else 0  # one phase at a time
        return (copied + grid_out + weights) * p.dtype.itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """(1, multiply-adds, bytes copied, bytes accumulated, GEMM calls, multiply-adds
        weighted by how narrow each GEMM is: BLAS runs a product with few output columns or
        a short contraction far below its peak -- the input gradient of a stem with 3 input
        channels is such a product -- while the other features would price it as wide)."""
        macs, traffic, calls, copied, grid_out = self._work(p)
        size = p.dtype.itemsize
        d = _dims(p)
        columns, depth = {"forward": (d.og, d.cg), "grad_input": (d.cg, d.og),
                          "grad_weight": (d.og, d.cg)}[p.kind]
        narrow = macs * (_WIDE / max(min(columns, depth, _WIDE), 1) - 1)  # 0 channels: 0 macs
        return (1.0, float(macs), float((copied + grid_out) * size), float(traffic * size),
                float(calls), float(narrow))

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = _dims(p)
        if p.kind == "grad_input":
            return self._grad_input(p, a, b)
        phases = _input_phases(p)
        src = _split_phases(a, p, phases)                         # (S, N, C, *grid)
        if p.kind == "grad_weight":
            return self._grad_weight(p, src, phases, b)
        wt = np.ascontiguousarray(b.reshape(d.o, d.cg, d.taps).transpose(2, 0, 1))  # (K, O, Cg)
        out = _accumulate(src, wt, phases.taps, p.groups, d.out)
        return np.ascontiguousarray(_crop(out, d.out))

    def _grad_input(self, p: ConvProblem, g: np.ndarray, w: np.ndarray) -> np.ndarray:
        d = _dims(p)
        ph = _output_phases(p)
        gx = (np.empty if ph.complete else np.zeros)(p.result_shape, dtype=p.dtype)
        if not ph.phases:
            return gx
        src = _embed(g, (d.n, d.o) + ph.source, ph.offset)[None]  # (1, N, O, *source)
        # (O, Cg, *k) -> (G, Og, Cg, K) -> (K, G, Cg, Og) -> (K, C, Og)
        wt = np.ascontiguousarray(w.reshape(p.groups, d.og, d.cg, d.taps).transpose(3, 0, 2, 1))
        wt = wt.reshape(d.taps, d.c, d.og)
        for phase in ph.phases:
            out = _accumulate(src, wt, phase.taps, p.groups, phase.out_sp)
            gx[(slice(None), slice(None)) + phase.target] = _crop(out, phase.out_sp)
            del out  # one phase's grid at a time
        return gx

    def _grad_weight(self, p: ConvProblem, src: np.ndarray, phases: _InputPhases,
                     g: np.ndarray) -> np.ndarray:
        """gw[o, c, k] = sum_{n, q} g[n, o, q] * phase_b[n, c, q + a] for tap k = (b, a): one
        GEMM per sample, block, group and tap, with the output gradient laid out on the
        phase grid (zeros at the wrapped positions, so that they add nothing)."""
        d = _dims(p)
        _, n, c = src.shape[:3]
        grid = phases.grid
        size = math.prod(grid)
        grid_shape = (d.n, d.o, d.out[0]) + grid[1:]
        gq = (np.ascontiguousarray(g) if g.shape == grid_shape else
              _embed(g, grid_shape, (0,) * p.nd))
        rows = math.prod(grid_shape[2:])
        span = _span(d.out, grid)
        gw = np.empty((d.taps, d.o, d.cg), dtype=p.dtype)         # tap-major
        block = _block(span, d.cg + d.og, p.dtype.itemsize)
        calls = {}
        for q0 in range(0, span, block):
            m = min(block, span - q0)
            if m not in calls:
                # column-major: gw[k]^T (Cg x Og, ld Cg) += X^T (Cg x m) @ G (m x Og)
                calls[m] = _Gemm(src, gq, gw, True, False, d.cg, d.og, m, size, rows, d.cg)
        first = True
        for s in range(n):
            for q0 in range(0, span, block):
                gemm = calls[min(block, span - q0)]
                for gi in range(p.groups):
                    g0 = (s * d.o + gi * d.og) * rows + q0
                    for source, shift, t in phases.taps:
                        gemm(((source * n + s) * c + gi * d.cg) * size + q0 + shift, g0,
                             (t * d.o + gi * d.og) * d.cg, not first)
                first = False
        # (K, O, Cg) -> (O, Cg, *k)
        return np.ascontiguousarray(gw.transpose(1, 2, 0)).reshape(p.result_shape)


register(Gemm1x1())
register(Im2col())
register(Shifted())
