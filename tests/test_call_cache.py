"""The validated-call cache of the convolution functions never lets a wrong call through.

A call that passed validation is remembered by its arguments' types, shapes, dtypes and
hyper-parameters (``convkit.nn.functional._VALIDATED``). Each test first makes a valid call,
so that its key is cached, then a wrong call that differs from it only in a way the cache
key must see (a bool or NumPy integer equal to the int, another dtype, another shape, a
non-Tensor argument); convkit must raise the exception class PyTorch raises for it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convkit
import convkit.nn.functional as CF

VALID = dict(stride=1, padding=1, dilation=1, groups=1)

WRONG = [
    ("bool stride", dict(stride=True)),
    ("bool padding", dict(padding=True)),
    ("bool groups", dict(groups=True)),
    ("float dilation", dict(dilation=1.0)),
    ("list stride of the wrong length", dict(stride=[1, 1, 1])),
    ("zero groups", dict(groups=0)),
    ("negative padding", dict(padding=-1)),
    ("same with stride 2", dict(padding="same", stride=2)),
]


def _raised(fn):
    try:
        fn()
    except Exception as e:  # the class is what is compared
        return next(c for c in type(e).__mro__ if c.__module__ == "builtins")
    return None


def _call(lib, F, x, w, b, **kw):
    args = dict(VALID, **kw)
    return F.conv2d(lib.as_tensor(x) if lib is convkit else torch.as_tensor(x),
                    lib.as_tensor(w) if lib is convkit else torch.as_tensor(w),
                    None if b is None else (convkit.as_tensor(b) if lib is convkit
                                            else torch.as_tensor(b)),
                    **args)


@pytest.mark.parametrize("name, change", WRONG, ids=[w[0] for w in WRONG])
def test_a_cached_valid_call_does_not_admit_a_wrong_one(name, change):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    out = _call(convkit, CF, x, w, b)          # cached now
    ref = _call(torch, TF, x, w, b)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    expected = _raised(lambda: _call(torch, TF, x, w, b, **change))
    assert expected is not None, f"PyTorch accepts {name}"
    assert _raised(lambda: _call(convkit, CF, x, w, b, **change)) is expected


@pytest.mark.parametrize("what", ["weight dtype", "bias dtype", "bias shape", "input shape",
                                  "numpy input"])
def test_cached_shapes_and_dtypes_are_part_of_the_key(what):
    x = convkit.ones(1, 2, 6, 6)
    w = convkit.ones(3, 2, 3, 3)
    b = convkit.ones(3)
    CF.conv2d(x, w, b)                         # cached now
    kind = {"weight dtype": lambda: CF.conv2d(x, w.double(), b),
            "bias dtype": lambda: CF.conv2d(x, w, b.double()),
            "bias shape": lambda: CF.conv2d(x, w, convkit.ones(4)),
            "input shape": lambda: CF.conv2d(convkit.ones(1, 3, 6, 6), w, b),
            "numpy input": lambda: CF.conv2d(x.numpy(), w, b)}[what]
    tx, tw, tb = torch.ones(1, 2, 6, 6), torch.ones(3, 2, 3, 3), torch.ones(3)
    torch_kind = {"weight dtype": lambda: TF.conv2d(tx, tw.double(), tb),
                  "bias dtype": lambda: TF.conv2d(tx, tw, tb.double()),
                  "bias shape": lambda: TF.conv2d(tx, tw, torch.ones(4)),
                  "input shape": lambda: TF.conv2d(torch.ones(1, 3, 6, 6), tw, tb),
                  "numpy input": lambda: TF.conv2d(tx.numpy(), tw, tb)}[what]
    expected = _raised(torch_kind)
    assert expected is not None
    assert _raised(kind) is expected


def test_repeated_calls_hit_the_cache_and_give_the_same_result():
    x = convkit.randn(2, 4, 9, 9)
    w = convkit.randn(6, 2, 3, 3)
    CF._VALIDATED.clear()
    first = CF.conv2d(x, w, stride=2, padding=1, groups=2)
    assert len(CF._VALIDATED) == 1
    second = CF.conv2d(x, w, stride=2, padding=1, groups=2)
    assert len(CF._VALIDATED) == 1
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    unbatched = CF.conv2d(x[0], w, stride=2, padding=1, groups=2)
    assert tuple(unbatched.shape) == tuple(first.shape[1:])
    np.testing.assert_allclose(unbatched.numpy(), first.numpy()[0], rtol=1e-6, atol=1e-6)
