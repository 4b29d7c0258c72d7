"""convkit.dask against dask-image's ``ndfilters.convolve`` on one local cluster.

    python benchmarks/bench_dask.py                      # 16384 x 16384 float32, 31 x 31
    python benchmarks/bench_dask.py --size 4096 --repeat 3 --json results.json

Both libraries filter the same lazily generated float32 image (never held whole by the
client) with the same kernel under the same boundary rule: dask-image's
``ndfilters.convolve(mode='reflect')`` is ``scipy.ndimage.convolve``, whose 'reflect' repeats
the edge sample -- ``convolve2d(..., mode='same', boundary='symm')`` in SciPy's (and
convkit's) words; both are true convolutions, and for an odd kernel both centre it the same
way. The results are checked to agree (max abs difference, computed on the cluster) before
anything is timed.

Each run reduces every output chunk to its sum on the worker, so the timing covers the
convolution and the memory per worker stays that of a streaming job (no 1 GiB result kept).
Runs alternate between the two libraries. Before every run the workers are restarted and
warmed up (imports, one small call of each library); after it, each worker's peak resident
memory (``getrusage`` max RSS of the worker process) is read, minus its resident memory
before the run, and checked against the bound stated in docs/dask.md that applies (the
script prints it, and exits with status 1 if convkit exceeds it): when the input is read by
region (``--input npy|zarr``: each block reads its halos from the file itself) 32 MiB + 8
chunk sizes, whatever the image size; when its chunks are other leaf reads (``--input
random``: the halo strips generate their chunk a second time) 32 MiB + 8 chunk sizes + the
halo strips of the whole image, g^2 * 2(K-1)/C chunk sizes (K kernel side, C chunk side);
otherwise (``--read-once``) 32 MiB + (6 + 3g) chunk sizes, g = chunks across the image.
``--only convkit`` measures convkit alone (no agreement check, no ratio), as the memory
table in docs/dask.md was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from typing import Any

import numpy as np

# docs/dask.md: chunk sizes a worker may grow by, besides 32 MiB of fixed costs and the halo
# strips, when every input chunk is a leaf read (read twice); otherwise 6 + 3g.
READ_TWICE_CHUNKS = 8


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _image(size: int, chunk: int, source: str, workdir: str) -> Any:
    import dask.array as da

    image = da.random.default_rng(0).standard_normal((size, size), dtype=np.float32,
                                                     chunks=chunk)
    if source == "random":
        # a lazily generated image: each chunk is made on the worker that needs it
        return image
    # the same pixels in a file, read region by region as `convkit dask-filter` reads them
    from convkit.dask.cli import read_input

    path = os.path.join(workdir, f"image.{source}")
    if source == "npy":
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=image.shape)
        da.store(image, out, scheduler="threads")
        out.flush()
        del out
    else:
        image.to_zarr(path)
    return read_input(path, f"{chunk},{chunk}")


def _kernel(side: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((side, side)).astype(np.float32)


def _convkit(image: Any, kernel: np.ndarray) -> Any:
    import convkit.dask as cd

    return cd.convolve2d(image, kernel, mode="same", boundary="symm")


def _dask_image(image: Any, kernel: np.ndarray) -> Any:
    from dask_image import ndfilters

    return ndfilters.convolve(image, kernel, mode="reflect")


def _chunk_sums(result: Any) -> Any:
    return result.map_blocks(lambda b: np.array([[b.sum(dtype=np.float64)]]),
                             chunks=(1, 1), dtype=np.float64)


def _warm_up() -> None:
    """Imports and first calls (planner constants, FFT plans) happen before the clock runs."""
    import scipy.ndimage

    import convkit.signal

    x = np.ones((64, 64), np.float32)
    convkit.signal.convolve2d(x, x[:31, :31], mode="valid")
    scipy.ndimage.convolve(x, x[:31, :31], mode="reflect")


def _run(client: Any, build: Any, image: Any, kernel: np.ndarray) -> dict[str, Any]:
    client.restart()
    client.run(_warm_up)
    before = client.run(_rss_bytes)
    start = time.perf_counter()
    sums = client.compute(_chunk_sums(build(image, kernel)), sync=True)
    seconds = time.perf_counter() - start
    peak = client.run(_peak_rss_bytes)
    growth = {w: peak[w] - before[w] for w in peak}
    return {"seconds": seconds, "peak_rss": max(peak.values()),
            "peak_growth": max(growth.values()), "baseline_rss": max(before.values()),
            "checksum": float(sums.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=16384, help="image side (default 16384)")
    parser.add_argument("--chunk", type=int, default=2048, help="chunk side (default 2048)")
    parser.add_argument("--kernel", type=int, default=31, help="kernel side (default 31)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each (default 3)")
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    parser.add_argument("--only", choices=["convkit", "dask-image"],
                        help="run one library only (no agreement check, no ratio)")
    parser.add_argument("--input", choices=["random", "npy", "zarr"], default="random",
                        help="the image: generated chunk by chunk (default), or the same "
                             "pixels written to a .npy/.zarr file and read as the CLI reads")
    parser.add_argument("--read-once", action="store_true",
                        help="convkit's read-once halo graph even where the input's chunks "
                             "are leaf reads (to compare the two bounds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dask-") as workdir:
        _main(args, workdir)


def _main(args: argparse.Namespace, workdir: str) -> None:

    import dask
    from distributed import Client, LocalCluster

    import convkit.dask._core
    import convkit.signal

    if args.read_once:
        convkit.dask._core.READ_TWICE = False
    kernel = _kernel(args.kernel)
    image = _image(args.size, args.chunk, args.input, workdir)
    read_twice = (convkit.dask._core.READ_TWICE
                  and convkit.dask._core.leaf_reads(image) is not None)
    by_region = read_twice and convkit.dask._core.region_reads(image)
    chunk_bytes = args.chunk * args.chunk * 4
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit="8GiB") as cluster, \
            Client(cluster) as client:
        max_diff = max_abs = float("nan")
        if not args.only:
            difference = (abs(_convkit(image, kernel) - _dask_image(image, kernel))).max()
            scale = abs(_dask_image(image, kernel)).max()
            max_diff, max_abs = client.compute([difference, scale], sync=True)
            print(f"agreement: max |convkit - dask-image| = {max_diff:.3g} "
                  f"(max |result| = {max_abs:.3g})")
            assert max_diff <= 1e-4 * max_abs, "the two results disagree; nothing timed"
        plan = convkit.signal.choose_conv_method(np.zeros((args.chunk, args.chunk),
                                                          np.float32), kernel, "valid")
        builds = {"convkit": _convkit, "dask-image": _dask_image}
        if args.only:
            builds = {args.only: builds[args.only]}
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in builds}
        for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
            for name, build in builds.items():
                runs[name].append(_run(client, build, image, kernel))
        ratios = [d["seconds"] / c["seconds"] for c, d in
                  zip(runs["convkit"], runs["dask-image"], strict=True)] if not args.only else []
    summary: dict[str, Any] = {
        "size": args.size, "chunk": args.chunk, "kernel": args.kernel,
        "workers": args.workers, "threads_per_worker": 1, "dtype": "float32",
        "chunk_bytes": chunk_bytes, "convkit_method_per_chunk": plan,
        "max_abs_difference": float(max_diff), "max_abs_result": float(max_abs),
        "dask_version": dask.__version__, "runs": runs,
        "median_seconds": {k: statistics.median(r["seconds"] for r in v)
                           for k, v in runs.items()},
        "median_ratio_dask_image_over_convkit": statistics.median(ratios) if ratios else None,
        "peak_growth_per_worker_in_chunks": {
            k: max(r["peak_growth"] for r in v) / chunk_bytes for k, v in runs.items()},
    }
    med = summary["median_seconds"]
    print(f"{args.size}x{args.size} float32, {args.kernel}x{args.kernel} kernel, chunks "
          f"{args.chunk}, {args.workers} workers x 1 thread; convkit per chunk: {plan}")
    labels = {"convkit": "convkit.dask       ", "dask-image": "dask-image convolve"}
    for k, v in med.items():
        print(f"  {labels[k]} {v:8.2f} s (median of {args.repeat})")
    if ratios:
        ratio = summary["median_ratio_dask_image_over_convkit"]
        print(f"  ratio (median of paired runs): {ratio:.1f}x")
    for k, v in summary["peak_growth_per_worker_in_chunks"].items():
        baseline = max(r["baseline_rss"] for r in runs[k]) / 2**20
        print(f"  peak memory growth per worker, {k}: {v:.1f} chunks "
              f"({v * chunk_bytes / 2**20:.0f} MiB over a {baseline:.0f} MiB idle worker)")
    # docs/dask.md: per worker, 32 MiB of fixed costs, about 6 chunk sizes for the running
    # task, and what is held between tasks. Read twice (the input's chunks are leaf reads:
    # each strip task reads its chunk again): a chunk or two read ahead, 8 in all, plus the
    # halo strips, which distributed computes ahead of their blocks. Read once (chunks
    # computed by other tasks, or --read-once): input chunks wait for their own block while
    # their neighbours run, up to about 3 per chunk across the image (g).
    grid = -(-args.size // args.chunk)
    fixed = 32 * 2**20 / chunk_bytes
    if by_region:
        bound = fixed + READ_TWICE_CHUNKS
        rule = f"32 MiB + {READ_TWICE_CHUNKS} chunks (halos read by region inside each block)"
    elif read_twice:
        strips = grid**2 * 2 * (args.kernel - 1) / args.chunk  # every chunk's strips, at most
        bound = fixed + READ_TWICE_CHUNKS + strips
        rule = (f"32 MiB + {READ_TWICE_CHUNKS} chunks + strips {grid}^2*2*{args.kernel - 1}/"
                f"{args.chunk} = {strips:.1f} chunks (read twice)")
    else:
        bound, rule = fixed + 6 + 3 * grid, f"32 MiB + (6 + 3*{grid}) chunks (read once)"
    summary["input"] = args.input
    summary["read_twice"] = read_twice
    summary["halos_read_by_region"] = by_region
    summary["stated_bound_in_chunks"] = bound
    within = True
    if "convkit" in summary["peak_growth_per_worker_in_chunks"]:
        within = summary["peak_growth_per_worker_in_chunks"]["convkit"] <= bound
        summary["convkit_within_stated_bound"] = within
        print(f"  stated bound for a {grid} x {grid} chunk grid, {args.input} input: {rule} = "
              f"{bound:.1f} chunks; convkit {'within it' if within else 'EXCEEDS it'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if not within:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
