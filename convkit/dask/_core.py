"""The one chunked primitive: pad at the true edges, cut stride-aligned blocks, add halos, and
run an in-memory function on every block.

Every public function of :mod:`convkit.dask` reduces to :func:`windowed` (direct windows) or
builds on the same steps (transposed convolution, in :mod:`convkit.dask._nn`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("convkit.dask needs the 'dask' extra: pip install 'convkit[dask]' "
                      "(dask[array,distributed])") from error

from convkit.dask._chunks import AxisPlan, plan_axis

__all__ = ["as_dask", "pad", "windowed", "shared"]

# Boundary names of PyTorch (padding_mode) and SciPy (boundary) -> numpy.pad's names.
NUMPY_PAD_MODES = {"zeros": "constant", "constant": "constant", "fill": "constant",
                   "pad": "constant", "reflect": "reflect", "replicate": "edge",
                   "edge": "edge", "circular": "wrap", "wrap": "wrap", "symm": "symmetric",
                   "symmetric": "symmetric"}


def as_dask(x: Any, op: str) -> da.Array:
    """``x`` (without empty chunks) if it is a dask array; otherwise refuse it (these
    functions chunk, not guess)."""
    if not isinstance(x, da.Array):
        raise TypeError(f"{op}: expected a dask.array.Array as input, got {type(x).__name__} "
                        "(wrap it with dask.array.from_array(x, chunks=...), or use the "
                        "in-memory convkit function)")
    if any(np.isnan(c) for chunks in x.chunks for c in chunks):
        raise ValueError(f"{op}: the input has unknown chunk sizes {x.chunks}; call "
                         "x.compute_chunk_sizes() first")
    # Empty chunks (left by slicing or boolean indexing) carry no samples but break the
    # block arithmetic (a zero-length block has no window) and dask's own take(); dropping
    # them is a metadata-only rechunk.
    nonempty = {axis: tuple(c for c in chunks if c) for axis, chunks in enumerate(x.chunks)
                if 0 in chunks and any(chunks)}
    return x.rechunk(nonempty) if nonempty else x


def shared(value: Any) -> Any:
    """``value`` as one graph key (a Delayed), so every task refers to it, none embeds it."""
    return dask.delayed(value, pure=True, traverse=False)


def pad(x: da.Array, pairs: Mapping[int, tuple[int, int]], mode: str, value: Any = 0
        ) -> da.Array:
    """Pad ``x`` lazily by ``pairs[axis] = (lo, hi)`` under numpy.pad's ``mode``.

    ``dask.array.pad`` silently gives wrong values for 'wrap', 'reflect' and 'symmetric' when
    a pad exceeds the axis, so those modes are built here from ``numpy.pad`` of the index
    vector (exact for any pad width) and a ``take`` of only the edge samples.
    """
    pairs = {a: (int(lo), int(hi)) for a, (lo, hi) in pairs.items() if lo or hi}
    if not pairs:
        return x
    if mode == "constant":
        widths = [pairs.get(a, (0, 0)) for a in range(x.ndim)]
        return da.pad(x, widths, mode="constant", constant_values=value)
    for axis, (lo, hi) in sorted(pairs.items()):
        n = x.shape[axis]
        index = np.pad(np.arange(n), (lo, hi), mode=mode)  # (lo + n + hi,)
        parts = []
        if lo:
            parts.append(da.take(x, index[:lo], axis=axis))
        parts.append(x)
        if hi:
            parts.append(da.take(x, index[lo + n:], axis=axis))
        x = da.concatenate(parts, axis=axis)
    return x


def windowed(x: da.Array, windows: Mapping[int, tuple[tuple[int, int], int, int]],
             pad_mode: str, pad_value: Any, block_fn: Callable[..., np.ndarray],
             out_chunks: Mapping[int, tuple[int, ...]], dtype: Any, allow_rechunk: bool,
             op: str, block_args: tuple = ()) -> da.Array:
    """Run a 'valid' window operation blockwise, equal to running it on the padded whole.

    Parameters
    ----------
    x : dask array
    windows : {axis: ((lo, hi), extent, stride)}
        The windowed axes: padding at the true edges, dilated kernel extent, stride.
    pad_mode, pad_value
        numpy.pad's mode for the padding (and the constant for 'constant').
    block_fn : callable
        ``block_fn(block, *block_args) -> ndarray``: the in-memory operation without padding;
        on a block of ``L`` samples it must give ``(L - extent)//stride + 1`` outputs.
    out_chunks : {axis: chunks}
        Output chunks of the axes that are not windowed and change size (e.g. channels);
        other non-windowed axes keep their chunks.
    dtype
        Output dtype.
    block_args
        Further arguments of ``block_fn`` (dask collections become graph dependencies).
    """
    padded = pad(x, {a: w[0] for a, w in windows.items()}, pad_mode, pad_value)
    plans: dict[int, AxisPlan] = {
        axis: plan_axis(x.chunks[axis], pairs, extent, stride, allow_rechunk, op, axis)
        for axis, (pairs, extent, stride) in windows.items()}
    blocks = padded.rechunk({a: p.in_chunks for a, p in plans.items()})
    depth = {a: plans[a].depth if a in plans else 0 for a in range(x.ndim)}
    if any(d != (0, 0) for d in depth.values() if isinstance(d, tuple)):
        blocks = da.overlap.overlap(blocks, depth=depth, boundary="none",
                                    allow_rechunk=False)
    chunks = tuple(plans[a].out_chunks if a in plans else out_chunks.get(a, blocks.chunks[a])
                   for a in range(x.ndim))
    return da.map_blocks(block_fn, blocks, *block_args, chunks=chunks, dtype=dtype,
                         meta=np.empty((0,) * x.ndim, dtype=dtype))
