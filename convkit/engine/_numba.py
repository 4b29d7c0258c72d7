"""Optional numba kernels for depthwise convolution and max pooling (``convkit[fast]``).

Nothing here imports numba until :func:`load` is called, which the engine does the first
time one of these kernels would run; ``import convkit`` never pays for numba, and without
numba (or with ``CONVKIT_NUMBA=0``) :func:`load` returns ``None`` and the engine uses its
NumPy kernels. :func:`load` JIT-wraps the plain functions below in place (each kernel is
compiled on its first call per dtype and cached on disk, ``cache=True``), so the kernels can
call the helpers by their module-level names.

Conventions of every kernel:

* three spatial axes; 1-d and 2-d problems arrive with leading spatial axes of size 1
  (kernel 1, stride 1, no padding), so one compiled kernel serves every rank;
* arrays are C-contiguous and read through flat (``reshape(-1)``) views with unsigned
  offsets: numba then skips its negative-index wraparound test, which otherwise keeps LLVM
  from vectorizing the inner loops;
* ``fastmath`` is off and every output is computed by one loop iteration of ``prange`` in
  a fixed order, so results are deterministic and independent of the thread count. Sums
  that must vectorize (the weight gradient) keep ``_LANES`` partial sums, added in a fixed
  order at the end, instead of letting the compiler reassociate.

The depthwise kernels copy each (batch, channel) plane into a zero-padded buffer, so no
tap needs bounds tests. With stride 1 on every axis the kernel taps are contiguous slices
of the flattened padded plane: ``acc[j] += w[k] * buf[j + offset(k)]`` over the whole plane
at once, with ``j`` running over full padded rows (the columns past the output width are
computed and dropped). Other strides walk output rows.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import types

import numpy as np

__all__ = ["enabled", "load"]

# Pure-Python stand-ins, replaced by numba's when load() wraps the kernels; with them the
# kernels below also run (slowly) as plain Python, which is how to debug them.
prange = range


def uint64(value):
    return value


_LANES = 64
_STATE: dict[str, types.ModuleType | None] = {}
_LOCK = threading.Lock()


def enabled() -> bool:
    """Whether numba is installed and not switched off with ``CONVKIT_NUMBA=0``."""
    return (os.environ.get("CONVKIT_NUMBA", "1") != "0"
            and importlib.util.find_spec("numba") is not None)


def load() -> types.ModuleType | None:
    """This module with its kernels JIT-wrapped, or ``None`` when numba is unusable."""
    if not enabled():
        return None
    with _LOCK:
        if "module" not in _STATE:
            try:
                _STATE["module"] = _wrap()
            except ImportError:  # installed but broken (e.g. built for another NumPy)
                _STATE["module"] = None
        return _STATE["module"]


# ----------------------------------------------------------------------------- helpers
def _fill(buf, src, base, lo, padded, shape):
    """Copy the plane ``src[base : base + prod(shape)]`` into the padded buffer at ``lo``."""
    s0, s1, s2 = shape[0], shape[1], shape[2]
    p1, p2 = padded[1], padded[2]
    for a in range(s0):
        for b in range(s1):
            dst = uint64(((a + lo[0]) * p1 + b + lo[1]) * p2 + lo[2])
            row = uint64(base + (a * s1 + b) * s2)
            for c in range(uint64(s2)):
                buf[dst + c] = src[row + c]


def _crop(dst, base, buf, lo, padded, shape):
    """The inverse of :func:`_fill`: copy the buffer's interior back to a plane."""
    s0, s1, s2 = shape[0], shape[1], shape[2]
    p1, p2 = padded[1], padded[2]
    for a in range(s0):
        for b in range(s1):
            src = uint64(((a + lo[0]) * p1 + b + lo[1]) * p2 + lo[2])
            row = uint64(base + (a * s1 + b) * s2)
            for c in range(uint64(s2)):
                dst[row + c] = buf[src + c]


# --------------------------------------------------------------------- depthwise conv
def depthwise_forward(x, w, out, stride, lo, dil, padded, offsets, jobs):
    """``out[n, c, m, o] = sum_k w[c, m, k] * xpad[n, c, o*stride + k*dil]``.

    x (N, C, *S), w (C, M, *K), out (N, C, M, *O); three spatial axes each; ``padded`` the
    padded input size, ``lo`` the leading padding, ``offsets`` each tap's flat offset in
    the padded plane (row-major over the kernel); ``jobs`` parallel chunks of planes.
    """
    nb, nc = x.shape[0], x.shape[1]
    shape = x.shape[2:]
    nm = w.shape[1]
    ks = w.shape[2:]
    o0, o1, o2 = out.shape[3], out.shape[4], out.shape[5]
    taps = ks[0] * ks[1] * ks[2]
    flat = stride[0] == 1 and stride[1] == 1 and stride[2] == 1
    span = o0 * padded[1] * padded[2]
    size = max(padded[0] * padded[1] * padded[2], span + offsets[taps - 1])
    plane_in = shape[0] * shape[1] * shape[2]
    plane_out = o0 * o1 * o2
    xf, wf, of = x.reshape(-1), w.reshape(-1), out.reshape(-1)
    for job in prange(jobs):
        buf = np.zeros(size, x.dtype)
        acc = np.empty(span if flat else 1, x.dtype)
        for plane in range(job, nb * nc, jobs):
            c = plane % nc
            _fill(buf, xf, plane * plane_in, lo, padded, shape)
            for m in range(nm):
                wb = (c * nm + m) * taps
                ob = (plane * nm + m) * plane_out
                if flat:
                    for k in range(taps):
                        wv = wf[wb + k]
                        off = uint64(offsets[k])
                        if k == 0:
                            for j in range(uint64(span)):
                                acc[j] = wv * buf[off + j]
                        else:
                            for j in range(uint64(span)):
                                acc[j] += wv * buf[off + j]
                    _crop_rows(of, ob, acc, o0, o1, o2, padded)
                else:
                    _strided_rows(of, ob, buf, wf, wb, stride, dil, ks, padded, o0, o1, o2)


def _crop_rows(of, ob, acc, o0, o1, o2, padded):
    """Keep the ``o1 x o2`` valid corner of each full padded row block of ``acc``."""
    for a in range(o0):
        for b in range(o1):
            src = uint64((a * padded[1] + b) * padded[2])
            dst = uint64(ob + (a * o1 + b) * o2)
            for c in range(uint64(o2)):
                of[dst + c] = acc[src + c]


def _strided_rows(of, ob, buf, wf, wb, stride, dil, ks, padded, o0, o1, o2):
    """Forward taps for any stride: one output row at a time."""
    step = uint64(stride[2])
    for a in range(o0):
        for b in range(o1):
            dst = uint64(ob + (a * o1 + b) * o2)
            for c in range(uint64(o2)):
                of[dst + c] = 0
            k = 0
            for ka in range(ks[0]):
                for kb in range(ks[1]):
                    row = ((a * stride[0] + ka * dil[0]) * padded[1] + b * stride[1]
                           + kb * dil[1]) * padded[2]
                    for kc in range(ks[2]):
                        wv = wf[wb + k]
                        k += 1
                        src = uint64(row + kc * dil[2])
                        for c in range(uint64(o2)):
                            of[dst + c] += wv * buf[src + c * step]


def depthwise_grad_input(g, w, gx, stride, lo, dil, padded, offsets, jobs):
    """``gx[n, c, i] = sum_{m, k, o: o*stride + k*dil = i + lo} w[c, m, k] g[n, c, m, o]``.

    g (N, C, M, *O), w (C, M, *K), gx (N, C, *S): the transposed depthwise convolution,
    scattered into a zero-padded plane whose interior is then copied out.
    """
    nb, nc = gx.shape[0], gx.shape[1]
    shape = gx.shape[2:]
    nm = w.shape[1]
    ks = w.shape[2:]
    o0, o1, o2 = g.shape[3], g.shape[4], g.shape[5]
    taps = ks[0] * ks[1] * ks[2]
    flat = stride[0] == 1 and stride[1] == 1 and stride[2] == 1
    span = o0 * padded[1] * padded[2]
    size = max(padded[0] * padded[1] * padded[2], span + offsets[taps - 1])
    plane_in = shape[0] * shape[1] * shape[2]
    plane_out = o0 * o1 * o2
    gf, wf, xf = g.reshape(-1), w.reshape(-1), gx.reshape(-1)
    step = uint64(stride[2])
    for job in prange(jobs):
        buf = np.empty(size, gx.dtype)
        # g laid out on full padded rows; the columns past the output width stay zero
        full = np.zeros(span if flat else 1, gx.dtype)
        for plane in range(job, nb * nc, jobs):
            c = plane % nc
            for i in range(uint64(size)):
                buf[i] = 0
            for m in range(nm):
                wb = (c * nm + m) * taps
                gb = (plane * nm + m) * plane_out
                if flat:
                    for a in range(o0):
                        for b in range(o1):
                            src = uint64(gb + (a * o1 + b) * o2)
                            dst = uint64((a * padded[1] + b) * padded[2])
                            for cc in range(uint64(o2)):
                                full[dst + cc] = gf[src + cc]
                    for k in range(taps):
                        wv = wf[wb + k]
                        off = uint64(offsets[k])
                        for j in range(uint64(span)):
                            buf[off + j] += wv * full[j]
                else:
                    for a in range(o0):
                        for b in range(o1):
                            src = uint64(gb + (a * o1 + b) * o2)
                            k = 0
                            for ka in range(ks[0]):
                                for kb in range(ks[1]):
                                    row = ((a * stride[0] + ka * dil[0]) * padded[1]
                                           + b * stride[1] + kb * dil[1]) * padded[2]
                                    for kc in range(ks[2]):
                                        wv = wf[wb + k]
                                        k += 1
                                        dst = uint64(row + kc * dil[2])
                                        for cc in range(uint64(o2)):
                                            buf[dst + cc * step] += wv * gf[src + cc]
            _crop(xf, plane * plane_in, buf, lo, padded, shape)


def depthwise_grad_weight(x, g, gw, stride, lo, dil, padded, offsets):
    """``gw[c, m, k] = sum_{n, o} g[n, c, m, o] * xpad[n, c, o*stride + k*dil]``.

    x (N, C, *S), g (N, C, M, *O), gw (C, M, *K); one channel per parallel job. Each tap
    accumulates ``_LANES`` partial sums (lane ``l`` takes every ``_LANES``-th product), an
    elementwise update that vectorizes; the lanes are added in a fixed order at the end.
    """
    nb, nc = x.shape[0], x.shape[1]
    shape = x.shape[2:]
    nm = gw.shape[1]
    ks = gw.shape[2:]
    o0, o1, o2 = g.shape[3], g.shape[4], g.shape[5]
    taps = ks[0] * ks[1] * ks[2]
    flat = stride[0] == 1 and stride[1] == 1 and stride[2] == 1
    span = o0 * padded[1] * padded[2]
    size = max(padded[0] * padded[1] * padded[2], span + offsets[taps - 1])
    plane_in = shape[0] * shape[1] * shape[2]
    plane_out = o0 * o1 * o2
    xf, gf, wf = x.reshape(-1), g.reshape(-1), gw.reshape(-1)
    step = uint64(stride[2])
    for c in prange(nc):
        buf = np.zeros(size, x.dtype)
        full = np.zeros(span if flat else 1, x.dtype)
        acc = np.zeros(nm * taps * _LANES, x.dtype)
        for n in range(nb):
            plane = n * nc + c
            _fill(buf, xf, plane * plane_in, lo, padded, shape)
            for m in range(nm):
                gb = (plane * nm + m) * plane_out
                if flat:
                    for a in range(o0):
                        for b in range(o1):
                            src = uint64(gb + (a * o1 + b) * o2)
                            dst = uint64((a * padded[1] + b) * padded[2])
                            for cc in range(uint64(o2)):
                                full[dst + cc] = gf[src + cc]
                    for j in range(0, span, _LANES):
                        count = uint64(min(_LANES, span - j))
                        for k in range(taps):
                            row = uint64((m * taps + k) * _LANES)
                            at = uint64(j + offsets[k])
                            for t in range(count):
                                acc[row + t] += full[uint64(j) + t] * buf[at + t]
                else:
                    for a in range(o0):
                        for b in range(o1):
                            src = gb + (a * o1 + b) * o2
                            k = 0
                            for ka in range(ks[0]):
                                for kb in range(ks[1]):
                                    base = ((a * stride[0] + ka * dil[0]) * padded[1]
                                            + b * stride[1] + kb * dil[1]) * padded[2]
                                    for kc in range(ks[2]):
                                        row = uint64((m * taps + k) * _LANES)
                                        at = base + kc * dil[2]
                                        for j in range(0, o2, _LANES):
                                            count = uint64(min(_LANES, o2 - j))
                                            gj = uint64(src + j)
                                            xj = uint64(at + j * stride[2])
                                            for t in range(count):
                                                acc[row + t] += gf[gj + t] * buf[xj + t * step]
                                        k += 1
        for i in range(nm * taps):
            total = acc[uint64(i * _LANES)]
            for t in range(1, _LANES):
                total += acc[uint64(i * _LANES + t)]
            wf[c * nm * taps + i] = total


# ----------------------------------------------------------------------- max pooling
def max_pool_argmax(x, out, tap, stride, lo, dil, ks, first, last, lowest):
    """Max over each window and the row-major kernel tap it came from, PyTorch's way.

    x (P, *S), out and tap (P, *O); ``first[i, o]``/``last[i, o]`` bound the taps of axis
    ``i`` that read inside the input at output ``o``. The scan keeps the first maximum
    (strict ``>``); a NaN always replaces, so the last NaN wins; a window of ``lowest``
    values reports its first element, as PyTorch's loop does.
    """
    planes = x.shape[0]
    s0, s1, s2 = x.shape[1], x.shape[2], x.shape[3]
    o0, o1, o2 = out.shape[1], out.shape[2], out.shape[3]
    xf, of, tf = x.reshape(-1), out.reshape(-1), tap.reshape(-1)
    for p in prange(planes):
        for a in range(o0):
            for b in range(o1):
                ob = ((p * o0 + a) * o1 + b) * o2
                for c in range(o2):
                    best = lowest
                    win = (first[0, a] * ks[1] + first[1, b]) * ks[2] + first[2, c]
                    for ka in range(first[0, a], last[0, a]):
                        ia = a * stride[0] - lo[0] + ka * dil[0]
                        for kb in range(first[1, b], last[1, b]):
                            ib = b * stride[1] - lo[1] + kb * dil[1]
                            row = ((p * s0 + ia) * s1 + ib) * s2 + c * stride[2] - lo[2]
                            for kc in range(first[2, c], last[2, c]):
                                v = xf[uint64(row + kc * dil[2])]
                                if v > best or v != v:
                                    best = v
                                    win = (ka * ks[1] + kb) * ks[2] + kc
                    of[ob + c] = best
                    tf[ob + c] = win


def max_pool_scatter(g, tap, gx, stride, lo, reach):
    """``gx[p, o*stride - lo + reach[:, tap[p, o]]] += g[p, o]``, one plane per job.

    ``reach[i, k]`` is how far along axis ``i`` tap ``k`` lies from its window's start
    (tap coordinate times dilation): a table look-up, not three integer divisions.
    """
    planes = gx.shape[0]
    s0, s1, s2 = gx.shape[1], gx.shape[2], gx.shape[3]
    o0, o1, o2 = g.shape[1], g.shape[2], g.shape[3]
    gf, tf, xf = g.reshape(-1), tap.reshape(-1), gx.reshape(-1)
    for p in prange(planes):
        for a in range(o0):
            for b in range(o1):
                ob = ((p * o0 + a) * o1 + b) * o2
                for c in range(o2):
                    k = np.int64(tf[ob + c])
                    ia = a * stride[0] - lo[0] + reach[0, k]
                    ib = b * stride[1] - lo[1] + reach[1, k]
                    ic = c * stride[2] - lo[2] + reach[2, k]
                    # a window with no input element reports a tap outside the input
                    # (PyTorch's index too); it has no gradient to give
                    if 0 <= ia < s0 and 0 <= ib < s1 and 0 <= ic < s2:
                        xf[uint64(((p * s0 + ia) * s1 + ib) * s2 + ic)] += gf[ob + c]


_HELPERS = ("_fill", "_crop", "_crop_rows", "_strided_rows")
_PARALLEL = ("depthwise_forward", "depthwise_grad_input", "depthwise_grad_weight",
             "max_pool_argmax", "max_pool_scatter")


def _wrap() -> types.ModuleType:
    import sys

    import numba

    module = sys.modules[__name__]
    space = vars(module)
    # the kernel bodies name these as globals of this module
    space.update(prange=numba.prange, uint64=numba.uint64)

    def jit(function, **options):
        options.update(fastmath=False, boundscheck=False, nogil=True)
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError:  # no writable cache directory: compile in every process
            return numba.njit(cache=False, **options)(function)

    for name in _HELPERS:
        space[name] = jit(space[name], inline="always")
    for name in _PARALLEL:
        space[name] = jit(space[name], parallel=True)
    return module
