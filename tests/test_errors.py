"""Bad input: each wrong call raises the exception class PyTorch raises, with a message that
names the argument or the numbers involved; nothing crashes, hangs or returns garbage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import convkit

# (id, the call written once against either library, words the convkit message must contain)
CORPUS: list[tuple[str, Callable[[Any], Any], list[str]]] = [
    ("ragged list", lambda L: L.tensor([[1, 2], [3]]), ["length 2", "got 1"]),
    ("ragged deeper", lambda L: L.tensor([[[1, 2]], [[3, 4, 5]]]), ["length 2", "got 3"]),
    ("string data", lambda L: L.tensor(["a", "b"]), ["str"]),
    ("dict data", lambda L: L.tensor({"a": 1}), ["dict"]),
    ("view incompatible", lambda L: L.arange(10).view(2, 5).T.view(-1), ["view", "reshape"]),
    ("view bad size", lambda L: L.arange(10).view(3, -1), ["[3, -1]", "10"]),
    ("reshape bad size", lambda L: L.arange(10).reshape(3, -1), ["[3, -1]", "10"]),
    ("two -1", lambda L: L.arange(12).view(-1, -1), ["one dimension"]),
    ("dim out of range", lambda L: L.zeros(2, 3).sum(dim=2), ["[-2, 1]", "2"]),
    ("squeeze dim out of range", lambda L: L.zeros(2, 3).squeeze(5), ["5"]),
    ("unsqueeze out of range", lambda L: L.zeros(2, 3).unsqueeze(4), ["[-3, 2]", "4"]),
    ("transpose out of range", lambda L: L.zeros(2, 3).transpose(0, 3), ["3"]),
    ("permute wrong length", lambda L: L.zeros(2, 3).permute(0, 1, 2), ["2", "3"]),
    ("permute duplicate", lambda L: L.zeros(2, 3).permute(0, 0), ["duplicate"]),
    ("broadcast add", lambda L: L.zeros(2, 3) + L.zeros(4), ["3", "4"]),
    ("broadcast mul", lambda L: L.zeros(2, 3) * L.zeros(2, 2), ["3", "2"]),
    ("matmul mismatch", lambda L: L.zeros(2, 3) @ L.zeros(4, 5), ["2x3", "4x5"]),
    ("matmul 1d mismatch", lambda L: L.zeros(3) @ L.zeros(4), ["3", "4"]),
    ("matmul 0d", lambda L: L.matmul(L.tensor(1.0), L.zeros(3)), ["0D", "1D"]),
    ("matmul dtype", lambda L: L.zeros(2, 2) @ L.zeros(2, 2, dtype=L.float64),
     ["float32", "float64"]),
    ("numpy of grad tensor", lambda L: L.zeros(2, requires_grad=True).numpy(), ["detach"]),
    ("item of many", lambda L: L.zeros(3).item(), ["3 elements"]),
    ("bool of many", lambda L: bool(L.zeros(3)), ["ambiguous"]),
    ("len of 0-d", lambda L: len(L.tensor(1.0)), ["0-d"]),
    ("iter of 0-d", lambda L: iter(L.tensor(1.0)), ["0-d"]),
    ("index out of range", lambda L: L.zeros(3)[5], ["5", "3"]),
    ("index too many", lambda L: L.zeros(3)[0, 0], ["too many indices"]),
    ("float index tensor", lambda L: L.zeros(3)[L.tensor([0.5])], ["long"]),
    ("expand bad", lambda L: L.zeros(2, 3).expand(2, 4), ["4", "3"]),
    ("expand fewer dims", lambda L: L.zeros(2, 3).expand(3), ["number of sizes"]),
    ("repeat fewer dims", lambda L: L.zeros(2, 3).repeat(2), ["repeat dims"]),
    ("cat empty", lambda L: L.cat([]), ["non-empty"]),
    ("cat mismatch", lambda L: L.cat([L.zeros(2, 3), L.zeros(2, 4)]), ["3", "4", "1"]),
    ("cat ndim", lambda L: L.cat([L.zeros(2, 3), L.zeros(2)]), ["dimensions"]),
    ("stack mismatch", lambda L: L.stack([L.zeros(2, 3), L.zeros(2, 4)]), ["[2, 3]", "[2, 4]"]),
    ("split bad sections", lambda L: L.zeros(5).split([2, 2]), ["5", "[2, 2]"]),
    ("narrow past end", lambda L: L.zeros(5).narrow(0, 3, 4), ["3", "4", "5"]),
    ("chunk zero", lambda L: L.zeros(5).chunk(0), ["0"]),
    ("flatten bad range", lambda L: L.zeros(2, 3, 4).flatten(2, 1), ["start_dim"]),
    ("negative size zeros", lambda L: L.zeros(2, -1), ["-1"]),
    ("requires_grad int", lambda L: L.zeros(2, dtype=L.int64).requires_grad_(), ["floating"]),
    ("backward non-scalar", lambda L: (L.ones(3, requires_grad=True) * 2).backward(),
     ["scalar"]),
    ("backward no grad", lambda L: L.ones(3).sum().backward(), ["does not require grad"]),
    ("inplace on leaf", lambda L: L.ones(3, requires_grad=True).add_(1), ["leaf"]),
    ("int inplace float", lambda L: L.ones(3, dtype=L.int64).add_(0.5),
     ["Float", "Long"]),
    ("mean of ints", lambda L: L.arange(4).mean(), ["floating point", "Long"]),
    ("neg bool", lambda L: -L.tensor([True, False]), ["bool"]),
    ("sub bool", lambda L: L.tensor([True]) - L.tensor([False]), ["bool"]),
    ("int negative power", lambda L: L.tensor([2]) ** -1, ["negative"]),
    ("clamp neither", lambda L: L.zeros(3).clamp(), ["min", "max"]),
    ("where non-bool", lambda L: L.where(L.zeros(3), L.zeros(3), L.ones(3)), ["bool"]),
    ("max of empty", lambda L: L.zeros(0).max(), ["numel() == 0"]),
    ("argmax empty dim", lambda L: L.zeros(0, 3).argmax(dim=0), ["0"]),
    ("from_numpy negative strides", lambda L: L.from_numpy(np.arange(5.0)[::-1]), ["negative"]),
    ("from_numpy object", lambda L: L.from_numpy(np.array(["a"], dtype=object)), ["object"]),
    ("randint low>=high", lambda L: L.randint(5, 5, (3,)), ["from=5", "to=5"]),
    ("arange zero step", lambda L: L.arange(0, 5, 0), ["step"]),
    ("arange wrong sign", lambda L: L.arange(0, 5, -1), ["bound"]),
    ("set default int dtype", lambda L: L.set_default_dtype(L.int64), ["floating"]),
    ("mT of vector", lambda L: L.zeros(3).mT, ["1-D"]),
    ("t of 3d", lambda L: L.zeros(2, 3, 4).t(), ["<= 2 dimensions", "3D"]),
    ("setitem shape mismatch", lambda L: L.zeros(3).__setitem__(L.tensor([0, 1]),
                                                              L.ones(3)), ["[3]", "[2]"]),
    ("conv channels", lambda L: L.nn.functional.conv2d(L.zeros(1, 3, 5, 5), L.zeros(2, 2, 3, 3)),
     ["3", "2"]),
    ("conv kernel too big", lambda L: L.nn.functional.conv2d(L.zeros(1, 1, 2, 2),
                                                            L.zeros(1, 1, 3, 3)), ["3"]),
    ("conv bad rank", lambda L: L.nn.functional.conv2d(L.zeros(5, 5), L.zeros(1, 1, 3, 3)),
     ["5, 5"]),
    ("conv same stride", lambda L: L.nn.functional.conv2d(L.zeros(1, 1, 5, 5),
                                                          L.zeros(1, 1, 3, 3), stride=2,
                                                          padding="same"), ["stride"]),
    ("conv groups", lambda L: L.nn.functional.conv2d(L.zeros(1, 4, 5, 5), L.zeros(3, 2, 3, 3),
                                                    groups=2), ["2", "3"]),
    ("conv negative padding", lambda L: L.nn.functional.conv2d(L.zeros(1, 1, 5, 5),
                                                               L.zeros(1, 1, 3, 3), padding=-1),
     ["-1"]),
    ("conv zero stride", lambda L: L.nn.functional.conv2d(L.zeros(1, 1, 5, 5),
                                                          L.zeros(1, 1, 3, 3), stride=0),
     ["stride"]),
]


def _raise(fn: Callable[[], Any]) -> BaseException:
    try:
        out = fn()
    except Exception as e:
        return e
    raise AssertionError(f"no exception; returned {out!r}")


@pytest.mark.parametrize("name,call,words", CORPUS, ids=[c[0] for c in CORPUS])
def test_same_exception_class_as_pytorch(name: str, call: Callable[[Any], Any],
                                         words: list[str]) -> None:
    try:
        torch_error = _raise(lambda: call(torch))
        ck_error = _raise(lambda: call(convkit))
    finally:
        torch.set_default_dtype(torch.float32)
        convkit.set_default_dtype(convkit.float32)
    # PyTorch raises subclasses of the builtin classes; compare on the builtin class.
    builtin = next(c for c in type(torch_error).__mro__ if c.__module__ == "builtins")
    assert isinstance(ck_error, builtin), (
        f"convkit raised {type(ck_error).__name__}: {ck_error}; PyTorch raised "
        f"{type(torch_error).__name__}: {torch_error}")
    message = str(ck_error)
    for word in words:
        assert word in message, f"{word!r} not in convkit's message: {message}"


def test_corpus_is_large() -> None:
    assert len(CORPUS) >= 60
