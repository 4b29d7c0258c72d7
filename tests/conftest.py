"""Differential-testing helpers shared by test_views.py and test_indexing.py.

An operation is written once as ``op(lib, x)`` and run with ``lib=convkit`` and ``lib=torch``
on tensors holding equal values in the same memory layout; convkit's result must then agree
with torch's in everything observable: values, dtype, shape, strides, contiguity, storage
offset, memory sharing with the input, the exception class, and gradients.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import convkit

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ALL_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
              "float64", "complex64"]
ERROR_KINDS = (IndexError, TypeError, ValueError, NotImplementedError, RuntimeError)


# ------------------------------------------------------------------ building equal inputs
def base_values(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """Small distinct-ish values that every dtype (int8 and uint8 included) represents."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    vals = rng.permutation(n) % 100 + (0 if dtype == "uint8" else -40)
    arr = vals.astype(np.float64)
    if dtype == "complex64":
        arr = arr + 1j * rng.permutation(n)
    return arr.astype(dtype).reshape(shape)


def apply_step(x: Any, step: tuple[Any, ...]) -> Any:
    """Apply one layout step (``("transpose", 0, 1)``, ``("slice", dim, slice)``...)."""
    name, *args = step
    if name == "slice":
        dim, s = args
        return x[(slice(None),) * dim + (s,)]
    return getattr(x, name)(*args)


@dataclass(frozen=True)
class Layout:
    """A contiguous base tensor plus view steps: the recipe for one (convkit, torch) pair."""

    shape: tuple[int, ...]
    dtype: str
    seed: int
    steps: tuple[tuple[Any, ...], ...] = ()

    def build(self, dtype: str | None = None, requires_grad: bool = False
              ) -> tuple[Any, Any, Any, Any]:
        """``(ck_base, th_base, ck_x, th_x)``; the bases are leaves when ``requires_grad``."""
        arr = base_values(self.shape, dtype or self.dtype, self.seed)
        cb = convkit.tensor(arr, requires_grad=requires_grad)
        # torch.tensor(ndarray) copies NumPy's strides for empty arrays; start canonical
        tb = torch.empty(arr.shape, dtype=getattr(torch, arr.dtype.name))
        tb = tb.copy_(torch.from_numpy(arr)).requires_grad_(requires_grad)
        c, t = cb, tb
        for step in self.steps:
            c, t = apply_step(c, step), apply_step(t, step)
        assert_geometry(c, t)  # the steps themselves are views under test too
        return cb, tb, c, t

    def pair(self) -> tuple[Any, Any]:
        return self.build()[2:]


_SIZE = st.sampled_from([1, 2, 3, 4] * 4 + [0])  # empty tensors now and then, not often


@st.composite
def _step(draw: Any, shape: tuple[int, ...], max_ndim: int, expand: bool) -> tuple[Any, ...]:
    """One view step valid for ``shape`` that makes the layout less trivial."""
    n = len(shape)
    kinds = ["unsqueeze"] if n < max_ndim else []
    if n:
        kinds += ["transpose", "slice", "narrow"] + (["expand"] if expand else [])
    if n >= 2:
        kinds.append("permute")
    kind = draw(st.sampled_from(kinds + [k for k in kinds if k in ("permute", "slice")]))
    dim = draw(st.integers(0, n - 1)) if n else 0
    if kind == "unsqueeze":
        return ("unsqueeze", draw(st.integers(-n - 1, n)))
    if kind == "transpose":
        return ("transpose", dim, draw(st.integers(-n, n - 1)))
    if kind == "permute":
        return ("permute", tuple(draw(st.permutations(range(n)))))
    if kind == "slice":  # mostly non-empty, often stepped, sometimes out of range
        start = draw(st.sampled_from([None, None, 0, 1, -2, 5]))
        stop = draw(st.sampled_from([None, None, None, -1, 3, -5]))
        return ("slice", dim, slice(start, stop, draw(st.sampled_from([None, 2, 2, 3]))))
    if kind == "narrow":
        start = draw(st.integers(0, max(shape[dim] - 1, 0)))
        rest = shape[dim] - start
        return ("narrow", dim, start, draw(st.integers(min(1, rest), rest)))
    # expand: stretch size-1 dims (rarely to 0), keep others (-1 or their size), maybe add a lead
    sizes = [draw(st.sampled_from([2, 3, 1, 2, 3, 0])) if s == 1 else
             draw(st.sampled_from([-1, s])) for s in shape]
    if n < max_ndim and draw(st.booleans()):
        sizes.insert(0, draw(st.sampled_from([1, 2])))
    return ("expand", tuple(sizes))


@st.composite
def layouts(draw: Any, dtypes: list[str] | None = None, min_ndim: int = 0, max_ndim: int = 4,
            max_steps: int = 3, expand: bool = True) -> Layout:
    """Layouts of up to ``max_ndim`` dims: contiguous, transposed, strided, expanded (unless
    ``expand=False``: overlapping memory cannot be written to)..."""
    # bias towards 2-3 dims and 1-2 steps: small enough to read, rich enough to be strided
    ndim = draw(st.sampled_from([n for n in (2, 3, 1, 4, 0, 5) if min_ndim <= n <= max_ndim]))
    shape = tuple(draw(_SIZE) for _ in range(ndim))
    dtype = draw(st.sampled_from(dtypes or ALL_DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    meta = torch.empty(shape, device="meta")
    steps = []
    for _ in range(draw(st.sampled_from([n for n in (1, 2, 0, 3, 4) if n <= max_steps]))):
        step = draw(_step(tuple(meta.shape), max_ndim, expand))
        meta = apply_step(meta, step)
        steps.append(step)
    if meta.ndim < min_ndim:  # a rare narrow+... never drops dims, but be explicit
        return Layout(shape, dtype, seed)
    return Layout(shape, dtype, seed, tuple(steps))


# ------------------------------------------------------------------ comparing results
def dtype_name(d: Any) -> str:
    return str(d).split(".")[-1]


def storage_base(x: Any) -> int:
    """Address of element 0 of ``x``'s storage, from the public API of either library."""
    if isinstance(x, torch.Tensor):  # torch's data_ptr() is 0 for every empty tensor
        return x.untyped_storage().data_ptr()
    return x.data_ptr() - x.storage_offset() * x.element_size()


def shares_memory(out: Any, src: Any) -> bool | None:
    """Whether ``out`` lives on ``src``'s storage; None when torch cannot tell (no storage)."""
    if isinstance(out, torch.Tensor) and (out.untyped_storage().nbytes() == 0
                                          or src.untyped_storage().nbytes() == 0):
        return None
    return storage_base(out) == storage_base(src)


def assert_geometry(c: Any, t: Any) -> None:
    """Same dtype, shape, strides, storage offset and contiguity."""
    assert isinstance(c, convkit.Tensor), type(c)
    assert dtype_name(c.dtype) == dtype_name(t.dtype)
    assert tuple(c.shape) == tuple(t.shape)
    assert c.stride() == t.stride(), (c.stride(), t.stride())
    assert c.storage_offset() == t.storage_offset(), (c.storage_offset(), t.storage_offset())
    assert c.is_contiguous() == t.is_contiguous()


def assert_same(c: Any, t: Any, c_src: Any = None, t_src: Any = None,
                geometry: bool = True) -> None:
    """``c`` equals torch's ``t`` in values and (optionally) geometry and memory sharing."""
    if isinstance(t, tuple | list):
        assert isinstance(c, tuple | list) and len(c) == len(t), (c, t)
        for ci, ti in zip(c, t, strict=True):
            assert_same(ci, ti, c_src, t_src, geometry)
        return
    if geometry:
        assert_geometry(c, t)
    else:
        assert dtype_name(c.dtype) == dtype_name(t.dtype)
        assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())
    if t_src is not None:
        shared = shares_memory(t, t_src)
        if shared is not None:
            assert shares_memory(c, c_src) == shared, f"torch shares memory: {shared}"


def error_kind(e: BaseException) -> type:
    return next(k for k in ERROR_KINDS if isinstance(e, k))


def _event(name: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (a no-op outside hypothesis)."""
    if currently_in_test_context():
        event(name)


def run_both(op: Callable[..., Any], c_args: tuple[Any, ...], t_args: tuple[Any, ...]
             ) -> tuple[Any, Any] | None:
    """``op`` on both libraries; None if both raised the same error class (else fail)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings (x.T on 3-d ...)
        try:
            t_out = op(torch, *t_args)
        except ERROR_KINDS as e:
            try:
                c_out = op(convkit, *c_args)
            except ERROR_KINDS as ce:
                assert error_kind(ce) is error_kind(e), f"convkit {ce!r}, torch {e!r}"
                _event(f"both raised {error_kind(e).__name__}")
                return None
            raise AssertionError(f"torch raised {e!r}, convkit returned {c_out!r}") from None
        _event("both succeeded")
        return op(convkit, *c_args), t_out


def write_through(c_out: Any, t_out: Any, c_src: Any, t_src: Any) -> None:
    """Write into the result's first element; the source must change exactly as in torch."""
    outs = list(t_out) if isinstance(t_out, tuple | list) else [t_out]
    c_outs = list(c_out) if isinstance(c_out, tuple | list) else [c_out]
    for co, to in zip(c_outs, outs, strict=True):
        if to.numel() == 0:
            continue
        index = (0,) * to.ndim
        old = to[index].item()
        # a different value that every dtype holds (uint8 255 -> 254, int8 -40 -> -39)
        new = (not old) if to.dtype == torch.bool else old - 1 if old.real > 0 else old + 1
        to[index] = new
        co[index] = new
        np.testing.assert_array_equal(c_src.numpy(), t_src.numpy())
        np.testing.assert_array_equal(co.numpy(), to.numpy())


def assert_grads_match(layout: Layout, op: Callable[..., Any], seed: int = 0) -> None:
    """Backward a random upstream gradient through ``op`` (on float64); compare x.grad."""
    cb, tb, c, t = layout.build("float64", requires_grad=True)
    outs = run_both(op, (c,), (t,))
    if outs is None:
        return
    c_out, t_out = outs
    c_outs = list(c_out) if isinstance(c_out, tuple | list) else [c_out]
    t_outs = list(t_out) if isinstance(t_out, tuple | list) else [t_out]
    rng = np.random.default_rng(seed)
    c_loss, t_loss = 0, 0
    for co, to in zip(c_outs, t_outs, strict=True):
        g = rng.standard_normal(tuple(to.shape))
        c_loss = c_loss + (co * convkit.tensor(g)).sum()
        t_loss = t_loss + (to * torch.tensor(g)).sum()
    if not isinstance(t_loss, torch.Tensor) or not t_loss.requires_grad:
        return
    t_loss.backward()
    c_loss.backward()
    assert (cb.grad is None) == (tb.grad is None)
    if tb.grad is not None:
        np.testing.assert_allclose(cb.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)
