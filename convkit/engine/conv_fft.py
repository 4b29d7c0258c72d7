"""The "fft" algorithm: multichannel N-d convolution through scipy.fft, with overlap-save tiles.

All three members of the primitive family are cross-correlations in PyTorch's sense (the
kernel is not flipped, nothing is conjugated)::

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xpad[n, g*Cg + c, p*stride + k*dilation]

and each is rewritten, per spatial axis, as the *valid* part of a true convolution ``A * B``
(``B`` reversed where the correlation needs it) followed by a subsampling:

    ===========  ===================  ========================  ============  ==========
    kind         A (data)             B                         outputs       then keep
    ===========  ===================  ========================  ============  ==========
    forward      x                    w dilated, reversed       (out-1)*s+1   every s-th
    grad_input   g spread by s        w dilated                 in            all
    grad_weight  x                    g spread by s, reversed   (k-1)*d+1     every d-th
    ===========  ===================  ========================  ============  ==========

(``A`` offset by the padding; "spread by s" puts ``s - 1`` zeros between samples: strided
problems are computed at stride 1 and subsampled, which the cost features account for.)
Each operand is transformed once per channel (``rfftn`` for real data, ``fftn`` for complex,
lengths from ``next_fast_len``), the channels are contracted per frequency -- a batched matrix
product with the frequency (and group) as batch axis, or an elementwise product when a group
has one input channel (depthwise) -- and the result is transformed back and cropped.

Transform lengths use the window rule of :mod:`convkit.engine.fft`: a circular convolution
of length ``L`` is exact on the outputs that are wanted as soon as the wrap-around misses them,
so a 'valid'-like window needs ``L >= len(A)`` and the zero padding of the input need not be
transformed at all (padding 15 on 56 samples with a 31-tap kernel: 72 points, not 90).

**Tiles.** Along an axis where the data is much longer than the short operand, the output is
cut into tiles of ``T`` samples (overlap-save: each tile reads ``T + k - 1`` inputs and
transforms them at a fast length ``L >= T + k - 1``); tiles are one more batch axis, so a
1025-tap kernel on 65536 samples costs 20 transforms of 4320 points per channel instead of
one of 67500, and the 256 kernels of a 16 -> 16 layer are transformed at 4320 points, not
67500. For the weight gradient the long operand is the output gradient: it is cut into
chunks whose partial correlations are summed in the frequency domain. The tile lengths
minimise an operation count (transforms ``~ L log L`` per signal, the channel contraction per
frequency, the bytes moved); see :func:`geometry`. Tiles (and samples) are then processed in
chunks sized to the workspace budget :func:`convkit.engine.conv.get_workspace_limit`, so a
2048 x 2048 image at batch 1 still runs in a few MiB when asked to.

**Accuracy.** The FFT's rounding error is relative to the *largest* values of the inputs
(SciPy issue 22390); :meth:`FFT.accurate` applies :func:`convkit.engine.plan.fft_accuracy`.
In float32 the transforms run in float32 when that is accurate enough, else in float64 (one
more pass, still far faster than a direct sum); inputs with non-finite values, or too wide a
dynamic range even for float64, are refused and the planner takes a direct algorithm.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft as sp_fft

from convkit.engine import conv as _conv
from convkit.engine import fft as _fft
from convkit.engine import plan as _plan
from convkit.engine.conv import Algorithm, ConvProblem, register

__all__ = ["FFT", "geometry", "Geometry", "AxisGeometry"]

#: flop-equivalents used only to choose tile lengths (not for the planner's prediction):
#: a complex transform of n points costs ~5 n log2 n real flops (radix-2 count), a complex
#: multiply-add 8, and every byte written by a gather or transposition about one flop.
_FLOPS_PER_POINT_LOG = 5.0
_FLOPS_PER_COMPLEX_MAC = 8.0
_FLOPS_PER_BYTE = 1.0
#: tile-length candidates, as multiples of the short operand's length
_TILE_FACTORS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
#: below this many multiply-adds per frequency, BLAS's per-call cost (one GEMM per frequency
#: and group) exceeds an elementwise multiply-add over all frequencies at once
_BLAS_MIN_MACS = 512
#: bytes of the buffers numpy's ufunc machinery may allocate for one broadcast operation
#: (three operands of ``np.getbufsize()`` complex128 elements)
_UFUNC_BUFFERS = 3 * np.getbufsize() * 16
#: below this many input samples in one transform call, starting threads costs more than they
#: save (measured: 2 workers win from ~150k samples, lose below ~100k)
_PARALLEL_MIN_SAMPLES = 1 << 17


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _workers(samples: int) -> int:
    """Threads for transforms of ``samples`` input values (all cores the process may use)."""
    return _cores() if samples >= _PARALLEL_MIN_SAMPLES else 1


# ------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class AxisGeometry:
    """How one spatial axis of the valid convolution ``A * B`` is computed.

    Segment ``j`` of the data reads ``A[start + j*tile : start + j*tile + segment]`` (zero
    outside ``A``); its circular convolution of length ``fft_len`` with ``B`` (or, in kernel
    mode, with ``B``'s ``j``-th chunk from the end) holds the wanted outputs at
    ``[window, window + keep)`` (a negative ``window`` wraps around).
    """

    a_len: int        # length of A along the axis
    b_len: int        # length of B along the axis
    length: int       # valid outputs wanted (before subsampling)
    step: int         # keep every step-th output (stride or dilation)
    kernel_mode: bool  # tiles cut B (weight gradient) rather than the output
    start: int        # A index of segment 0's first sample
    segment: int      # samples per segment
    tile: int         # outputs (output mode) or B samples (kernel mode) per tile
    tiles: int
    fft_len: int
    window: int       # first wanted output in a segment's full convolution
    keep: int         # wanted outputs per segment


def _canonical(p: ConvProblem, axis: int) -> tuple[int, int, int, int, int, bool]:
    """``(a_len, a0, b_len, length, step, kernel_mode)`` of spatial ``axis``: the valid
    convolution reads ``A[a0 : a0 + length + b_len - 1]`` (zero outside A)."""
    n, m = p.x_shape[2 + axis], p.out_shape[2 + axis]
    k, s, d = p.w_shape[2 + axis], p.stride[axis], p.dilation[axis]
    lo, _ = p.padding[axis]
    extent = d * (k - 1) + 1
    spread = (m - 1) * s + 1
    if p.kind == "forward":
        return n, -lo, extent, spread, s, False
    if p.kind == "grad_input":
        return spread, lo - (extent - 1), extent, n, 1, False
    return n, -lo, spread, extent, d, True


def _untiled(a_len: int, a0: int, b_len: int, length: int, step: int, kernel_mode: bool,
             real: bool) -> AxisGeometry:
    """One segment: only the part of ``A`` that exists is transformed; the zero padding is
    absorbed by the transform length (the window rule of :mod:`convkit.engine.fft`)."""
    first = max(a0, 0)
    stop = min(a0 + length + b_len - 1, a_len)
    data = max(stop - first, 1)
    window = b_len - 1 - (first - a0)
    full = data + b_len - 1
    if window >= 0:
        fft_len = _fft.circular_length(data, b_len, window, length, real)
    else:  # the wanted outputs start before the data's full convolution: wrap from the end
        fft_len = sp_fft.next_fast_len(max(full - window, window + length, data, b_len), real)
    return AxisGeometry(a_len, b_len, length, step, kernel_mode, first, data,
                        b_len if kernel_mode else length, 1, fft_len, window, length)


def _tiled(a_len: int, a0: int, b_len: int, length: int, step: int, kernel_mode: bool,
           fft_len: int) -> AxisGeometry | None:
    """Overlap-save segments transformed at ``fft_len`` points, or None if that cannot tile."""
    short, long = (length, b_len) if kernel_mode else (b_len, length)
    tile = fft_len - short + 1
    if not kernel_mode and step > 1:
        tile -= tile % step  # every tile then keeps the same phase of the stride
    tiles = -(-long // tile) if tile > 0 else 0
    if tiles < 2:
        return None
    if kernel_mode:
        # B is zero-extended to tiles*tile at its end, so A gains as many zeros in front
        start = a0 - (tiles * tile - b_len)
        return AxisGeometry(a_len, b_len, length, step, True, start, length + tile - 1, tile,
                            tiles, fft_len, tile - 1, length)
    return AxisGeometry(a_len, b_len, length, step, False, a0, tile + b_len - 1, tile, tiles,
                        fft_len, b_len - 1, tile)


def _axis_options(p: ConvProblem, axis: int, real: bool) -> list[AxisGeometry]:
    a_len, a0, b_len, length, step, kernel_mode = _canonical(p, axis)
    options = [_untiled(a_len, a0, b_len, length, step, kernel_mode, real)]
    short, long = (length, b_len) if kernel_mode else (b_len, length)
    if long >= 2 * short and long >= 16:
        lengths = {sp_fft.next_fast_len(f * short, real) for f in _TILE_FACTORS}
        block = _fft.oa_block_length(long, short)  # the single-signal optimum, as a candidate
        if block is not None:
            lengths.add(block)
        for fft_len in sorted(lengths):
            option = _tiled(a_len, a0, b_len, length, step, kernel_mode, fft_len)
            if option is not None and option.fft_len < options[0].fft_len:
                options.append(option)
    return options


@dataclass(frozen=True)
class Geometry:
    """The whole computation of one problem: axes, channel roles, chunks and their sizes."""

    axes: tuple[AxisGeometry, ...]
    real: bool
    batch: int           # N
    groups: int
    contracted: int      # channels summed per group: C/G (forward), O/G (grad_input), N (weight)
    a_channels: int      # channels of A per group
    b_channels: int      # result channels per group
    chunk_axis: int      # spatial axis whose tiles are chunked (-1: none)
    chunk_batch: int     # samples per chunk
    chunk_tiles: int     # tiles of chunk_axis per chunk
    itemsize: int        # bytes of one real sample in the transforms

    @property
    def kind_weight(self) -> bool:
        return self.axes[0].kernel_mode

    @property
    def spectrum(self) -> int:
        """Complex points of one signal's transform."""
        shape = [a.fft_len for a in self.axes]
        if self.real:
            shape[-1] = shape[-1] // 2 + 1
        return math.prod(shape)

    @property
    def points(self) -> int:
        return math.prod(a.fft_len for a in self.axes)

    @property
    def tiles(self) -> int:
        return math.prod(a.tiles for a in self.axes)

    @property
    def chunks(self) -> int:
        per_sample = 1 if self.chunk_axis < 0 else -(-self.axes[self.chunk_axis].tiles
                                                      // self.chunk_tiles)
        return -(-self.batch // self.chunk_batch) * per_sample

    def segment_tiles(self, tiles: int) -> int:
        """Segments per sample in a chunk holding ``tiles`` tiles of the chunk axis."""
        if self.chunk_axis < 0:
            return self.tiles
        return self.tiles // self.axes[self.chunk_axis].tiles * tiles

    def uses_blas(self, samples: int, tiles: int) -> bool:
        """Whether the channel contraction of a chunk of ``samples`` x ``tiles`` is a batched
        GEMM per frequency (else elementwise products over all frequencies at once)."""
        rows = samples * self.segment_tiles(tiles)
        if self.kind_weight:
            return self.a_channels > 1 and self.b_channels > 1 and \
                rows * self.a_channels * self.b_channels >= _BLAS_MIN_MACS
        return self.a_channels > 1 and rows * self.a_channels * self.b_channels >= \
            _BLAS_MIN_MACS

    @property
    def blas(self) -> bool:
        """The contraction every chunk uses (decided on the full-size chunk)."""
        return self.uses_blas(self.chunk_batch, self.chunk_tiles)

    def _sizes(self, samples: int, tiles: int) -> tuple[int, int, int, int, int]:
        """Elements of one chunk: (real segments, A spectrum, B spectrum (weight gradient),
        product spectrum, real inverse)."""
        seg_tiles = samples * self.segment_tiles(tiles)
        per_signal = seg_tiles * self.spectrum
        segments = seg_tiles * self.groups * self.a_channels * math.prod(
            a.segment for a in self.axes)
        a_spec = self.groups * self.a_channels * per_signal
        if self.kind_weight:
            b_spec = self.groups * self.b_channels * per_signal
            return segments, a_spec, b_spec, 0, 0
        y_spec = self.groups * self.b_channels * per_signal
        y_real = self.groups * self.b_channels * seg_tiles * self.points
        return segments, a_spec, 0, y_spec, y_real

    def chunk_bytes(self, samples: int, tiles: int) -> int:
        """Peak bytes of one chunk of ``samples`` x (``tiles`` of the chunk axis): the largest
        set of arrays alive together at one step (segments and the zero-extended copy the
        transform makes; the spectrum and its frequency-first copy; the product and its copy
        back; the inverse's complex pass and real output; the reassembled tiles)."""
        segments, a_spec, b_spec, y_spec, y_real = self._sizes(samples, tiles)
        c, r = 2 * self.itemsize, self.itemsize
        if self.kind_weight:
            partial = self.groups * self.a_channels * self.b_channels * self.spectrum
            spectra = (a_spec + b_spec) * (2 if self.uses_blas(samples, tiles) else 1)
            return max(segments * r + 2 * a_spec * c,
                       (spectra + a_spec + partial) * c)
        return max(segments * r + 2 * a_spec * c, (2 * a_spec + y_spec) * c,
                   (a_spec + 2 * y_spec) * c, 2 * y_spec * c + y_real * r, 2 * y_real * r)

    def fixed_bytes(self) -> int:
        """Bytes held for the whole call: the kernel's spectrum (with the copies its transform
        and transposition make), or for the weight gradient the reversed, zero-extended output
        gradient and the summed spectrum (with its inverse)."""
        c, r = 2 * self.itemsize, self.itemsize
        if self.kind_weight:
            total = self.groups * self.a_channels * self.b_channels
            spread = self.batch * self.groups * self.b_channels * math.prod(
                a.tiles * a.tile for a in self.axes)
            return spread * r + total * self.spectrum * 2 * c + total * self.points * r
        kernel = self.groups * self.contracted * self.b_channels
        # the dilated kernel, and its copy in the transforms' precision
        return kernel * self.spectrum * 2 * c + 2 * kernel * math.prod(
            a.b_len for a in self.axes) * r

    def peak(self, samples: int, tiles: int) -> int:
        """Peak bytes of the whole call with chunks of ``samples`` x ``tiles``."""
        _, a_spec, b_spec, y_spec, _ = self._sizes(samples, tiles)
        # numpy's buffers for a broadcast product are at most three times its operands
        buffers = min(_UFUNC_BUFFERS, 3 * max(a_spec, b_spec, y_spec) * 2 * self.itemsize)
        return self.fixed_bytes() + self.chunk_bytes(samples, tiles) + buffers

    def workspace(self) -> int:
        return self.peak(self.chunk_batch, self.chunk_tiles)


def _roles(p: ConvProblem) -> tuple[int, int, int]:
    """``(contracted, a_channels, b_channels)`` per group."""
    cg, og = p.w_shape[1], p.w_shape[0] // p.groups
    if p.kind == "forward":
        return cg, cg, og
    if p.kind == "grad_input":
        return og, og, cg
    return p.batch, cg, og


def _flops(p: ConvProblem, axes: tuple[AxisGeometry, ...], real: bool) -> float:
    """Operation count used to choose between tilings (see ``_FLOPS_PER_*``)."""
    contracted, a_ch, b_ch = _roles(p)
    n, groups = p.batch, p.groups
    tiles = math.prod(a.tiles for a in axes)
    points = math.prod(a.fft_len for a in axes)
    per_signal = _FLOPS_PER_POINT_LOG * points * math.log2(max(points, 2)) * (0.5 if real
                                                                              else 1.0)
    spectrum = points // (2 if real else 1)
    if p.kind == "grad_weight":
        signals = n * groups * (a_ch + b_ch) * tiles + groups * a_ch * b_ch
        macs = groups * a_ch * b_ch * n * tiles * spectrum
        moved = n * groups * (a_ch + b_ch) * tiles * spectrum * 16
    else:
        signals = n * groups * (a_ch + b_ch) * tiles + groups * contracted * b_ch
        macs = n * groups * contracted * b_ch * tiles * spectrum
        moved = n * groups * (a_ch + b_ch) * tiles * spectrum * 16
    return signals * per_signal + macs * _FLOPS_PER_COMPLEX_MAC + moved * _FLOPS_PER_BYTE


def _chunking(p: ConvProblem, axes: tuple[AxisGeometry, ...], real: bool, itemsize: int,
              budget: int) -> Geometry:
    """The largest chunks that fit ``budget``: whole samples first, then tiles of the most
    tiled axis (the smallest chunk, one tile of one sample, when nothing fits)."""
    contracted, a_ch, b_ch = _roles(p)
    tiled = [i for i, a in enumerate(axes) if a.tiles > 1]
    chunk_axis = max(tiled, key=lambda i: axes[i].tiles) if tiled else -1
    base = Geometry(axes, real, p.batch, p.groups, contracted, a_ch, b_ch, chunk_axis,
                    p.batch, axes[chunk_axis].tiles if chunk_axis >= 0 else 1, itemsize)

    def fits(samples: int, tiles: int) -> bool:
        return base.peak(samples, tiles) <= budget

    if fits(p.batch, base.chunk_tiles):
        return base
    lo, hi = 1, p.batch
    while lo < hi:  # bytes grow with the samples: bisect for the largest chunk that fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid, base.chunk_tiles) else (lo, mid - 1)
    if fits(lo, base.chunk_tiles) or chunk_axis < 0:
        return _replace_chunks(base, lo, base.chunk_tiles)
    lo, hi = 1, base.chunk_tiles
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(1, mid) else (lo, mid - 1)
    return _replace_chunks(base, 1, lo)


def _replace_chunks(g: Geometry, samples: int, tiles: int) -> Geometry:
    return Geometry(g.axes, g.real, g.batch, g.groups, g.contracted, g.a_channels,
                    g.b_channels, g.chunk_axis, samples, tiles, g.itemsize)


#: a chunk costs one more Python-level pass (some hundred microseconds of calls), priced in
#: flop-equivalents so that tiles are not processed in more chunks than the budget needs
_FLOPS_PER_CHUNK = 1e5


@lru_cache(maxsize=1024)
def _geometry(p: ConvProblem, budget: int, itemsize: int) -> Geometry:
    """The cheapest tiling that fits ``budget`` (else the one needing the least memory), by
    coordinate descent over the axes' tile lengths."""
    real = p.dtype.kind != "c"
    options = [_axis_options(p, i, real) for i in range(p.nd)]

    def evaluate(combo: tuple[AxisGeometry, ...]) -> tuple[tuple, Geometry]:
        g = _chunking(p, combo, real, itemsize, budget)
        over = g.workspace() > budget
        return (over, g.workspace() if over else 0,
                _flops(p, combo, real) + _FLOPS_PER_CHUNK * g.chunks), g

    # start from the best "diagonal" tiling (the same candidate on every axis: images and
    # volumes are usually tiled alike), then improve one axis at a time
    best = min((evaluate(tuple(axis[min(i, len(axis) - 1)] for axis in options))
                for i in range(max(len(axis) for axis in options))), key=lambda t: t[0])
    current = best[1].axes
    for _ in range(3):
        improved = False
        for i, axis in enumerate(options):
            for option in axis:
                if option == current[i]:
                    continue
                trial = evaluate(current[:i] + (option,) + current[i + 1:])
                if trial[0] < best[0]:
                    best, current, improved = trial, trial[1].axes, True
        if not improved:
            break
    return best[1]


def geometry(p: ConvProblem, upgrade: bool = False) -> Geometry:
    """The tiling and chunking of ``p`` under the current workspace budget (cached).

    ``upgrade``: float32/complex64 data transformed in double precision.
    """
    itemsize = 8 if upgrade or p.dtype in (np.float64, np.complex128) else 4
    return _geometry(p, _conv.get_workspace_limit(), itemsize)


# ------------------------------------------------------------------------- operands
def _spread(a: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """Insert ``f - 1`` zeros between the samples of each trailing axis (a dilated kernel, or
    an output gradient at the positions of a stride-1 output).

    Shape: (..., *n) -> (..., *((n - 1) * f + 1))
    """
    if all(f == 1 for f in factors):
        return a
    nd = len(factors)
    shape = a.shape[:-nd] + tuple((n - 1) * f + 1 for n, f in zip(a.shape[-nd:], factors,
                                                                   strict=True))
    out = np.zeros(shape, dtype=a.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, f) for f in factors)] = a
    return out


def _reversed(a: np.ndarray, nd: int) -> np.ndarray:
    """``a`` reversed along its last ``nd`` axes (a view)."""
    return a[(Ellipsis,) + (slice(None, None, -1),) * nd]


def _segments(a: np.ndarray, axes: tuple[AxisGeometry, ...], chunk_axis: int,
              tiles: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """The overlapping segments of ``a`` that one chunk transforms.

    Shape: a (n, C, *len) -> (n, C, *tiles_per_axis, *segment) (a strided view of ``a`` when
    every segment lies inside it, else of a zero-filled copy)
    """
    nd = len(axes)
    ranges, counts = [], []
    for i, ax in enumerate(axes):
        t0, t1 = tiles if i == chunk_axis else (0, ax.tiles)
        first = ax.start + t0 * ax.tile
        ranges.append((first, first + (t1 - 1) * ax.tile + ax.segment))
        counts.append(t1 - t0)
    inside = all(0 <= lo and hi <= ax.a_len for (lo, hi), ax in zip(ranges, axes, strict=True))
    if inside:
        source = a[(Ellipsis,) + tuple(slice(lo, hi) for lo, hi in ranges)].astype(
            dtype, copy=False)
    else:
        source = np.zeros(a.shape[:2] + tuple(hi - lo for lo, hi in ranges), dtype=dtype)
        src, dst = [], []
        for (lo, hi), ax in zip(ranges, axes, strict=True):
            a_lo, a_hi = max(lo, 0), min(hi, ax.a_len)
            src.append(slice(a_lo, max(a_hi, a_lo)))
            dst.append(slice(a_lo - lo, a_lo - lo + max(a_hi - a_lo, 0)))
        source[(Ellipsis,) + tuple(dst)] = a[(Ellipsis,) + tuple(src)]
    strides = source.strides
    return np.lib.stride_tricks.as_strided(
        source, shape=source.shape[:2] + tuple(counts) + tuple(ax.segment for ax in axes),
        strides=strides[:2] + tuple(strides[2 + i] * ax.tile for i, ax in enumerate(axes))
        + strides[2:2 + nd], writeable=False)


def _spectrum(a: np.ndarray, axes: tuple[AxisGeometry, ...], real: bool,
              workers: int) -> np.ndarray:
    """Transform of ``a``'s last ``len(axes)`` axes zero-extended to the transform lengths.

    Data that fills most of the transform goes through one ``rfftn`` (one zero-extended copy,
    all passes in one call); a short kernel is transformed one axis at a time, the real
    (last) axis first, each later pass zero-extending its own axis, so that the zero rows of
    the kernel are never transformed.
    """
    nd = len(axes)
    shape = tuple(ax.fft_len for ax in axes)
    if nd == 1 or 2 * math.prod(a.shape[-nd:]) >= math.prod(shape):
        return (sp_fft.rfftn if real else sp_fft.fftn)(a, s=shape, axes=tuple(range(-nd, 0)),
                                                      workers=workers)
    out = (sp_fft.rfft if real else sp_fft.fft)(a, n=shape[-1], axis=-1, workers=workers)
    for i in range(nd - 2, -1, -1):
        out = sp_fft.fft(out, n=shape[i], axis=i - nd, workers=workers, overwrite_x=True)
    return out


def _crop(y: np.ndarray, axis: int, start: int, length: int) -> np.ndarray:
    """``y[start : start + length]`` along ``axis``, circularly (a negative start wraps)."""
    if start >= 0:
        return y[(slice(None),) * (axis % y.ndim) + (slice(start, start + length),)]
    return np.take(y, np.arange(start, start + length) % y.shape[axis], axis=axis)


def _inverse(spectrum: np.ndarray, axes: tuple[AxisGeometry, ...], real: bool,
             workers: int) -> np.ndarray:
    """Inverse of :func:`_spectrum`, keeping each axis's wanted window (and phase of the
    subsampling) as soon as that axis is done, so later passes transform fewer rows.

    Shape: (..., *spectrum) -> (..., *ceil(keep / step))
    """
    nd = len(axes)
    y = spectrum
    for i in range(nd - 1):
        y = sp_fft.ifft(y, n=axes[i].fft_len, axis=i - nd, workers=workers, overwrite_x=True)
        y = _crop(y, i - nd, axes[i].window, axes[i].keep)
        y = y[(slice(None),) * (y.ndim - nd + i) + (slice(None, None, axes[i].step),)]
    last = axes[-1]
    if real:
        y = sp_fft.irfft(y, n=last.fft_len, axis=-1, workers=workers)
    else:
        y = sp_fft.ifft(y, n=last.fft_len, axis=-1, workers=workers, overwrite_x=True)
    return _crop(y, -1, last.window, last.keep)[..., ::last.step]


# ------------------------------------------------------------------------- contraction
# Spectra are kept channel-first, (G, ch, n, *tiles, *F), so that the frequency-first layout
# the batched GEMM needs, (F, G, ch, rows), is one plain 2-d transposition of a contiguous
# block (numpy moves those an order of magnitude faster than general permutations).
def _frequency_first(s: np.ndarray, nd: int) -> np.ndarray:
    """Shape: (G, ch, *rest, *F) -> (prod(F), G, ch, prod(rest))"""
    groups, ch = s.shape[:2]
    freq = math.prod(s.shape[-nd:])
    flat = np.ascontiguousarray(s.reshape(-1, freq).T)       # (F, G*ch*rest)
    return flat.reshape(freq, groups, ch, -1)


def _frequency_last(s: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_frequency_first`. Shape: (F, G, ch, rows) -> ``shape``"""
    return np.ascontiguousarray(s.reshape(s.shape[0], -1).T).reshape(shape)


def _contract_rows(sa: np.ndarray, kernel: np.ndarray, blas: bool, nd: int) -> np.ndarray:
    """``Y[g, b, r, f] = sum_a K[g, b, a, f] SA[g, a, r, f]`` (forward and input gradient:
    the channels of A are summed, samples and tiles are rows ``r``).

    ``kernel`` is (F, G, b, a) when ``blas`` (see :func:`_frequency_first`), else
    (G, b, a, 1.., *F).

    Shape: sa (G, a, n, *t, *F) -> (G, b, n, *t, *F)
    """
    groups, a_ch = sa.shape[:2]
    if blas:
        b_ch = kernel.shape[2]
        y = np.matmul(kernel, _frequency_first(sa, nd))      # (F, G, b, rows)
        return _frequency_last(y, (groups, b_ch) + sa.shape[2:])
    if a_ch == 1 and kernel.shape[1] == 1:  # depthwise: the product in place
        return np.multiply(sa, kernel[:, :, 0], out=sa)
    # one broadcast multiply-add per input channel: (G, 1, n, *t, *F) x (G, b, 1, 1.., *F)
    y = sa[:, None, 0] * kernel[:, :, 0]
    for i in range(1, a_ch):
        y += sa[:, None, i] * kernel[:, :, i]
    return y


def _contract_sum(sb: np.ndarray, sa: np.ndarray, blas: bool, nd: int) -> np.ndarray:
    """``Y[g, o, c, f] = sum_r SB[g, o, r, f] SA[g, c, r, f]`` (weight gradient: samples and
    tiles ``r`` are summed).

    Shape: sb (G, o, n, *t, *F), sa (G, c, n, *t, *F) -> (F, G, o, c) when ``blas``, else
    (G, o, c, F)
    """
    if blas:
        right = _frequency_first(sa, nd)                     # (F, G, c, rows)
        return np.matmul(_frequency_first(sb, nd), right.swapaxes(-1, -2))
    freq = math.prod(sb.shape[-nd:])
    left = sb.reshape(sb.shape[:2] + (-1, freq))
    right = sa.reshape(sa.shape[:2] + (-1, freq))
    if left.shape[1] == 1 and right.shape[1] == 1:  # depthwise: products summed over rows
        return np.multiply(left, right, out=left).sum(axis=2)[:, :, None]
    return np.einsum("gorf,gcrf->gocf", left, right)


# ------------------------------------------------------------------------- the kinds
def _transform_dtype(dtype: np.dtype, upgrade: bool) -> np.dtype:
    if not upgrade:
        return dtype
    return np.dtype(np.complex128 if dtype.kind == "c" else np.float64)


def _chunks(g: Geometry) -> list[tuple[int, int, int, int]]:
    """``(n0, n1, t0, t1)``: samples and tiles of the chunk axis of every chunk."""
    axis_tiles = g.axes[g.chunk_axis].tiles if g.chunk_axis >= 0 else 1
    return [(n0, min(n0 + g.chunk_batch, g.batch), t0, min(t0 + g.chunk_tiles, axis_tiles))
            for n0 in range(0, g.batch, g.chunk_batch)
            for t0 in range(0, axis_tiles, g.chunk_tiles)]


def _channel_first(segs: np.ndarray) -> np.ndarray:
    """Shape: (n, C, ...) -> (C, n, ...) (a view; the transform writes it contiguously)"""
    return segs.swapaxes(0, 1)


def _forward_like(p: ConvProblem, g: Geometry, a: np.ndarray, kernel: np.ndarray,
                  tdtype: np.dtype) -> np.ndarray:
    """Forward and input gradient: ``A`` (N, G*a, *) against a per-group kernel
    (G, a, b, *k) already dilated (and reversed), output tiles chunk by chunk.

    Shape: -> (N, G*b, *out)
    """
    nd, real = p.nd, g.real
    groups, a_ch, b_ch = g.groups, g.a_channels, g.b_channels
    kernel = kernel.swapaxes(1, 2).astype(tdtype, copy=False)  # (G, b, a, *k)
    spectrum = _spectrum(kernel, g.axes, real, _workers(kernel.size))  # (G, b, a, *F)
    if g.blas:
        spectrum = _frequency_first(spectrum, nd)                # (F, G, b, a)
    else:
        spectrum = spectrum.reshape(spectrum.shape[:3] + (1,) * (1 + nd) + spectrum.shape[3:])
    out = np.empty((p.batch, groups * b_ch) + tuple(-(-ax.length // ax.step) for ax in g.axes),
                   dtype=p.dtype)
    for n0, n1, t0, t1 in _chunks(g):
        segs = _channel_first(_segments(a[n0:n1], g.axes, g.chunk_axis, (t0, t1), tdtype))
        workers = _workers(segs.size)
        sa = _spectrum(segs, g.axes, real, workers)            # (C, n, *t, *F)
        del segs
        y = _contract_rows(sa.reshape((groups, a_ch) + sa.shape[1:]), spectrum, g.blas, nd)
        del sa                                                 # y: (G, b, n, *t, *F)
        y = _inverse(y, g.axes, real, workers)                 # (G, b, n, *t, *kept)
        _place(out, y, g, n0, n1, t0, nd)
        del y
    return out


def _place(out: np.ndarray, y: np.ndarray, g: Geometry, n0: int, n1: int, t0: int,
           nd: int) -> None:
    """Write a chunk's tiles ``y`` (G, b, n, *t, *kept) into ``out`` (N, G*b, *out)."""
    groups, b_ch, n = y.shape[:3]
    tiles, kept = y.shape[3:3 + nd], y.shape[3 + nd:]
    # samples first, then interleave (t_i, kept_i): the tiles of an axis are consecutive
    order = (2, 0, 1) + tuple(x for i in range(nd) for x in (3 + i, 3 + nd + i))
    merged = y.transpose(order).reshape((n, groups * b_ch) + tuple(
        t * k for t, k in zip(tiles, kept, strict=True)))
    target = [slice(n0, n1), slice(None)]
    source = [slice(None), slice(None)]
    for i, ax in enumerate(g.axes):
        first = t0 * -(-ax.keep // ax.step) if i == g.chunk_axis else 0
        stop = min(first + merged.shape[2 + i], out.shape[2 + i])
        target.append(slice(first, stop))
        source.append(slice(0, stop - first))
    out[tuple(target)] = merged[tuple(source)]


def _weight_gradient(p: ConvProblem, g: Geometry, x: np.ndarray, spread_g: np.ndarray,
                     tdtype: np.dtype) -> np.ndarray:
    """Weight gradient: ``x`` segments against reversed chunks of the spread output gradient,
    summed over samples and chunks in the frequency domain, transformed back once.

    Shape: x (N, C, *n), spread_g (N, O, *(out-1)*s+1) -> (O, C/G, *k)
    """
    nd, real = p.nd, g.real
    groups, c_ch, o_ch = g.groups, g.a_channels, g.b_channels
    # reverse g (the correlation as a convolution), zero-extend each axis to tiles*tile at
    # its end and cut it into chunks, the chunk for segment j being the (tiles-1-j)-th
    b = _reversed(spread_g, nd)
    if any(ax.tiles * ax.tile != ax.b_len for ax in g.axes) or b.dtype != tdtype:
        b = np.zeros(b.shape[:2] + tuple(ax.tiles * ax.tile for ax in g.axes), dtype=tdtype)
        b[(Ellipsis,) + tuple(slice(0, ax.b_len) for ax in g.axes)] = _reversed(spread_g, nd)
    b = b.reshape(b.shape[:2] + tuple(x for ax in g.axes for x in (ax.tiles, ax.tile)))
    b = b[(slice(None), slice(None)) + (slice(None, None, -1), slice(None)) * nd]
    b = b.transpose((0, 1) + tuple(range(2, 2 + 2 * nd, 2)) + tuple(range(3, 3 + 2 * nd, 2)))
    total = None                                               # (N, O, *tiles, *tile) above
    for n0, n1, t0, t1 in _chunks(g):
        segs = _channel_first(_segments(x[n0:n1], g.axes, g.chunk_axis, (t0, t1), tdtype))
        workers = _workers(segs.size)
        sa = _spectrum(segs, g.axes, real, workers)            # (C, n, *t, *F)
        del segs
        pick = (slice(n0, n1), slice(None)) + tuple(
            slice(t0, t1) if i == g.chunk_axis else slice(None) for i in range(nd))
        sb = _spectrum(_channel_first(b[pick]), g.axes, real, workers)  # (O, n, *t, *F)
        part = _contract_sum(sb.reshape((groups, o_ch) + sb.shape[1:]),
                             sa.reshape((groups, c_ch) + sa.shape[1:]), g.blas, nd)
        del sa, sb
        total = part if total is None else total.__iadd__(part)
    assert total is not None
    freq_shape = tuple(ax.fft_len for ax in g.axes[:-1]) + (
        g.axes[-1].fft_len // 2 + 1 if real else g.axes[-1].fft_len,)
    if g.blas:                                                 # (F, G, o, c)
        total = _frequency_last(total, (groups, o_ch, c_ch) + freq_shape)
    else:                                                      # (G, o, c, F)
        total = total.reshape((groups, o_ch, c_ch) + freq_shape)
    y = _inverse(total, g.axes, real, _workers(total.size))  # (G, o, c, *k)
    return np.ascontiguousarray(y).reshape(p.w_shape).astype(p.dtype, copy=False)


class FFT(Algorithm):
    """Every geometry, kind and dtype (real or complex); fastest for large kernels."""

    name = "fft"
    dtypes = (np.float32, np.float64, np.complex64, np.complex128)

    def __init__(self) -> None:
        # the precision decided by this thread's last `accurate` call, for the `run`s that
        # follow on the same data
        self._local = threading.local()

    def supports(self, p: ConvProblem) -> bool:
        return p.nd >= 1

    def workspace(self, p: ConvProblem) -> int:
        # single-precision data of wide range is transformed in double precision (see
        # `accurate`): the geometry for that is chunked to the same budget, but may be larger
        g = max(geometry(p), geometry(p, upgrade=p.dtype in (np.float32, np.complex64)),
                key=lambda geo: geo.workspace())
        spread = 0
        if p.kind != "forward" and any(s > 1 for s in p.stride):
            spread = math.prod(p.out_shape[:2]) * math.prod(
                (m - 1) * s + 1 for m, s in zip(p.out_shape[2:], p.stride, strict=True))
        return g.workspace() + spread * p.dtype.itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """(1, transform work sum(signals * L log2 L), channel-contraction complex
        multiply-adds, bytes of spectra written, Python-level chunks, BLAS calls)."""
        g = geometry(p)
        contracted, a_ch, b_ch = g.contracted, g.a_channels, g.b_channels
        groups, n = g.groups, p.batch
        per_signal = g.points * math.log2(max(g.points, 2)) * (0.5 if g.real else 1.0)
        tiles = g.tiles
        # forward transforms of both operands per sample and tile, or of the kernel once, and
        # inverse transforms of the result's signals
        if g.kind_weight:
            signals = n * groups * (a_ch + b_ch) * tiles + groups * a_ch * b_ch
            macs = groups * a_ch * b_ch * n * tiles * g.spectrum
        else:
            signals = n * groups * (a_ch + b_ch) * tiles + groups * contracted * b_ch
            macs = n * groups * contracted * b_ch * tiles * g.spectrum
        written = n * groups * (a_ch + b_ch) * tiles * g.spectrum
        blas = g.blas
        calls = g.chunks * groups * g.spectrum if blas else 0
        return (1.0, float(signals * per_signal), float(macs),
                float(written * 2 * g.itemsize * (2 if blas else 1)), float(g.chunks),
                float(calls))

    def accurate(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> tuple[bool, str]:
        """:func:`convkit.engine.plan.fft_accuracy` in the problem's precision; single
        precision that fails it but passes in double precision is accepted, and then
        transformed in double precision by the ``run`` that follows on the same data (or on
        batch tiles of it)."""
        ok, why = _plan.fft_accuracy(a, b, p.dtype)
        upgrade = False
        if not ok and p.dtype in (np.float32, np.complex64) and "non-finite" not in why:
            wide = np.dtype(np.complex128 if p.dtype.kind == "c" else np.float64)
            ok, why = _plan.fft_accuracy(a, b, wide)
            upgrade = ok
            why += "; transformed in double precision" if ok else ""
        self._local.decided = (_footprint(p, a, b), upgrade) if ok else None
        return ok, why

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        decided = getattr(self._local, "decided", None)
        upgrade = decided is not None and decided[1] and _within(decided[0],
                                                                 _footprint(p, a, b))
        g = geometry(p, upgrade)
        tdtype = _transform_dtype(p.dtype, upgrade)
        nd = p.nd
        groups = p.groups
        if p.kind == "grad_weight":
            spread_g = _spread(b, p.stride)
            return _weight_gradient(p, g, a, spread_g, tdtype)
        o, cg = p.w_shape[:2]
        dilated = _spread(b, p.dilation)                       # (O, Cg, *extent)
        per_group = dilated.reshape((groups, o // groups, cg) + dilated.shape[2:])
        if p.kind == "forward":
            # (G, Og, Cg, *k) -> (G, Cg, Og, *k), reversed: the correlation as a convolution
            kernel = _reversed(per_group, nd).swapaxes(1, 2)
            data = a
        else:
            kernel = per_group                                 # (G, Og, Cg, *k)
            data = _spread(a, p.stride)
        out = _forward_like(p, g, data, kernel, tdtype)
        return out.astype(p.dtype, copy=False)


def _footprint(p: ConvProblem, a: np.ndarray, b: np.ndarray) -> tuple:
    """The memory ``a`` and ``b`` occupy, their layouts and the problem without its batch."""
    return (p.with_batch(1), _bounds(a), a.strides, _bounds(b), b.strides)


def _bounds(a: np.ndarray) -> tuple[int, int]:
    """First and one-past-last byte addresses of ``a``'s elements."""
    start = a.__array_interface__["data"][0]
    if a.size == 0:
        return start, start
    low = sum(min(0, (n - 1) * s) for n, s in zip(a.shape, a.strides, strict=True))
    high = sum(max(0, (n - 1) * s) for n, s in zip(a.shape, a.strides, strict=True))
    return start + low, start + high + a.itemsize


def _within(checked: tuple, given: tuple) -> bool:
    """Whether ``run``'s arrays are (batch tiles of) the ones ``accurate`` looked at."""
    (p0, a0, sa0, b0, sb0), (p1, a1, sa1, b1, sb1) = checked, given
    return (p0 == p1 and sa0 == sa1 and sb0 == sb1 and a0[0] <= a1[0] and a1[1] <= a0[1]
            and b0[0] <= b1[0] and b1[1] <= b0[1])


register(FFT())
