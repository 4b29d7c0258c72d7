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
from convkit.engine.fold import sliding_positions
from convkit.ops import pool as pool_ops

__all__ = [
    "max_pool", "avg_pool", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "pad", "pad_pairs", "unfold", "fold", "ntuple",
]


def ntuple(value: Any, n: int, name: str, op: str, allow_empty: bool = False
           ) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints as an n-tuple (a length-1 sequence repeats).

    As in PyTorch, a value of the wrong type is a TypeError and a sequence of the wrong
    length a RuntimeError.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, Sequence) and not isinstance(value, str) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        items = tuple(value)
        if len(items) == 1:
            items = items * n
        if len(items) == n:
            return items
        raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of {n} "
                           f"ints, but got {name}={value!r} ({len(items)} values)")
    raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, but got "
                    f"{value!r}")


def _check_dtype(x: Tensor, op: str, ints: str, kernel: str | None = None,
                 complex_ok: bool = False, bool_ok: bool = False) -> None:
    """Refuse the element types PyTorch's CPU kernel for ``op`` refuses (NotImplementedError).

    ``ints`` is which integer types the kernel takes: ``"all"``, ``"int64"`` or ``"none"``.
    ``kernel`` is the kernel's name in the message (PyTorch names the kernel it dispatched to).
    """
    from convkit.nn.functional import scalar_name

    d = x.dtype
    if d.is_floating_point:
        return
    if d.is_complex:
        ok = complex_ok
    elif d.name == "bool":
        ok = bool_ok
    else:
        ok = ints == "all" or (ints == "int64" and d.name == "int64")
    if not ok:
        raise NotImplementedError(f"{op}: \"{kernel or op}\" not implemented for "
                                  f"'{scalar_name(d)}'")


def _spatial_input(x: Tensor, n: int, op: str, empty_channels: bool = False
                   ) -> tuple[Tensor, bool]:
    """Accept ``(N, C, *sp)`` and unbatched ``(C, *sp)``; returns the batched tensor.

    As in PyTorch only the batch may be empty (and the channels, with ``empty_channels``,
    for adaptive average pooling).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    # the first dim that must be non-empty: the channels, or the first spatial dim
    first = x.ndim - n - (0 if empty_channels else 1)
    if x.ndim not in (n + 1, n + 2) or any(s == 0 for s in x.shape[first:]):
        raise RuntimeError(f"{op}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size and non-zero other dimensions for "
                           f"input, but got: {list(x.shape)}")
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
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{op}: pad must be non-negative, but got padding={pad}")
    for p, k in zip(pad, kernel, strict=True):
        if p > k // 2:  # PyTorch's limit ignores dilation
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
    # PyTorch's 1-d kernel without indices is floating-point only; the one with indices
    # (also used for 2-d and 3-d) takes integers too.
    plain_1d = op == "max_pool1d" and not return_indices and not x.requires_grad
    _check_dtype(x, op, "none" if plain_1d else "all",
                 "max_pool1d_impl" if plain_1d else f"max_pool{n}d")
    values, indices = pool_ops.max_pool(x, kernel, stride_t, pad, dil, bool(ceil_mode),
                                        return_indices=bool(return_indices))
    if unbatched:
        values = values.squeeze(0)
        indices = None if indices is None else indices.squeeze(0)
    return (values, indices) if return_indices else values


def avg_pool(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             divisor_override: int | None = None, *, ndim: int | None = None,
             op: str = "avg_pool") -> Tensor:
    """N-d average pooling; the divisor counts padding when ``count_include_pad`` (but never
    the ``ceil_mode`` overhang), or is ``divisor_override``."""
    n = ndim if ndim is not None else _rank_of(kernel_size, op)
    if op in ("avg_pool2d", "lp_pool2d") and isinstance(input, Tensor) and input.ndim < 3:
        # PyTorch's 2-d kernel checks its arguments, then reads input.size(-3) before it
        # checks the rank
        ntuple(kernel_size, n, "kernel_size", op)
        if stride is not None and stride != [] and stride != ():
            ntuple(stride, n, "stride", op)
        ntuple(padding, n, "padding", op)
        raise IndexError(f"{op}: Dimension out of range: expected a 3D or 4D (batch mode) "
                         f"input, but got input of size {list(input.shape)}")
    x, unbatched = _spatial_input(input, n, op)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero (divisor_override=0)")
    kernel, stride_t, pad, _ = _pool_args(x, n, kernel_size, stride, padding, 1, ceil_mode,
                                          op)
    if n == 3 and any(s < k for s, k in zip(x.shape[2:], kernel, strict=True)):
        # PyTorch's 3-d average pooling compares the unpadded input with the kernel
        raise RuntimeError(f"{op}: input image (T: {x.shape[2]} H: {x.shape[3]} W: "
                           f"{x.shape[4]}) smaller than kernel size (kT: {kernel[0]} kH: "
                           f"{kernel[1]} kW: {kernel[2]})")
    # int64 averages truncate toward zero, as PyTorch's integer division does
    _check_dtype(x, op, "int64", "avg_pool2d" if n <= 2 else "avg_pool3d")
    out = pool_ops.avg_pool(x, kernel, stride_t, pad, bool(ceil_mode), bool(count_include_pad),
                            divisor_override)
    return out.squeeze(0) if unbatched else out


def _rank_of(kernel_size: Any, op: str) -> int:
    if isinstance(kernel_size, Sequence) and len(kernel_size) > 0:
        return len(kernel_size)
    raise TypeError(f"{op}(): give kernel_size as a tuple (its length sets the number of "
                    f"spatial dims), got {kernel_size!r}")


def _adaptive_size(x: Tensor, n: int, output_size: Any, op: str) -> tuple[int, ...]:
    """``output_size`` as n sizes; ``None`` keeps the input's size along that axis."""
    if isinstance(output_size, int | None) and not isinstance(output_size, bool):
        sizes: tuple[Any, ...] = (output_size,) * n
    elif isinstance(output_size, Sequence) and not isinstance(output_size, str):
        sizes = tuple(output_size)
    else:
        raise TypeError(f"{op}(): output_size must be an int, None or a tuple of {n} of them, "
                        f"got {type(output_size).__name__} {output_size!r}")
    if len(sizes) != n:
        raise RuntimeError(f"{op}: output_size must be {n} ints, got {output_size!r}")
    out = tuple(x.shape[-n + i] if s is None else s for i, s in enumerate(sizes))
    if any(not isinstance(s, int) or isinstance(s, bool) for s in out):
        raise TypeError(f"{op}(): output_size must hold ints or None, got {output_size!r}")
    if any(s < 0 for s in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {output_size!r}")
    return out


def _adaptive_avg(n: int) -> Any:
    op = f"adaptive_avg_pool{n}d"

    def adaptive_avg_pool(input: Tensor, output_size: Any) -> Tensor:
        x, unbatched = _spatial_input(input, n, op, empty_channels=True)
        size = _adaptive_size(x, n, output_size, op)
        _check_dtype(x, op, "none")  # PyTorch's adaptive kernels are floating-point only
        out = pool_ops.adaptive_avg_pool(x, size)
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
        size = _adaptive_size(x, n, output_size, op)
        _check_dtype(x, op, "none")
        values, indices = pool_ops.adaptive_max_pool(x, size)
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
        if (n > 1 and isinstance(kernel_size, Sequence) and not isinstance(kernel_size, str)
                and len(kernel_size) != n):  # PyTorch unpacks it into n names here
            raise ValueError(f"{op}: kernel_size must be an int or {n} ints, got "
                             f"{kernel_size!r} ({len(kernel_size)} values to unpack)")
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
        _check_dtype(x, op, "none", f"max_unpool{max(n, 2)}d")
        if not isinstance(indices, Tensor):
            raise TypeError(f"{op}(): argument 'indices' must be Tensor, not "
                            f"{type(indices).__name__}")
        if indices.dtype.name != "int64":
            from convkit.nn.functional import scalar_name

            raise RuntimeError(f"{op}: elements in indices should be type int64 but got: "
                               f"{scalar_name(indices.dtype)}")
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
            given = tuple(output_size)
            if len(given) not in (n, n + 2):
                raise ValueError(f"{op}: output_size should be a sequence containing {n} or "
                                 f"{n + 2} elements, but it has a length of '{len(given)}'")
            size = given[-n:]
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
    ``replicate`` (repeat the edge), ``circular`` (wrap around). As in PyTorch, the
    non-constant modes pad 1 to 3 dims of an input with one or two more dims.

    Shape: ``(*, D_1, ..., D_n) -> (*, D_1 + lo_1 + hi_1, ..., D_n + lo_n + hi_n)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be Tensor, not {type(input).__name__}")
    if (isinstance(pad, int | str) or not isinstance(pad, Sequence)
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in pad)):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, but got {pad!r}")
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2 (got {len(pad)} values)")
    n = len(pad) // 2
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
    return pad_pairs(input, pairs, mode, value)


def pad_pairs(input: Tensor, pairs: tuple[tuple[int, int], ...], mode: str,
              value: float | None = None) -> Tensor:
    """Pad the last ``len(pairs)`` dims by ``(lo, hi)`` each (first dim first), any number of
    them: :func:`pad` without its limit on the rank for the non-constant modes, which the
    generic N-d convolutions use. ``mode`` is checked by the caller.
    """
    n = len(pairs)
    if n > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {2 * n} and input of dimension "
                           f"{input.ndim}")
    if mode in ("reflect", "replicate"):
        _check_dtype(input, "pad", "all", f"{'reflection' if mode == 'reflect' else 'replication'}"
                     f"_pad{max(n, 1)}d", complex_ok=True)
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
        # signed, as in PyTorch: a negative pad only crops, whatever its size
        if mode == "reflect" and (lo >= size or hi >= size):
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
    blocks = sliding_positions(size, kernel, dil, pad_t, stride_t)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"{op}: Given input with spatial size {size}, kernel_size={kernel}, "
                           f"dilation={dil}, padding={pad_t}, calculated shape of the array of "
                           f"sliding blocks as {blocks}, but its components must be at least "
                           "one.")
    return blocks


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """im2col: ``(N, C, H, W) -> (N, C*kH*kW, L)`` (or unbatched ``(C, H, W) -> (C*kH*kW,
    L)``), one column per sliding window, rows ordered channel-major then kernel taps."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim < 3:
        # PyTorch reads input.size(2) before it checks the rank: an IndexError
        raise IndexError(f"unfold: Dimension out of range: expected a 3D or 4D (batch mode) "
                         f"input, but got input of size {list(input.shape)}")
    if input.ndim > 4 or any(s == 0 for s in input.shape[-3:]):
        raise RuntimeError(f"unfold: Expected 3D or 4D (batch mode) tensor with possibly 0 batch "
                           f"size and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    kernel, dil, pad_t, stride_t = _fold_args(2, kernel_size, dilation, padding, stride,
                                              "unfold")
    _check_dtype(x, "unfold", "none", "im2col_out_cpu", complex_ok=True, bool_ok=True)
    _blocks(tuple(x.shape[2:]), kernel, dil, pad_t, stride_t, "unfold")
    out = pool_ops.unfold(x, kernel, dil, pad_t, stride_t)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """col2im: ``(N, C*kH*kW, L) -> (N, C, *output_size)`` (or unbatched), summing the values
    that overlapping windows put on the same pixel; the adjoint of :func:`unfold`."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (2, 3) or any(s == 0 for s in input.shape[-2:]):
        raise RuntimeError(f"fold: Expected 2D or 3D (batch mode) tensor for input with possibly "
                           f"0 batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    size = ntuple(output_size, 2, "output_size", "fold")
    kernel, dil, pad_t, stride_t = _fold_args(2, kernel_size, dilation, padding, stride, "fold")
    _check_dtype(x, "fold", "none", "col2im_out_cpu", complex_ok=True, bool_ok=True)
    taps = math.prod(kernel)
    if x.shape[1] % taps:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={kernel}")
    blocks = sliding_positions(size, kernel, dil, pad_t, stride_t)
    if x.shape[2] != math.prod(blocks) or any(b < 1 for b in blocks):
        raise RuntimeError(f"fold: Given output_size={size}, kernel_size={kernel}, "
                           f"dilation={dil}, padding={pad_t}, stride={stride_t}, expected size "
                           f"of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {' * '.join(map(str, blocks))} = {math.prod(blocks)}, but "
                           f"got input.size(2)={x.shape[2]}.")
    out = pool_ops.fold(x, size, kernel, dil, pad_t, stride_t)
    return out.squeeze(0) if input.ndim == 2 else out
