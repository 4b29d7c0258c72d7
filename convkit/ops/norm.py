"""Normalisation: batch, instance, layer and group norm, local response norm.

Each is one N-d composition of differentiable ops (mean, biased variance, rsqrt), so the
gradients with respect to the input, the weight and the bias come from autograd and are
differentiable again. Running statistics are updated in place, outside the graph, with
PyTorch's rule: ``running = (1 - momentum) * running + momentum * batch_stat``, the
variance unbiased (``n / (n - 1)``) in the running estimate and biased in the output.
"""

from __future__ import annotations

import math
from typing import Any

from convkit.autograd.grad_mode import no_grad
from convkit.autograd.tensor import Size, Tensor
from convkit.ops import elementwise as E
from convkit.ops import reduction as R
from convkit.ops import shape as S

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm"]


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    """``(1, C, 1, ..., 1)``: a per-channel vector broadcast against ``x`` (N, C, *)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None,
            shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _check_stat(name: str, t: Tensor | None, c: int) -> None:
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and all spatial dims.

    Shape: input ``(N, C, *)`` with any number of trailing dims; output the same.
    """
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[-{max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 1)")
    c = input.shape[1]
    if training and input.numel() // c <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {Size(input.shape)!r}".replace("convkit.", "torch."))
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_stat(name, t, c)
    shape = _channel_shape(input)
    dims = (0,) + tuple(range(2, input.ndim))
    if training or running_mean is None or running_var is None:
        mean = R.mean(input, dims, keepdim=True)
        var = R.var(input, dims, keepdim=True, correction=0)
        if training:
            n = input.numel() // c
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(
                        mean.detach().reshape(-1).to(running_mean.dtype) * momentum)
                if running_var is not None:
                    unbiased = var.detach().reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - momentum).add_(
                        unbiased.to(running_var.dtype) * momentum)
    else:
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = (input - mean) * E.rsqrt(var + eps)
    return _affine(out, weight, bias, shape)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims.

    As in PyTorch: batch norm of the input seen as ``(1, N*C, *)``; the running statistics
    (when given) are updated with the mean over the batch of the per-instance statistics.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    n, c = input.shape[0], input.shape[1]
    if use_input_stats and math.prod(input.shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size torch.Size({list(input.shape)})")
    folded = input.reshape((1, n * c) + tuple(input.shape[2:]))  # (1, N*C, *spatial)
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    out = batch_norm(folded, rm, rv, w, b, use_input_stats, momentum, eps)
    if use_input_stats:
        with no_grad():
            if running_mean is not None:
                running_mean.copy_(R.mean(rm.reshape(n, c), 0))
            if running_var is not None:
                running_var.copy_(R.mean(rv.reshape(n, c), 0))
    return out.reshape(tuple(input.shape))


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``len(normalized_shape)`` dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = R.mean(input, dims, keepdim=True)
    var = R.var(input, dims, keepdim=True, correction=0)
    out = (input - mean) * E.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of ``C / num_groups`` channels and all spatial dims."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number "
                               f"of channels in input, but got {name} of shape "
                               f"{list(t.shape)} and input of shape {list(input.shape)}")
    grouped = input.reshape(n, num_groups, -1)  # (N, G, C/G * prod(spatial))
    mean = R.mean(grouped, 2, keepdim=True)
    var = R.var(grouped, 2, keepdim=True, correction=0)
    out = ((grouped - mean) * E.rsqrt(var + eps)).reshape(tuple(input.shape))
    return _affine(out, weight, bias, _channel_shape(input))


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """``x / (k + alpha * mean of x^2 over a window of `size` channels) ** beta``.

    The window is centred (``size // 2`` channels before, ``(size - 1) // 2`` after) and
    zero-padded at the ends, as in PyTorch.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    lo, hi = size // 2, (size - 1) // 2
    pad_shape = list(input.shape)
    parts = []
    if lo:
        pad_shape[1] = lo
        parts.append(_zeros(pad_shape, sq))
    parts.append(sq)
    if hi:
        pad_shape[1] = hi
        parts.append(_zeros(pad_shape, sq))
    padded = S.cat(parts, 1) if len(parts) > 1 else sq  # (N, C + size - 1, *)
    window = S.narrow(padded, 1, 0, c)
    for i in range(1, size):
        window = window + S.narrow(padded, 1, i, c)
    div = E.pow(window * (alpha / size) + k, beta)
    return input / div


def _zeros(shape: list[int], like: Tensor) -> Tensor:
    from convkit.ops import creation
    return creation.zeros(tuple(shape), dtype=like.dtype)
