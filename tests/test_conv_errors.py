"""Wrong calls of the convolution stack: convkit raises what PyTorch raises.

Every entry of ``CORPUS`` is one wrong call, written once against either library. It runs
against real PyTorch and against convkit: convkit must raise the builtin exception class
PyTorch raises (the first builtin class in the MRO of PyTorch's exception, since PyTorch
raises subclasses such as ``torch.AcceleratorError`` of RuntimeError), and its message must
name the argument or the offending numbers (the listed substrings). Nothing may crash with
another class, hang, or return garbage.

``TORCH_IS_WRONG`` lists the calls where PyTorch itself misbehaves (reads memory it has
cropped away, leaves parameters uninitialised, silently drops values): there convkit raises
and PyTorch, asserted here too, does not.

``CONVKIT_ONLY`` covers the generic N-d surface (``conv``, ``conv_transpose``, ``ConvNd``,
``ConvTransposeNd``), which has no PyTorch counterpart for these calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
import convkit.nn.functional as CF

Call = Callable[[Any], Any]


def F(L: Any) -> Any:
    return L.nn.functional


def z(L: Any, *shape: int, dtype: Any = None) -> Any:
    return L.zeros(*shape, dtype=dtype)


def i64(L: Any, *shape: int, fill: int = 0) -> Any:
    return L.full(shape, fill, dtype=L.int64)


def G(L: Any) -> Any:
    """The generic N-d functions: convkit's own, or PyTorch's rank-specific ones chosen by
    the weight's rank (the generic surface must refuse what they refuse)."""
    return CF if L is convkit else _TorchGeneric


class _TorchGeneric:
    @staticmethod
    def conv(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
             dilation: Any = 1, groups: int = 1) -> Any:
        return getattr(TF, f"conv{weight.ndim - 2}d")(input, weight, bias, stride, padding,
                                                      dilation, groups)

    @staticmethod
    def conv_transpose(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                       padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                       dilation: Any = 1) -> Any:
        return getattr(TF, f"conv_transpose{weight.ndim - 2}d")(
            input, weight, bias, stride, padding, output_padding, groups, dilation)


# (id, the call written once against either library, words convkit's message must contain)
CORPUS: list[tuple[str, Call, list[str]]] = [
    # ---------------------------------------------------------------- conv1d/2d/3d
    ("conv2d channel mismatch", lambda L: F(L).conv2d(z(L, 1, 3, 5, 5), z(L, 2, 2, 3, 3)),
     ["2 channels", "[1, 3, 5, 5]"]),
    ("conv1d channel mismatch unbatched", lambda L: F(L).conv1d(z(L, 3, 5), z(L, 1, 2, 2)),
     ["2 channels", "[3, 5]"]),
    ("conv2d groups do not divide in", lambda L: F(L).conv2d(
        z(L, 1, 3, 5, 5), z(L, 2, 1, 3, 3), groups=2), ["2 channels", "groups = 2"]),
    ("conv2d groups do not divide out", lambda L: F(L).conv2d(
        z(L, 1, 4, 5, 5), z(L, 3, 2, 3, 3), groups=2), ["groups (2)", "out_channels", "3"]),
    ("conv2d groups zero", lambda L: F(L).conv2d(z(L, 1, 2, 3, 3), z(L, 2, 1, 1, 1),
                                                 groups=0), ["groups", "0"]),
    ("conv2d groups negative", lambda L: F(L).conv2d(z(L, 1, 2, 3, 3), z(L, 2, 1, 1, 1),
                                                     groups=-1), ["groups", "-1"]),
    ("conv2d groups float", lambda L: F(L).conv2d(z(L, 1, 2, 3, 3), z(L, 2, 1, 1, 1),
                                                  groups=2.0), ["groups", "2.0"]),
    ("conv2d stride zero", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                 stride=0), ["stride", "0"]),
    ("conv2d stride negative", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                     stride=-1), ["stride", "-1"]),
    ("conv2d stride float", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                  stride=1.5), ["stride", "1.5"]),
    ("conv2d stride 3 values", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                     stride=(1, 1, 1)),
     ["stride", "2 values", "[1, 1, 1]"]),
    ("conv2d dilation zero", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                   dilation=0), ["dilation", "0"]),
    ("conv2d dilation 3 values", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                       dilation=(1, 1, 1)),
     ["dilation", "[1, 1, 1]"]),
    ("conv2d padding negative", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                      padding=-1), ["padding", "-1"]),
    ("conv2d padding 3 values", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                      padding=(1, 1, 1)),
     ["padding", "[1, 1, 1]"]),
    ("conv2d padding float", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                   padding=1.5), ["padding", "1.5"]),
    ("conv2d padding string unknown", lambda L: F(L).conv2d(
        z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3), padding="full"), ["'full'", "valid", "same"]),
    ("conv2d padding string in tuple", lambda L: F(L).conv2d(
        z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3), padding=("same",)), ["padding", "same"]),
    ("conv2d same with stride", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 1, 1, 3, 3),
                                                      stride=(1, 2), padding="same"),
     ["same", "stride", "(1, 2)"]),
    ("conv2d kernel larger than input", lambda L: F(L).conv2d(z(L, 1, 1, 2, 2),
                                                              z(L, 1, 1, 3, 3)),
     ["Kernel size", "padded size 2", "spans 3"]),
    ("conv2d dilated kernel larger", lambda L: F(L).conv2d(z(L, 1, 1, 4, 4), z(L, 1, 1, 2, 2),
                                                           dilation=4),
     ["Kernel size", "padded size 4", "spans 5"]),
    ("conv3d kernel deeper than input", lambda L: F(L).conv3d(z(L, 1, 1, 2, 5, 5),
                                                              z(L, 1, 1, 3, 3, 3)),
     ["Kernel size", "dim 0", "padded size 2"]),
    ("conv1d zero width", lambda L: F(L).conv1d(z(L, 1, 1, 0), z(L, 1, 1, 1)),
     ["Kernel size", "padded size 0"]),
    ("conv2d input rank 2", lambda L: F(L).conv2d(z(L, 5, 5), z(L, 1, 1, 3, 3)),
     ["3D", "4D", "[5, 5]"]),
    ("conv1d input rank 4", lambda L: F(L).conv1d(z(L, 1, 1, 3, 3), z(L, 1, 1, 2)),
     ["2D", "3D", "[1, 1, 3, 3]"]),
    ("conv3d input rank 3", lambda L: F(L).conv3d(z(L, 1, 3, 3), z(L, 1, 1, 2, 2, 2)),
     ["4D", "5D", "[1, 3, 3]"]),
    ("conv2d weight rank 2", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 3, 3)),
     ["weight", "4-dimensional", "[3, 3]"]),
    ("conv1d weight rank 2", lambda L: F(L).conv1d(z(L, 1, 1, 3), z(L, 1, 3)),
     ["weight", "3-dimensional", "[1, 3]"]),
    ("conv3d weight rank 4", lambda L: F(L).conv3d(z(L, 1, 1, 3, 3, 3), z(L, 1, 1, 2, 2)),
     ["weight", "5-dimensional", "[1, 1, 2, 2]"]),
    ("conv2d zero out channels", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 0, 1, 3, 3)),
     ["weight", "[0, 1, 3, 3]"]),
    ("conv2d bias wrong length", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5), z(L, 2, 1, 3, 3),
                                                       z(L, 3)), ["bias", "[2]", "[3]"]),
    ("conv2d bias 2-d", lambda L: F(L).conv2d(z(L, 1, 1, 3, 3), z(L, 2, 1, 1, 1),
                                              z(L, 1, 2)), ["bias", "[1, 2]"]),
    ("conv2d weight dtype", lambda L: F(L).conv2d(z(L, 1, 1, 5, 5),
                                                  z(L, 1, 1, 3, 3, dtype=L.float64)),
     ["float32", "float64", "weight"]),
    ("conv2d bias dtype", lambda L: F(L).conv2d(z(L, 1, 1, 3, 3), z(L, 2, 1, 1, 1),
                                                z(L, 2, dtype=L.float64)),
     ["bias", "float32", "float64"]),
    ("conv2d complex input real weight", lambda L: F(L).conv2d(
        z(L, 1, 1, 3, 3, dtype=L.complex64), z(L, 1, 1, 1, 1)), ["complex64", "float32"]),
    ("conv2d int input float bias", lambda L: F(L).conv2d(
        z(L, 1, 1, 3, 3, dtype=L.int64), z(L, 1, 1, 2, 2, dtype=L.int64), z(L, 1)),
     ["int64", "float32", "bias"]),
    ("conv2d bool", lambda L: F(L).conv2d(z(L, 1, 1, 3, 3, dtype=L.bool),
                                          z(L, 1, 1, 2, 2, dtype=L.bool)), ["Bool"]),
    ("conv3d bool", lambda L: F(L).conv3d(z(L, 1, 1, 3, 3, 3, dtype=L.bool),
                                          z(L, 1, 1, 2, 2, 2, dtype=L.bool)), ["Bool"]),
    ("conv2d int16 dilated", lambda L: F(L).conv2d(
        z(L, 1, 2, 5, 5, dtype=L.int16), z(L, 2, 1, 2, 2, dtype=L.int16), dilation=2,
        groups=2), ["dilated", "Short"]),
    ("conv2d input is a list", lambda L: F(L).conv2d([[1.0]], z(L, 1, 1, 1, 1)),
     ["input", "list"]),
    ("conv2d weight is a list", lambda L: F(L).conv2d(z(L, 1, 1, 3, 3), [[1.0]]),
     ["weight", "list"]),
    ("conv2d bias is a list", lambda L: F(L).conv2d(z(L, 1, 1, 3, 3), z(L, 1, 1, 1, 1),
                                                    [1.0]), ["bias", "list"]),
    # ---------------------------------------------------------------- conv_transpose1d/2d/3d
    ("conv_transpose2d channel mismatch", lambda L: F(L).conv_transpose2d(
        z(L, 1, 3, 3, 3), z(L, 2, 1, 2, 2)), ["2 channels", "[1, 3, 3, 3]"]),
    ("conv_transpose2d groups do not divide", lambda L: F(L).conv_transpose2d(
        z(L, 1, 3, 3, 3), z(L, 3, 1, 2, 2), groups=2), ["groups (2)", "3"]),
    ("conv_transpose2d groups zero", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), groups=0), ["groups", "0"]),
    ("conv_transpose2d output_padding too big", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), stride=2, output_padding=2),
     ["output padding", "output_padding=(2, 2)", "stride=(2, 2)"]),
    ("conv_transpose2d output_padding negative", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), output_padding=-1), ["output_padding", "-1"]),
    ("conv_transpose2d output_padding 3 values", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), stride=2, output_padding=(1, 1, 1)),
     ["output_padding", "[1, 1, 1]"]),
    ("conv_transpose2d padding negative", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), padding=-1), ["padding", "-1"]),
    ("conv_transpose2d padding same", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), padding="same"), ["padding", "str"]),
    ("conv_transpose2d stride zero", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), stride=0), ["stride", "0"]),
    ("conv_transpose2d stride 3 values", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), stride=(1, 1, 1)), ["stride", "[1, 1, 1]"]),
    ("conv_transpose2d dilation zero", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2), dilation=0), ["dilation", "0"]),
    ("conv_transpose2d output too small", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 2, 2), z(L, 1, 1, 2, 2), padding=2), ["too small", "[-1, -1]"]),
    ("conv_transpose1d weight rank 4", lambda L: F(L).conv_transpose1d(
        z(L, 1, 1, 3), z(L, 1, 1, 2, 2)), ["weight", "[1, 1, 2, 2]"]),
    ("conv_transpose3d input rank 3", lambda L: F(L).conv_transpose3d(
        z(L, 1, 3, 3), z(L, 1, 1, 2, 2, 2)), ["4D", "5D", "[1, 3, 3]"]),
    ("conv_transpose2d bias wrong length", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 2, 2, 2), z(L, 1)), ["bias", "[2]", "[1]"]),
    ("conv_transpose2d weight dtype", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3), z(L, 1, 1, 2, 2, dtype=L.float64)), ["float32", "float64"]),
    ("conv_transpose2d zero in channels", lambda L: F(L).conv_transpose2d(
        z(L, 1, 0, 3, 3), z(L, 0, 1, 2, 2)), ["weight", "[0, 1, 2, 2]"]),
    ("conv_transpose2d int32", lambda L: F(L).conv_transpose2d(
        z(L, 1, 1, 3, 3, dtype=L.int32), z(L, 1, 1, 2, 2, dtype=L.int32)), ["Int"]),
    ("conv_transpose1d uint8", lambda L: F(L).conv_transpose1d(
        z(L, 1, 1, 3, dtype=L.uint8), z(L, 1, 1, 2, dtype=L.uint8)), ["Byte"]),
    ("conv_transpose3d bool", lambda L: F(L).conv_transpose3d(
        z(L, 1, 1, 3, 3, 3, dtype=L.bool), z(L, 1, 1, 2, 2, 2, dtype=L.bool)), ["Bool"]),
    # ---------------------------------------------------------------- generic conv / conv_transpose
    ("generic conv channel mismatch", lambda L: G(L).conv(z(L, 1, 3, 5, 5), z(L, 2, 2, 3, 3)),
     ["2 channels", "[1, 3, 5, 5]"]),
    ("generic conv kernel too big 3-d", lambda L: G(L).conv(z(L, 1, 1, 4, 4, 1),
                                                            z(L, 1, 1, 2, 2, 2)),
     ["Kernel size", "dim 2", "padded size 1"]),
    ("generic conv input rank", lambda L: G(L).conv(z(L, 5), z(L, 1, 1, 3)),
     ["2D", "3D", "[5]"]),
    ("generic conv stride zero", lambda L: G(L).conv(z(L, 1, 1, 5), z(L, 1, 1, 3), stride=0),
     ["stride", "0"]),
    ("generic conv bias shape", lambda L: G(L).conv(z(L, 1, 1, 5), z(L, 2, 1, 3), z(L, 4)),
     ["bias", "[2]", "[4]"]),
    ("generic conv dtype", lambda L: G(L).conv(z(L, 1, 1, 5), z(L, 1, 1, 3, dtype=L.float64)),
     ["float32", "float64"]),
    ("generic conv bool", lambda L: G(L).conv(z(L, 1, 1, 5, dtype=L.bool),
                                              z(L, 1, 1, 3, dtype=L.bool)), ["Bool"]),
    ("generic conv_transpose output padding", lambda L: G(L).conv_transpose(
        z(L, 1, 1, 3), z(L, 1, 1, 3), stride=2, output_padding=2),
     ["output padding", "(2,)"]),
    ("generic conv_transpose channels", lambda L: G(L).conv_transpose(
        z(L, 1, 2, 3, 3, 3), z(L, 3, 1, 2, 2, 2)), ["3 channels", "[1, 2, 3, 3, 3]"]),
    ("generic conv_transpose too small", lambda L: G(L).conv_transpose(
        z(L, 1, 1, 2), z(L, 1, 1, 2), padding=3), ["too small", "[-3]"]),
    # ---------------------------------------------------------------- pad
    ("pad odd length", lambda L: F(L).pad(z(L, 1, 1, 3, 3), (1, 2, 3)),
     ["divisible by 2", "3 values"]),
    ("pad longer than input", lambda L: F(L).pad(z(L, 3, 3), (1, 1, 1, 1, 1, 1)),
     ["padding length 6", "dimension 2"]),
    ("pad unknown mode", lambda L: F(L).pad(z(L, 1, 1, 3, 3), (1, 1), mode="wrap"),
     ["wrap"]),
    ("pad int not tuple", lambda L: F(L).pad(z(L, 1, 1, 3), 1), ["pad", "tuple", "1"]),
    ("pad None", lambda L: F(L).pad(z(L, 1, 1, 3), None), ["pad", "None"]),
    ("pad float entries", lambda L: F(L).pad(z(L, 1, 1, 3), (1.0, 1)), ["pad", "1.0"]),
    ("pad input list", lambda L: F(L).pad([1.0], (1, 1)), ["input", "list"]),
    ("pad constant crops past zero", lambda L: F(L).pad(z(L, 1, 1, 3), (-2, -2)),
     ["-2", "3"]),
    ("pad constant crops 2-d past zero", lambda L: F(L).pad(z(L, 2, 3), (0, 0, -2, -2)),
     ["-2", "dimension 0"]),
    ("pad reflect as wide as input", lambda L: F(L).pad(z(L, 1, 1, 3), (3, 0),
                                                         mode="reflect"),
     ["(3, 0)", "dimension 2", "[1, 1, 3]"]),
    ("pad reflect crop and widen", lambda L: F(L).pad(z(L, 1, 1, 3), (-1, 3), mode="reflect"),
     ["(-1, 3)", "dimension 2"]),
    ("pad reflect 1-d input", lambda L: F(L).pad(z(L, 5), (1, 1), mode="reflect"),
     ["reflect", "1-d input"]),
    ("pad reflect rank mismatch", lambda L: F(L).pad(z(L, 1, 1, 3, 3), (3, 0), mode="reflect"),
     ["reflect", "4-d input"]),
    ("pad reflect takes no value", lambda L: F(L).pad(z(L, 1, 1, 3), (1, 1), mode="reflect",
                                                       value=1.0), ["reflect", "value"]),
    ("pad replicate 4 dims", lambda L: F(L).pad(z(L, 1, 1, 3, 3, 3, 3), (1,) * 8,
                                                mode="replicate"), ["replicate", "4 dim"]),
    ("pad replicate crops to nothing", lambda L: F(L).pad(z(L, 1, 1, 3), (-3, -1),
                                                          mode="replicate"),
     ["size 3", "-1"]),
    ("pad replicate empty dim", lambda L: F(L).pad(z(L, 1, 1, 0), (1, 1), mode="replicate"),
     ["dimension 2", "0"]),
    ("pad replicate bool", lambda L: F(L).pad(z(L, 1, 1, 3, dtype=L.bool), (1, 1),
                                              mode="replicate"), ["Bool"]),
    ("pad circular wraps twice", lambda L: F(L).pad(z(L, 1, 1, 3), (4, 0), mode="circular"),
     ["wrapping around more than once", "(4, 0)"]),
    ("pad circular wraps past the cropped size", lambda L: F(L).pad(
        L.arange(3.0).reshape(1, 1, 3), (-2, 2), mode="circular"),
     ["more than once", "(-2, 2)", "size 1"]),  # PyTorch: an aliasing RuntimeError
    ("pad circular 1-d input", lambda L: F(L).pad(z(L, 5), (1, 1), mode="circular"),
     ["circular", "1-d input"]),
    # ---------------------------------------------------------------- unfold / fold
    ("unfold 2-d input", lambda L: F(L).unfold(z(L, 3, 3), 2), ["3D", "4D", "[3, 3]"]),
    ("unfold 5-d input", lambda L: F(L).unfold(z(L, 1, 1, 1, 3, 3), 2),
     ["3D", "4D", "[1, 1, 1, 3, 3]"]),
    ("unfold zero channels", lambda L: F(L).unfold(z(L, 1, 0, 3, 3), 2),
     ["non-zero", "[1, 0, 3, 3]"]),
    ("unfold kernel zero", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 0), ["kernel_size", "0"]),
    ("unfold kernel 3 values", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), (2, 2, 2)),
     ["kernel_size", "(2, 2, 2)"]),
    ("unfold kernel float", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 2.0),
     ["kernel_size", "2.0"]),
    ("unfold dilation zero", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 2, dilation=0),
     ["dilation", "0"]),
    ("unfold stride zero", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 2, stride=0),
     ["stride", "0"]),
    ("unfold padding negative", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 2, padding=-1),
     ["padding", "-1"]),
    ("unfold kernel larger than input", lambda L: F(L).unfold(z(L, 1, 1, 3, 3), 4),
     ["kernel_size=(4, 4)", "(0, 0)"]),
    ("unfold int64", lambda L: F(L).unfold(z(L, 1, 1, 3, 3, dtype=L.int64), 2), ["Long"]),
    ("fold 4-d input", lambda L: F(L).fold(z(L, 1, 4, 4, 1), (3, 3), 2),
     ["2D", "3D", "[1, 4, 4, 1]"]),
    ("fold 1-d input", lambda L: F(L).fold(z(L, 4), (3, 3), 2), ["2D", "3D", "[4]"]),
    ("fold no blocks", lambda L: F(L).fold(z(L, 1, 4, 0), (1, 1), 2), ["[1, 4, 0]"]),
    ("fold channels not divisible", lambda L: F(L).fold(z(L, 1, 5, 4), (3, 3), 2),
     ["input.size(1)=5", "(2, 2)"]),
    ("fold block count", lambda L: F(L).fold(z(L, 1, 4, 5), (3, 3), 2),
     ["2 * 2 = 4", "input.size(2)=5"]),
    ("fold kernel larger than output", lambda L: F(L).fold(z(L, 1, 16, 1), (3, 3), 4),
     ["0 * 0 = 0", "input.size(2)=1"]),
    ("fold output_size 3 values", lambda L: F(L).fold(z(L, 1, 4, 4), (3, 3, 3), 2),
     ["output_size", "(3, 3, 3)"]),
    ("fold stride zero", lambda L: F(L).fold(z(L, 1, 4, 4), (3, 3), 2, stride=0),
     ["stride", "0"]),
    ("fold padding negative", lambda L: F(L).fold(z(L, 1, 4, 4), (3, 3), 2, padding=-1),
     ["padding", "-1"]),
    # ---------------------------------------------------------------- max / avg / lp pooling
    ("max_pool2d kernel zero", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 0),
     ["kernel_size", "0"]),
    ("max_pool2d stride zero", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2, stride=0),
     ["stride", "0"]),
    ("max_pool2d stride negative", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2, stride=-1),
     ["stride", "-1"]),
    ("max_pool2d dilation zero", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2, dilation=0),
     ["dilation", "0"]),
    ("max_pool2d padding over half", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2,
                                                               padding=2),
     ["half of kernel size", "padding=(2, 2)", "kernel_size=(2, 2)"]),
    ("max_pool2d padding negative", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2,
                                                              padding=-1),
     ["pad", "non-negative", "-1"]),
    ("max_pool2d output too small", lambda L: F(L).max_pool2d(z(L, 1, 1, 2, 2), 3),
     ["(1x2x2)", "(1x0x0)", "too small"]),
    ("max_pool2d dilated output too small", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2,
                                                                      dilation=4),
     ["(1x4x4)", "(1x0x0)"]),
    ("max_pool2d 1-d input", lambda L: F(L).max_pool2d(z(L, 4), 2), ["3D", "4D", "[4]"]),
    ("max_pool1d 4-d input", lambda L: F(L).max_pool1d(z(L, 1, 1, 4, 4), 2),
     ["2D", "3D", "[1, 1, 4, 4]"]),
    ("max_pool2d empty spatial", lambda L: F(L).max_pool2d(z(L, 1, 1, 0, 4), 1),
     ["[1, 1, 0, 4]"]),
    ("max_pool3d kernel 2 values", lambda L: F(L).max_pool3d(z(L, 1, 1, 4, 4, 4), (2, 2)),
     ["kernel_size", "3 ints", "(2, 2)"]),
    ("max_pool2d kernel float", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4), 2.0),
     ["kernel_size", "2.0"]),
    ("max_pool2d bool", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4, dtype=L.bool), 2),
     ["Bool"]),
    ("max_pool2d complex", lambda L: F(L).max_pool2d(z(L, 1, 1, 4, 4, dtype=L.complex64), 2),
     ["ComplexFloat"]),
    ("max_pool1d int64", lambda L: F(L).max_pool1d(z(L, 1, 1, 4, dtype=L.int64), 2),
     ["Long"]),
    ("avg_pool2d padding over half", lambda L: F(L).avg_pool2d(z(L, 1, 1, 4, 4), 2,
                                                               padding=2),
     ["half of kernel size", "padding=(2, 2)"]),
    ("avg_pool2d divisor zero", lambda L: F(L).avg_pool2d(z(L, 1, 1, 4, 4), 2,
                                                          divisor_override=0),
     ["divisor", "0"]),
    ("avg_pool1d kernel zero", lambda L: F(L).avg_pool1d(z(L, 1, 1, 4), 0),
     ["kernel_size", "0"]),
    ("avg_pool2d stride zero", lambda L: F(L).avg_pool2d(z(L, 1, 1, 4, 4), 2, stride=0),
     ["stride", "0"]),
    ("avg_pool3d output too small", lambda L: F(L).avg_pool3d(z(L, 1, 1, 1, 4, 4), 2),
     ["(1x1x4x4)", "(1x0x2x2)"]),
    ("avg_pool2d 5-d input", lambda L: F(L).avg_pool2d(z(L, 1, 1, 1, 4, 4), 2),
     ["[1, 1, 1, 4, 4]"]),
    ("avg_pool2d kernel 3 values", lambda L: F(L).avg_pool2d(z(L, 1, 1, 4, 4), (2, 2, 2)),
     ["kernel_size", "(2, 2, 2)"]),
    ("avg_pool2d int32", lambda L: F(L).avg_pool2d(z(L, 1, 1, 4, 4, dtype=L.int32), 2),
     ["Int"]),
    ("avg_pool1d complex", lambda L: F(L).avg_pool1d(z(L, 1, 1, 4, dtype=L.complex64), 2),
     ["ComplexFloat"]),
    ("lp_pool2d kernel zero", lambda L: F(L).lp_pool2d(z(L, 1, 1, 4, 4), 2, 0),
     ["kernel_size", "0"]),
    ("lp_pool2d output too small", lambda L: F(L).lp_pool2d(z(L, 1, 1, 2, 2), 2, 3),
     ["(1x2x2)", "(1x0x0)"]),
    ("lp_pool2d stride zero", lambda L: F(L).lp_pool2d(z(L, 1, 1, 4, 4), 2, 2, stride=0),
     ["stride", "0"]),
    ("lp_pool1d 4-d input", lambda L: F(L).lp_pool1d(z(L, 1, 1, 4, 4), 2, 2),
     ["[1, 1, 4, 4]"]),
    ("lp_pool3d kernel 2 values", lambda L: F(L).lp_pool3d(z(L, 1, 1, 4, 4, 4), 2, (2, 2)),
     ["kernel_size", "(2, 2)"]),
    ("lp_pool2d kernel 3 values", lambda L: F(L).lp_pool2d(z(L, 1, 1, 4, 4), 2, (2, 2, 2)),
     ["kernel_size", "(2, 2, 2)"]),
    ("lp_pool1d kernel 2 values", lambda L: F(L).lp_pool1d(z(L, 1, 1, 4), 2, (2, 2)),
     ["kernel_size", "(2, 2)"]),
    # ---------------------------------------------------------------- adaptive pooling
    ("adaptive_avg_pool2d output_size 3 values", lambda L: F(L).adaptive_avg_pool2d(
        z(L, 1, 1, 4, 4), (1, 2, 3)), ["output_size", "(1, 2, 3)"]),
    ("adaptive_avg_pool2d negative size", lambda L: F(L).adaptive_avg_pool2d(
        z(L, 1, 1, 4, 4), -1), ["output_size", "-1"]),
    ("adaptive_avg_pool2d float size", lambda L: F(L).adaptive_avg_pool2d(
        z(L, 1, 1, 4, 4), 2.5), ["output_size", "2.5"]),
    ("adaptive_avg_pool1d empty input", lambda L: F(L).adaptive_avg_pool1d(z(L, 1, 1, 0), 2),
     ["[1, 1, 0]"]),
    ("adaptive_avg_pool3d 2-d input", lambda L: F(L).adaptive_avg_pool3d(z(L, 4, 4), 2),
     ["4D", "5D", "[4, 4]"]),
    ("adaptive_avg_pool2d int64", lambda L: F(L).adaptive_avg_pool2d(
        z(L, 1, 1, 4, 4, dtype=L.int64), 2), ["Long"]),
    ("adaptive_max_pool2d 1-d input", lambda L: F(L).adaptive_max_pool2d(z(L, 4), 2),
     ["3D", "4D", "[4]"]),
    ("adaptive_max_pool1d output_size 2 values", lambda L: F(L).adaptive_max_pool1d(
        z(L, 1, 1, 4), (2, 2)), ["output_size", "(2, 2)"]),
    ("adaptive_max_pool2d negative size", lambda L: F(L).adaptive_max_pool2d(
        z(L, 1, 1, 4, 4), -2), ["-2"]),
    ("adaptive_max_pool2d int64", lambda L: F(L).adaptive_max_pool2d(
        z(L, 1, 1, 4, 4, dtype=L.int64), 2), ["Long"]),
    # ---------------------------------------------------------------- max_unpool
    ("max_unpool2d indices shape", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 3), 2), ["[1, 1, 2, 2]", "[1, 1, 2, 3]"]),
    ("max_unpool2d output_size out of range", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 2), 2, output_size=(9, 9)),
     ["output_size", "(9, 9)"]),
    ("max_unpool1d output_size 4 values", lambda L: F(L).max_unpool1d(
        z(L, 1, 1, 2), i64(L, 1, 1, 2), 2, output_size=(1, 2, 3, 4)),
     ["output_size", "1 or 3", "'4'"]),
    ("max_unpool2d index too big", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 2, fill=16), 2), ["16", "4x4"]),
    ("max_unpool2d index negative", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 2, fill=-1), 2), ["-1", "4x4"]),
    ("max_unpool2d float indices", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), z(L, 1, 1, 2, 2), 2), ["int64", "Float"]),
    ("max_unpool2d int32 indices", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2), z(L, 1, 1, 2, 2, dtype=L.int32), 2), ["int64", "Int"]),
    ("max_unpool3d 3-d input", lambda L: F(L).max_unpool3d(z(L, 1, 2, 2), i64(L, 1, 2, 2), 2),
     ["4D", "5D", "[1, 2, 2]"]),
    ("max_unpool2d int64 values", lambda L: F(L).max_unpool2d(
        z(L, 1, 1, 2, 2, dtype=L.int64), i64(L, 1, 1, 2, 2), 2), ["Long"]),
    # ---------------------------------------------------------------- module constructors
    ("Conv2d groups do not divide out", lambda L: L.nn.Conv2d(2, 3, 3, groups=2),
     ["groups=2", "in_channels=2", "out_channels=3"]),
    ("Conv2d groups do not divide in", lambda L: L.nn.Conv2d(3, 4, 3, groups=2),
     ["in_channels", "groups=2", "in_channels=3"]),
    ("Conv2d groups zero", lambda L: L.nn.Conv2d(2, 2, 3, groups=0), ["groups", "0"]),
    ("Conv2d groups negative", lambda L: L.nn.Conv2d(2, 2, 3, groups=-2), ["groups", "-2"]),
    ("Conv2d groups float", lambda L: L.nn.Conv2d(2, 2, 3, groups=2.0), ["groups", "2.0"]),
    ("Conv2d in_channels float", lambda L: L.nn.Conv2d(2.0, 1, 3), ["in_channels", "2.0"]),
    ("Conv2d in_channels negative", lambda L: L.nn.Conv2d(-1, 2, 3), ["in_channels", "-1"]),
    ("Conv2d padding_mode unknown", lambda L: L.nn.Conv2d(1, 1, 3, padding_mode="wrap"),
     ["padding_mode", "'wrap'"]),
    ("Conv2d padding string unknown", lambda L: L.nn.Conv2d(1, 1, 3, padding="full"),
     ["'full'", "valid", "same"]),
    ("Conv2d same with stride", lambda L: L.nn.Conv2d(1, 1, 3, stride=2, padding="same"),
     ["same", "stride"]),
    ("Conv2d same with tuple stride", lambda L: L.nn.Conv2d(1, 1, 3, stride=(1, 2),
                                                            padding="same"),
     ["same", "(1, 2)"]),
    ("Conv2d kernel float", lambda L: L.nn.Conv2d(1, 1, 2.5), ["kernel_size", "2.5"]),
    ("Conv2d kernel string", lambda L: L.nn.Conv2d(2, 2, "3"), ["kernel_size", "'3'"]),
    ("Conv2d kernel negative", lambda L: L.nn.Conv2d(1, 1, -1), ["kernel", "-1"]),
    ("ConvTranspose2d padding_mode reflect", lambda L: L.nn.ConvTranspose2d(
        1, 1, 3, padding_mode="reflect"), ["zeros", "ConvTranspose2d"]),
    ("ConvTranspose1d padding_mode circular", lambda L: L.nn.ConvTranspose1d(
        1, 1, 3, padding_mode="circular"), ["zeros", "ConvTranspose1d"]),
    ("ConvTranspose2d groups", lambda L: L.nn.ConvTranspose2d(2, 3, 3, groups=2),
     ["groups=2", "out_channels=3"]),
    ("ConstantPad1d without value", lambda L: L.nn.ConstantPad1d(1), ["value"]),
    # Hyper-parameters PyTorch stores unchecked and refuses on first use: convkit refuses
    # them on construction, with the class PyTorch raises then (the call builds and runs).
    ("Conv2d out_channels zero", lambda L: L.nn.Conv2d(2, 0, 3)(z(L, 1, 2, 5, 5)),
     ["out_channels", "0"]),
    ("Conv2d kernel 3 values", lambda L: L.nn.Conv2d(1, 1, (3, 3, 3))(z(L, 1, 1, 5, 5)),
     ["kernel_size", "[3, 3, 3]"]),
    ("Conv3d kernel 2 values", lambda L: L.nn.Conv3d(1, 1, (3, 3))(z(L, 1, 1, 5, 5, 5)),
     ["kernel_size", "[3, 3]"]),
    ("Conv2d kernel zero", lambda L: L.nn.Conv2d(1, 1, 0)(z(L, 1, 1, 5, 5)),
     ["kernel size", "0"]),
    ("Conv2d stride zero", lambda L: L.nn.Conv2d(1, 1, 3, stride=0)(z(L, 1, 1, 5, 5)),
     ["stride", "0"]),
    ("Conv2d stride 3 values", lambda L: L.nn.Conv2d(1, 1, 3, stride=(1, 1, 1))(
        z(L, 1, 1, 5, 5)), ["stride", "[1, 1, 1]"]),
    ("Conv2d stride float", lambda L: L.nn.Conv2d(2, 2, 3, stride=1.5)(z(L, 1, 2, 5, 5)),
     ["stride", "1.5"]),
    ("Conv2d padding negative", lambda L: L.nn.Conv2d(1, 1, 3, padding=-1)(z(L, 1, 1, 5, 5)),
     ["padding", "-1"]),
    ("Conv2d padding float", lambda L: L.nn.Conv2d(2, 2, 3, padding=1.0)(z(L, 1, 2, 5, 5)),
     ["padding", "1.0"]),
    ("Conv1d padding 2 values", lambda L: L.nn.Conv1d(1, 1, 3, padding=(1, 1))(z(L, 1, 1, 5)),
     ["padding", "[1, 1]"]),
    ("Conv2d dilation zero", lambda L: L.nn.Conv2d(1, 1, 3, dilation=0)(z(L, 1, 1, 5, 5)),
     ["dilation", "0"]),
    ("ConvTranspose2d output_padding", lambda L: L.nn.ConvTranspose2d(
        1, 1, 3, output_padding=1)(z(L, 1, 1, 5, 5)), ["output padding", "stride"]),
    ("ConvTranspose2d padding same", lambda L: L.nn.ConvTranspose2d(1, 1, 3, padding="same")(
        z(L, 1, 1, 5, 5)), ["padding", "'same'"]),
    ("ConvTranspose2d kernel zero", lambda L: L.nn.ConvTranspose2d(1, 1, 0)(z(L, 1, 1, 5, 5)),
     ["kernel size", "0"]),
    ("ConvTranspose2d stride zero", lambda L: L.nn.ConvTranspose2d(1, 1, 3, stride=0)(
        z(L, 1, 1, 5, 5)), ["stride", "0"]),
    ("ConvTranspose2d out_channels zero", lambda L: L.nn.ConvTranspose2d(1, 0, 3)(
        z(L, 1, 1, 5, 5)), ["out_channels", "0"]),
    ("ZeroPad2d 3 values", lambda L: L.nn.ZeroPad2d((1, 2, 3))(z(L, 1, 3, 3)),
     ["divisible by 2", "(1, 2, 3)"]),
    ("ReflectionPad1d float", lambda L: L.nn.ReflectionPad1d(1.5)(z(L, 1, 3, 3)),
     ["padding", "1.5"]),
    # ---------------------------------------------------------------- module forwards
    ("Conv2d forward channels", lambda L: L.nn.Conv2d(2, 1, 3)(z(L, 1, 3, 5, 5)),
     ["2 channels", "[1, 3, 5, 5]"]),
    ("Conv2d forward rank", lambda L: L.nn.Conv2d(1, 1, 3)(z(L, 5, 5)), ["3D", "4D", "[5, 5]"]),
    ("Conv2d forward too small", lambda L: L.nn.Conv2d(1, 1, 3)(z(L, 1, 1, 2, 2)),
     ["Kernel size", "padded size 2"]),
    ("Conv2d forward float64 input", lambda L: L.nn.Conv2d(1, 1, 3)(
        z(L, 1, 1, 5, 5, dtype=L.float64)), ["float64", "float32"]),
    ("Conv2d forward int64 input", lambda L: L.nn.Conv2d(1, 1, 3)(
        z(L, 1, 1, 5, 5, dtype=L.int64)), ["int64", "float32"]),
    ("Conv1d forward 2-d input wrong channels", lambda L: L.nn.Conv1d(2, 1, 3)(z(L, 3, 5)),
     ["2 channels", "[3, 5]"]),
    ("Conv2d reflect padding too wide", lambda L: L.nn.Conv2d(
        1, 1, 3, padding=3, padding_mode="reflect")(z(L, 1, 1, 3, 3)), ["(3, 3)", "[1, 1, 3, 3]"]),
    ("Conv2d circular padding wraps twice", lambda L: L.nn.Conv2d(
        1, 1, 3, padding=4, padding_mode="circular")(z(L, 1, 1, 3, 3)),
     ["more than once", "(4, 4)"]),
    ("Conv2d replicate 5-d input", lambda L: L.nn.Conv2d(
        1, 1, 3, padding=1, padding_mode="replicate")(z(L, 1, 1, 1, 3, 3)),
     ["replicate", "5-d input"]),
    ("Conv1d reflect unbatched too wide", lambda L: L.nn.Conv1d(
        1, 1, 3, padding=3, padding_mode="reflect")(z(L, 1, 3)), ["(3, 3)", "[1, 3]"]),
    ("ConvTranspose2d output_size out of range", lambda L: L.nn.ConvTranspose2d(
        1, 1, 3, stride=2)(z(L, 1, 1, 3, 3), output_size=(9, 9)),
     ["[9, 9]", "[7, 7]", "[8, 8]"]),
    ("ConvTranspose2d output_size 3 values", lambda L: L.nn.ConvTranspose2d(
        1, 1, 3, stride=2)(z(L, 1, 1, 3, 3), output_size=(7, 7, 7)),
     ["output_size", "2 or 4", "3"]),
    ("ConvTranspose2d forward channels", lambda L: L.nn.ConvTranspose2d(2, 1, 3)(
        z(L, 1, 1, 3, 3)), ["2 channels", "[1, 1, 3, 3]"]),
    ("ConvTranspose2d forward rank", lambda L: L.nn.ConvTranspose2d(1, 1, 3)(z(L, 3, 3)),
     ["3D", "4D", "[3, 3]"]),
    ("Conv2d assign a Tensor as weight", lambda L: setattr(L.nn.Conv2d(1, 1, 3), "weight",
                                                           z(L, 1, 1, 3, 3)),
     ["weight", "Parameter"]),
    ("MaxPool2d forward kernel zero", lambda L: L.nn.MaxPool2d(0)(z(L, 1, 1, 4, 4)),
     ["kernel_size", "0"]),
    ("MaxPool2d forward padding over half", lambda L: L.nn.MaxPool2d(2, padding=2)(
        z(L, 1, 1, 4, 4)), ["padding=(2, 2)", "kernel_size=(2, 2)"]),
    ("MaxPool2d forward kernel 3 values", lambda L: L.nn.MaxPool2d((2, 2, 2))(
        z(L, 1, 1, 4, 4)), ["kernel_size", "(2, 2, 2)"]),
    ("AvgPool2d forward padding over half", lambda L: L.nn.AvgPool2d(2, padding=2)(
        z(L, 1, 1, 4, 4)), ["padding=(2, 2)"]),
    ("AvgPool2d forward kernel zero", lambda L: L.nn.AvgPool2d(0)(z(L, 1, 1, 4, 4)),
     ["kernel_size", "0"]),
    ("AvgPool1d forward 4-d input", lambda L: L.nn.AvgPool1d(2)(z(L, 1, 1, 4, 4)),
     ["[1, 1, 4, 4]"]),
    ("AdaptiveAvgPool2d forward 3 sizes", lambda L: L.nn.AdaptiveAvgPool2d((1, 2, 3))(
        z(L, 1, 1, 4, 4)), ["output_size", "(1, 2, 3)"]),
    ("AdaptiveAvgPool2d forward negative", lambda L: L.nn.AdaptiveAvgPool2d(-1)(
        z(L, 1, 1, 4, 4)), ["output_size", "-1"]),
    ("AdaptiveMaxPool3d forward 2-d input", lambda L: L.nn.AdaptiveMaxPool3d(2)(z(L, 4, 4)),
     ["[4, 4]"]),
    ("LPPool2d forward too small", lambda L: L.nn.LPPool2d(2, 3)(z(L, 1, 1, 2, 2)),
     ["(1x2x2)", "(1x0x0)"]),
    ("LPPool2d kernel 3 values", lambda L: L.nn.LPPool2d(2, (2, 2, 2))(z(L, 1, 1, 4, 4)),
     ["kernel_size", "(2, 2, 2)"]),
    ("LPPool1d kernel 2 values", lambda L: L.nn.LPPool1d(2, (2, 2))(z(L, 1, 1, 4)),
     ["kernel_size", "(2, 2)"]),
    ("MaxUnpool2d forward indices shape", lambda L: L.nn.MaxUnpool2d(2)(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 3)), ["[1, 1, 2, 3]"]),
    ("MaxUnpool2d forward output_size", lambda L: L.nn.MaxUnpool2d(2)(
        z(L, 1, 1, 2, 2), i64(L, 1, 1, 2, 2), output_size=(9, 9)), ["(9, 9)"]),
    ("ReflectionPad2d forward too wide", lambda L: L.nn.ReflectionPad2d(3)(z(L, 1, 3, 3)),
     ["(3, 3)", "[1, 3, 3]"]),
    ("ReplicationPad1d forward 4-d input", lambda L: L.nn.ReplicationPad1d(1)(
        z(L, 1, 1, 3, 3)), ["replicate", "4-d input"]),
    ("CircularPad2d forward wraps twice", lambda L: L.nn.CircularPad2d(4)(z(L, 1, 3, 3)),
     ["more than once", "(4, 4)"]),
    ("ConstantPad3d forward 2-d input", lambda L: L.nn.ConstantPad3d(1, 0.5)(z(L, 3, 3)),
     ["padding length 6", "dimension 2"]),
    ("Fold forward channels", lambda L: L.nn.Fold((3, 3), 2)(z(L, 1, 5, 4)),
     ["input.size(1)=5"]),
    ("Fold forward kernel 3 values", lambda L: L.nn.Fold((3, 3), (2, 2, 2))(z(L, 1, 4, 4)),
     ["kernel_size", "(2, 2, 2)"]),
    ("Unfold forward 2-d input", lambda L: L.nn.Unfold(2)(z(L, 3, 3)), ["[3, 3]"]),
    ("Unfold forward kernel too big", lambda L: L.nn.Unfold(4)(z(L, 1, 1, 3, 3)),
     ["kernel_size=(4, 4)"]),
    ("Unfold forward stride zero", lambda L: L.nn.Unfold(2, stride=0)(z(L, 1, 1, 4, 4)),
     ["stride", "0"]),
]


def _raise(fn: Callable[[], Any]) -> BaseException:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except Exception as e:
        return e
    raise AssertionError(f"no exception; returned {out!r}")


def _builtin_class(error: BaseException) -> type:
    """The first builtin class in the MRO: what PyTorch's error is, as Python sees it."""
    return next(c for c in type(error).__mro__ if c.__module__ == "builtins")


@pytest.mark.parametrize("name,call,words", CORPUS, ids=[c[0] for c in CORPUS])
def test_same_exception_class_as_pytorch(name: str, call: Call, words: list[str]) -> None:
    torch_error = _raise(lambda: call(torch))
    ck_error = _raise(lambda: call(convkit))
    builtin = _builtin_class(torch_error)
    assert isinstance(ck_error, builtin), (
        f"convkit raised {type(ck_error).__name__}: {ck_error}; PyTorch raised "
        f"{type(torch_error).__name__}: {torch_error}")
    message = str(ck_error)
    for word in words:
        assert word in message, f"{word!r} not in convkit's message: {message}"


def test_corpus_is_large_and_distinct() -> None:
    assert len(CORPUS) >= 80
    assert len({name for name, _, _ in CORPUS}) == len(CORPUS)


# ------------------------------------------------------------------ PyTorch misbehaves
# (id, call, the class convkit raises, words, what PyTorch does instead)
TORCH_IS_WRONG: list[tuple[str, Call, type, list[str], str]] = [
    ("pad circular crops all then wraps", lambda L: F(L).pad(
        z(L, 1, 1, 3), (-3, 1), mode="circular"), RuntimeError, ["(-3, 1)", "3 elements"],
     "PyTorch crops the whole dimension away, then wraps around nothing: its output element "
     "is read from memory outside the cropped input"),
    ("pad circular crops all from the end then wraps", lambda L: F(L).pad(
        L.arange(1.0, 4.0).reshape(1, 1, 3), (1, -3), mode="circular"), RuntimeError,
     ["(1, -3)", "3 elements"],
     "nothing is left to wrap, yet PyTorch returns one element (0., not in the input)"),
    ("Conv2d with zero in_channels", lambda L: L.nn.Conv2d(0, 2, 3), RuntimeError,
     ["in_channels", "0"],
     "PyTorch builds the layer but skips the bias initialisation (1/sqrt(fan_in) is "
     "undefined), so the bias, and every output, is uninitialised memory"),
    ("max_unpool2d with kernel_size 0", lambda L: F(L).max_unpool2d(
        L.ones(1, 1, 2, 2), i64(L, 1, 1, 2, 2), 0), RuntimeError, ["0x0"],
     "PyTorch computes a 0x0 output and silently drops every value it was asked to place"),
]


@pytest.mark.parametrize("name,call,cls,words,why", TORCH_IS_WRONG,
                         ids=[c[0] for c in TORCH_IS_WRONG])
def test_convkit_raises_where_pytorch_misbehaves(name: str, call: Call, cls: type,
                                                 words: list[str], why: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(torch)  # PyTorch returns (see ``why``); if it starts raising, revisit the entry
    error = _raise(lambda: call(convkit))
    assert isinstance(error, cls), f"{type(error).__name__}: {error}"
    for word in words:
        assert word in str(error), f"{word!r} not in {error}"


def test_zero_input_channels_convolve_to_zeros() -> None:
    """With a (1, 0, 1, 1) weight the output has 1 channel, all zeros (an empty sum).
    PyTorch returns a tensor with 0 channels here, contradicting its own output-shape rule;
    convkit follows the rule."""
    out = CF.conv2d(convkit.zeros(1, 0, 3, 3), convkit.zeros(1, 0, 1, 1))
    assert tuple(out.shape) == (1, 1, 3, 3) and not out.numpy().any()
    assert tuple(TF.conv2d(torch.zeros(1, 0, 3, 3), torch.zeros(1, 0, 1, 1)).shape) == (
        1, 0, 3, 3)


# ------------------------------------------------------------------ the generic surface
CONVKIT_ONLY: list[tuple[str, Callable[[], Any], type, list[str]]] = [
    ("conv pairs of wrong count", lambda: CF.conv(
        convkit.zeros(1, 1, 5, 5), convkit.zeros(1, 1, 3, 3), padding=((1, 1),)),
     RuntimeError, ["2 (lo, hi) pairs", "((1, 1),)"]),
    ("conv pair of three", lambda: CF.conv(
        convkit.zeros(1, 1, 5), convkit.zeros(1, 1, 3), padding=((1, 1, 1),)),
     RuntimeError, ["(lo, hi)", "((1, 1, 1),)"]),
    ("conv negative pair", lambda: CF.conv(
        convkit.zeros(1, 1, 5), convkit.zeros(1, 1, 3), padding=((-1, 0),)),
     RuntimeError, ["negative padding"]),
    ("conv 4-d kernel too big", lambda: CF.conv(
        convkit.zeros(1, 1, 3, 3, 3, 1), convkit.zeros(1, 1, 2, 2, 2, 2)),
     RuntimeError, ["dim 3", "padded size 1", "spans 2"]),
    ("conv weight rank 2", lambda: CF.conv(convkit.zeros(1, 5), convkit.zeros(1, 3)),
     RuntimeError, ["at least 3 dims", "[1, 3]"]),
    ("conv 4-d input rank", lambda: CF.conv(
        convkit.zeros(1, 1, 3, 3), convkit.zeros(1, 1, 2, 2, 2, 2)),
     RuntimeError, ["5D", "6D", "[1, 1, 3, 3]"]),
    ("conv_transpose padding_mode unknown", lambda: CF.conv_transpose(
        convkit.zeros(1, 1, 3), convkit.zeros(1, 1, 2), padding_mode="wrap"),
     ValueError, ["padding_mode", "'wrap'"]),
    ("conv_transpose 4-d output padding", lambda: CF.conv_transpose(
        convkit.zeros(1, 1, 2, 2, 2, 2), convkit.zeros(1, 1, 2, 2, 2, 2), stride=2,
        output_padding=(0, 0, 0, 2)), RuntimeError, ["output padding", "(0, 0, 0, 2)"]),
    ("ConvNd ndim zero", lambda: convkit.nn.ConvNd(0, 1, 1, 3), ValueError, ["ndim", "0"]),
    ("ConvNd kernel of wrong length", lambda: convkit.nn.ConvNd(4, 1, 1, (3, 3)),
     RuntimeError, ["kernel_size", "4 values", "[3, 3]"]),
    ("ConvTransposeNd ndim bool", lambda: convkit.nn.ConvTransposeNd(True, 1, 1, 3),
     ValueError, ["ndim", "True"]),
    ("ConvNd forward rank", lambda: convkit.nn.ConvNd(4, 1, 1, 2, padding_mode="circular")(
        convkit.zeros(1, 1, 3, 3)), RuntimeError, ["5D", "6D", "[1, 1, 3, 3]"]),
    ("ConvNd circular wraps twice", lambda: convkit.nn.ConvNd(
        4, 1, 1, 3, padding=4, padding_mode="circular")(convkit.zeros(1, 1, 3, 3, 3, 3)),
     RuntimeError, ["more than once", "(4, 4)"]),
]


@pytest.mark.parametrize("name,call,cls,words", CONVKIT_ONLY, ids=[c[0] for c in CONVKIT_ONLY])
def test_generic_surface_errors(name: str, call: Callable[[], Any], cls: type,
                                words: list[str]) -> None:
    error = _raise(call)
    assert type(error) is cls, f"{type(error).__name__}: {error}"
    for word in words:
        assert word in str(error), f"{word!r} not in {error}"


# ------------------------------------------------------------------ dtypes: refuse or agree
DTYPES = ["uint8", "int8", "int16", "int32", "int64", "bool", "float16", "float32", "float64",
          "complex64"]
DTYPE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "conv1d": lambda L, x: F(L).conv1d(x[0], x[0, :, :1, :2].clone()),
    "conv2d": lambda L, x: F(L).conv2d(x, x[:, :, :2, :2].clone(), stride=2, padding=1),
    "conv2d dilated": lambda L, x: F(L).conv2d(x, x[:, :, :2, :2].clone(), dilation=2),
    "conv3d": lambda L, x: F(L).conv3d(x[None], x[None, :, :, :2, :2].clone()),
    "conv_transpose2d": lambda L, x: F(L).conv_transpose2d(x, x[:, :, :2, :2].clone(),
                                                           stride=2),
    "conv_transpose1d": lambda L, x: F(L).conv_transpose1d(x[0], x[0, :, :1, :2].clone()),
    "max_pool1d": lambda L, x: F(L).max_pool1d(x[0], 2),
    "max_pool1d indices": lambda L, x: F(L).max_pool1d(x[0], 2, return_indices=True)[1],
    "max_pool2d": lambda L, x: F(L).max_pool2d(x, 2, padding=1),
    "avg_pool2d": lambda L, x: F(L).avg_pool2d(x, 3, stride=1, padding=1),
    "avg_pool1d count_include_pad": lambda L, x: F(L).avg_pool1d(
        x[0], 3, padding=1, ceil_mode=True, count_include_pad=False),
    "avg_pool3d divisor": lambda L, x: F(L).avg_pool3d(x[None], 2, divisor_override=3),
    "adaptive_avg_pool2d": lambda L, x: F(L).adaptive_avg_pool2d(x, 3),
    "adaptive_max_pool1d": lambda L, x: F(L).adaptive_max_pool1d(x[0], 3),
    "lp_pool2d": lambda L, x: F(L).lp_pool2d(x, 2, 2),
    "max_unpool2d": lambda L, x: F(L).max_unpool2d(x[:, :, :2, :2], L.tensor(
        [[[[0, 3], [9, 14]]]]), 2),
    "pad reflect": lambda L, x: F(L).pad(x, (1, 2, 2, 1), mode="reflect"),
    "pad replicate": lambda L, x: F(L).pad(x, (1, 2), mode="replicate"),
    "pad circular": lambda L, x: F(L).pad(x, (1, 2, 2, 1), mode="circular"),
    "pad constant": lambda L, x: F(L).pad(x, (1, -1), value=3),
    "unfold": lambda L, x: F(L).unfold(x, 2),
    "fold": lambda L, x: F(L).fold(x[0, :, :, :4], (3, 3), 2),
}


@pytest.mark.parametrize("op", sorted(DTYPE_OPS))
def test_dtype_support_matches_pytorch(op: str) -> None:
    """Per element type, an op either fails in both libraries with the same class or
    gives the same values and dtype (integer convolution and int64 averages included)."""
    base = (np.arange(16) * 7 % 11 - 4).reshape(1, 1, 4, 4)
    for name in DTYPES:
        arr = base.astype(np.bool_ if name == "bool" else name)
        if name == "uint8":
            arr = np.abs(base).astype(np.uint8)

        def call(L: Any, arr: np.ndarray = arr) -> Any:
            return DTYPE_OPS[op](L, L.from_numpy(arr.copy()))

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = call(torch)
        except Exception as e:
            error = _raise(lambda: call(convkit))
            assert isinstance(error, _builtin_class(e)), (name, error, e)
            continue
        got = call(convkit)
        assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], name
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, err_msg=name)


# ------------------------------------------------------------------ fuzzing the error paths
@st.composite
def wild_conv_calls(draw: Any) -> dict[str, Any]:
    """conv/conv_transpose/pooling calls with arguments mostly valid, sometimes empty (zero
    sizes) and now and then absurd (wrong ranks, zero or negative hyper-parameters)."""
    op = draw(st.sampled_from(["conv", "conv_transpose", "max_pool", "avg_pool"]))
    nd = draw(st.integers(1, 3))
    size = st.sampled_from([1, 2, 3, 4, 5] * 4 + [0])
    rank = draw(st.sampled_from([nd + 2] * 6 + [nd + 1] * 3 + [nd, nd + 3]))
    shape = tuple(draw(size) for _ in range(rank))
    groups = draw(st.sampled_from([1] * 6 + [2, 3, 0, -1]))
    channels = shape[-nd - 1] if rank > nd else 1
    c_in_g = draw(st.sampled_from([max(channels // max(groups, 1), 0)] * 4 + [0, 1, 2]))
    c_out = draw(st.sampled_from([max(groups, 1) * draw(st.integers(0, 2))] * 4 + [1, 3]))
    kernel_dims = tuple(draw(st.sampled_from([1, 2, 3] * 4 + [0])) for _ in range(nd))
    wrank = draw(st.sampled_from([nd + 2] * 8 + [nd + 1, nd + 3]))
    lead = (c_out, c_in_g)
    if op == "conv_transpose":  # (C_in, C_out/groups, *kernel), C_in mostly the input's
        lead = (draw(st.sampled_from([channels] * 4 + [c_out])), draw(st.integers(0, 2)))
    wshape = (lead + kernel_dims + (2,) * nd)[:wrank]

    def arg(valid: Any, invalid: Any) -> Any:
        one = draw(st.sampled_from([valid] * 8 + [invalid]))
        return draw(one | st.lists(one, min_size=nd, max_size=nd).map(tuple)
                    | st.lists(one, min_size=1, max_size=4).map(tuple))

    return dict(op=op, nd=nd, shape=shape, wshape=wshape, groups=groups,
                stride=arg(st.integers(1, 3), st.integers(-1, 0)),
                padding=arg(st.integers(0, 2), st.integers(-2, 4)),
                dilation=arg(st.integers(1, 2), st.integers(-1, 0)),
                output_padding=arg(st.integers(0, 1), st.integers(-1, 3)),
                kernel=arg(st.integers(1, 3), st.integers(-1, 0)),
                ceil_mode=draw(st.booleans()))


def _wild(L: Any, c: dict[str, Any]) -> Any:
    x = L.ones(c["shape"], dtype=L.float64)
    nd = c["nd"]
    if c["op"] == "conv":
        w = L.ones(c["wshape"], dtype=L.float64)
        return getattr(F(L), f"conv{nd}d")(x, w, None, c["stride"], c["padding"],
                                           c["dilation"], c["groups"])
    if c["op"] == "conv_transpose":
        w = L.ones(c["wshape"], dtype=L.float64)
        return getattr(F(L), f"conv_transpose{nd}d")(x, w, None, c["stride"], c["padding"],
                                                     c["output_padding"], c["groups"],
                                                     c["dilation"])
    if c["op"] == "max_pool":
        return getattr(F(L), f"max_pool{nd}d")(x, c["kernel"], c["stride"], c["padding"],
                                               c["dilation"], c["ceil_mode"])
    return getattr(F(L), f"avg_pool{nd}d")(x, c["kernel"], c["stride"], c["padding"],
                                           c["ceil_mode"])


@settings(max_examples=60, deadline=None)
@given(wild_conv_calls())
def test_wild_calls_raise_like_pytorch_or_agree(c: dict[str, Any]) -> None:
    """No crash with a foreign class, no garbage: same builtin class or same result."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _wild(torch, c)
    except Exception as e:
        error = _raise(lambda: _wild(convkit, c))
        if isinstance(e, IndexError) and str(e).startswith("select(): index 0 out of range"):
            # PyTorch's internal crash on an empty batch with an empty transposed weight;
            # with a non-empty batch it raises the RuntimeError convkit raises
            assert isinstance(error, RuntimeError) and "non-empty weight" in str(error)
            return
        assert isinstance(error, _builtin_class(e)), (
            f"convkit {type(error).__name__}: {error}\nPyTorch {type(e).__name__}: {e}")
        return
    if expected.numel() == 0 and c["op"] == "conv_transpose":
        # PyTorch returns an empty tensor for some zero-size outputs, convkit refuses them
        # (test_conv_transpose.py pins that down)
        error = _raise(lambda: _wild(convkit, c))
        assert isinstance(error, RuntimeError) and "too small" in str(error)
        return
    if c["op"] == "conv" and len(c["wshape"]) > 1 and c["wshape"][1] == 0:
        return  # no input channels: PyTorch's output shape is wrong (see the test above)
    got = _wild(convkit, c)
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
