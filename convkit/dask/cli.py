"""``convkit dask-filter``: convolve an image larger than memory with a named kernel on Dask.

Inputs: ``.npy`` (memory-mapped), ``.zarr``, ``.tif``/``.tiff`` (read through tifffile's zarr
store). Outputs: ``.npy``, ``.zarr``, ``.tif``/``.tiff``. The kernel is applied to the last two
axes (true convolution, ``scipy.signal.convolve2d`` semantics); leading axes are planes that
are filtered one by one. The result is written to a temporary path beside ``--out`` and moved
into place only when the whole computation succeeded, so a failure never leaves a
half-written output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

__all__ = ["add_parser", "add_arguments", "run", "read_input", "filter_array", "write_output"]

SUFFIXES = (".npy", ".zarr", ".tif", ".tiff")
MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm")


def _suffix(path: str, role: str) -> str:
    suffix = os.path.splitext(path.rstrip("/"))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"dask-filter: {role} {path!r} must end in one of "
                         f"{', '.join(SUFFIXES)}")
    return suffix


def _chunks(text: str | None, ndim: int) -> Any:
    if text is None:
        return "auto"
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"dask-filter: --chunks must be integers separated by commas, got "
                         f"{text!r}") from None
    if any(s < 1 for s in sizes) or len(sizes) > ndim:
        raise ValueError(f"dask-filter: --chunks {text!r} must give at most {ndim} positive "
                         "sizes (the last axes)")
    return (-1,) * (ndim - len(sizes)) + sizes


class _FileArray:
    """A lazily read ``.npy`` or ``.tif`` file: each ``[key]`` opens the file and reads only
    that region. It pickles as its path, so a distributed graph carries no pixels (a memmap
    in the graph would be pickled with all its data)."""

    def __init__(self, path: str, kind: str) -> None:
        self.path, self.kind = path, kind
        sample = self._open()
        self.shape, self.dtype, self.ndim = sample.shape, sample.dtype, sample.ndim

    def _open(self) -> Any:
        if self.kind == ".npy":
            return np.load(self.path, mmap_mode="r")
        import tifffile
        import zarr

        return zarr.open(tifffile.imread(self.path, aszarr=True), mode="r")

    def __getitem__(self, key: Any) -> np.ndarray:
        if self.kind == ".npy":
            region = _read_npy_region(self.path, self.shape, self.dtype, key)
            if region is not None:
                return region
        # a copy: a view of a memory map keeps the whole map, and every page of the file
        # it touched (the kernel maps neighbouring pages too), resident while it lives
        return np.array(self._open()[key])


def _read_npy_region(path: str, shape: tuple[int, ...], dtype: np.dtype,
                     key: Any) -> np.ndarray | None:
    """``key`` (a tuple of step-1 slices, as ``da.from_array`` asks) of a C-ordered ``.npy``
    file, read row by row with ``pread``: nothing is memory-mapped, so the worker's memory
    holds the region and no more. ``None`` for other keys and layouts."""
    key = key if isinstance(key, tuple) else (key,)
    if (len(key) != len(shape) or dtype.hasobject or not shape
            or not all(isinstance(k, slice) and k.step in (None, 1) for k in key)):
        return None
    header = np.load(path, mmap_mode="r")  # the layout only; no page of it is touched
    fortran, offset = not header.flags.c_contiguous, header.offset
    del header
    if fortran:
        return None
    with open(path, "rb") as f:
        bounds = [k.indices(n)[:2] for k, n in zip(key, shape, strict=True)]
        out = np.empty(tuple(max(b - a, 0) for a, b in bounds), dtype=dtype)
        if out.size == 0:
            return out
        strides = np.cumprod((1, *shape[:0:-1]))[::-1] * dtype.itemsize
        lo, row = bounds[-1][0], out.reshape(-1, out.shape[-1])
        fd = f.fileno()
        for i, index in enumerate(np.ndindex(*out.shape[:-1])):
            start = offset + sum((a + j) * st for (a, _), j, st in
                                 zip(bounds[:-1], index, strides[:-1], strict=True))
            view = memoryview(row[i]).cast("B")
            if os.preadv(fd, [view], start + lo * dtype.itemsize) != view.nbytes:
                raise OSError(f"{path}: short read")
    return out


def read_input(path: str, chunks: str | None = None) -> Any:
    """The input as a dask array (nothing is read yet)."""
    import dask.array as da

    suffix = _suffix(path, "INPUT")
    if not os.path.exists(path):
        raise FileNotFoundError(f"dask-filter: no such input: {path!r}")
    if suffix == ".zarr":
        source = da.from_zarr(path)
        return source if chunks is None else source.rechunk(_chunks(chunks, source.ndim))
    reader = _FileArray(path, ".npy" if suffix == ".npy" else ".tif")
    return da.from_array(reader, chunks=_chunks(chunks, reader.ndim), asarray=True,
                         meta=np.empty((0,) * reader.ndim, dtype=reader.dtype))


def filter_array(x: Any, kernel: np.ndarray, mode: str, boundary: str) -> Any:
    """``convolve2d`` over the last two axes of a dask array (leading axes are planes)."""
    import dask.array as da

    from convkit.dask import convolve2d

    if x.ndim < 2:
        raise ValueError(f"dask-filter: the input must have at least 2 axes, got shape "
                         f"{x.shape}")
    if x.ndim == 2:
        return convolve2d(x, kernel, mode=mode, boundary=boundary)
    planes = [filter_array(x[i], kernel, mode, boundary) for i in range(x.shape[0])]
    return da.stack(planes)


class _NpyRegion:
    """A ``.npy`` file that each task opens and writes its region into (picklable: it holds
    the path, so workers write in place instead of shipping blocks back)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        target = np.load(self.path, mmap_mode="r+")
        target[key] = value
        target.flush()


def write_output(result: Any, path: str, client: Any = None, progress: bool = True) -> None:
    """Compute ``result`` into ``path`` through a temporary path; nothing is left at ``path``
    (nor at the temporary) if anything fails."""
    import dask.array as da

    suffix = _suffix(path, "--out")
    directory = os.path.dirname(os.path.abspath(path))
    tmp_dir = tempfile.mkdtemp(prefix=".convkit-dask-", dir=directory)
    try:
        if suffix == ".zarr":
            tmp = os.path.join(tmp_dir, "out.zarr")
            # zarr needs regular chunks; the filter's last chunks may be ragged
            regular = result.rechunk(tuple(max(c) for c in result.chunks))
            stored = da.to_zarr(regular, tmp, compute=False)
        else:
            tmp = os.path.join(tmp_dir, "out.npy")
            np.lib.format.open_memmap(tmp, mode="w+", dtype=result.dtype,
                                      shape=result.shape).flush()
            stored = da.store(result, _NpyRegion(tmp), lock=False, compute=False)
        _compute(stored, client, progress)
        if suffix in (".tif", ".tiff"):
            import tifffile

            array = np.load(tmp, mmap_mode="r")
            tiff = os.path.join(tmp_dir, "out" + suffix)
            # planes are grey images (tifffile would take 3 or 4 planes for colour)
            tifffile.imwrite(tiff, array, bigtiff=array.nbytes > 2**31,
                             photometric="minisblack")
            tmp = tiff
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


# Worker task states in which a task's code may still be running (a cancelled task keeps
# running until its function returns).
_RUNNING_STATES = ("executing", "long-running", "cancelled", "resumed")


def _running_tasks(dask_worker: Any, keys: set) -> int:
    return sum(ts.state in _RUNNING_STATES for key, ts in dask_worker.state.tasks.items()
               if key in keys)


def _wait_until_stopped(client: Any, keys: set, timeout: float = 60.0) -> None:
    """Wait until no worker runs any of ``keys`` (or ``timeout`` s pass): after one block
    failed, others may still be writing, and a zarr write recreates the directories the
    cleanup is about to remove."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not sum(client.run(_running_tasks, keys=keys).values()):
                return
        except Exception:  # a worker that died meanwhile runs nothing any more
            return
        time.sleep(0.1)


def _compute(stored: Any, client: Any, progress: bool) -> None:
    """Compute the store graph; return only when none of its tasks runs any more, also on
    failure (so the caller's cleanup of the temporary output is final)."""
    if client is not None:
        future = client.compute(stored)
        try:
            if progress:
                from distributed import progress as show_progress

                show_progress(future)
                print(file=sys.stderr)
            future.result()
        except BaseException:
            client.cancel(future)
            _wait_until_stopped(client, set(stored.__dask_graph__()))
            raise
        return
    from concurrent.futures import ThreadPoolExecutor

    from dask.system import CPU_COUNT

    # our own pool, because leaving the with-block waits for the tasks still in flight when
    # one block failed (dask's shared pool would let them write after the cleanup)
    with ThreadPoolExecutor(CPU_COUNT) as pool:
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr):
                stored.compute(scheduler="threads", pool=pool)
        else:
            stored.compute(scheduler="threads", pool=pool)


HELP = "convolve an image larger than memory on Dask"
DESCRIPTION = (__doc__.split("\n\n")[0] + " Example: convkit dask-filter big.npy --kernel "
               "gaussian:2 --out blurred.zarr --chunks 4096,4096")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``dask-filter`` to an argparse subparsers object; its handler is :func:`run`."""
    p = subparsers.add_parser("dask-filter", help=HELP, description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(handler=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``dask-filter`` (for a CLI that creates the subparser itself)."""
    p.add_argument("input", metavar="INPUT", help="a .npy, .zarr or .tif/.tiff array")
    p.add_argument("--kernel", "-k", required=True, metavar="KERNEL",
                   help="sobel_x, sobel_y, laplace, gaussian:SIGMA, box:K, or a 2-d .npy file")
    p.add_argument("--out", "-o", required=True, metavar="OUTPUT",
                   help="a .npy, .zarr or .tif/.tiff path (replaced only on success)")
    p.add_argument("--chunks", metavar="H,W", help="chunk sizes of the last axes (default: "
                   "the input's own chunks, or dask's 'auto')")
    p.add_argument("--mode", choices=MODES, default="same", help="output size (default same)")
    p.add_argument("--boundary", choices=BOUNDARIES, default="fill",
                   help="outside the image: fill (zeros), wrap, symm (default fill)")
    p.add_argument("--scheduler", metavar="ADDRESS", default="local",
                   help="a Dask scheduler (tcp://host:8786); 'local' (default) starts a local "
                        "cluster sized to the machine; 'threads' computes in this process")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the scheduler (default 10)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``dask-filter``; returns the exit status (errors propagate to the CLI's handler)."""
    from convkit.dask import client as connect
    from convkit.filters import kernel_from_spec

    name, kernel = kernel_from_spec(args.kernel)
    _suffix(args.out, "--out")
    x = read_input(args.input, args.chunks)
    result = filter_array(x, kernel, args.mode, args.boundary)
    client = None
    if args.scheduler != "threads":
        address = None if args.scheduler == "local" else args.scheduler
        client = connect(address, timeout=args.timeout)
    try:
        write_output(result, args.out, client, progress=not args.no_progress)
    finally:
        if client is not None:
            client.close()
    print(f"{args.input} {x.shape} {x.dtype} * {name} ({args.mode}, {args.boundary}) -> "
          f"{args.out} {result.shape} {result.dtype}")
    return 0
