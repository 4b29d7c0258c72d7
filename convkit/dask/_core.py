"""The one chunked primitive: pad at the true edges, cut stride-aligned blocks, add halos, and
run an in-memory function on every block.

Every public function of :mod:`convkit.dask` reduces to :func:`windowed` (direct windows) or
builds on the same steps (transposed convolution, in :mod:`convkit.dask._nn`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    import dask
    import dask.array as da
    from dask._task_spec import Alias, DataNode, GraphNode, Task, TaskRef
    from dask.base import tokenize
    from dask.core import flatten, istask
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph
    from dask.utils import apply, funcname
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("convkit.dask needs the 'dask' extra: pip install 'convkit[dask]' "
                      "(dask[array,distributed])") from error

from convkit.dask._chunks import AxisPlan, plan_axis

__all__ = ["as_dask", "windowed", "halo_map", "leaf_reads", "region_reads", "padded_index",
           "shared"]

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
        Further arguments of ``block_fn`` (Delayed values become graph dependencies).
    """
    plans: dict[int, AxisPlan] = {
        axis: plan_axis(x.chunks[axis], pairs, extent, stride, allow_rechunk, op, axis)
        for axis, (pairs, extent, stride) in windows.items()}
    axes = {axis: (padded_index(x.shape[axis], windows[axis][0], pad_mode),
                   windows[axis][0][0], plans[axis].in_chunks, plans[axis].depth)
            for axis in plans}
    chunks = tuple(plans[a].out_chunks if a in plans else out_chunks.get(a, x.chunks[a])
                   for a in range(x.ndim))
    return halo_map(block_fn, x, axes, pad_value, block_args, chunks, dtype)


# ----------------------------------------------------------------------------- halos
def padded_index(n: int, pad: tuple[int, int], mode: str) -> np.ndarray:
    """For each sample of an axis of ``n`` samples padded by ``pad`` under numpy.pad's
    ``mode``: the input sample it repeats, or -1 for the constant. Exact for any pad width
    (``dask.array.pad`` is wrong for 'wrap', 'reflect' and 'symmetric' when a pad exceeds
    the axis)."""
    lo, hi = (int(p) for p in pad)
    if mode == "constant":
        return np.pad(np.arange(n), (lo, hi), mode="constant", constant_values=-1)
    return np.pad(np.arange(n), (lo, hi), mode=mode)


def _axis_runs(index: np.ndarray, starts: np.ndarray
               ) -> list[tuple[int | None, slice | None, slice]]:
    """Cut ``index`` (input samples, -1 for the constant) into runs that are each a slice of
    one input chunk (``starts``: the chunks' first samples) or the constant:
    ``(chunk, slice in the chunk, slice in index)``, ``(None, None, slice)`` for the
    constant."""
    m = len(index)
    fill = index < 0
    chunk = np.where(fill, -1, np.searchsorted(starts, index, side="right") - 1)
    step = np.diff(index)
    both = ~fill[1:] & ~fill[:-1]
    begins = np.zeros(m, dtype=bool)  # begins[i]: a run starts at i
    begins[0] = True
    begins[1:] |= (chunk[1:] != chunk[:-1]) | (both & (np.abs(step) != 1))
    begins[2:] |= both[1:] & both[:-1] & (step[1:] != step[:-1])
    edges = [*np.flatnonzero(begins).tolist(), m]
    runs: list[tuple[int | None, slice | None, slice]] = []
    for p, q in itertools.pairwise(edges):
        if fill[p]:
            runs.append((None, None, slice(p, q)))
            continue
        c = int(chunk[p])
        first = int(index[p] - starts[c])
        if q - p > 1 and step[p] < 0:
            stop = first - (q - p)
            local = slice(first, stop if stop >= 0 else None, -1)
        else:
            local = slice(first, first + (q - p))
        runs.append((c, local, slice(p, q)))
    return runs


def _copy_strips(chunk: Any, parts: tuple[tuple[slice, ...], ...]) -> tuple[np.ndarray, ...]:
    """The parts of a chunk that other blocks read, each an array of its own: views
    (``chunk[part]``) would keep the whole chunk alive for as long as any of them is."""
    chunk = np.asarray(chunk)
    return tuple(np.array(chunk[part], copy=True) for part in parts)


def _halo_block(pieces: list[np.ndarray], *args: Any, fn: Callable[..., np.ndarray],
                shape: tuple[int, ...], places: tuple[tuple[slice, ...], ...],
                sources: tuple[tuple[slice, ...] | int, ...], fill: Any, filled: bool,
                dtype: np.dtype,
                location: tuple[int, ...] | None) -> np.ndarray:
    """Assemble one block from its pieces and run ``fn`` on it.

    ``pieces[i]`` goes to ``places[i]`` of the block; ``sources[i]`` is the part of it to
    take: slices of a chunk this block owns, or the position of a copied strip in the
    tuple of strips cut from another chunk. The assembled block exists only inside this
    task."""
    if len(pieces) == 1 and not filled and not isinstance(sources[0], int):
        block = pieces[0][sources[0]]
        if block.shape != shape:  # pragma: no cover - guarded by the planner
            raise AssertionError("block assembly does not match the plan")
    else:
        parts = [piece[source] for piece, source in zip(pieces, sources, strict=True)]
        block = (np.full(shape, fill, dtype=dtype) if filled
                 else np.empty(shape, dtype=dtype))
        for part, place in zip(parts, places, strict=True):
            block[place] = part
    if location is None:
        return fn(block, *args)
    return fn(block, *args, block_info={None: {"chunk-location": location}})


# Off only to measure the read-once graph against this one (benchmarks/bench_dask.py
# --read-once); results are the same either way.
READ_TWICE = True


def _is_literal(value: Any) -> bool:
    """Whether a graph value is data (a DataNode or a plain object), not a task."""
    if isinstance(value, DataNode):
        return True
    return not isinstance(value, GraphNode) and not istask(value)


def leaf_reads(x: da.Array) -> dict[tuple, Any] | None:
    """For each chunk key of ``x``, something that gives that chunk again without any other
    chunk key -- or ``None`` if some chunk is computed from other tasks.

    A chunk qualifies if its graph value is data (``from_array`` over an in-memory ndarray
    slices it into literal chunks: the value itself is returned) or a task whose
    dependencies are data shared by every chunk (``from_array`` over a memmap, zarr array or
    any array-like, ``from_zarr``, the CLI's readers: a getter on the one source object;
    ``dask.array.random``: no dependencies at all): the task is returned, and running a clone
    of it reads the chunk a second time. Chunks computed by other tasks (a rechunk, any
    arithmetic) are not re-read: that would repeat the upstream work."""
    graph = x.__dask_graph__()
    reads: dict[tuple, Any] = {}
    shared_deps: set | None = None  # the data every chunk task reads from
    for key in flatten(x.__dask_keys__()):
        try:
            value = graph[key]
        except KeyError:  # pragma: no cover - a graph without its own keys
            return None
        if _is_literal(value):
            reads[key] = value.value if isinstance(value, DataNode) else value
            continue
        if not isinstance(value, Task) or isinstance(value, Alias):
            return None  # legacy tuples and aliases: not inspected, the old path
        # A getter reads from one source object that every chunk shares; a task with a
        # dependency of its own per chunk (x + 0 over literal chunks) computes its chunk.
        if shared_deps is None:
            shared_deps = set(value.dependencies)
            if not all(dep in graph and _is_literal(graph[dep]) for dep in shared_deps):
                return None
        elif set(value.dependencies) != shared_deps:
            return None
        reads[key] = value
    return reads


def _region_read(read: Any, part: tuple[slice, ...]) -> tuple[tuple, tuple[slice, ...]] | None:
    """A task that reads only ``part`` of a chunk from its source, and ``part`` relative to
    what it reads -- or ``None`` when ``read`` is not a region getter.

    ``from_array`` and ``from_zarr`` read each chunk as ``getter(source, region, **kw)``; the
    same getter on the bounding box of ``part`` reads just the samples a halo needs (a
    reflected run, step -1, is read forwards and reversed after)."""
    if not isinstance(read, Task) or len(read.args) != 2:
        return None
    source, region = read.args
    if not isinstance(source, TaskRef) or not isinstance(region, DataNode):
        return None
    region = region.value
    if not (isinstance(region, tuple) and len(region) == len(part) and all(
            isinstance(r, slice) and r.step in (None, 1) and r.start is not None
            and r.stop is not None for r in region)):
        return None
    boxes, relative = [], []
    for r, p in zip(region, part, strict=True):
        start, stop, step = p.indices(r.stop - r.start)
        if step == 1:
            lo, hi, rel = start, stop, slice(None)
        elif step == -1:
            lo, hi, rel = stop + 1, start + 1, slice(None, None, -1)
        else:  # pragma: no cover - runs are contiguous, forwards or backwards
            return None
        boxes.append(slice(r.start + lo, r.start + hi))
        relative.append(rel)
    return (apply, read.func, [source.key, tuple(boxes)], dict(read.kwargs)), tuple(relative)


def region_reads(x: da.Array) -> bool:
    """Whether every chunk of ``x`` comes from a region getter (``from_array`` over an
    array-like or memmap, ``from_zarr``, the CLI's readers): then each block reads its halos
    from the source itself, and no strip is held between tasks."""
    reads = leaf_reads(x)
    whole = (slice(None),) * x.ndim
    return reads is not None and all(_region_read(r, whole) is not None
                                     for r in reads.values())


def halo_map(block_fn: Callable[..., np.ndarray], x: da.Array,
             axes: Mapping[int, tuple[np.ndarray, int, tuple[int, ...], tuple[int, int]]],
             fill: Any, block_args: tuple, chunks: tuple[tuple[int, ...], ...], dtype: Any,
             with_location: bool = False) -> da.Array:
    """``block_fn`` on every block of ``x`` padded at its true edges, cut into blocks and
    extended by halos -- what ``pad``, ``rechunk``, ``dask.array.overlap`` and
    ``map_blocks`` would do, as one explicit graph whose memory per worker does not grow
    with the number of chunks.

    ``axes[axis] = (index, lo, block_sizes, (left, right))``: ``index`` maps the padded axis
    to input samples (:func:`padded_index`; -1 is ``fill``), ``lo`` is the padding before
    the input, ``block_sizes`` cut the padded axis into blocks, and every block but the
    first reads ``left`` samples before it and every block but the last ``right`` samples
    after it. The other axes keep ``x``'s chunks.

    Every input chunk has one *owner*: the block holding the chunk's middle sample along
    every axis. The owner reads the chunk itself; every other block that needs a part of it
    (a halo, an edge pad such as 'wrap', a shifted block start) gets that part as a
    *copied* strip, all of a chunk's strips cut by one task that runs as soon as the first
    of those blocks needs one. So a chunk is held only until its strips are cut and its
    owner has run (``dask.array.overlap`` passes views instead, which keep each neighbour
    chunk whole until the last block reading it has run, and dask's order cuts each strip
    only just before its reader runs), and each block is assembled inside the task that
    runs ``block_fn`` on it.

    ``with_location``: ``block_fn`` also receives ``block_info={None: {"chunk-location":
    j}}``. ``block_args`` may be Delayed values (one graph key each, see :func:`shared`).
    """
    meta = np.empty((0,) * x.ndim, dtype=dtype)
    token = tokenize(x, {a: (v[0].tobytes(), *v[1:]) for a, v in axes.items()}, fill,
                     block_fn, block_args, chunks, dtype, with_location)
    strip_name = f"halo-strip-{token}"
    name = f"{funcname(block_fn)}-halo-{token}"
    arg_keys = [a.key if isinstance(a, Delayed) else a for a in block_args]
    # per axis and block: the runs it reads ((chunk, slice in chunk, slice in block)), and
    # per axis and input chunk: the block that owns it
    per_axis: list[list[list[tuple[int | None, slice | None, slice]]]] = []
    owners: list[list[int]] = []
    shapes: list[list[int]] = []
    for a in range(x.ndim):
        sizes = x.chunks[a]
        starts = np.cumsum((0, *sizes[:-1]))
        if a not in axes:
            per_axis.append([[(j, slice(None), slice(None))] for j in range(len(sizes))])
            owners.append(list(range(len(sizes))))
            shapes.append(list(sizes))
            continue
        index, lo, blocks, (left, right) = axes[a]
        edges = np.cumsum((0, *blocks))
        reads, axis_shapes = [], []
        for j in range(len(blocks)):
            r0 = edges[j] - (left if j > 0 else 0)
            r1 = edges[j + 1] + (right if j < len(blocks) - 1 else 0)
            reads.append([(c, local, slice(place.start, place.stop))
                          for c, local, place in _axis_runs(index[r0:r1], starts)])
            axis_shapes.append(int(r1 - r0))
        middles = lo + starts + np.asarray(sizes) // 2
        owners.append((np.searchsorted(edges, middles, side="right") - 1).tolist())
        per_axis.append(reads)
        shapes.append(axis_shapes)
    graph: dict[Any, Any] = {}
    strips: dict[tuple[int, ...], list[tuple[slice, ...]]] = {}
    # Read twice where reading is cheap (see leaf_reads). Best, a region getter: the block
    # reads its halo's samples from the source itself, inside its own task, so no strip
    # exists outside the task that uses it. Otherwise a strip task reads its chunk again
    # (a clone of the chunk's task under a new key, or the strips of a literal chunk cut
    # now). Either way a chunk is held only by its owner (read -> run -> release), not until
    # the owner's neighbours have run.
    reads = leaf_reads(x) if READ_TWICE else None
    for location in itertools.product(*(range(len(s)) for s in shapes)):
        pieces, places, sources, filled = [], [], [], False
        for combo in itertools.product(*(per_axis[a][j] for a, j in enumerate(location))):
            if any(c is None for c, _, _ in combo):
                filled = True
                continue
            chunk = tuple(c for c, _, _ in combo)
            part = tuple(local for _, local, _ in combo)
            places.append(tuple(place for _, _, place in combo))
            if all(owners[a][c] == j for a, (c, j) in enumerate(zip(chunk, location,
                                                                   strict=True))):
                pieces.append((x.name, *chunk))
                sources.append(part)
            else:
                direct = (_region_read(reads[(x.name, *chunk)], part) if reads is not None
                          else None)
                if direct is not None:
                    pieces.append(direct[0])
                    sources.append(direct[1])
                    continue
                cut = strips.setdefault(chunk, [])
                pieces.append((strip_name, *chunk))
                sources.append(len(cut))
                cut.append(part)
        fn = functools.partial(
            _halo_block, fn=block_fn, shape=tuple(shapes[a][j] for a, j in enumerate(location)),
            places=tuple(places), sources=tuple(sources), fill=fill, filled=filled,
            dtype=x.dtype, location=location if with_location else None)
        graph[(name, *location)] = (fn, pieces, *arg_keys)
    for chunk, parts in strips.items():
        key, cut = (strip_name, *chunk), functools.partial(_copy_strips, parts=tuple(parts))
        if reads is None:
            graph[key] = (cut, (x.name, *chunk))
            continue
        read = reads[(x.name, *chunk)]
        if isinstance(read, Task):
            graph[key] = Task(key, cut, read.substitute({}, key=(f"halo-read-{token}", *chunk)))
        else:
            graph[key] = DataNode(key, cut(read))
    dependencies = [x, *(a for a in block_args if isinstance(a, Delayed))]
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=dependencies)
    return da.Array(hlg, name, chunks, dtype=dtype, meta=meta)
