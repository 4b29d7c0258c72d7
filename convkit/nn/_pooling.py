"""Functional pooling, padding and unfold/fold with PyTorch's signatures and checks.

Re-exported by :mod:`convkit.nn.functional`. Every rank-specific function (``max_pool2d``)
is one N-d function with its rank fixed; validation happens here, once, and names the
argument and the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.ops import pool as pool_ops

__all__ = [
    "max_pool", "avg_pool", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "pad", "unfold", "fold", "ntuple",
]


def ntuple(value: Any, n: int, name: str, op: str, allow_empty: bool = False
           ) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints as an n-tuple (a length-1 sequence repeats)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
        if len(items) == 1:
            items = items * n
        if len(items) == n and all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in items):
            return items
    raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, but got "
                    f"{value!r}")


def _spatial_input(x: Tensor, n: int, op: str) -> tuple[Tensor, bool]:
    """Accept ``(N, C, *sp)`` and unbatched ``(C, *sp)``; returns the batched tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim not in (n + 1, n + 2) or any(s == 0 for s in x.shape[-n:]):
        raise RuntimeError(f"{op}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with "
                           f"non-zero spatial sizes for input, but got: {list(x.shape)}")
    return (x.unsqueeze(0), True) if x.ndim == n + 1 else (x, False)


def _positive(values: tuple[int, ...], name: str, op: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}: {name} must be greater than zero, but got {name}={values}")


def _pool_args(x: Tensor, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               ceil_mode: bool, op: str) -> tuple[tuple[int, ...], ...]:
    from convkit.engine.pool import pool_output_size

    kernel = ntuple(kernel_size, n, "kernel_size", op)
    stride_t = kernel if stride is None or stride == [] or stride == () else ntuple(
        stride, n, "stride", op)
    pad = ntuple(padding, n, "padding", op)
    dil = ntuple(dilation, n, "dilation", op)
    _positive(kernel, "kernel_size", op)
    _positive(stride_t, "stride", op)
    _positive(dil, "dilation", op)
    for p, k in zip(pad, kernel, strict=True):
        if p < 0 or p > k // 2:  # PyTorch's limit ignores dilation
            raise RuntimeError(f"{op}: pad should be at most half of kernel size, but got "
                               f"padding={pad} and kernel_size={kernel}")
    sizes = tuple(x.shape[-n:])
    out = tuple(pool_output_size(s, k, st, p, d, ceil_mode) for s, k, st, p, d in
                zip(sizes, kernel, stride_t, pad, dil, strict=True))
    if any(o <= 0 for o in out):
        shown = "x".join(str(v) for v in (x.shape[-n - 1],) + sizes)
        got = "x".join(str(v) for v in (x.shape[-n - 1],) + out)
        raise RuntimeError(f"{op}: Given input size: ({shown}). Calculated output size: ({got}). "
                           "Output size is too small")
    return kernel, stride_t, pad, dil


def max_pool(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
             dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False, *,
             ndim: int | None = None, op: str = "max_pool") -> Any:
    """N-d max pooling over the last ``ndim`` dims (``len(kernel_size)`` if not given).

    Shape: ``(N, C, *in) -> (N, C, *out)`` with
    ``out = floor((in + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``, the last window starting inside the input or left padding).
    With ``return_indices`` also returns the flat index of each max within its plane.
    """
    n = ndim if ndim is not None else _rank_of(kernel_size, op)
    x, unbatched = _spatial_input(input, n, op)
    kernel, stride_t, pad, dil = _pool_args(x, n, kernel_size, stride, padding, dilation,
                                            ceil_mode, op)
    values, indices = pool_ops.max_pool(x, kernel, stride_t, pad, dil, bool(ceil_mode))
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def avg_pool(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             divisor_override: int | None = None, *, ndim: int | None = None,
             op: str = "avg_pool") -> Tensor:
    """N-d average pooling; the divisor counts padding when ``count_include_pad`` (but never
    the ``ceil_mode`` overhang), or is ``divisor_override``."""
    n = ndim if ndim is not None else _rank_of(kernel_size, op)
    x, unbatched = _spatial_input(input, n, op)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero (divisor_override=0)")
    kernel, stride_t, pad, _ = _pool_args(x, n, kernel_size, stride, padding, 1, ceil_mode,
                                          op)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"{op}: \"avg_pool\" not implemented for '{x.dtype}' (use a "
                           "floating-point input)")
    out = pool_ops.avg_pool(x, kernel, stride_t, pad, bool(ceil_mode), bool(count_include_pad),
                            divisor_override)
    return out.squeeze(0) if unbatched else out


def _rank_of(kernel_size: Any, op: str) -> int:
    if isinstance(kernel_size, Sequence) and len(kernel_size) > 0:
        return len(kernel_size)
    raise TypeError(f"{op}(): give kernel_size as a tuple (its length sets the number of "
                    f"spatial dims), got {kernel_size!r}")


def _adaptive_size(x: Tensor, n: int, output_size: Any, op: str) -> tuple[int, ...]:
    sizes = (output_size,) * n if isinstance(output_size, int) or output_size is None \
        else tuple(output_size)
    if len(sizes) != n:
        raise RuntimeError(f"{op}: output_size must be {n} ints, got {output_size!r}")
    out = tuple(x.shape[-n + i] if s is None else s for i, s in enumerate(sizes))
    if any(not isinstance(s, int) or s < 0 for s in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {output_size!r}")
    return out


def _adaptive_avg(n: int) -> Any:
    op = f"adaptive_avg_pool{n}d"

    def adaptive_avg_pool(input: Tensor, output_size: Any) -> Tensor:
        x, unbatched = _spatial_input(input, n, op)
        out = pool_ops.adaptive_avg_pool(x, _adaptive_size(x, n, output_size, op))
        return out.squeeze(0) if unbatched else out

    adaptive_avg_pool.__name__ = adaptive_avg_pool.__qualname__ = op
    adaptive_avg_pool.__doc__ = (f"{n}-d adaptive average pooling: window i of an axis of "
                                 "size n into o covers [floor(i*n/o), ceil((i+1)*n/o)).")
    return adaptive_avg_pool


def _adaptive_max(n: int) -> Any:
    op = f"adaptive_max_pool{n}d"

    def adaptive_max_pool(input: Tensor, output_size: Any, return_indices: bool = False
                          ) -> Any:
        x, unbatched = _spatial_input(input, n, op)
        values, indices = pool_ops.adaptive_max_pool(x, _adaptive_size(x, n, output_size, op))
        if unbatched:
            values, indices = values.squeeze(0), indices.squeeze(0)
        return (values, indices) if return_indices else values

    adaptive_max_pool.__name__ = adaptive_max_pool.__qualname__ = op
    adaptive_max_pool.__doc__ = f"{n}-d adaptive max pooling (windows as in adaptive_avg_pool)."
    return adaptive_max_pool


def _fixed_pools(n: int) -> tuple[Any, Any, Any, Any]:
    def max_pool_nd(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                    dilation: Any = 1, ceil_mode: bool = False,
                    return_indices: bool = False) -> Any:
        return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode,
                        return_indices, ndim=n, op=f"max_pool{n}d")

    if n == 1:
        def avg_pool_nd(input: Tensor, kernel_size: Any, stride: Any = None,
                        padding: Any = 0, ceil_mode: bool = False,
                        count_include_pad: bool = True) -> Tensor:
            return avg_pool(input, kernel_size, stride, padding, ceil_mode,
                            count_include_pad, None, ndim=1, op="avg_pool1d")
    else:
        def avg_pool_nd(input: Tensor, kernel_size: Any, stride: Any = None,
                        padding: Any = 0, ceil_mode: bool = False,
                        count_include_pad: bool = True,
                        divisor_override: int | None = None) -> Tensor:
            return avg_pool(input, kernel_size, stride, padding, ceil_mode,
                            count_include_pad, divisor_override, ndim=n, op=f"avg_pool{n}d")

    def lp_pool_nd(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
                   ceil_mode: bool = False) -> Tensor:
        """``(sum over the window of x**p) ** (1/p)``, computed as PyTorch does."""
        op = f"lp_pool{n}d"
        kernel = ntuple(kernel_size, n, "kernel_size", op)
        powered = input.pow(norm_type)
        out = avg_pool(powered, kernel, stride, 0, ceil_mode, True, None, ndim=n, op=op)
        return (out.sign() * out.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)

    def max_unpool_nd(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                      padding: Any = 0, output_size: Any = None) -> Tensor:
        """Scatter pooled maxima back to their positions; zeros elsewhere."""
        op = f"max_unpool{n}d"
        kernel = ntuple(kernel_size, n, "kernel_size", op)
        stride_t = kernel if stride is None else ntuple(stride, n, "stride", op)
        pad = ntuple(padding, n, "padding", op)
        x, unbatched = _spatial_input(input, n, op)
        idx = indices.unsqueeze(0) if unbatched else indices
        if tuple(idx.shape) != tuple(x.shape):
            raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the "
                               f"input tensor ({list(input.shape)}) but got indices tensor "
                               f"with shape: {list(indices.shape)}")
        default = tuple((s - 1) * st - 2 * p + k for s, st, p, k in
                        zip(x.shape[-n:], stride_t, pad, kernel, strict=True))
        if output_size is None:
            size = default
        else:
            size = tuple(output_size)[-n:]
            if len(size) != n:
                raise ValueError(f"{op}: output_size should have {n} or {n + 2} elements, "
                                 f"got {len(tuple(output_size))}")
            for s, d, st in zip(size, default, stride_t, strict=True):
                if not d - st < s < d + st:
                    raise ValueError(f"{op}: invalid output_size {tuple(output_size)} (dim "
                                     f"size must be between {d - st + 1} and {d + st - 1})")
        limit = math.prod(size)
        if idx.numel() and (idx.max().item() >= limit or idx.min().item() < 0):
            raise RuntimeError(f"{op}: Found an invalid max index: {idx.max().item()} (output "
                               f"volumes are of size {'x'.join(map(str, size))})")
        out = pool_ops.max_unpool(x, idx, size)
        return out.squeeze(0) if unbatched else out

    for fn, name in ((max_pool_nd, "max_pool"), (avg_pool_nd, "avg_pool"),
                     (lp_pool_nd, "lp_pool"), (max_unpool_nd, "max_unpool")):
        fn.__name__ = fn.__qualname__ = f"{name}{n}d"
        if fn.__doc__ is None:
            fn.__doc__ = f"{n}-d {name.replace('_', ' ')}; see :func:`{name}` for shapes."
    return max_pool_nd, avg_pool_nd, lp_pool_nd, max_unpool_nd


max_pool1d, avg_pool1d, lp_pool1d, max_unpool1d = _fixed_pools(1)
max_pool2d, avg_pool2d, lp_pool2d, max_unpool2d = _fixed_pools(2)
max_pool3d, avg_pool3d, lp_pool3d, max_unpool3d = _fixed_pools(3)
adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d = (
    _adaptive_avg(n) for n in (1, 2, 3))
adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d = (
    _adaptive_max(n) for n in (1, 2, 3))


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (before, after) pairs starting from
    the LAST dim, as PyTorch does. Negative values crop.

    Modes: ``constant`` (with ``value``), ``reflect`` (mirror without repeating the edge),
    ``replicate`` (repeat the edge), ``circular`` (wrap around).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be Tensor, not {type(input).__name__}")
    if isinstance(pad, int) or not all(isinstance(p, int) and not isinstance(p, bool)
                                       for p in pad):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, but got {pad!r}")
    pad = tuple(pad)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2 (got {len(pad)} values)")
    n = len(pad) // 2
    if n > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}; expected one of "
                                  "'constant', 'reflect', 'replicate', 'circular'")
    if mode != "constant":
        if value not in (None, 0):
            raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
        if not 1 <= n <= 3 or input.ndim not in (n + 1, n + 2):
            raise NotImplementedError(
                f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
                f"(mode={mode!r} pads {n} dim(s) of a {input.ndim}-d input: it needs "
                f"{n + 1}-d or {n + 2}-d input)")
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(n))[::-1]  # first dim first
    first = input.ndim - n
    for axis, (lo, hi) in enumerate(pairs, start=first):
        size = input.shape[axis]
        if mode in ("reflect", "replicate") and size + lo + hi < 1 and size > 0:
            raise RuntimeError(f"input (size {size} at dimension {axis}) is too small. "
                               f"Calculated output size: {size + lo + hi} (padding {lo}, {hi})")
        if size + lo + hi < 0:
            raise RuntimeError(f"The input size {size}, plus negative padding {lo} and {hi} "
                               f"resulted in a negative output size, which is invalid. Check "
                               f"dimension {axis} of your input.")
        if mode == "reflect" and (abs(lo) >= size or abs(hi) >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension "
                               f"{axis} of input {list(input.shape)}")
        kept = size + min(lo, 0) + min(hi, 0)
        # PyTorch crops first; wrapping around nothing reads uninitialised memory there.
        if (mode == "constant" and kept < 0) or (mode == "circular" and (
                kept < 0 or (kept == 0 and (lo > 0 or hi > 0)))):
            raise RuntimeError(f"pad: negative padding ({lo}, {hi}) removes more than the "
                               f"{size} elements of dimension {axis}")
        if mode == "circular" and (lo > kept or hi > kept):
            raise RuntimeError(f"Padding value causes wrapping around more than once: padding "
                               f"({lo}, {hi}) at dimension {axis} of size {kept}")
        if mode == "replicate" and size == 0 and (lo > 0 or hi > 0):
            raise RuntimeError(f"padding size is expected to be 0 at dimension {axis} of size 0 "
                               f"in replicate mode")
    return pool_ops.pad(input, pairs, mode, 0.0 if value is None else value)


def _fold_args(n: int, kernel_size: Any, dilation: Any, padding: Any, stride: Any, op: str
               ) -> tuple[tuple[int, ...], ...]:
    kernel = ntuple(kernel_size, n, "kernel_size", op)
    dil = ntuple(dilation, n, "dilation", op)
    pad_t = ntuple(padding, n, "padding", op)
    stride_t = ntuple(stride, n, "stride", op)
    _positive(kernel, "kernel_size", op)
    _positive(dil, "dilation", op)
    _positive(stride_t, "stride", op)
    if any(p < 0 for p in pad_t):
        raise RuntimeError(f"{op}: padding should be non-negative, but got padding={pad_t}")
    return kernel, dil, pad_t, stride_t


def _blocks(size: tuple[int, ...], kernel: tuple[int, ...], dil: tuple[int, ...],
            pad_t: tuple[int, ...], stride_t: tuple[int, ...], op: str) -> tuple[int, ...]:
    from convkit.engine.fold import sliding_positions

    blocks = sliding_positions(size, kernel, dil, pad_t, stride_t)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"{op}: Given input with spatial size {size}, kernel_size={kernel}, "
                           f"dilation={dil}, padding={pad_t}, calculated shape of the array of "
                           f"sliding blocks as {blocks}, but its components must be at least "
                           "one.")
    return blocks


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """im2col: ``(N, C, H, W) -> (N, C*kH*kW, L)``, one column per sliding window."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                                  f"{input.ndim}D)")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    kernel, dil, pad_t, stride_t = _fold_args(2, kernel_size, dilation, padding, stride,
                                              "unfold")
    _blocks(tuple(x.shape[2:]), kernel, dil, pad_t, stride_t, "unfold")
    out = pool_ops.unfold(x, kernel, dil, pad_t, stride_t)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """col2im: ``(N, C*kH*kW, L) -> (N, C, *output_size)``, summing overlapping values."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {input.ndim}D)")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    size = ntuple(output_size, 2, "output_size", "fold")
    kernel, dil, pad_t, stride_t = _fold_args(2, kernel_size, dilation, padding, stride, "fold")
    taps = math.prod(kernel)
    if x.shape[1] % taps:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={kernel}")
    blocks = _blocks(size, kernel, dil, pad_t, stride_t, "fold")
    if x.shape[2] != math.prod(blocks):
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dil}, "
                           f"padding={pad_t}, stride={stride_t}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks "
                           f"{' * '.join(map(str, blocks))} = {math.prod(blocks)}, but got "
                           f"input.size(2)={x.shape[2]}.")
    out = pool_ops.fold(x, size, kernel, dil, pad_t, stride_t)
    return out.squeeze(0) if input.ndim == 2 else out
