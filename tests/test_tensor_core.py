"""The Tensor core against real PyTorch: metadata on assorted memory layouts, Python
conversions and their errors, NumPy sharing, and ``repr``.

Every case builds the same values in the same layout in both libraries (the layout recipe is
applied step by step to each) and compares what the public API reports.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]
ERROR_CLASSES = (BufferError, IndexError, TypeError, ValueError, NotImplementedError,
                 RuntimeError)


# ------------------------------------------------------------------ building equal tensors
def values_for(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """Distinct small values that every dtype (uint8 and bool included) can hold."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    vals = (rng.permutation(n) % 100).astype(np.float64)
    if dtype.startswith("float"):
        vals = vals / 4 - 7
    if dtype.startswith("complex"):
        vals = vals - 1j * rng.permutation(n)
    return vals.astype(dtype).reshape(shape)


def make(lib: Any, arr: np.ndarray) -> Any:
    """A fresh contiguous tensor of ``arr``'s values (not sharing ``arr``'s memory)."""
    out = lib.empty(arr.shape, dtype=getattr(lib, arr.dtype.name))
    out.copy_(lib.from_numpy(arr.copy()))
    return out


def apply_steps(x: Any, steps: tuple[tuple[Any, ...], ...]) -> Any:
    for name, *args in steps:
        if name == "index":
            x = x[args[0]]
        else:
            x = getattr(x, name)(*args)
    return x


@st.composite
def layout_steps(draw: Any, shape: tuple[int, ...]) -> tuple[tuple[Any, ...], ...]:
    """A few view steps (never copies) valid for ``shape``: strided, permuted, expanded..."""
    meta = torch.empty(shape, device="meta")
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(0, 3))):
        n = meta.ndim
        kinds = ["unsqueeze"] + (["transpose", "index", "narrow", "expand", "select"]
                                 if n else []) + (["permute", "flatten"] if n >= 2 else [])
        kind = draw(st.sampled_from(kinds))
        dim = draw(st.integers(0, n - 1)) if n else 0
        if kind == "unsqueeze":
            step: tuple[Any, ...] = ("unsqueeze", draw(st.integers(-n - 1, n)))
        elif kind == "transpose":
            step = ("transpose", dim, draw(st.integers(-n, n - 1)))
        elif kind == "permute":
            step = ("permute", tuple(draw(st.permutations(range(n)))))
        elif kind == "index":
            start = draw(st.integers(0, meta.shape[dim]))
            step = ("index", (slice(None),) * dim + (slice(start, None,
                                                           draw(st.integers(1, 3))),))
        elif kind == "narrow":
            start = draw(st.integers(0, meta.shape[dim]))
            step = ("narrow", dim, start, draw(st.integers(0, meta.shape[dim] - start)))
        elif kind == "select":
            if meta.shape[dim] == 0:
                continue
            step = ("select", dim, draw(st.integers(0, meta.shape[dim] - 1)))
        elif kind == "flatten":
            if meta.reshape(-1).numel() and not meta.is_contiguous():
                continue  # flatten would copy; stay with views
            step = ("flatten",)
        else:
            sizes = tuple(draw(st.sampled_from([1, 0, 3])) if s == 1 else -1
                          for s in meta.shape)
            step = ("expand", sizes)
        meta = apply_steps(meta, (step,))
        steps.append(step)
    return tuple(steps)


@st.composite
def layouts(draw: Any, dtypes: list[str] | None = None) -> tuple[Any, ...]:
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 4]), min_size=0, max_size=4)))
    dtype = draw(st.sampled_from(dtypes or DTYPES))
    return shape, dtype, draw(st.integers(0, 2**32 - 1)), draw(layout_steps(shape))


def build(lib: Any, case: tuple[Any, ...]) -> tuple[Any, Any]:
    """``(base, view)`` for ``lib``."""
    shape, dtype, seed, steps = case
    base = make(lib, values_for(shape, dtype, seed))
    return base, apply_steps(base, steps)


def both(case: tuple[Any, ...]) -> tuple[Any, Any, Any, Any]:
    cb, c = build(convkit, case)
    tb, t = build(torch, case)
    return cb, c, tb, t


def error_class(fn: Callable[[], Any]) -> type | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except ERROR_CLASSES as e:
            return next(k for k in ERROR_CLASSES if isinstance(e, k))
    return None


def same_outcome(fn: Callable[[Any], Any]) -> Any:
    """``fn(torch)`` and ``fn(convkit)`` return equal values or raise the same class."""
    outcomes = []
    for lib in (torch, convkit):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                outcomes.append(("ok", fn(lib)))
            except ERROR_CLASSES as e:
                outcomes.append(("error", next(k for k in ERROR_CLASSES if isinstance(e, k))))
    (t_kind, t_val), (c_kind, c_val) = outcomes
    assert (c_kind, c_val) == (t_kind, t_val), f"convkit {c_kind} {c_val!r}, torch {t_kind} " \
                                               f"{t_val!r}"
    return t_val


# ------------------------------------------------------------------ metadata
@SETTINGS
@given(layouts())
def test_metadata_on_assorted_layouts(case: tuple[Any, ...]) -> None:
    cb, c, tb, t = both(case)
    assert str(c.dtype) == str(t.dtype).replace("torch.", "convkit.")
    assert tuple(c.shape) == tuple(t.shape) and tuple(c.size()) == tuple(t.size())
    assert repr(c.shape) == repr(t.shape).replace("torch.", "convkit.")
    assert c.dim() == t.dim() and c.ndim == t.ndim and c.ndimension() == t.ndimension()
    assert c.numel() == t.numel() and c.nelement() == t.nelement() and len(c.shape) == t.dim()
    assert c.stride() == t.stride()
    assert c.is_contiguous() == t.is_contiguous()
    assert c.storage_offset() == t.storage_offset()
    assert c.element_size() == t.element_size() and c.itemsize == t.itemsize
    assert c.nbytes == t.nbytes
    for d in range(-t.dim(), t.dim()):
        assert c.size(d) == t.size(d) and c.stride(d) == t.stride(d)
        assert c.shape[d] == t.shape[d]
    if t.numel():  # torch reports data_ptr() 0 for empty tensors
        assert c.data_ptr() - cb.data_ptr() == t.data_ptr() - tb.data_ptr()
    np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_element_size_per_dtype(dtype: str) -> None:
    assert same_outcome(lambda lib: (lib.zeros(3, dtype=getattr(lib, dtype)).element_size(),
                                     lib.zeros(3, dtype=getattr(lib, dtype)).nbytes,
                                     lib.zeros(3, dtype=getattr(lib, dtype)).type()
                                     .split(".")[-1]))


@pytest.mark.parametrize("call", [
    lambda t: t.size(2), lambda t: t.size(-3), lambda t: t.stride(2), lambda t: t.stride(-3),
    lambda t: t.shape[2], lambda t: t.size("a"),
])
def test_size_and_stride_dim_errors(call: Any) -> None:
    same_outcome(lambda lib: call(lib.zeros(2, 3)))


@pytest.mark.parametrize("call", [lambda t: t.size(0), lambda t: t.size(-1),
                                  lambda t: t.stride(0), lambda t: t.stride(),
                                  lambda t: tuple(t.size()), lambda t: t.dim()])
def test_zero_dim_metadata(call: Any) -> None:
    same_outcome(lambda lib: call(lib.tensor(1.5)))


def test_size_is_a_tuple_subclass_like_torch_size() -> None:
    def scenario(lib: Any) -> Any:
        s = lib.zeros(2, 3, 4).shape
        return (repr(s[1:]).split(".")[-1], repr(s + (5,)).split(".")[-1],
                repr((1,) + s).split(".")[-1], s == (2, 3, 4), s.numel(), s[-1],
                isinstance(s, tuple), repr(lib.tensor(1.0).shape).split(".")[-1])

    same_outcome(scenario)


# ------------------------------------------------------------------ item / tolist
@SETTINGS
@given(layouts())
def test_tolist_matches(case: tuple[Any, ...]) -> None:
    _, c, _, t = both(case)
    c_list, t_list = c.tolist(), t.tolist()
    assert c_list == t_list
    assert type(c_list) is type(t_list)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (1, 1, 1)])
def test_item_of_one_element(dtype: str, shape: tuple[int, ...]) -> None:
    arr = values_for(shape, dtype, 3)
    c, t = make(convkit, arr), make(torch, arr)
    assert c.item() == t.item()
    assert type(c.item()) is type(t.item())


@pytest.mark.parametrize("shape", [(2,), (0,), (2, 3), (1, 0)])
def test_item_of_other_sizes_raises(shape: tuple[int, ...]) -> None:
    assert same_outcome(lambda lib: error_class(lambda: lib.zeros(shape).item())) \
        is RuntimeError


def test_item_and_tolist_of_a_tensor_that_requires_grad() -> None:
    same_outcome(lambda lib: (lib.tensor([2.5], requires_grad=True).item(),
                              lib.tensor([0.5, 1.0], requires_grad=True).tolist()))


# ------------------------------------------------------------------ python protocol
_PROTOCOL: dict[str, Callable[[Any], Any]] = {
    "len 0-d": lambda lib: len(lib.tensor(1.0)),
    "len": lambda lib: len(lib.zeros(3, 2)),
    "len empty": lambda lib: len(lib.zeros(0, 2)),
    "iter 0-d": lambda lib: list(lib.tensor(1.0)),
    "iter rows": lambda lib: [r.tolist() for r in lib.arange(6).view(3, 2)],
    "iter view": lambda lib: [r.tolist() for r in lib.arange(6).view(2, 3).t()],
    "iter empty": lambda lib: list(lib.zeros(0, 3)),
    "bool multi": lambda lib: bool(lib.tensor([1, 2])),
    "bool empty": lambda lib: bool(lib.tensor([])),
    "bool one": lambda lib: (bool(lib.tensor([[3]])), bool(lib.tensor(0.0)),
                             bool(lib.tensor(-0.0)), bool(lib.tensor([False]))),
    "bool nan": lambda lib: bool(lib.tensor(float("nan"))),
    "if": lambda lib: "yes" if lib.tensor([0.5]) else "no",
    "float multi": lambda lib: float(lib.tensor([1.0, 2.0])),
    "float empty": lambda lib: float(lib.tensor([])),
    "float": lambda lib: (float(lib.tensor([3])), float(lib.tensor(2.5)),
                          float(lib.tensor([[True]]))),
    "float requires grad": lambda lib: float(lib.tensor([3.0], requires_grad=True)),
    "int": lambda lib: (int(lib.tensor([3.7])), int(lib.tensor(-3.7)), int(lib.tensor([[9]]))),
    "int multi": lambda lib: int(lib.tensor([3, 4])),
    "complex": lambda lib: complex(lib.tensor(1.5)),
    "index int": lambda lib: [0, 1, 2, 3][lib.tensor(2)],
    "index one element": lambda lib: [0, 1, 2, 3][lib.tensor([2])],
    "index uint8": lambda lib: operator.index(lib.tensor(5, dtype=lib.uint8)),
    "index float": lambda lib: [0, 1, 2, 3][lib.tensor(2.0)],
    "index multi": lambda lib: [0, 1, 2, 3][lib.tensor([1, 2])],
    "index bool": lambda lib: operator.index(lib.tensor(True)),
    "range": lambda lib: list(range(lib.tensor(3))),
    "hex": lambda lib: hex(lib.tensor(255)),
    "format 0-d": lambda lib: f"{lib.tensor(1.23456):.2f}|{lib.tensor(7)}|{lib.tensor(2.5)}",
    "format 1-d spec": lambda lib: f"{lib.tensor([1.23456]):.2f}",
    "format 1-d": lambda lib: f"{lib.tensor([1.5])}".replace("torch.", "convkit."),
    "hash": lambda lib: (lambda t: hash(t) == hash(t) and {t: 1}[t])(lib.tensor([1.0])),
}


@pytest.mark.parametrize("name", sorted(_PROTOCOL))
def test_python_protocol(name: str) -> None:
    same_outcome(_PROTOCOL[name])


def test_protocol_error_classes() -> None:
    assert same_outcome(lambda lib: error_class(lambda: len(lib.tensor(1.0)))) is TypeError
    assert same_outcome(lambda lib: error_class(lambda: bool(lib.zeros(2)))) is RuntimeError
    assert same_outcome(lambda lib: error_class(lambda: lib.zeros(2).item())) is RuntimeError
    assert same_outcome(lambda lib: error_class(lambda: float(lib.zeros(2)))) is ValueError


# ------------------------------------------------------------------ NumPy sharing
@SETTINGS
@given(layouts())
def test_numpy_shares_memory_in_the_same_layout(case: tuple[Any, ...]) -> None:
    cb, c, tb, t = both(case)
    a, ta = c.numpy(), t.numpy()
    assert a.dtype == ta.dtype and a.shape == ta.shape
    np.testing.assert_array_equal(a, ta)
    arr = np.asarray(c)
    if t.numel():  # an empty array's strides mean nothing (torch hands NumPy zeros)
        assert a.strides == ta.strides and arr.strides == ta.strides
    if c.numel() and 0 not in c.stride():  # a write through NumPy is seen by the base
        index = (0,) * c.ndim
        new = not a[index] if a.dtype == bool else a[index] + 1
        a[index] = new
        ta[index] = new
        np.testing.assert_array_equal(cb.numpy(), tb.numpy())
        assert np.shares_memory(arr, a)


def test_numpy_writes_both_ways() -> None:
    def scenario(lib: Any) -> Any:
        t = lib.zeros(2, 3)
        a = t.numpy()
        a[0, 1] = 5.0
        t[1, 2] = 7.0
        t.add_(1)
        return a.tolist(), t.tolist(), np.asarray(t).tolist()

    same_outcome(scenario)


def test_numpy_refuses_a_tensor_that_requires_grad() -> None:
    def leaf(lib: Any) -> Any:
        return error_class(lambda: lib.tensor([1.0], requires_grad=True).numpy())

    assert same_outcome(leaf) is RuntimeError
    assert same_outcome(lambda lib: error_class(
        lambda: (lib.tensor([1.0], requires_grad=True) * 2).numpy())) is RuntimeError
    assert same_outcome(lambda lib: error_class(
        lambda: np.asarray(lib.tensor([1.0], requires_grad=True)))) is RuntimeError

    def detached_or_forced(lib: Any) -> Any:
        t = lib.tensor([1.0, 2.0], requires_grad=True)
        d = t.detach().numpy()
        f = t.numpy(force=True)
        with lib.no_grad():
            t.mul_(3)  # both arrays share t's memory
        return d.tolist(), f.tolist()

    same_outcome(detached_or_forced)


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_protocol(dtype: str) -> None:
    arr = values_for((2, 3), dtype, 1)
    c, t = make(convkit, arr).t(), make(torch, arr).t()
    a = np.asarray(c)
    assert a.dtype == np.asarray(t).dtype and a.strides == np.asarray(t).strides
    assert np.shares_memory(a, c.numpy())
    np.testing.assert_array_equal(np.asarray(c, dtype=np.float64),
                                  np.asarray(t, dtype=np.float64))
    np.testing.assert_array_equal(np.array(c), np.array(t))
    assert not np.shares_memory(np.array(c), a)  # np.array copies, as with torch


def test_from_numpy_shares_memory() -> None:
    def scenario(lib: Any) -> Any:
        arr = np.arange(6.0).reshape(2, 3)[:, ::2]
        t = lib.from_numpy(arr)
        arr[0, 0] = 100.0
        t[1, 1] = -1.0
        return t.tolist(), arr.tolist(), t.stride(), t.is_contiguous()

    same_outcome(scenario)


# ------------------------------------------------------------------ repr
_REPRS: dict[str, Callable[[Any], Any]] = {
    "float32": lambda lib: lib.tensor([1.5, -2.25, 3.0]),
    "float64": lambda lib: lib.tensor([1.5, 2.25], dtype=lib.float64),
    "float64 2-d": lambda lib: lib.arange(6, dtype=lib.float64).view(2, 3) / 4,
    "float64 requires grad": lambda lib: lib.tensor([1.5, 2.25], dtype=lib.float64,
                                                    requires_grad=True),
    "float64 grad_fn": lambda lib: lib.tensor([1.5, 2.25], dtype=lib.float64,
                                              requires_grad=True) * 2,
    "float64 0-d grad": lambda lib: lib.tensor(3.0, dtype=lib.float64, requires_grad=True),
    "float16": lambda lib: lib.tensor([1.5, 0.1], dtype=lib.float16),
    "int64": lambda lib: lib.tensor([[1, -20], [300, 4]]),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "uint8": lambda lib: lib.tensor([1, 255], dtype=lib.uint8),
    "int8 0-d": lambda lib: lib.tensor(-3, dtype=lib.int8),
    "bool": lambda lib: lib.tensor([True, False]),
    "bool 2-d": lambda lib: lib.tensor([[True], [False]]),
    "complex64": lambda lib: lib.tensor([1 + 2j, -0.5j]),
    "complex128": lambda lib: lib.tensor([1 + 2j], dtype=lib.complex128),
    "empty": lambda lib: lib.tensor([]),
    "empty float64": lambda lib: lib.tensor([], dtype=lib.float64),
    "empty int64": lambda lib: lib.zeros(0, 3, dtype=lib.int64),
    "empty bool": lambda lib: lib.zeros(2, 0, dtype=lib.bool),
    "empty requires grad": lambda lib: lib.zeros(0, requires_grad=True),
    "empty float64 requires grad": lambda lib: lib.zeros(2, 0, dtype=lib.float64,
                                                         requires_grad=True),
    "0-d": lambda lib: lib.tensor(3.0),
    "requires grad": lambda lib: lib.tensor([[1.0, 2.0]], requires_grad=True),
    "non-contiguous": lambda lib: lib.arange(6, dtype=lib.float64).view(2, 3).t(),
    "large": lambda lib: lib.arange(2000, dtype=lib.float64),
    "scientific": lambda lib: lib.tensor([1e10, 1.0, 2e-5]),
    "nan inf": lambda lib: lib.tensor([float("nan"), float("inf"), -1.5]),
}


@pytest.mark.parametrize("name", sorted(_REPRS))
def test_repr_matches_torch(name: str) -> None:
    make_tensor = _REPRS[name]
    expected = repr(make_tensor(torch)).replace("torch.", "convkit.")
    assert repr(make_tensor(convkit)) == expected
    assert str(make_tensor(convkit)) == expected


@SETTINGS
@given(layouts(dtypes=["bool", "int64", "int32", "float32", "float64"]))
def test_repr_of_small_layouts(case: tuple[Any, ...]) -> None:
    _, c, _, t = both(case)
    if t.numel() > 12:  # long rows wrap by width, which the renamed dtype can shift
        return
    assert repr(c) == repr(t).replace("torch.", "convkit.")
