"""convkit: convolution, PyTorch-style, on NumPy and SciPy.

``import convkit as torch`` runs PyTorch code in the supported subset: tensors with real
views and strides, reverse-mode autograd and ``nn.functional`` convolution.
"""

from __future__ import annotations

import builtins

__version__ = "0.1.0"

from convkit import _dtypes
from convkit._dtypes import (
    bool, cdouble, cfloat, complex64, complex128, double, dtype, float, float16, float32,
    float64, get_default_dtype, half, int, int8, int16, int32, int64, long, promote_types,
    set_default_dtype, short, uint8,
)
from convkit._tensor_str import get_printoptions, set_printoptions
from convkit._random import Generator, default_generator, initial_seed, manual_seed, seed
from convkit.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from convkit.autograd.tensor import Size, Tensor, device
from convkit import ops as _ops  # installs the Tensor methods
from convkit.ops.creation import (
    arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like,
    linspace, ones, ones_like, rand, rand_like, randint, randint_like, randn, randn_like,
    randperm, scalar_tensor, tensor, zeros, zeros_like,
)
from convkit.ops.elementwise import (
    abs, add, allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, broadcast_shapes,
    clamp, conj, copy_, cos, div, eq, equal, exp, floor_divide, ge, gt, imag, isclose, isfinite,
    isinf, isnan, le, log, logical_and, logical_not, logical_or, logical_xor, lt, masked_fill,
    maximum, minimum, mul, ne, neg, pow, real, reciprocal, relu, remainder, rsqrt, sigmoid, sign,
    sin, sqrt, square, sub, tanh, true_divide, where,
)
from convkit.ops.linalg import bmm, dot, matmul, mm, mv, outer
from convkit.ops.reduction import (
    all, amax, amin, any, argmax, argmin, cumsum, logsumexp, max, mean, min, nonzero, norm, prod,
    std, sum, var,
)
from convkit.ops.shape import (
    as_strided, cat, chunk, clone, flatten, flip, movedim, narrow, permute, reshape, select,
    split, squeeze, stack, t, transpose, unbind, unflatten, unsqueeze,
)

# Memory formats are names only: convkit tensors are strided and clone() keeps the layout.
contiguous_format = "contiguous_format"
preserve_format = "preserve_format"
channels_last = "channels_last"

clip = clamp
subtract, multiply, divide, negative, absolute = sub, mul, div, neg, abs
concat = concatenate = cat
swapaxes = transpose


def result_type(tensor1: object, tensor2: object) -> dtype:
    """The dtype an op on ``tensor1`` and ``tensor2`` produces (PyTorch's rules)."""
    return _dtypes.result_type(tensor1, tensor2)


def is_tensor(obj: object) -> builtins.bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> builtins.int:
    return input.numel()


def is_floating_point(input: Tensor) -> builtins.bool:
    return input.dtype.is_floating_point


def is_complex(input: Tensor) -> builtins.bool:
    return input.dtype.is_complex


def expand_copy(input: Tensor, *size: object) -> Tensor:
    return input.expand(*size).clone()



from convkit import autograd, nn
from convkit.io import load, save
from convkit import backends, optim, signal, utils
from convkit import explain

summary = explain.summary
from convkit._machine import doctor
from convkit.autograd.gradcheck import gradcheck

