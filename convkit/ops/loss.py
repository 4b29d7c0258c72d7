"""Loss functions with PyTorch's formulas, reductions and errors.

Each loss is a composition of differentiable ops over the element-wise loss, then the
reduction. Class-index losses (``nll_loss``, ``cross_entropy``) pick the target class with
a constant one-hot weight mask built once in NumPy: ``-(input * mask).sum(1)``, so the
gradient scatters into the target class without a special kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convkit import _dtypes
from convkit.autograd.tensor import Tensor
from convkit.ops import activation as A
from convkit.ops import creation
from convkit.ops import elementwise as E
from convkit.ops import reduction as R

__all__ = ["legacy_reduction", "apply_reduction", "mse_loss", "l1_loss", "smooth_l1_loss",
           "huber_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div"]


def _size(shape: Any) -> str:
    return f"torch.Size({list(shape)})"


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def apply_reduction(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_tensors(name: str, input: Any, target: Any) -> None:
    for arg, value in (("input", input), ("target", target)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(value).__name__}")


def _size_warning(name: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        import warnings
        warnings.warn(f"Using a target size ({_size(target.shape)}) that is different to the "
                      f"input size ({_size(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)


def _pointwise(name: str, input: Tensor, target: Tensor, reduction: str) -> None:
    _check_tensors(name, input, target)
    _check_reduction(reduction)
    _size_warning(name, input, target)
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"Found dtype {_dtypes.scalar_type_name(input.dtype)} but expected "
                           "Float")


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    _pointwise("mse_loss", input, target, reduction)
    d = input - target
    return apply_reduction(_weighted(d * d, weight), reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    _pointwise("l1_loss", input, target, reduction)
    return apply_reduction(_weighted(E.abs(input - target), weight), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - beta / 2`` (L1 for beta 0)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _pointwise("smooth_l1_loss", input, target, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = E.abs(input - target)
    if beta == 0:
        return apply_reduction(d, reduction)
    loss = E.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return apply_reduction(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``."""
    _pointwise("huber_loss", input, target, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = E.abs(input - target)
    loss = E.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return apply_reduction(_weighted(loss, weight), reduction)


# ------------------------------------------------------------------ class-index losses
def _class_dim(input: Tensor) -> int:
    return 0 if input.ndim == 1 else 1


def _check_index_target(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """PyTorch's nll_loss checks, in its order, with its exception classes."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim != 0 and target.dtype in (_dtypes.int64, _dtypes.uint8):
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    else:
        if input.shape[0] != (target.shape[0] if target.ndim else -1):
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0] if target.ndim else 0}).")
        if input.ndim == 2 and target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.ndim > 2:
            if target.ndim != input.ndim - 1:
                raise RuntimeError(f"only batches of spatial targets supported ({input.ndim - 1}"
                                   f"D tensors) but got targets of dimension: {target.ndim}")
            if tuple(target.shape[1:]) != tuple(input.shape[2:]):
                raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                                   f"{list(target.shape)}")
    if target.dtype not in (_dtypes.int64, _dtypes.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_dtypes.scalar_type_name(target.dtype)}")
    c = input.shape[_class_dim(input)]
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")


def _target_mask(input: Tensor, target: Tensor, weight: Tensor | None,
                 ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-hot class mask scaled by the class weight (zero where ignored), shaped like
    ``input``, and the per-element weight ``w[target]`` (0 where ignored), shaped like
    ``target``."""
    cdim = _class_dim(input)
    c = input.shape[cdim]
    t = target._data.astype(np.int64)
    ignored = t == ignore_index
    bad = (~ignored) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {t[bad].flat[0]} is out of bounds.")
    safe = np.where(ignored, 0, t)
    w = np.ones(c, dtype=input.dtype.np) if weight is None else \
        weight.detach()._data.astype(input.dtype.np)
    elem_w = np.where(ignored, 0, w[safe]).astype(input.dtype.np)  # like target
    classes = np.arange(c).reshape((c,) + (1,) * (t.ndim - (1 if cdim else 0)))
    if cdim:
        onehot = np.expand_dims(safe, 1) == classes  # (N, C, *)
        mask = onehot * np.expand_dims(elem_w, 1)
    else:
        mask = (classes.reshape(c) == safe) * elem_w
    return mask.astype(input.dtype.np), elem_w


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """``-weight[t] * input[n, t]`` per element; 'mean' divides by the sum of the weights."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_tensors("nll_loss", input, target)
    _check_reduction(reduction)
    _check_index_target(input, target, weight)
    mask, elem_w = _target_mask(input, target, weight, ignore_index)
    loss = -R.sum(input * creation.from_numpy(mask), _class_dim(input))  # like target
    if reduction == "none":
        return loss
    total = R.sum(loss)
    if reduction == "sum":
        return total
    return total / float(elem_w.sum(dtype=np.float64))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``log_softmax`` over the class dim, then NLL (class indices) or the soft-target
    cross-entropy (class probabilities: a floating target shaped like ``input``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_tensors("cross_entropy", input, target)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    cdim = _class_dim(input)
    c = input.shape[cdim]
    logp = A.log_softmax(input, cdim)
    wshape = [1] * input.ndim
    wshape[cdim] = c
    if tuple(input.shape) == tuple(target.shape):  # class probabilities
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {_dtypes.scalar_type_name(target.dtype)}")
        if weight is not None and (weight.ndim != 1 or weight.numel() != c):
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or "
                               f"no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        t = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
        prod = logp * t
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        loss = -R.sum(prod, cdim)
        if reduction == "mean":
            return R.sum(loss) / (input.numel() // c if input.numel() else 1) \
                if input.numel() else R.mean(loss)
        return apply_reduction(loss, reduction)
    _check_index_target(input, target, weight)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return nll
    ignored = target._data == ignore_index
    keep = creation.from_numpy(np.asarray(~ignored, dtype=input.dtype.np))
    summed = logp * weight.reshape(wshape) if weight is not None else logp
    smooth = -R.sum(summed, cdim) * keep  # like target
    if reduction == "none":
        ret = smooth
    elif reduction == "sum":
        ret = R.sum(smooth)
    elif weight is not None:
        t = target._data[~ignored].astype(np.int64)
        ret = R.sum(smooth) / float(weight.detach()._data[t].sum(dtype=np.float64))
    else:
        ret = R.sum(smooth) / float((~ignored).sum())
    return nll * (1 - label_smoothing) + ret * (label_smoothing / c)


# ------------------------------------------------------------------ binary losses
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """``-w (t log x + (1 - t) log(1 - x))``, each log clamped at -100 as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_tensors("binary_cross_entropy", input, target)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_size(target.shape)}) that is different to the "
                         f"input size ({_size(input.shape)}) is deprecated. Please ensure they "
                         "have the same size.")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {_dtypes.scalar_type_name(target.dtype)} but expected "
                           f"{_dtypes.scalar_type_name(input.dtype)}")
    x = input.detach()._data
    if ((x < 0) | (x > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = -(target * E.clamp(E.log(input), min=-100)
             + (1 - target) * E.clamp(E.log(1 - input), min=-100))
    return apply_reduction(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``(1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)``, stable for any logit."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_tensors("binary_cross_entropy_with_logits", input, target)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_size(target.shape)}) must be the same as input size "
                         f"({_size(input.shape)})")
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"result type {_dtypes.scalar_type_name(input.dtype)} can't be cast "
                           f"to the desired output type "
                           f"{_dtypes.scalar_type_name(target.dtype)}")
    sp = A.softplus(-input, 1.0, float("inf"))
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + sp
    return apply_reduction(_weighted(loss, weight), reduction)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """``target * (log target - input)`` pointwise (0 where target is 0); input is a
    log-probability. 'batchmean' divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    _check_tensors("kl_div", input, target)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        positive = target > 0
        safe = E.where(positive, target, 1.0)
        loss = E.where(positive, target * E.log(safe), 0.0) - target * input
    if reduction == "batchmean":
        total = R.sum(loss)
        return total / input.shape[0] if input.ndim else total
    if reduction == "mean":
        import warnings
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    return apply_reduction(loss, reduction)
