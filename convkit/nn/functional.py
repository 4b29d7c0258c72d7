"""``convkit.nn.functional``: PyTorch's functional API, and convkit's generic N-d surface.

The PyTorch-named functions (``conv2d``, ``conv_transpose2d``, ``max_pool2d``, ``pad`` ...)
keep PyTorch's signatures and refuse what PyTorch refuses. Each is a thin wrapper that fixes
the rank of one N-d function. Those N-d functions, ``conv``, ``conv_transpose``,
``max_pool`` and ``avg_pool``, are public too and go further: any number of spatial dims,
padding as per-side ``(lo, hi)`` pairs, and ``'same'`` for any stride.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.nn._pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    fold,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    pad,
    pad_pairs,
    unfold,
)
from convkit.ops.conv import ConvGradInput, convolution

__all__ = [
    "conv", "conv1d", "conv2d", "conv3d", "conv_transpose", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d", "pad", "pad_pairs", "unfold", "fold", "max_pool",
    "avg_pool", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d",
    "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
]

Pairs = tuple[tuple[int, int], ...]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ntuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a length-1 or length-n sequence of ints, as n ints.

    As in PyTorch, a value of the wrong type is a TypeError and a sequence of the wrong
    length a RuntimeError.
    """
    if _is_int(value):
        return (value,) * n
    if not (isinstance(value, Sequence) and not isinstance(value, str)
            and all(_is_int(v) for v in value)):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if len(value) == n:
        return tuple(value)
    if len(value) == 1:
        return (value[0],) * n
    raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of {n} "
                       f"values to match the convolution dimensions, but got "
                       f"{name}={list(value)}")


def _same_padding(spatial: tuple[int, ...], kernel: tuple[int, ...],
                  dilation: tuple[int, ...], stride: tuple[int, ...]) -> Pairs:
    """'same': ``out = ceil(in / stride)``; the odd pixel of padding goes at the end.

    For stride 1 this is PyTorch's split; for larger strides it is JAX's and TensorFlow's.
    """
    pairs = []
    for n, k, d, s in zip(spatial, kernel, dilation, stride, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def _padding_pairs(padding: Any, spatial: tuple[int, ...], kernel: tuple[int, ...],
                   dilation: tuple[int, ...], stride: tuple[int, ...], op: str,
                   strict: bool) -> Pairs:
    """Resolve ``padding`` to (lo, hi) pairs per spatial axis.

    ``strict`` (the PyTorch-named functions): an int or n ints, 'valid', or 'same' with
    stride 1. Otherwise also per-side pairs ``((lo, hi), ...)`` and 'same' with any stride.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if strict and any(s != 1 for s in stride):
                raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                                   f"convolutions (stride={stride}); convkit.nn.functional.conv "
                                   "supports it")
            return _same_padding(spatial, kernel, dilation, stride)
        raise RuntimeError(f"{op}: Invalid padding string: {padding!r}, should be one of "
                           "{'valid', 'same'}")
    if not strict and isinstance(padding, Sequence) and padding and all(
            isinstance(p, Sequence) for p in padding):
        if len(padding) != n or any(len(p) != 2 or not all(_is_int(v) for v in p)
                                    for p in padding):
            raise RuntimeError(f"{op}: padding given as pairs must be {n} (lo, hi) pairs of "
                               f"ints, got {padding!r}")
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    else:
        pairs = tuple((p, p) for p in _ntuple(padding, n, "padding", op))
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={padding}")
    return pairs


def resolve_padding(padding: Any, input: Tensor, weight: Tensor, stride: Any, dilation: Any,
                    op: str = "conv") -> Pairs:
    """The (lo, hi) padding pairs :func:`conv` would use for these arguments."""
    n = weight.ndim - 2
    return _padding_pairs(padding, tuple(input.shape[-n:]), tuple(weight.shape[2:]),
                          _ntuple(dilation, n, "dilation", op), _ntuple(stride, n, "stride", op),
                          op, strict=False)


# PyTorch's names for scalar types, as its "not implemented for 'Long'" messages print them.
_SCALAR_NAMES = {"uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                 "int64": "Long", "bool": "Bool", "float16": "Half", "float32": "Float",
                 "float64": "Double", "complex64": "ComplexFloat",
                 "complex128": "ComplexDouble"}


def scalar_name(dtype: Any) -> str:
    """``'Long'`` for int64: the name PyTorch's kernel-dispatch errors use."""
    return _SCALAR_NAMES.get(dtype.name, dtype.name)


def _check_dtype_supported(dtype: Any, op: str, transposed: bool, dilated: bool,
                           strict: bool) -> None:
    """Refuse the element types PyTorch's CPU kernels refuse, with its exception class.

    PyTorch never convolves bool; int64 goes everywhere; the other integer types only
    through its plain kernel (not transposed, not dilated). The generic ``conv`` and
    ``conv_transpose`` (``strict=False``) take every integer type: the engine computes them
    all alike, wrapping around on overflow as PyTorch does.
    """
    if dtype.is_floating_point or dtype.is_complex or dtype.name == "int64":
        return
    if dtype.name == "bool" or (strict and (transposed or dilated)):
        kind = "transposed" if transposed else "dilated" if dilated else ""
        raise NotImplementedError(f"{op}: \"{kind + ' ' if kind else ''}convolution\" not "
                                  f"implemented for '{scalar_name(dtype)}'")


def _check_not_empty_image(x: Tensor, input: Tensor, op: str) -> None:
    """PyTorch: an empty batch or no channels give an empty output, an empty image does not."""
    if x.shape[0] and x.shape[1] and any(s == 0 for s in x.shape[2:]):
        raise RuntimeError(f"{op}: Only zero batch or zero channel inputs are supported, but "
                           f"got input of size {list(input.shape)}")


def _check_common(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                  dilation: Any, groups: int, op: str, transposed: bool, strict: bool
                  ) -> tuple[Tensor, bool, tuple[int, ...], tuple[int, ...]]:
    """Validation shared by convolution and transposed convolution.

    Returns the input as a batch ``(N, C, *spatial)``, whether it came unbatched, and the
    stride and dilation as n-tuples.
    """
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    n = weight.ndim - 2
    if n < 1:
        layout = ("in_channels, out_channels/groups" if transposed else
                  "out_channels, in_channels/groups")
        raise RuntimeError(f"{op}: weight must have at least 3 dims ({layout}, *kernel), got "
                           f"shape {list(weight.shape)}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}: Expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
                           f"but got input of size: {list(input.shape)}")
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    if any(k == 0 for k in weight.shape[2:]):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got weight of "
                           f"size {list(weight.shape)}")
    if transposed and weight.shape[1] == 0:
        raise RuntimeError(f"{op}: non-empty weight expected (out_channels/groups is 0), but "
                           f"got weight of size {list(weight.shape)}")
    if transposed:
        _check_not_empty_image(x, input, op)
    stride_t = _ntuple(stride, n, "stride", op)
    dilation_t = _ntuple(dilation, n, "dilation", op)
    if any(s <= 0 for s in stride_t):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride_t}")
    if any(d <= 0 for d in dilation_t):
        raise RuntimeError(f"{op}: dilation should be greater than zero, got {dilation_t}")
    if not _is_int(groups):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    if weight.shape[0] == 0:
        raise RuntimeError(f"{op}: expected weight to have at least 1 channel in dim 0, got "
                           f"weight of size {list(weight.shape)}")
    if weight.shape[0] % groups:
        what = "in_channels" if transposed else "out_channels"
        raise RuntimeError(f"{op}: groups ({groups}) must divide {what} "
                           f"(weight.shape[0] = {weight.shape[0]})")
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if x.shape[1] != expected:
        detail = (f"weight.shape[0] = {weight.shape[0]}" if transposed else
                  f"weight.shape[1] = {weight.shape[1]} x groups = {groups}")
        raise RuntimeError(f"{op}: expected input with {expected} channels ({detail}), but got "
                           f"input of size {list(input.shape)}")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
        if tuple(bias.shape) != (out_channels,):
            raise RuntimeError(f"{op}: expected bias of shape [{out_channels}] (one per output "
                               f"channel), got {list(bias.shape)}")
    if bias is not None and bias.dtype is not x.dtype:
        raise RuntimeError(f"{op}: Input type ({x.dtype}) and bias type ({bias.dtype}) should "
                           "be the same")
    if x.dtype is not weight.dtype:
        raise RuntimeError(f"{op}: Input type ({x.dtype}) and weight type ({weight.dtype}) "
                           "should be the same")
    _check_dtype_supported(x.dtype, op, transposed, any(d != 1 for d in dilation_t), strict)
    return x, unbatched, stride_t, dilation_t


# Validation depends only on the arguments' types, shapes, dtypes and hyper-parameters, so
# a call that passed once is remembered by them: a training loop's repeated call (and a tiny
# convolution, where the checks would cost more than the arithmetic) skips the checks.
_VALIDATED: dict[tuple, tuple] = {}
_MAX_VALIDATED = 4096


def _plain(value: Any) -> bool:
    """Whether ``value`` can stand in a cache key for itself: exactly an int or str, or
    tuples of them (a bool or a NumPy integer is kept out: it equals an int but must meet
    the checks, which treat it differently)."""
    kind = type(value)
    if kind is int or kind is str:
        return True
    if kind is tuple:
        return all(_plain(v) for v in value)
    return False


def _call_key(op: str, input: Any, weight: Any, bias: Any, *hyper: Any) -> tuple | None:
    """The cache key of a convolution call, or None when it cannot be cached."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor)
            and (bias is None or isinstance(bias, Tensor)) and _plain(hyper)):
        return None
    return (op, type(input), type(weight), type(bias), input._data.shape, weight._data.shape,
            None if bias is None else bias._data.shape, input._dtype, weight._dtype,
            None if bias is None else bias._dtype) + hyper


def _validated(key: tuple | None, check: Any) -> tuple:
    """``check()``'s result, computed once per key (``None``: every time)."""
    if key is None:
        return check()
    found = _VALIDATED.get(key)
    if found is None:
        found = check()
        if len(_VALIDATED) >= _MAX_VALIDATED:
            _VALIDATED.clear()
        _VALIDATED[key] = found
    return found


def _conv_arguments(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                    padding: Any, dilation: Any, groups: int, op: str, strict: bool
                    ) -> tuple[bool, tuple[int, ...], Pairs, tuple[int, ...]]:
    """Validate a convolution call; (unbatched, stride, padding pairs, dilation)."""
    x, unbatched, stride_t, dilation_t = _check_common(input, weight, bias, stride, dilation,
                                                       groups, op, False, strict)
    kernel = tuple(weight.shape[2:])
    pairs = _padding_pairs(padding, tuple(x.shape[2:]), kernel, dilation_t, stride_t, op,
                           strict)
    for axis, (size, k, d, (lo, hi)) in enumerate(zip(x.shape[2:], kernel, dilation_t, pairs,
                                                       strict=True)):
        if size + lo + hi < d * (k - 1) + 1:
            raise RuntimeError(f"{op}: Kernel size can't be greater than actual input size: "
                               f"spatial dim {axis} has padded size {size + lo + hi} "
                               f"({size} + padding {lo} + {hi}) but the dilated kernel spans "
                               f"{d * (k - 1) + 1}")
    _check_not_empty_image(x, input, op)  # after the kernel-size check, as in PyTorch
    return unbatched, stride_t, pairs, dilation_t


def _convolve(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
              dilation: Any, groups: int, op: str, strict: bool) -> Tensor:
    key = _call_key(op, input, weight, bias, stride, padding, dilation, groups)  # op fixes strict
    unbatched, stride_t, pairs, dilation_t = _validated(key, lambda: _conv_arguments(
        input, weight, bias, stride, padding, dilation, groups, op, strict))
    x = input.unsqueeze(0) if unbatched else input
    out = convolution(x, weight, bias, stride_t, pairs, dilation_t, groups)
    return out.squeeze(0) if unbatched else out


def conv(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
         padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """N-d cross-correlation (PyTorch's convolution; the kernel is not flipped), any N.

    Shape:
        input ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``; weight
        ``(C_out, C_in/groups, *kernel)``; output ``(N, C_out, *out)`` with, per axis,
        ``out = floor((in + lo + hi - dilation*(kernel-1) - 1) / stride) + 1``.

    ``padding``: an int, one int per axis, ``(lo, hi)`` pairs per axis, ``'valid'``, or
    ``'same'`` (``out = ceil(in / stride)`` for any stride; the odd pad goes at the end).
    """
    return _convolve(input, weight, bias, stride, padding, dilation, groups, "conv",
                     strict=False)


def _fixed_rank(n: int) -> Any:
    def conv_nd(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
        if isinstance(weight, Tensor) and weight.ndim != n + 2:
            raise RuntimeError(f"conv{n}d: weight must be {n + 2}-dimensional (out_channels, "
                               f"in_channels/groups, {n} kernel dims), got shape "
                               f"{list(weight.shape)}")
        return _convolve(input, weight, bias, stride, padding, dilation, groups,
                         f"conv{n}d", strict=True)

    conv_nd.__name__ = conv_nd.__qualname__ = f"conv{n}d"
    conv_nd.__doc__ = (f"{n}-d cross-correlation with PyTorch's signature and checks; see "
                       ":func:`conv` for shapes and the output-size formula.")
    return conv_nd


conv1d = _fixed_rank(1)
conv2d = _fixed_rank(2)
conv3d = _fixed_rank(3)


def transposed_output_padding(input: Tensor, output_size: Any, stride: tuple[int, ...],
                              padding: tuple[int, ...], kernel: tuple[int, ...],
                              dilation: tuple[int, ...], output_padding: tuple[int, ...],
                              n: int, op: str) -> tuple[int, ...]:
    """``output_padding`` that yields ``output_size`` (or the given one when it is None)."""
    if output_size is None:
        return output_padding
    size = tuple(int(s) for s in output_size)
    if len(size) == n + 2 or (len(size) == n + 1 and input.ndim == n + 1):
        size = size[-n:]
    if len(size) != n:
        raise ValueError(f"{op}: output_size must have {n} or {n + 2} elements (got "
                         f"{len(tuple(output_size))})")
    spatial = tuple(input.shape[-n:])
    smallest = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, k, d in
                     zip(spatial, stride, padding, kernel, dilation, strict=True))
    for want, lo, s in zip(size, smallest, stride, strict=True):
        if not lo <= want <= lo + s - 1:
            raise ValueError(f"requested an output size of {list(size)}, but valid sizes range "
                             f"from {list(smallest)} to "
                             f"{[m + s_ - 1 for m, s_ in zip(smallest, stride, strict=True)]} "
                             f"(for an input of {list(spatial)})")
    return tuple(w - m for w, m in zip(size, smallest, strict=True))


def _transpose(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
               output_padding: Any, groups: int, dilation: Any, op: str, padding_mode: str,
               strict: bool) -> Tensor:
    """Validate, then transposed-convolve; ``strict`` refuses what PyTorch refuses."""
    x, unbatched, stride_t, dilation_t = _check_common(input, weight, bias, stride, dilation,
                                                       groups, op, True, strict)
    n = weight.ndim - 2
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):  # PyTorch's argument parser refuses strings here
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str "
                        f"(got {padding!r}; 'same' and 'valid' exist for convolution only)")
    pad_t = _ntuple(padding, n, "padding", op)
    out_pad = _ntuple(output_padding, n, "output_padding", op)
    if any(p < 0 for p in pad_t):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={pad_t}")
    if any(p < 0 for p in out_pad):
        raise RuntimeError(f"{op}: negative output_padding is not supported, got "
                           f"output_padding={out_pad}")
    for op_, s, d in zip(out_pad, stride_t, dilation_t, strict=True):
        if op_ >= max(s, d):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={out_pad}, stride={stride_t}, "
                               f"dilation={dilation_t}")
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op_ + 1 for i, s, p, k, d, op_ in
                 zip(x.shape[2:], stride_t, pad_t, kernel, dilation_t, out_pad, strict=True))
    if any(s <= 0 for s in size):
        raise RuntimeError(f"{op}: Given input size per channel: {list(x.shape[2:])}, the "
                           f"calculated output size {list(size)} is too small (padding={pad_t})")
    if padding_mode == "zeros":
        pairs = tuple((p, p) for p in pad_t)
        params = (stride_t, pairs, dilation_t, groups)
        out = ConvGradInput.apply(x, weight, (x.shape[0], weight.shape[1] * groups) + size,
                                  params)
    else:
        out = _transpose_as_direct(x, weight, stride_t, pad_t, out_pad, dilation_t, groups,
                                   padding_mode)
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * n)
    return out.squeeze(0) if unbatched else out


def _transpose_as_direct(x: Tensor, weight: Tensor, stride: tuple[int, ...],
                         padding: tuple[int, ...], output_padding: tuple[int, ...],
                         dilation: tuple[int, ...], groups: int, mode: str) -> Tensor:
    """Transposed convolution as the equivalent direct one (Dumoulin & Visin): insert
    ``stride - 1`` zeros between inputs, pad by ``dilation*(k-1) - padding`` under ``mode``
    (plus ``output_padding`` at the end), and correlate with the flipped kernel whose
    in/out channel axes are swapped within each group."""
    from convkit.ops.shape import flip

    n = len(stride)
    spread = _insert_zeros(x, stride)
    # per axis, first axis first: d*(k-1) - p before, plus output_padding after
    pairs = tuple((d * (k - 1) - p, d * (k - 1) - p + op_) for k, d, p, op_ in
                  zip(weight.shape[2:], dilation, padding, output_padding, strict=True))
    padded = pad_pairs(spread, pairs, mode)
    c_in, c_out_g = weight.shape[0], weight.shape[1]
    k = tuple(weight.shape[2:])
    # (C_in, C_out/G, *k) -> (G, C_in/G, C_out/G, *k) -> (G, C_out/G, C_in/G, *k)
    w = weight.reshape((groups, c_in // groups, c_out_g) + k).transpose(1, 2)
    w = flip(w.reshape((groups * c_out_g, c_in // groups) + k), tuple(range(2, 2 + n)))
    return convolution(padded, w, None, (1,) * n, ((0, 0),) * n, dilation, groups)


def _insert_zeros(x: Tensor, stride: tuple[int, ...]) -> Tensor:
    """``stride - 1`` zeros between neighbouring elements of each spatial axis."""
    from convkit.ops.creation import zeros

    if all(s == 1 for s in stride):
        return x
    spatial = tuple(x.shape[2:])
    size = tuple((n - 1) * s + 1 for n, s in zip(spatial, stride, strict=True))
    out = zeros(tuple(x.shape[:2]) + size, dtype=x.dtype)
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
    out[index] = x
    return out


def conv_transpose(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                   stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                   groups: int = 1, dilation: Any = 1, *, padding_mode: str = "zeros"
                   ) -> Tensor:
    """N-d transposed convolution: the adjoint of :func:`conv` with respect to its input.

    Shape:
        input ``(N, C_in, *in)``; weight ``(C_in, C_out/groups, *kernel)``; output
        ``(N, C_out, *out)`` with ``out = (in-1)*stride - 2*padding +
        dilation*(kernel-1) + output_padding + 1``.

    Beyond PyTorch, ``padding_mode`` ('reflect', 'replicate', 'circular') pads the
    zero-spread input of the equivalent direct convolution under that mode.
    """
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"conv_transpose: padding_mode must be one of 'zeros', 'reflect', "
                         f"'replicate', 'circular', got {padding_mode!r}")
    return _transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                      "conv_transpose", padding_mode, strict=False)


def _fixed_rank_transpose(n: int) -> Any:
    def conv_transpose_nd(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                          stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                          groups: int = 1, dilation: Any = 1) -> Tensor:
        if isinstance(weight, Tensor) and weight.ndim != n + 2:
            raise RuntimeError(f"conv_transpose{n}d: weight must be {n + 2}-dimensional "
                               f"(in_channels, out_channels/groups, {n} kernel dims), got "
                               f"shape {list(weight.shape)}")
        return _transpose(input, weight, bias, stride, padding, output_padding, groups,
                          dilation, f"conv_transpose{n}d", "zeros", strict=True)

    conv_transpose_nd.__name__ = conv_transpose_nd.__qualname__ = f"conv_transpose{n}d"
    conv_transpose_nd.__doc__ = (f"{n}-d transposed convolution with PyTorch's signature; see "
                                 ":func:`conv_transpose` for shapes.")
    return conv_transpose_nd


conv_transpose1d = _fixed_rank_transpose(1)
conv_transpose2d = _fixed_rank_transpose(2)
conv_transpose3d = _fixed_rank_transpose(3)


# Activations, normalisation, dropout, resampling and losses (see _layers_functional).
from convkit.nn._layers_functional import *  # noqa: F403
from convkit.nn._layers_functional import __all__ as _layer_functions

__all__ += _layer_functions
