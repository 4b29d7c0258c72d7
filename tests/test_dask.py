"""convkit.dask on a real distributed.LocalCluster (two worker processes under nannies).

Every chunked result is compared with the in-memory convkit result on the same data, and that
one with SciPy or PyTorch. One cluster serves the whole module.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import pickle
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
import dask.array as da
import scipy.signal
import torch
from distributed import Client, LocalCluster

import convkit
import convkit.dask as cd
import convkit.nn.functional as F
from convkit import nn, signal
from convkit.dask import cli as dask_cli

T = convkit.from_numpy


# No test here may hang: pytest-timeout is not a dependency, so a stuck test dumps every
# thread's stack and ends the run after this many seconds.
HANG_LIMIT_SECONDS = 240


@pytest.fixture(autouse=True)
def _no_hang():
    faulthandler.dump_traceback_later(HANG_LIMIT_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="2GiB")
    with Client(cluster) as c:
        yield c
    cluster.close()


def _in_memory(fn, *args, **kwargs):
    with convkit.no_grad():
        return fn(*args, **kwargs).numpy()


def _assert_engine_equal(got, expected):
    """Equal up to the rounding of the algorithm the planner picked for each block: a block
    of another shape may go to another algorithm (bit-for-bit equality when every block
    runs the same one is tested below)."""
    eps = np.finfo(expected.dtype).eps
    scale = float(np.abs(expected).max()) or 1.0
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=64 * eps, atol=64 * eps * scale)


# ----------------------------------------------------------------------------- signal
IRREGULAR_2D = ((9, 4, 17, 7), (11, 3, 14))


def test_every_signal_function_mode_and_boundary_on_the_cluster(client):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 28))
    kernel = rng.standard_normal((5, 4))
    dx = da.from_array(x, chunks=IRREGULAR_2D)
    cases, lazy = [], []
    for mode in ("full", "same", "valid"):
        for name in ("convolve", "correlate", "fftconvolve"):
            cases.append((name, mode, None))
            lazy.append(getattr(cd, name)(dx, kernel, mode))
        for name in ("convolve2d", "correlate2d"):
            for boundary in ("fill", "wrap", "symm"):
                cases.append((name, mode, boundary))
                lazy.append(getattr(cd, name)(dx, kernel, mode, boundary, fillvalue=-0.5))
    results = client.compute(lazy, sync=True)
    for (name, mode, boundary), got in zip(cases, results):
        extra = () if boundary is None else (boundary, -0.5)
        expected = getattr(signal, name)(x, kernel, mode, *extra)
        assert got.shape == expected.shape and got.dtype == expected.dtype, (name, mode)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(expected, getattr(scipy.signal, name)(x, kernel, mode,
                                                                          *extra),
                                   rtol=1e-10, atol=1e-10)


def test_convolve_nd_integer_and_method_direct(client):
    rng = np.random.default_rng(1)
    x = rng.integers(-5, 5, size=(12, 10, 9))
    kernel = rng.integers(-3, 3, size=(3, 2, 4))
    got = cd.convolve(da.from_array(x, chunks=(5, 4, 3)), kernel, "same",
                      method="direct").compute()
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, signal.convolve(x, kernel, "same", method="direct"))
    np.testing.assert_array_equal(got, scipy.signal.convolve(x, kernel, "same"))


# ----------------------------------------------------------------------------- conv
CONV2D_CASES = [
    {},
    {"stride": 2},
    {"stride": (3, 2), "dilation": 2, "padding": (2, 1)},
    {"padding": "same", "dilation": (1, 2)},
    {"groups": 2, "stride": 2, "padding": 3},
]


@pytest.mark.parametrize("kwargs", CONV2D_CASES)
def test_conv2d_irregular_batch_and_spatial_chunks(client, kwargs):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4, 23, 19)).astype(np.float32)
    groups = kwargs.get("groups", 1)
    w = rng.standard_normal((6, 4 // groups, 3, 4)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    dx = da.from_array(x, chunks=((2, 3), (1, 3), (7, 9, 7), (5, 5, 9)))
    out = cd.conv2d(dx, w, b, **kwargs)
    expected = _in_memory(F.conv2d, T(x), T(w), T(b), **kwargs)
    got = out.compute()
    assert out.chunks[0] == (2, 3) and out.shape == expected.shape
    _assert_engine_equal(got, expected)
    oracle = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                        torch.from_numpy(b), **kwargs).numpy()
    np.testing.assert_allclose(got, oracle, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_padding_modes_apply_only_at_the_true_edges(client, padding_mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 21, 18))
    module = nn.Conv2d(2, 3, (3, 5), stride=2, padding=(2, 3), padding_mode=padding_mode,
                       dtype=convkit.float64)
    dx = da.from_array(x, chunks=((1, 2), 2, (6, 8, 7), (9, 9)))
    got = cd.conv2d(dx, module.weight, module.bias, stride=2, padding=(2, 3),
                    padding_mode=padding_mode).compute()
    expected = _in_memory(module, T(x))
    np.testing.assert_array_equal(got, expected)
    reference = torch.nn.Conv2d(2, 3, (3, 5), stride=2, padding=(2, 3),
                                padding_mode=padding_mode, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(module.weight.detach().numpy()))
        reference.bias.copy_(torch.from_numpy(module.bias.detach().numpy()))
        np.testing.assert_allclose(got, reference(torch.from_numpy(x)).numpy(), rtol=1e-12,
                                   atol=1e-12)


def test_conv3d_and_unbatched_conv1d(client):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2, 9, 10, 11))
    w = rng.standard_normal((3, 2, 2, 3, 3))
    got = cd.conv3d(da.from_array(x, chunks=(1, 2, 4, 5, (3, 8))), w, stride=(1, 2, 2),
                    padding=1, dilation=(2, 1, 1)).compute()
    _assert_engine_equal(got, _in_memory(F.conv3d, T(x), T(w), stride=(1, 2, 2),
                                         padding=1, dilation=(2, 1, 1)))
    x1 = rng.standard_normal((3, 40))
    w1 = rng.standard_normal((2, 3, 5))
    got1 = cd.conv1d(da.from_array(x1, chunks=(3, (13, 14, 13))), w1, padding="same").compute()
    assert got1.shape == (2, 40)
    _assert_engine_equal(got1, _in_memory(F.conv1d, T(x1), T(w1), padding="same"))


def test_bit_for_bit_when_every_block_runs_the_same_algorithm():
    """With one algorithm forced (in this process: the synchronous scheduler), each output
    element is computed by the same arithmetic as in memory, whatever the chunking."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4, 23, 19)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 4)).astype(np.float32)
    dx = da.from_array(x, chunks=((2, 3), (1, 3), (7, 9, 7), (5, 5, 9)))
    kwargs = {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}
    with convkit.backends.algorithm("taps"):
        got = cd.conv2d(dx, w, **kwargs).compute(scheduler="sync")
        expected = _in_memory(F.conv2d, T(x), T(w), **kwargs)
        plans = convkit.backends.last_plan()
    assert plans.algorithm == "taps"
    np.testing.assert_array_equal(got, expected)


TRANSPOSE_CASES = [
    {},
    {"stride": 2},
    {"stride": (3, 2), "dilation": 2, "padding": (2, 1), "output_padding": (1, 1)},
    {"groups": 2, "stride": 2, "padding": 1, "output_padding": 1},
]


@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES)
def test_conv_transpose2d_spatial_chunks(client, kwargs):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 17, 15)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(3 * kwargs.get("groups", 1)).astype(np.float32)
    dx = da.from_array(x, chunks=((1, 2), 4, (5, 7, 5), (4, 11)))
    out = cd.conv_transpose2d(dx, w, b, **kwargs)
    assert len(out.chunks[2]) == 3  # the spatial chunking is kept
    got = out.compute()
    _assert_engine_equal(got, _in_memory(F.conv_transpose2d, T(x), T(w), T(b), **kwargs))
    oracle = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                                  torch.from_numpy(b), **kwargs).numpy()
    np.testing.assert_allclose(got, oracle, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_conv_transpose_padding_modes_chunk_the_batch(client, padding_mode):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 2, 9, 8))
    w = rng.standard_normal((2, 3, 3, 3))
    out = cd.conv_transpose(da.from_array(x, chunks=((2, 3), 2, (4, 5), 8)), w, stride=2,
                            padding=1, padding_mode=padding_mode)
    assert out.chunks[0] == (2, 3) and len(out.chunks[2]) == 1
    expected = _in_memory(F.conv_transpose, T(x), T(w), stride=2, padding=1,
                          padding_mode=padding_mode)
    np.testing.assert_array_equal(out.compute(), expected)


# ----------------------------------------------------------------------------- chunking
def test_mismatched_chunking_is_realigned_not_refused(client):
    """Chunkings that do not fit the operation are realigned, and the results are still the
    in-memory ones: channels split across groups, chunk edges off the stride grid, empty
    chunks (left by slicing), a kernel that is itself a chunked dask array."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4, 26, 21))
    w = rng.standard_normal((6, 2, 3, 3))
    # channels (1, 3) cut through both groups; spatial chunks are not multiples of 2
    dx = da.from_array(x, chunks=((1, 0, 2), (1, 3), (5, 0, 9, 12), (7, 7, 7)))
    out = cd.conv2d(dx, da.from_array(w, chunks=(2, 1, 3, 1)), stride=2, padding=1,
                    groups=2)
    assert out.chunks[0] == (1, 2) and out.chunks[1] == (6,)
    got, = client.compute([out], sync=True)
    _assert_engine_equal(got, _in_memory(F.conv2d, T(x), T(w), stride=2, padding=1,
                                         groups=2))
    image = x[0, 0]
    dimage = da.from_array(image, chunks=((13, 0, 13), (1, 20)))  # 1 < the halo of 2
    smoothed = cd.convolve2d(dimage, da.from_array(w[0, 0], chunks=2), "same", "wrap")
    np.testing.assert_allclose(client.compute(smoothed, sync=True),
                               signal.convolve2d(image, w[0, 0], "same", "wrap"),
                               rtol=1e-12, atol=1e-12)


def test_same_convolutions_keep_the_input_chunks():
    """A 'same' result lines up with its input block for block: combining the two (here a
    difference) needs no rechunk."""
    x = da.zeros((2, 3, 40, 50), chunks=(1, 3, (12, 12, 16), (25, 25)))
    w = np.ones((4, 3, 5, 4))
    assert cd.conv2d(x, w, padding="same").chunks[2:] == x.chunks[2:]
    assert cd.conv2d(x, w, padding=(2, 1), stride=2).chunks[2:] == ((6, 6, 8), (13, 12))
    image = x[0, 0]
    for fn in (cd.convolve2d, cd.correlate2d):
        assert fn(image, np.ones((7, 6)), "same", "symm").chunks == image.chunks
    assert cd.convolve(image, np.ones((7, 6)), "same").chunks == image.chunks
    assert cd.convolve(image, np.ones((7, 6)), "valid").chunks == ((12, 12, 10), (25, 20))
    smoothed = cd.convolve2d(image, np.ones((3, 3)), "same")
    added = set((image - smoothed).dask.layers) - set(smoothed.dask.layers)
    assert not any(name.startswith("rechunk") for name in added)


def test_input_errors_name_the_users_input_shape():
    x = da.zeros((5, 2, 8, 8), chunks=(1, 2, 4, 4))
    with pytest.raises(RuntimeError, match=r"got input of size \[5, 2, 8, 8\]"):
        cd.conv2d(x, np.zeros((3, 4, 3, 3)))


# ----------------------------------------------------------------------------- apply
def _small_cnn() -> nn.Module:
    convkit.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding="same", padding_mode="reflect"),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def test_apply_small_cnn_over_batch_chunks(client):
    model = _small_cnn().eval()
    images = np.random.default_rng(7).standard_normal((23, 1, 16, 16)).astype(np.float32)
    out = cd.apply(model, da.from_array(images, chunks=(10, 1, 8, 8)), batch_size=6)
    assert out.chunks == ((6, 6, 6, 5), (10,))
    got = out.compute()
    expected = _in_memory(model, T(images))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding="same", padding_mode="reflect"), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    reference.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy())
                               for k, v in model.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(got, reference(torch.from_numpy(images)).numpy(),
                                   rtol=1e-4, atol=1e-5)


def _task_sizes(array: da.Array) -> dict:
    """Pickled size of every task of a graph (a scattered future counts as its key only)."""
    return {key: len(pickle.dumps(task)) for key, task in dict(array.__dask_graph__()).items()}


def test_apply_ships_the_model_once_not_in_every_task(client):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4096), nn.Linear(4096, 4)).eval()
    model_bytes = len(pickle.dumps(model))
    assert model_bytes > 1_000_000
    images = da.from_array(np.ones((40, 1, 8, 8), np.float32), chunks=(5, 1, 8, 8))
    expected = _in_memory(model, T(images.compute()))

    # client=False: the model is one key of the graph; the 8 tasks only name it
    in_graph = cd.apply(model, images, batch_size=5, client=False)
    sizes = _task_sizes(in_graph)
    assert sum(size > model_bytes // 2 for size in sizes.values()) == 1
    assert sum(size < model_bytes // 10 for size in sizes.values()) == len(sizes) - 1
    np.testing.assert_allclose(in_graph.compute(), expected, rtol=1e-5, atol=1e-5)

    # with a client (here the default one): broadcast to every worker before anything runs;
    # no task of the graph carries it
    shipped = cd.apply(model, images, batch_size=5)
    assert all(size < model_bytes // 10 for size in _task_sizes(shipped).values())

    def models_held(dask_worker):
        return sum(type(v).__name__ == "Sequential" for v in dask_worker.data.values())

    assert list(client.run(models_held).values()) == [1, 1]
    np.testing.assert_allclose(shipped.compute(), expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- failures
def test_a_worker_killed_mid_computation_still_gives_the_complete_result(client):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 48))
    kernel = rng.standard_normal((5, 5))

    def slow(block):
        time.sleep(0.15)  # keeps the graph running while a worker dies
        return block

    dx = da.from_array(x, chunks=(8, 12)).map_blocks(slow, dtype=x.dtype)
    lazy = cd.convolve2d(dx, kernel, mode="same", boundary="symm")
    future = client.compute(lazy)
    deadline = time.monotonic() + 20
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    victim = sorted(client.scheduler_info()["workers"])[0]
    pids_before = client.run(os.getpid)
    assert not future.done()  # the kill below happens mid-computation
    with pytest.raises(Exception):  # noqa: B017 - the worker dies before it can answer
        client.run(os._exit, 1, workers=[victim])
    got = future.result(timeout=60)
    assert future.status == "finished"
    np.testing.assert_allclose(got, signal.convolve2d(x, kernel, "same", "symm"),
                               rtol=1e-12, atol=1e-12)
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != set(pids_before.values())


def test_a_failure_on_the_cluster_leaves_nothing_at_the_output(client, tmp_path):
    """A block that fails on a worker while others are still writing: the command fails,
    OUTPUT keeps its previous content, and no late writer recreates the temporary (zarr
    creates the directories it writes into)."""
    x = da.ones((64, 64), chunks=(8, 8))

    def fails_once(block, block_info=None):
        time.sleep(0.05)  # others are mid-write when (0, 1) fails
        if block_info[0]["chunk-location"] == (0, 1):
            raise OSError("disk full (simulated)")
        return block

    result = cd.convolve2d(x.map_blocks(fails_once, dtype=x.dtype), np.ones((3, 3)), "same")
    previous = tmp_path / "out.zarr"
    previous.mkdir()
    (previous / "kept").write_text("previous result")
    for out in (previous, tmp_path / "out.npy"):
        with pytest.raises(OSError, match="disk full"):
            dask_cli.write_output(result, str(out), client, progress=True)
        time.sleep(0.5)  # a writer that outlived the cleanup would show up by now
        assert sorted(os.listdir(tmp_path)) == ["out.zarr"]
        assert os.listdir(previous) == ["kept"]


def test_unreachable_scheduler_is_a_clear_error_within_seconds():
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at "
                                              r"'tcp://127.0.0.1:9' within 2 s"):
        cd.client("tcp://127.0.0.1:9", timeout=2)
    assert time.monotonic() - start < 15


def test_unresolvable_scheduler_host_is_a_clear_error():
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at "
                                              r"'tcp://no-such-host\.invalid:8786'"):
        cd.client("tcp://no-such-host.invalid:8786", timeout=2)


def test_client_without_address_starts_a_cluster_of_worker_processes():
    own = cd.client(n_workers=1, dashboard_address=":0", memory_limit="1GiB")
    try:
        cluster = own.cluster
        assert type(cluster).__name__ == "LocalCluster"
        worker_pid = next(iter(own.run(os.getpid).values()))
        assert worker_pid != os.getpid()  # a separate process, not a thread of this one
        out = cd.convolve(da.arange(10.0, chunks=4), np.ones(3), "same")
        np.testing.assert_array_equal(own.compute(out, sync=True),
                                      signal.convolve(np.arange(10.0), np.ones(3), "same"))
    finally:
        own.close()
    assert cluster.status.name == "closed"  # closing the client closed its cluster


def test_client_connects_to_a_running_scheduler(client):
    other = cd.client(client.scheduler.address, timeout=5)
    try:
        assert len(other.scheduler_info()["workers"]) == 2
    finally:
        other.close()


def test_local_cluster_is_sized_to_the_machine():
    import psutil

    size = cd.local_cluster_size()
    assert size["n_workers"] == len(os.sched_getaffinity(0))
    assert size["threads_per_worker"] == 1
    assert size["memory_limit"] * size["n_workers"] <= psutil.virtual_memory().total


# ----------------------------------------------------------------------------- CLI
def _cli(argv):
    parser = argparse.ArgumentParser(prog="convkit")
    dask_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def image(tmp_path):
    x = np.random.default_rng(9).standard_normal((70, 53)).astype(np.float32)
    path = tmp_path / "in.npy"
    np.save(path, x)
    return x, path


def test_cli_npy_to_npy_on_the_cluster_scheduler(client, image, tmp_path, capsys):
    x, path = image
    out = tmp_path / "out.npy"
    status = _cli(["dask-filter", str(path), "--kernel", "sobel_x", "--out", str(out),
                   "--chunks", "32,20", "--boundary", "symm",
                   "--scheduler", client.scheduler.address])
    assert status == 0
    got = np.load(out)
    from convkit.filters import sobel_x

    np.testing.assert_allclose(got, signal.convolve2d(x, sobel_x(), "same", "symm"),
                               rtol=1e-5, atol=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["in.npy", "out.npy"]  # no temporaries left
    assert "out.npy (70, 53)" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".zarr", ".tif"])
def test_cli_zarr_and_tiff_round_trip(image, tmp_path, suffix):
    x, path = image
    mid = tmp_path / f"mid{suffix}"
    final = tmp_path / "final.npy"
    assert _cli(["dask-filter", str(path), "-k", "box:3", "-o", str(mid), "--chunks", "25,25",
                 "--scheduler", "threads", "--no-progress"]) == 0
    assert _cli(["dask-filter", str(mid), "-k", "gaussian:1", "-o", str(final),
                 "--mode", "valid", "--scheduler", "threads", "--no-progress"]) == 0
    from convkit.filters import box, gaussian

    once = signal.convolve2d(x, box(3), "same")
    np.testing.assert_allclose(np.load(final), signal.convolve2d(once, gaussian(1), "valid"),
                               rtol=1e-5, atol=1e-5)


def test_cli_failure_mid_write_leaves_nothing_at_the_output(image, tmp_path, monkeypatch):
    _, path = image
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous result")
    writes = []

    def failing_setitem(self, key, value):
        writes.append(key)
        if len(writes) == 3:
            raise OSError("disk full (simulated)")
        target = np.load(self.path, mmap_mode="r+")
        target[key] = value
        target.flush()

    monkeypatch.setattr(dask_cli._NpyRegion, "__setitem__", failing_setitem)
    with pytest.raises(OSError, match="disk full"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(out), "--chunks", "20,20",
              "--scheduler", "threads", "--no-progress"])
    assert len(writes) >= 3  # threads may have started another block's write meanwhile
    assert out.read_bytes() == b"previous result"  # untouched, not half-written
    assert sorted(os.listdir(tmp_path)) == ["in.npy", "out.npy"]


def test_cli_zarr_and_stacked_tiff_on_the_cluster_scheduler(client, tmp_path):
    import tifffile
    import zarr

    rng = np.random.default_rng(11)
    x = rng.standard_normal((90, 75)).astype(np.float32)
    source = zarr.open(str(tmp_path / "in.zarr"), mode="w", shape=x.shape, chunks=(30, 40),
                       dtype=x.dtype)
    source[:] = x
    assert _cli(["dask-filter", str(tmp_path / "in.zarr"), "-k", "gaussian:1.5", "-o",
                 str(tmp_path / "out.zarr"), "--boundary", "wrap", "--no-progress",
                 "--scheduler", client.scheduler.address]) == 0
    from convkit.filters import gaussian, laplace

    written = zarr.open(str(tmp_path / "out.zarr"), mode="r")
    assert written.chunks == (30, 40)  # 'same' keeps the input's chunking
    np.testing.assert_allclose(written[:], signal.convolve2d(x, gaussian(1.5), "same",
                                                             "wrap"), rtol=1e-6, atol=1e-6)
    stack = rng.standard_normal((3, 40, 33)).astype(np.float32)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    assert _cli(["dask-filter", str(tmp_path / "stack.tif"), "-k", "laplace", "-o",
                 str(tmp_path / "stack_out.tif"), "--chunks", "16,16", "--mode", "full",
                 "--no-progress", "--scheduler", client.scheduler.address]) == 0
    expected = np.stack([signal.convolve2d(plane, laplace(), "full") for plane in stack])
    np.testing.assert_allclose(tifffile.imread(tmp_path / "stack_out.tif"), expected,
                               rtol=1e-5, atol=1e-5)


def test_cli_bad_arguments(image, tmp_path):
    _, path = image
    with pytest.raises(ValueError, match="--chunks '1,2,3' must give at most 2"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(tmp_path / "o.npy"),
              "--chunks", "1,2,3", "--scheduler", "threads"])
    with pytest.raises(ValueError, match="--chunks must be integers separated by commas, "
                                         "got '20x20'"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(tmp_path / "o.npy"),
              "--chunks", "20x20", "--scheduler", "threads"])
    with pytest.raises(ValueError, match="--chunks '0,5' must give at most 2 positive"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(tmp_path / "o.npy"),
              "--chunks", "0,5", "--scheduler", "threads"])
    with pytest.raises(ValueError, match="must end in one of"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(tmp_path / "o.png"),
              "--scheduler", "threads"])
    with pytest.raises(ValueError, match=r"halo of 20 samples .*kernel extent 41.*"
                                         r"largest chunk on that axis is 10"):
        _cli(["dask-filter", str(path), "-k", "box:41", "-o", str(tmp_path / "o.npy"),
              "--chunks", "10,10", "--scheduler", "threads"])
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered"):
        _cli(["dask-filter", str(path), "-k", "laplace", "-o", str(tmp_path / "o.npy"),
              "--scheduler", "tcp://127.0.0.1:9", "--timeout", "2"])
    assert time.monotonic() - start < 15
    assert sorted(os.listdir(tmp_path)) == ["in.npy"]
