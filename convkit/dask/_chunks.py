"""Chunk arithmetic for windowed operations on dask arrays (pure Python, no dask calls).

Notation along one axis: the input has ``n`` samples in chunks ``c_0, c_1, ...``; it is padded
by ``(lo, hi)`` to ``P = lo + n + hi`` samples; a window of extent ``e = d*(k-1) + 1`` (kernel
size ``k``, dilation ``d``) moves by stride ``s``, giving ``out = (P - e)//s + 1`` outputs.
Output ``o`` reads padded samples ``[o*s, o*s + e)``.

Blocks are cut so that every output belongs to exactly one block, with a left halo ``L`` and a
right halo ``R = max(e - s, 0) - L`` that are the same for every block:

* ``L = clamp(lo, 0, e - s)`` -- as much of the padding as the window overlap allows. Block
  ``j`` computes outputs ``[o_j, o_{j+1})`` and reads padded samples
  ``[o_j*s, o_{j+1}*s + (e - s))``, i.e. ``[C_j - L, C_{j+1} + R)`` for its own samples
  ``[C_j, C_{j+1})`` with ``C_j = o_j*s + L``: the block starts are snapped to ``L`` modulo
  ``s``, and a 'valid' convolution of each block plus its halos yields exactly its own outputs,
  with no trimming.
* With stride 1 the block starts are then the input's own chunk boundaries (``C_j = b_j + lo``)
  and the output boundaries are ``o_j = b_j + lo - L``: for a 'same' convolution
  (``L = lo``) the output has exactly the input's chunks, for 'valid' (``L = 0``) only the last
  chunk shrinks, for 'full' (``L = e - 1``) only the last one grows. With a larger stride the
  output boundaries are ``ceil((b_j + lo - L) / s)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["AxisPlan", "plan_axis", "plan_transposed_axis", "merge_small_blocks"]


@dataclass(frozen=True)
class AxisPlan:
    """How one axis is cut: input block sizes, the halo, and the output chunk sizes."""

    in_chunks: tuple[int, ...]   # block sizes of the (padded) input, before the halo
    depth: tuple[int, int]       # (left, right) halo taken from the neighbours
    out_chunks: tuple[int, ...]  # output samples computed by each block
    rechunked: bool              # whether blocks had to be merged beyond the stride snap


def _boundaries(chunks: Sequence[int]) -> list[int]:
    """Interior chunk boundaries: ``[c_0, c_0 + c_1, ...]`` without 0 and the total."""
    out, total = [], 0
    for c in chunks[:-1]:
        total += c
        out.append(total)
    return out


def merge_small_blocks(starts: list[int], total: int, minimum: int) -> list[int]:
    """Drop block starts until every block is at least ``minimum`` long (or one block is left).

    ``starts`` are the interior boundaries (increasing, inside ``(0, total)``). A block that is
    too small is merged into its smaller neighbour, which keeps every remaining boundary from
    the original set (and so keeps its alignment).
    """
    edges = [0, *starts, total]
    while len(edges) > 2:
        sizes = [b - a for a, b in itertools.pairwise(edges)]
        smallest = min(range(len(sizes)), key=sizes.__getitem__)
        if sizes[smallest] >= minimum:
            break
        if smallest == 0:
            del edges[1]
        elif smallest == len(sizes) - 1:
            del edges[-2]
        else:
            # remove the boundary towards the smaller neighbour
            left, right = sizes[smallest - 1], sizes[smallest + 1]
            del edges[smallest if left <= right else smallest + 1]
    return edges[1:-1]


def _halo_error(op: str, axis: int, halo: int, largest: int, what: str) -> ValueError:
    return ValueError(
        f"{op}: along axis {axis} the window needs a halo of {halo} samples from the "
        f"neighbouring chunk ({what}), but the largest chunk on that axis is {largest}: "
        f"the kernel is larger than the chunking allows. Rechunk that axis to at least "
        f"{halo} (e.g. x.rechunk({{{axis}: {max(halo, 1)}}})) or pass allow_rechunk=True")


def plan_axis(chunks: Sequence[int], pad: tuple[int, int], extent: int, stride: int,
              allow_rechunk: bool, op: str, axis: int) -> AxisPlan:
    """Cut one axis of a direct (strided, dilated, padded) window operation.

    ``chunks`` are the input's chunk sizes (unpadded); the padded samples join the first and
    last blocks. Raises ValueError when a halo exceeds every chunk of the axis (unless
    ``allow_rechunk``): then each block would have to read several neighbours and the
    memory per task would no longer be bounded by the chunk size.
    """
    lo, hi = pad
    n = sum(chunks)
    total = lo + n + hi
    out = (total - extent) // stride + 1
    assert out >= 1, "callers validate the output size first"
    overlap = max(extent - stride, 0)
    # taking the left padding's share of the overlap from the left neighbour keeps output
    # chunk j centred on input chunk j (for 'same', equal to it) instead of shifted by lo
    left = min(lo, overlap)
    right = overlap - left
    # each input boundary, moved to the next block start C = o*s + left, starts a block
    # unless that block would compute no output
    starts = []
    for b in _boundaries(chunks):
        first_output = -(-(b + lo - left) // stride)
        start = first_output * stride + left
        if 0 < first_output <= out - 1 and (not starts or start > starts[-1]):
            starts.append(start)
    snapped = list(starts)
    halo = max(left, right)
    if halo and starts:
        largest = max(chunks)
        if halo > largest and not allow_rechunk:
            raise _halo_error(op, axis, halo, largest,
                              f"kernel extent {extent}, stride {stride}")
        starts = merge_small_blocks(starts, total, halo)
    edges = [0, *starts, total]
    in_chunks = tuple(b - a for a, b in itertools.pairwise(edges))
    out_edges = [0, *((b - left) // stride for b in starts), out]
    out_chunks = tuple(b - a for a, b in itertools.pairwise(out_edges))
    depth = (left, right) if len(in_chunks) > 1 else (0, 0)
    return AxisPlan(in_chunks, depth, out_chunks, rechunked=starts != snapped)


def plan_transposed_axis(chunks: Sequence[int], padding: int, extent: int, stride: int,
                         out_size: int, allow_rechunk: bool, op: str, axis: int
                         ) -> tuple[AxisPlan, tuple[tuple[int, int], ...]]:
    """Cut one axis of a transposed convolution (input-dilated by the stride).

    Input ``i`` and tap ``j`` land on output ``i*s - p + d*j`` (before cropping to
    ``[0, out_size)``). Cutting the output at ``b*s - p`` for each input boundary ``b`` makes
    output block ``[b_j*s - p, b_{j+1}*s - p)`` depend on inputs ``[b_j - h, b_{j+1})`` only,
    with the left halo ``h = (e - 1)//s`` -- no right halo at all.

    Returns the plan and, per block, ``(offset, length)``: where the block's outputs sit in
    the uncropped transposed convolution of the block's input (halo included).
    """
    n = sum(chunks)
    halo = (extent - 1) // stride
    starts = [b for b in _boundaries(chunks) if 0 < b * stride - padding < out_size]
    snapped = list(starts)
    if halo and starts:
        largest = max(chunks)
        if halo > largest and not allow_rechunk:
            raise _halo_error(op, axis, halo, largest,
                              f"kernel extent {extent}, stride {stride}, in input samples")
        starts = merge_small_blocks(starts, n, halo)
    edges = [0, *starts, n]
    in_chunks = tuple(b - a for a, b in itertools.pairwise(edges))
    out_edges = [0, *(b * stride - padding for b in starts), out_size]
    out_chunks = tuple(b - a for a, b in itertools.pairwise(out_edges))
    depth = (halo, 0) if len(in_chunks) > 1 else (0, 0)
    windows = []
    for j, (q0, length) in enumerate(zip(out_edges, out_chunks, strict=False)):
        first_input = max(edges[j] - depth[0], 0)
        # uncropped output coordinate of q0 is q0 + padding; the block's result starts at
        # first_input * stride in the same coordinates
        windows.append((q0 + padding - first_input * stride, length))
    return AxisPlan(in_chunks, depth, out_chunks, rechunked=starts != snapped), tuple(windows)
