"""Winograd minimal filtering: 3 x 3, stride-1 convolutions in F(2 x 2, 3 x 3) and F(4 x 4, 3 x 3).

Both are cross-correlations in PyTorch's sense (the kernel is not flipped)::

    out[n, g*Og + o, i, j] = sum_{c, a, b} w[g*Og + o, c, a, b] * xpad[n, g*Cg + c, i + a, j + b]

The output is cut into ``m x m`` tiles; tile ``(ti, tj)`` reads the ``alpha x alpha`` input
patch ``d`` at ``(m*ti, m*tj)`` (``alpha = m + 2``) and is, for every output channel,

    Y = A^T [ sum_c (G w_c G^T) (.) (B^T d_c B) ] A                            (Lavin & Gray)

so the ``m*m*9`` multiplications per tile and channel pair of the direct sum become
``alpha*alpha`` elementwise products: one channel contraction per Winograd-domain point,
i.e. ``alpha**2`` GEMMs of (O/G x C/G) @ (C/G x tiles). That is 4/9 of the direct
multiply-adds for F(2 x 2) and 1/4 for F(4 x 4), paid for with three small linear transforms
and with rounding: the transforms are Toom-Cook interpolation at the points of
``_POINTS``, and F(4 x 4)'s ``0, 1, -1, 2, -1/2, inf`` had the smallest float32 error of the
candidate sets built from ``0, +-1, +-2, +-1/2`` (about 3e-6 of the output's largest value on
normal data, against 5e-6 for Lavin & Gray's ``0, +-1, +-2``; the direct float32 sum gives 3e-7).

The input gradient of a stride-1 3 x 3 convolution is itself one: ``g`` correlated with the
kernel flipped in space and transposed in (in, out) channels, with padding ``2 - p`` (negative:
cropped). Two algorithms are registered, ``winograd2`` and ``winograd4``: the planner prices
each (F(2 x 2) wastes less on the ragged last tile of a small image and transforms less per
output; F(4 x 4) multiplies less).

Layout: every transform is a GEMM with the (alpha x alpha) matrix over all tiles of a block
of channels at once, never a Python loop over tiles. The input is gathered as
``(alpha, C, N, Hp, tiles_w)`` width windows, transformed, gathered as
``(alpha, alpha, C, N, tiles_h, tiles_w)`` height windows and transformed, so that the
Winograd-domain point is the outermost axis and each point's channel contraction is a plain
matrix product; the output transform runs the same way backwards, its last GEMM writing the
intra-tile column innermost, so that tiles land in NCHW by one block copy. The transforms run
on blocks of channels small enough (``_BLOCK_BYTES``) for their several passes to stay in
cache; the workspace is the transformed input and products, proportional to the batch.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from convkit.engine.conv import Algorithm, ConvProblem, register

__all__ = ["Winograd", "winograd_matrices", "winograd_correlate"]

#: finite interpolation points per output tile size m (the point at infinity is implicit)
_POINTS: dict[int, tuple[Fraction, ...]] = {
    2: (Fraction(0), Fraction(1), Fraction(-1)),
    4: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-1, 2)),
}


def _inverse(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    """Exact inverse of a small non-singular matrix (Gauss-Jordan on fractions)."""
    n = len(rows)
    work = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if work[r][col] != 0)
        work[col], work[pivot] = work[pivot], work[col]
        lead = work[col][col]
        work[col] = [v / lead for v in work[col]]
        for r in range(n):
            if r != col and work[r][col] != 0:
                factor = work[r][col]
                work[r] = [a - factor * b for a, b in zip(work[r], work[col], strict=True)]
    return [row[n:] for row in work]


def winograd_matrices(m: int, r: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A^T, G, B^T)`` of F(m, r) by Toom-Cook interpolation at ``_POINTS[m]`` and infinity.

    With ``V_n`` the (alpha x n) matrix evaluating a polynomial of n coefficients at the
    points (the row of infinity picks the leading coefficient), the full linear convolution
    of ``g`` (r taps) with ``h`` (m taps) is ``V^-1 [(V_r g) (.) (V_m h)]`` and the correlation
    ``y[i] = sum_k d[i + k] g[k]`` is its transpose in ``h``: ``A^T = V_m^T``, ``G = V_r``,
    ``B^T = V^-T``. Each row of ``B^T`` is scaled to coprime integers (the data transform
    then rounds only in its additions) and the same row of ``G`` divided by that factor.

    Shape:
        ``A^T``: (m, alpha), ``G``: (alpha, r), ``B^T``: (alpha, alpha), float64, alpha = m+r-1
    """
    points = _POINTS[m]
    alpha = m + r - 1

    def evaluation(n: int) -> list[list[Fraction]]:
        at_infinity = [Fraction(0)] * (n - 1) + [Fraction(1)]  # the leading coefficient
        return [[p**i for i in range(n)] for p in points] + [at_infinity]

    at = [list(col) for col in zip(*evaluation(m), strict=True)]
    g = evaluation(r)
    bt = [list(col) for col in zip(*_inverse(evaluation(alpha)), strict=True)]
    for j in range(alpha):
        scale = Fraction(math.lcm(*(v.denominator for v in bt[j])),
                         math.gcd(*(v.numerator for v in bt[j])))
        bt[j] = [v * scale for v in bt[j]]
        g[j] = [v / scale for v in g[j]]

    def as_array(rows: list[list[Fraction]]) -> np.ndarray:
        return np.array([[float(v) for v in row] for row in rows])

    return as_array(at), as_array(g), as_array(bt)


_MATRICES = {m: winograd_matrices(m) for m in _POINTS}
#: bytes of intermediates per block of channels: the transforms' several passes over a block
#: then run in a core's L2 cache (2 MiB here) instead of at memory bandwidth
_BLOCK_BYTES = 1 << 19


def _tiles(out_hw: tuple[int, int], m: int) -> tuple[int, int]:
    return -(-out_hw[0] // m), -(-out_hw[1] // m)


def _transform_kernel(w: np.ndarray, groups: int, g_matrix: np.ndarray) -> np.ndarray:
    """``U = G w G^T`` for every (out, in) channel pair, Winograd point outermost.

    Shape: w (O, C/G, 3, 3) -> U (alpha*alpha, G, O/G, C/G)
    """
    o, cg = w.shape[:2]
    alpha = g_matrix.shape[0]
    gm = g_matrix.astype(w.dtype)
    half = w.reshape(o * cg * 3, 3) @ gm.T                       # (O*Cg*3[a], alpha[y])
    half = half.reshape(o * cg, 3, alpha).transpose(1, 0, 2)     # (3[a], O*Cg, alpha[y])
    full = gm @ half.reshape(3, -1)                              # (alpha[x], O*Cg*alpha[y])
    full = full.reshape(alpha, o, cg, alpha).transpose(0, 3, 1, 2)  # (x, y, O, Cg)
    return np.ascontiguousarray(full).reshape(alpha * alpha, groups, o // groups, cg)


def _gather_width(a: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]],
                  tiles: tuple[int, int], m: int, alpha: int) -> np.ndarray:
    """Width windows of the zero-padded input, channels before the batch.

    ``out[k, c, n, i, j] = apad[n, c, i, m*j + k]`` with ``apad`` padded by ``pads`` (a
    negative pad crops) and zero beyond, rows ``i < m*tiles_h + 2``.

    Shape: a (N, C, H, W) -> (alpha, C, N, m*tiles_h + 2, tiles_w)
    """
    n, c, h, w = a.shape
    (lh, _), (lw, _) = pads
    th, tw = tiles
    rows = m * th + 2
    out = np.zeros((alpha, c, n, rows, tw), dtype=a.dtype)
    r0, r1 = max(lh, 0), min(lh + h, rows)  # padded rows holding input rows
    if r1 <= r0:
        return out
    src_rows = a[:, :, r0 - lh:r1 - lh].transpose(1, 0, 2, 3)  # (C, N, r, W)
    for k in range(alpha):
        # tile column j reads input column m*j + k - lw; keep the j for which it exists
        j0 = max(0, -(-(lw - k) // m))
        j1 = min(tw, (w - 1 + lw - k) // m + 1)
        if j1 <= j0:
            continue
        start = m * j0 + k - lw
        out[k, :, :, r0:r1, j0:j1] = src_rows[..., start:start + m * (j1 - j0 - 1) + 1:m]
    return out


def _transform_input(a: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]],
                     tiles: tuple[int, int], m: int, out: np.ndarray) -> None:
    """``B^T d B`` for every input tile and channel, written into ``out``.

    Shape: a (N, C, H, W) -> out (alpha, alpha, C, N*tiles_h*tiles_w) (may be a strided view)
    """
    bt, alpha = _MATRICES[m][2].astype(a.dtype), m + 2
    n, c = a.shape[:2]
    th, tw = tiles
    windows = _gather_width(a, pads, tiles, m, alpha)          # (k, C, N, rows, tw)
    rows = windows.shape[3]
    across = (bt @ windows.reshape(alpha, -1)).reshape(alpha, c, n, rows, tw)  # (nu, ...)
    del windows
    stacked = np.empty((alpha, alpha, c, n, th, tw), dtype=a.dtype)  # (k, nu, C, N, th, tw)
    for k in range(alpha):
        stacked[k] = across[:, :, :, k:k + m * (th - 1) + 1:m]
    del across
    # contract k for every nu at once, straight into the (xi, nu) layout of `out`
    target = out.transpose(1, 0, 2, 3).reshape(alpha, alpha, -1)  # (nu, xi, C*P), a view
    assert np.may_share_memory(target, out)
    np.matmul(bt, stacked.reshape(alpha, alpha, -1).transpose(1, 0, 2), out=target)


def _blocks(total: int, per_item: int) -> int:
    """Items per block so that one block's intermediates stay about ``_BLOCK_BYTES``."""
    return max(1, min(total, _BLOCK_BYTES // max(per_item, 1)))


def winograd_correlate(a: np.ndarray, u: np.ndarray,
                       pads: tuple[tuple[int, int], tuple[int, int]],
                       out_hw: tuple[int, int], m: int) -> np.ndarray:
    """Cross-correlate ``a`` with the Winograd-transformed kernel ``u`` by F(m x m, 3 x 3).

    ``pads`` are (lo, hi) per spatial axis, and may be negative (the input is then cropped);
    ``out_hw`` must equal ``(H + lo + hi - 2, W + lo + hi - 2)``.

    Shape: a (N, C, H, W), u (alpha*alpha, G, O/G, C/G) -> (N, O, Ho, Wo)
    """
    n, c = a.shape[:2]
    groups, og, cg = u.shape[1:]
    o = groups * og
    alpha = m + 2
    th, tw = tiles = _tiles(out_hw, m)
    p = n * th * tw
    itemsize = a.dtype.itemsize
    # input transform, a block of channels at a time (its passes then run in cache)
    v = np.empty((alpha, alpha, c, p), dtype=a.dtype)           # (xi, nu, C, P)
    step = _blocks(c, alpha * n * (m * th + 2) * tw * itemsize)
    for c0 in range(0, c, step):
        _transform_input(a[:, c0:c0 + step], pads, tiles, m, v[:, :, c0:c0 + step])
    v = v.reshape(alpha * alpha, groups, cg, p)                 # (alpha^2, G, Cg, P)
    # one channel contraction per Winograd point (and group); with one input channel per
    # group it is an outer product, which BLAS would do one 1 x 1 product at a time
    products = u * v if cg == 1 else np.matmul(u, v)           # (alpha^2, G, Og, P)
    del v
    products = products.reshape(alpha, alpha, o, p)            # (xi, nu, O, P)
    # A^T M A, a block of output channels at a time, written into the NCHW result
    at = _MATRICES[m][0].astype(a.dtype)
    out = np.empty((n, o, th * m, tw * m), dtype=a.dtype)
    tiled = out.reshape(n, o, th, m, tw, m)
    step = _blocks(o, alpha * alpha * p * itemsize)
    for o0 in range(0, o, step):
        block = products[:, :, o0:o0 + step]                   # (xi, nu, ob, P)
        ob = block.shape[2]
        by_nu = block.transpose(1, 0, 2, 3).reshape(alpha, alpha, ob * p)  # (nu, xi, ob*P)
        rows_done = np.matmul(at, by_nu)                       # (nu, a, ob*P)
        # nu is contracted from the right, so the tile's column offset b lands innermost
        done = np.matmul(rows_done.transpose(1, 2, 0), at.T)   # (a, ob*P, b)
        del rows_done
        tiled[:, o0:o0 + ob] = done.reshape(m, ob, n, th, tw, m).transpose(2, 1, 3, 0, 4, 5)
    del products
    if tuple(out_hw) != (th * m, tw * m):  # the ragged last row/column of tiles
        out = np.ascontiguousarray(out[:, :, :out_hw[0], :out_hw[1]])
    return out


def _input_gradient_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """The kernel whose correlation with ``g`` is the input gradient: flipped in space, the
    (in, out) channels of each group swapped.

    Shape: w (O, C/G, 3, 3) -> (C, O/G, 3, 3)
    """
    o, cg = w.shape[:2]
    flipped = w.reshape(groups, o // groups, cg, 3, 3)[..., ::-1, ::-1]
    return np.ascontiguousarray(flipped.transpose(0, 2, 1, 3, 4)).reshape(groups * cg,
                                                                         o // groups, 3, 3)


class Winograd(Algorithm):
    """F(m x m, 3 x 3) for 2-d 3 x 3 kernels at stride 1 and dilation 1, any padding and
    groups; the forward and the input gradient (a stride-1 3 x 3 correlation too)."""

    dtypes = (np.float32, np.float64)

    def __init__(self, m: int) -> None:
        self.m = m
        self.name = f"winograd{m}"

    def supports(self, p: ConvProblem) -> bool:
        return (p.kind in ("forward", "grad_input") and p.nd == 2
                and p.w_shape[2:] == (3, 3) and p.stride == (1, 1) and p.dilation == (1, 1))

    def _sizes(self, p: ConvProblem) -> dict[str, int]:
        """Element counts of the intermediate arrays of one call."""
        m, alpha = self.m, self.m + 2
        n = p.x_shape[0]
        # in the input gradient the roles of C and O, and of the two spatial sizes, swap
        if p.kind == "forward":
            c, o, out_hw = p.x_shape[1], p.w_shape[0], p.out_shape[2:]
        else:
            c, o, out_hw = p.w_shape[0], p.x_shape[1], p.x_shape[2:]
        th, tw = _tiles(out_hw, m)
        tiles = n * th * tw
        itemsize = p.dtype.itemsize
        cb = _blocks(c, alpha * n * (m * th + 2) * tw * itemsize)
        ob = _blocks(o, alpha * alpha * tiles * itemsize)
        windows = alpha * cb * n * (m * th + 2) * tw
        stacked = alpha**2 * cb * tiles
        return {"transformed": alpha**2 * c * tiles, "products": alpha**2 * o * tiles,
                # one block of the input transform: windows, their transform, the stacked
                # height windows and their transform, two at a time
                "in_block": max(2 * windows, windows + stacked, 2 * stacked),
                # one block of the output transform: the two passes
                "out_block": alpha * m * ob * tiles + m * m * ob * tiles,
                "kernel": alpha**2 * o * p.w_shape[1] + math.prod(p.w_shape),
                "ragged": 0 if tuple(out_hw) == (th * m, tw * m) else m * m * o * tiles,
                "macs": alpha**2 * o * (c // p.groups) * tiles, "calls": alpha**2 * p.groups,
                "blocks": -(-c // cb) + -(-o // ob),
                "moved": (2 * alpha * n * (m * th + 2) * tw * c + 3 * alpha**2 * c * tiles
                          + alpha**2 * o * tiles + alpha * m * o * tiles
                          + 2 * m * m * o * tiles)}

    def workspace(self, p: ConvProblem) -> int:
        s = self._sizes(p)
        # arrays alive together at each step; a padded result (ragged tiles) is extra
        peak = max(s["transformed"] + s["in_block"], s["transformed"] + s["products"],
                   s["products"] + s["out_block"] + s["ragged"], 2 * s["ragged"])
        # plus the buffers numpy's ufunc machinery may take for a broadcast product (at most
        # three of np.getbufsize() elements, or of the operands if smaller)
        buffers = 3 * min(np.getbufsize(), s["products"])
        return (peak + s["kernel"] + buffers) * p.dtype.itemsize

    def features(self, p: ConvProblem) -> tuple[float, ...]:
        """(1, channel-contraction multiply-adds, bytes written by the transforms and
        gathers, BLAS calls of the contraction, channel blocks of the transforms)."""
        s = self._sizes(p)
        return (1.0, float(s["macs"]), float(s["moved"] * p.dtype.itemsize),
                float(s["calls"]), float(s["blocks"]))

    def run(self, p: ConvProblem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        (lh, hh), (lw, hw) = p.padding
        if p.kind == "forward":
            u = _transform_kernel(b, p.groups, _MATRICES[self.m][1])
            return winograd_correlate(a, u, ((lh, hh), (lw, hw)), p.out_shape[2:], self.m)
        flipped = _input_gradient_kernel(b, p.groups)
        u = _transform_kernel(flipped, p.groups, _MATRICES[self.m][1])
        return winograd_correlate(a, u, ((2 - lh, 2 - hh), (2 - lw, 2 - hw)), p.x_shape[2:],
                                  self.m)


register(Winograd(2))
register(Winograd(4))
