"""The functional forms of convkit.nn's activations, normalisation, dropout, resampling
and losses, with PyTorch's signatures; re-exported by :mod:`convkit.nn.functional`.

The differentiable work happens in ``convkit.ops`` (activation, norm, dropout, resample,
loss); this module owns the public signatures and the rank checks PyTorch makes.
"""

from __future__ import annotations

import warnings
from typing import Any

from convkit.autograd.tensor import Tensor
from convkit.ops import dropout as _D
from convkit.ops import elementwise as _E
from convkit.ops import linalg as _L
from convkit.ops import resample as _RS
from convkit.ops.activation import (
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    prelu,
    relu6,
    silu,
    softmax,
    softplus,
)
from convkit.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from convkit.ops.norm import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
)
from convkit.ops.resample import channel_shuffle, pixel_shuffle, pixel_unshuffle

__all__ = [
    "linear", "relu", "relu_", "relu6", "hardtanh", "leaky_relu", "elu", "gelu", "silu",
    "mish", "hardswish", "hardsigmoid", "sigmoid", "tanh", "softmax", "log_softmax",
    "softplus", "prelu", "dropout", "dropout1d", "dropout2d", "dropout3d", "batch_norm",
    "group_norm", "layer_norm", "instance_norm", "local_response_norm", "interpolate",
    "upsample", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "mse_loss", "l1_loss",
    "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div",
]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``. Shape: input ``(*, in)``, weight ``(out, in)``,
    bias ``(out,)``, output ``(*, out)``."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linear(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if weight.ndim == 2 and input.ndim >= 1 and input.shape[-1] != weight.shape[1]:
        rows = input.numel() // input.shape[-1] if input.shape[-1] else 0
        rows = rows if input.ndim > 1 else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x"
                           f"{input.shape[-1]} and {weight.shape[1]}x{weight.shape[0]})")
    out = _L.matmul(input, weight.t() if weight.ndim == 2 else weight)
    return out + bias if bias is not None else out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu_() if inplace else _E.relu(input)


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def sigmoid(input: Tensor) -> Tensor:
    return _E.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _E.tanh(input)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    return _D.dropout(input, p, training, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` input."""
    _D._check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    return _D.feature_dropout(input, p, training, inplace, batched=input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` input (3-D input is read as (N, C, L), as
    PyTorch does)."""
    _D._check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release.",
                      stacklevel=2)
    return _D.feature_dropout(input, p, training, inplace, batched=True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input."""
    _D._check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release.",
                      stacklevel=2)
    return _D.feature_dropout(input, p, training, inplace, batched=input.ndim == 5)


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resample the spatial dims of ``(N, C, *spatial)`` (1 to 3 spatial dims).

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' (4-D),
    'trilinear' (5-D), 'area' (adaptive average pooling). Output size is ``size`` or
    ``floor(in * scale_factor)``.
    """
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by convkit")
    if mode == "area":
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
        if input.ndim not in (3, 4, 5):
            raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors "
                                      f"supported (got {input.ndim}D) for the modes: "
                                      f"{_RS._MODES} (got {mode})")
        from convkit.nn import functional as F
        out_size, _ = _RS.output_size_and_scales(input, size, scale_factor,
                                                 recompute_scale_factor)
        pool = getattr(F, f"adaptive_avg_pool{input.ndim - 2}d")
        return pool(input, tuple(out_size))
    return _RS.interpolate_nd(input, size, scale_factor, mode, align_corners,
                              recompute_scale_factor)


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None,
             mode: str = "nearest", align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)
