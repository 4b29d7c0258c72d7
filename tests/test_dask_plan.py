"""convkit.dask without a cluster: the chunk arithmetic, and chunked == in-memory on random
chunkings (synchronous scheduler, so hypothesis can afford many chunkings)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("dask.array")
import dask
import dask.array as da
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
import convkit.dask as cd
import convkit.nn.functional as F
from convkit import signal
from convkit.dask._chunks import merge_small_blocks, plan_axis, plan_transposed_axis
from convkit.dask._core import leaf_reads

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def chunkings(draw, n_min=1, n_max=40):
    n = draw(st.integers(n_min, n_max))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=5))) if n > 1 else []
    edges = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@SETTINGS
@given(chunks=chunkings(), k=st.integers(1, 6), d=st.integers(1, 3), s=st.integers(1, 4),
       lo=st.integers(0, 5), hi=st.integers(0, 5))
def test_plan_axis_covers_every_output_once(chunks, k, d, s, lo, hi):
    n, e = sum(chunks), d * (k - 1) + 1
    total = lo + n + hi
    if total < e:
        return
    plan = plan_axis(chunks, (lo, hi), e, s, allow_rechunk=True, op="t", axis=0)
    out = (total - e) // s + 1
    assert sum(plan.out_chunks) == out and sum(plan.in_chunks) == total
    assert all(c >= 1 for c in plan.out_chunks)
    left, right = plan.depth
    if len(plan.in_chunks) > 1:
        assert left + right == max(e - s, 0) and left <= lo  # the halo, cut exactly
        assert max(plan.depth) <= min(plan.in_chunks)  # dask's overlap rule holds
    start, first_output = 0, 0
    for j, (size, outputs) in enumerate(zip(plan.in_chunks, plan.out_chunks)):
        first, last = j == 0, j == len(plan.in_chunks) - 1
        read_from = start - (0 if first else left)
        read = size + (0 if first else left) + (0 if last else right)
        # the block (halos included) starts where its first output's window starts, and
        # a 'valid' window over it yields exactly its outputs
        assert read_from == first_output * s
        assert (read - e) // s + 1 == outputs
        start, first_output = start + size, first_output + outputs


@SETTINGS
@given(chunks=chunkings(2, 40), k=st.integers(1, 6), d=st.integers(1, 3))
def test_plan_axis_same_padding_keeps_the_input_chunks(chunks, k, d):
    """Stride 1 with the window centred ('same'): output chunks are the input's chunks (when
    no chunk is smaller than the halo), so chunked results line up with their input."""
    e = d * (k - 1) + 1
    lo = (e - 1) // 2
    plan = plan_axis(chunks, (lo, e - 1 - lo), e, 1, allow_rechunk=True, op="t", axis=0)
    if min(chunks) >= max(lo, e - 1 - lo):
        assert plan.out_chunks == chunks and not plan.rechunked


@SETTINGS
@given(chunks=chunkings(), k=st.integers(1, 6), d=st.integers(1, 3), s=st.integers(1, 4),
       p=st.integers(0, 4), op=st.integers(0, 3))
def test_plan_transposed_axis_windows(chunks, k, d, s, p, op):
    n, e = sum(chunks), d * (k - 1) + 1
    op = op % max(s, d)
    size = (n - 1) * s - 2 * p + e + op
    if size <= 0:
        return
    plan, windows = plan_transposed_axis(chunks, p, e, s, size, True, "t", 0)
    assert sum(plan.out_chunks) == size and sum(plan.in_chunks) == n
    assert all(c >= 1 for c in plan.out_chunks)
    q0, edge = 0, 0
    for j, ((offset, length), in_size) in enumerate(zip(windows, plan.in_chunks)):
        first = max(edge - plan.depth[0], 0)
        # the block's first output sits at q0 + p in uncropped coordinates
        assert offset == q0 + p - first * s and length == plan.out_chunks[j]
        # every input that reaches an output of this block is inside the block
        lowest_needed = max(0, -(-(q0 + p - (e - 1)) // s))
        assert first <= lowest_needed
        q0, edge = q0 + length, edge + in_size


def test_merge_small_blocks_keeps_original_boundaries():
    # [10, 12) joins its smaller neighbour [0, 10)
    assert merge_small_blocks([10, 12, 30], 40, 5) == [12, 30]
    assert merge_small_blocks([2], 40, 5) == []
    assert merge_small_blocks([38], 40, 5) == []
    assert merge_small_blocks([5, 10], 12, 20) == []


def test_halo_larger_than_every_chunk_is_a_value_error_naming_the_numbers():
    x = da.zeros((1, 1, 40, 40), chunks=(1, 1, 8, 40))
    w = np.ones((1, 1, 11, 3))
    with pytest.raises(ValueError, match=r"axis 2 .*halo of 10.*largest chunk on that axis "
                                         r"is 8.*allow_rechunk=True"):
        cd.conv2d(x, w)
    # opting in merges the chunks and gives the in-memory answer
    out = cd.conv2d(x + 1, w, allow_rechunk=True)
    assert all(c >= 10 for c in out.chunks[2][:-1])
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(out.compute(), np.full((1, 1, 30, 38), 33.0))


def test_undersized_ragged_chunks_are_merged_automatically():
    x = np.random.default_rng(1).standard_normal((41, 33))
    dx = da.from_array(x, chunks=((16, 16, 9, 0)[:3], (2, 29, 2)))
    with dask.config.set(scheduler="synchronous"):
        out = cd.convolve2d(dx, np.ones((12, 5)), mode="same", boundary="symm")
        np.testing.assert_allclose(out.compute(), scipy.signal.convolve2d(
            x, np.ones((12, 5)), mode="same", boundary="symm"), rtol=1e-12, atol=1e-12)


def test_unknown_chunk_sizes_and_non_dask_input_are_refused():
    x = da.from_array(np.arange(20.0), chunks=5)
    unknown = x[x > 3]
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        cd.convolve(unknown, np.ones(3))
    with pytest.raises(TypeError, match=r"expected a dask\.array\.Array.*got ndarray"):
        cd.convolve(np.arange(5.0), np.ones(3))


def test_errors_are_the_in_memory_functions_errors():
    x = da.zeros((2, 3, 10, 10), chunks=(1, 3, 5, 5), dtype=np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        cd.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"expected input with 6 channels"):
        cd.conv2d(x, np.zeros((4, 3, 3, 3), np.float32), groups=2)
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        cd.conv2d(x, w, padding=10, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        cd.conv2d(x, w, padding_mode="mirror")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        cd.conv2d(x, np.zeros((4, 3, 11, 3), np.float32))
    with pytest.raises(ValueError, match="Acceptable boundary flags"):
        cd.convolve2d(da.zeros((8, 8), chunks=4), np.ones((3, 3)), boundary="mirror")
    with pytest.raises(ValueError, match="Acceptable mode flags"):
        cd.convolve(da.zeros((8, 8), chunks=4), np.ones((3, 3)), mode="half")
    with pytest.raises(ValueError, match="one must be at least as large"):
        cd.convolve(da.zeros((8, 2), chunks=4), np.ones((3, 3)), mode="valid")


@SETTINGS
@given(chunks=chunkings(4, 30), k=st.integers(1, 5), d=st.integers(1, 3), s=st.integers(1, 3),
       pad=st.sampled_from([0, 1, 2, "same", "valid"]),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
       batch=st.sampled_from([(1,), (2, 1), (3,)]))
def test_conv1d_any_chunking_equals_in_memory(chunks, k, d, s, pad, mode, batch):
    n = sum(chunks)
    if pad == "same" and s != 1:
        s = 1
    pairs = 0 if pad in ("same", "valid") else pad
    if d * (k - 1) + 1 > n + 2 * pairs + (d * (k - 1) if pad == "same" else 0):
        return
    if mode == "reflect" and ((pad == "same" and d * (k - 1) >= 2 * n) or pairs >= n):
        return
    rng = np.random.default_rng(n * 100 + k)
    x = rng.standard_normal((sum(batch), 2, n))
    w = rng.standard_normal((3, 2, k))
    b = rng.standard_normal(3)
    module = convkit.nn.Conv1d(2, 3, k, stride=s, padding=pad, dilation=d, padding_mode=mode,
                               dtype=convkit.float64)
    module.weight.data = convkit.from_numpy(w)
    module.bias.data = convkit.from_numpy(b)
    with convkit.no_grad():
        try:
            expected = module(convkit.from_numpy(x)).numpy()
        except RuntimeError:
            return  # the in-memory module refuses it; the chunked call must too
    dx = da.from_array(x, chunks=(batch, 2, chunks))
    out = cd.conv1d(dx, w, b, stride=s, padding=pad, dilation=d, padding_mode=mode,
                    allow_rechunk=True)
    with dask.config.set(scheduler="synchronous"):
        got = out.compute()
    assert out.chunks[0] == batch
    # per-block GEMM shapes differ from the whole array's, so BLAS may round differently in
    # the last bit (the fixed-size cases in test_dask.py are checked bit for bit)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@SETTINGS
@given(chunks=chunkings(2, 20), k=st.integers(1, 4), d=st.integers(1, 2), s=st.integers(1, 3),
       p=st.integers(0, 2), op=st.integers(0, 2), groups=st.sampled_from([1, 2]))
def test_conv_transpose1d_spatial_chunks_equal_in_memory_and_torch(chunks, k, d, s, p, op,
                                                                     groups):
    op = op % max(s, d)
    n = sum(chunks)
    if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 <= 0:
        return
    rng = np.random.default_rng(n + 7 * k)
    x = rng.standard_normal((2, 4, n))
    w = rng.standard_normal((4, 3, k))
    b = rng.standard_normal(3 * groups)
    args = (s, p, op, groups, d)
    with convkit.no_grad():
        expected = F.conv_transpose1d(convkit.from_numpy(x), convkit.from_numpy(w),
                                      convkit.from_numpy(b), *args).numpy()
    out = cd.conv_transpose1d(da.from_array(x, chunks=(1, 4, chunks)), w, b, *args,
                              allow_rechunk=True)
    with dask.config.set(scheduler="synchronous"):
        got = out.compute()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    oracle = torch.nn.functional.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w),
                                                  torch.from_numpy(b), *args).numpy()
    np.testing.assert_allclose(got, oracle, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(shape=st.tuples(chunkings(1, 25), chunkings(1, 25)),
       kshape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       mode=st.sampled_from(["full", "same", "valid"]),
       boundary=st.sampled_from(["fill", "wrap", "symm"]),
       correlate=st.booleans())
def test_convolve2d_any_chunking_equals_in_memory(shape, kshape, mode, boundary, correlate):
    rng = np.random.default_rng(sum(shape[0]) * 31 + sum(shape[1]))
    x = rng.standard_normal(tuple(sum(c) for c in shape))
    kernel = rng.standard_normal(kshape)
    name = "correlate2d" if correlate else "convolve2d"
    try:
        expected = getattr(signal, name)(x, kernel, mode, boundary, fillvalue=0.5)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(cd, name)(da.from_array(x, chunks=shape), kernel, mode, boundary, 0.5)
        return
    out = getattr(cd, name)(da.from_array(x, chunks=shape), kernel, mode, boundary, 0.5,
                            allow_rechunk=True)
    with dask.config.set(scheduler="synchronous"):
        got = out.compute()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, getattr(scipy.signal, name)(x, kernel, mode, boundary, 0.5),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("axes", [None, 0, (1,), (0, 2)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_fftconvolve_axes_and_broadcasting(axes, mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 14, 12)).astype(np.float32)
    kernel = rng.standard_normal((3, 1, 4)).astype(np.float32)
    if axes is not None:
        # along unconvolved axes the kernel must match or be 1 (SciPy's broadcasting)
        kernel = rng.standard_normal(tuple(3 if a in np.atleast_1d(axes) else 1
                                           for a in range(3))).astype(np.float32)
    dx = da.from_array(x, chunks=((4, 5), (3, 6, 5), (12,)))
    with dask.config.set(scheduler="synchronous"):
        got = cd.fftconvolve(dx, kernel, mode, axes).compute()
    expected = signal.fftconvolve(x, kernel, mode, axes)
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, scipy.signal.fftconvolve(x, kernel, mode, axes),
                               rtol=1e-4, atol=1e-4)


def test_correlate_valid_with_larger_kernel_swaps_as_scipy():
    x = np.arange(4.0)
    kernel = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    with dask.config.set(scheduler="synchronous"):
        got = cd.correlate(da.from_array(x, chunks=2), kernel, "valid").compute()
    np.testing.assert_allclose(got, scipy.signal.correlate(x, kernel, "valid"))


# ----------------------------------------------------------------------------- halo graph
def _dependencies(graph: dict, key) -> set:
    from dask.core import get_dependencies

    return set(get_dependencies(graph, key))


def _dependents(graph: dict) -> dict:
    from dask.core import get_dependencies

    out: dict = {key: set() for key in graph}
    for key in graph:
        for dep in get_dependencies(graph, key):
            out.setdefault(dep, set()).add(key)
    return out


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_each_input_chunk_feeds_only_its_own_block_and_one_strip_task(boundary):
    """The memory property of the halo graph, checked on its structure: every input chunk is
    read whole by one block only (its owner) and by one task that copies the strips its
    neighbours need; no block holds a view of a neighbour chunk (dask.array.overlap's
    getitem views keep each neighbour chunk alive until its last reader has run)."""
    # chunks computed by a task (not leaf reads): the read-once graph
    x = da.from_array(np.arange(24 * 30, dtype=np.float64).reshape(24, 30),
                      chunks=(8, 10)).map_blocks(np.copy)
    out = cd.convolve2d(x, np.ones((5, 3)), mode="same", boundary=boundary)
    graph = dict(out.__dask_graph__())
    dependents = _dependents(graph)
    chunk_keys = [k for k in graph if isinstance(k, tuple) and k[0] == x.name]
    assert len(chunk_keys) == 9
    for key in chunk_keys:
        readers = dependents[key]
        blocks = {r for r in readers if r[0] == out.name}
        strips = {r for r in readers if str(r[0]).startswith("halo-strip-")}
        assert blocks == {(out.name, *key[1:])}  # its own block, nobody else's
        assert len(strips) == 1 and readers == blocks | strips
    with dask.config.set(scheduler="synchronous"):
        strip_key = next(k for k in graph if str(k[0]).startswith("halo-strip-"))
        chunk = dask.get(graph, (x.name, *strip_key[1:]))
        cut = dask.get(graph, strip_key)
        got = out.compute()
    assert cut and all(s.flags.owndata and not np.shares_memory(s, chunk) for s in cut)
    # strips are small: at most the halo (4 rows + 2 columns here) of each side
    assert all(min(s.shape) <= 4 for s in cut)
    np.testing.assert_array_equal(
        got, signal.convolve2d(x.compute(), np.ones((5, 3)), "same", boundary))


class _ArrayLike:
    """A minimal array-like source (shape, dtype, ndim, __getitem__), as a reader of a file."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim

    def __getitem__(self, key):
        return np.array(self.data[key])


@pytest.mark.parametrize("source", ["ndarray", "array-like", "inline", "random"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_leaf_chunks_are_read_twice_not_held_for_strips(source, boundary):
    """Input chunks that are leaf reads (from_array over an ndarray or any array-like, a
    random array) are read again by the strip tasks: no strip task depends on a chunk key,
    so each chunk feeds its own block only -- and the result is exactly the in-memory one."""
    data = np.arange(24 * 30, dtype=np.float64).reshape(24, 30) % 7
    x = {"ndarray": lambda: da.from_array(data, chunks=(8, 10)),
         "array-like": lambda: da.from_array(_ArrayLike(data), chunks=(8, 10),
                                             meta=np.empty((0, 0))),
         "inline": lambda: da.from_array(_ArrayLike(data), chunks=(8, 10), inline_array=True,
                                         meta=np.empty((0, 0))),
         "random": lambda: da.random.default_rng(3).integers(0, 7, (24, 30), chunks=(8, 10),
                                                             dtype=np.int64)}[source]()
    assert leaf_reads(x) is not None
    kernel = np.arange(15.0).reshape(5, 3)
    out = cd.convolve2d(x, kernel, mode="same", boundary=boundary)
    graph = dict(out.__dask_graph__())
    dependents = _dependents(graph)
    chunk_keys = {k for k in graph if isinstance(k, tuple) and k[0] == x.name}
    strip_keys = {k for k in graph if isinstance(k, tuple) and str(k[0]).startswith(
        "halo-strip-")}
    assert len(chunk_keys) == 9
    # a region getter (from_array over an array-like) reads each halo inside the block that
    # needs it: no strip task at all; literal, inline and random chunks get strip tasks
    assert bool(strip_keys) == (source != "array-like")
    for key in chunk_keys:
        assert dependents[key] == {(out.name, *key[1:])}  # its own block only
    for key in strip_keys:
        assert not _dependencies(graph, key) & chunk_keys
    with dask.config.set(scheduler="synchronous"):
        got, whole = dask.compute(out, x)
    np.testing.assert_array_equal(got, signal.convolve2d(whole, kernel, "same", boundary))


class _CountingArrayLike(_ArrayLike):
    def __init__(self, data: np.ndarray) -> None:
        super().__init__(data)
        self.reads: list[tuple[int, ...]] = []

    def __getitem__(self, key):
        out = super().__getitem__(key)
        self.reads.append(out.shape)
        return out


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_halos_of_a_region_getter_read_only_the_halo(boundary):
    """Read twice costs little where the source can be read by region: besides each chunk
    once, only the halo samples are read (5 x 3 kernel: 2 rows and 1 column on each side)."""
    data = np.arange(24 * 30, dtype=np.float64).reshape(24, 30) % 7
    source = _CountingArrayLike(data)
    x = da.from_array(source, chunks=(8, 10), meta=np.empty((0, 0)))
    kernel = np.arange(15.0).reshape(5, 3)
    with dask.config.set(scheduler="synchronous"):
        got = cd.convolve2d(x, kernel, mode="same", boundary=boundary).compute()
    np.testing.assert_array_equal(got, signal.convolve2d(data, kernel, "same", boundary))
    full = [shape for shape in source.reads if shape == (8, 10)]
    halos = [shape for shape in source.reads if shape != (8, 10)]
    assert len(full) == 9
    assert halos and all(rows <= 2 or cols <= 1 for rows, cols in halos)
    assert sum(r * c for r, c in halos) <= 4 * (24 * 2 + 30 * 1) * 2


def test_computed_chunks_are_read_once():
    """Chunks computed by other tasks (arithmetic, a rechunk) are not recomputed for their
    strips: the strip task depends on the chunk key."""
    data = np.arange(24 * 30, dtype=np.float64).reshape(24, 30)
    for x in (da.from_array(data, chunks=(8, 10)) + 1,
              da.from_array(_ArrayLike(data), chunks=(4, 5),
                            meta=np.empty((0, 0))).rechunk((8, 10))):
        assert leaf_reads(x) is None
        out = cd.convolve2d(x, np.ones((5, 3)), mode="same", boundary="symm")
        graph = dict(out.__dask_graph__())
        for key in graph:
            if isinstance(key, tuple) and str(key[0]).startswith("halo-strip-"):
                assert _dependencies(graph, key) == {(x.name, *key[1:])}
        with dask.config.set(scheduler="synchronous"):
            got = out.compute()
        np.testing.assert_array_equal(
            got, signal.convolve2d(data + (1 if x.name.startswith("add") else 0),
                                   np.ones((5, 3)), "same", "symm"))


def test_padding_wider_than_the_axis_reads_the_right_samples():
    """Edge padding is built from an index map (exact for any pad width), cut into slices
    of single chunks -- reversed for 'reflect'/'symmetric', repeated for 'wrap'."""
    from convkit.dask._core import _axis_runs, padded_index

    starts = np.array([0, 3, 5])  # chunks (3, 2, 2) of an axis of 7
    for mode in ("constant", "wrap", "reflect", "symmetric", "edge"):
        index = padded_index(7, (9, 11), mode)
        rebuilt = np.full(len(index), -1)
        for chunk, local, place in _axis_runs(index, starts):
            if chunk is not None:
                stop = starts[chunk + 1] if chunk + 1 < len(starts) else 7
                rebuilt[place] = np.arange(starts[chunk], stop)[local]
        np.testing.assert_array_equal(rebuilt, index)
