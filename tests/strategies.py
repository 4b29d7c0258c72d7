"""Shared helpers for the differential tests: the same data into convkit and PyTorch.

A test is written once as ``fn(lib, *tensors)`` and run with ``lib=convkit`` and
``lib=torch``; convkit's answer is then compared with torch's (values, dtype, shape, or the
exception class). Tensors are described by a :class:`Spec` (a NumPy base array plus a
layout) so that both libraries get equal values in the same memory layout, including
non-contiguous ones (transposed, sliced, expanded).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import convkit

LIBS = (convkit, torch)

BOOL = ["bool"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float16", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]
ALL_DTYPES = BOOL + INTS + FLOATS + COMPLEX
REAL_DTYPES = BOOL + INTS + FLOATS
NUMERIC_DTYPES = INTS + FLOATS + COMPLEX

# CONVKIT_EXAMPLES=10 explores ten times as many examples, randomly (a bug hunt); by default
# the examples are few and fixed, so that the suite is fast and repeatable.
_SCALE = float(os.environ.get("CONVKIT_EXAMPLES", "1"))
SETTINGS = settings(max_examples=int(40 * _SCALE), deadline=None, derandomize=_SCALE == 1,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
FEW = settings(SETTINGS, max_examples=int(25 * _SCALE))


def np_dtype(name: str) -> np.dtype:
    return np.dtype(np.bool_ if name == "bool" else name)


def dtype_name(d: Any) -> str:
    """``'float32'`` for both ``torch.float32`` and ``convkit.float32``."""
    return str(d).split(".")[-1]


def lib_dtype(lib: Any, name: str) -> Any:
    return getattr(lib, name)


# ----------------------------------------------------------------------- values
def elements(name: str, *, small: bool = True, nonzero: bool = False,
             positive: bool = False) -> st.SearchStrategy:
    """Element values of dtype ``name``; ``small`` keeps integer arithmetic free of overflow."""
    if name == "bool":
        return st.just(True) if nonzero else st.booleans()
    if name in INTS:
        info = np.iinfo(np_dtype(name))
        lo, hi = (max(info.min, -20), min(info.max, 20)) if small else (info.min, info.max)
        if positive:
            lo = 1
        s = st.integers(lo, hi)
        return s.filter(lambda v: v != 0) if nonzero else s
    if name in FLOATS:
        width = {"float16": 16, "float32": 32, "float64": 64}[name]
        lo = 0.125 if positive else -10.0  # 0.125: exact in float16 too
        s = st.floats(lo, 10.0, width=width, allow_nan=False, allow_infinity=False,
                      allow_subnormal=False)
        return s.filter(lambda v: abs(v) > 1e-3) if nonzero else s
    width = 64 if name == "complex64" else 128

    def no_subnormal_parts(z: complex) -> complex:  # as allow_subnormal=False for floats
        return complex(*(0.0 if abs(v) < 1e-30 else v for v in (z.real, z.imag)))
    return st.complex_numbers(max_magnitude=10.0, min_magnitude=1e-3 if nonzero else 0,
                              allow_nan=False, allow_infinity=False, width=width
                              ).map(no_subnormal_parts).filter(lambda z: not nonzero or z != 0)


def arrays(name: str, shape: Sequence[int], **kw: Any) -> st.SearchStrategy:
    return hnp.arrays(np_dtype(name), tuple(shape), elements=elements(name, **kw))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@st.composite
def broadcastable_shapes(draw: Any, n: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4) -> tuple[tuple[int, ...], ...]:
    """``n`` shapes that broadcast together (drawn by shrinking dims of a common shape)."""
    return draw(hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, max_side=max_side)).input_shapes


LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")


@dataclass
class Spec:
    """A tensor both libraries can build: ``base`` values seen through ``layout``.

    ``transposed``: ``base`` has the reversed shape and is permuted back (strides reversed);
    ``sliced``: ``base`` has the last dim doubled and every other element is taken;
    ``expanded``: ``base`` has size 1 in the first dim, expanded to the full shape (stride 0).
    """

    base: np.ndarray
    layout: str
    shape: tuple[int, ...]

    def build(self, lib: Any, requires_grad: bool = False) -> Any:
        leaf = lib.from_numpy(self.base.copy())
        if requires_grad:
            leaf.requires_grad_(True)
        t = leaf
        if self.layout == "transposed":
            t = leaf.permute(*reversed(range(leaf.ndim)))
        elif self.layout == "sliced":
            t = leaf[..., ::2]
        elif self.layout == "expanded":
            t = leaf.expand(*self.shape)
        return (t, leaf) if requires_grad else t

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self.build(torch).numpy())


@st.composite
def specs(draw: Any, name: str, shape: Sequence[int] | None = None,
          layouts: Sequence[str] = LAYOUTS, **kw: Any) -> Spec:
    """A :class:`Spec` of dtype ``name``; ``shape`` is drawn when not given."""
    shape = tuple(draw(shapes) if shape is None else shape)
    layout = draw(st.sampled_from(layouts)) if shape else "contiguous"
    if layout == "transposed" and len(shape) < 2:
        layout = "sliced"
    if layout == "expanded" and shape[0] == 1:
        layout = "contiguous"
    base_shape = {
        "contiguous": shape,
        "transposed": tuple(reversed(shape)),
        "sliced": shape[:-1] + (2 * shape[-1],) if shape else shape,
        "expanded": (1,) + shape[1:],
    }[layout]
    return Spec(draw(arrays(name, base_shape, **kw)), layout, shape)


# ----------------------------------------------------------------------- running both
@dataclass
class Raised:
    """What a library raised instead of returning."""

    error: BaseException


def _builtin_class(e: BaseException) -> type[BaseException]:
    """torch's errors can be its own subclasses (``torch.OutOfMemoryError``...): compare the
    nearest builtin class, which is what user code catches."""
    for cls in type(e).__mro__:
        if cls.__module__ == "builtins":
            return cls
    return type(e)


def call(lib: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(lib, *args)`` with Specs built for ``lib``; an exception is returned as Raised."""
    built = [a.build(lib) if isinstance(a, Spec) else a for a in args]
    try:
        return fn(lib, *built)
    except Exception as e:
        return Raised(e)


def run_both(fn: Callable[..., Any], *args: Any, match_message: bool | str = False,
             ok: bool | None = None) -> Any:
    """Run ``fn`` on both libraries; return ``(convkit result, torch result)``.

    When torch raises, convkit must raise the same builtin exception class (and, with
    ``match_message``, the same text with ``torch`` read as ``convkit``, or with
    ``match_message="prefix"`` a text that starts with it); then None is returned. When
    torch succeeds, convkit must too. ``ok=True`` (``False``) states that torch succeeds
    (raises): a guard against tests that pass only because both libraries refuse a
    malformed call.
    """
    ours = call(convkit, fn, *args)
    theirs = call(torch, fn, *args)
    if isinstance(theirs, Raised) and "ComplexHalf" in str(theirs.error):
        return None  # convkit has no complex32: it computes these in complex64 instead
    if ok is not None:
        outcome = f"raised {theirs.error!r}" if isinstance(theirs, Raised) else "succeeded"
        assert isinstance(theirs, Raised) != ok, f"test bug: torch {outcome}"
    if isinstance(theirs, Raised):
        expected = _builtin_class(theirs.error)
        assert isinstance(ours, Raised), (
            f"torch raised {expected.__name__}: {theirs.error}, convkit returned {ours!r}")
        assert isinstance(ours.error, expected), (
            f"torch raised {expected.__name__}: {theirs.error}; convkit raised "
            f"{type(ours.error).__name__}: {ours.error}")
        # TypeErrors come from torch's argument parser, whose long listings of overloads
        # convkit does not copy: for those the class is enough
        if match_message and expected is not TypeError:
            wanted = str(theirs.error).replace("torch.", "convkit.")
            same = (str(ours.error).startswith(wanted) if match_message == "prefix"
                    else str(ours.error) == wanted)
            assert same, f"messages differ:\n  convkit: {ours.error}\n  torch:   {theirs.error}"
        return None
    if isinstance(ours, Raised):
        raise AssertionError(f"convkit raised {type(ours.error).__name__}: {ours.error}; torch "
                             f"returned {theirs!r}") from ours.error
    return ours, theirs


def default_tol(name: str) -> tuple[float, float]:
    return {"float16": (2e-3, 2e-3), "float32": (1e-5, 1e-5), "float64": (1e-10, 1e-12),
            "complex64": (1e-5, 1e-5), "complex128": (1e-10, 1e-12)}.get(name, (0.0, 0.0))


def assert_same(ours: Any, theirs: Any, *, rtol: float | None = None,
                atol: float | None = None, check_dtype: bool = True) -> None:
    """Same type of result; for tensors the same dtype, shape and values (exact for
    integers and bools, NaNs equal); tuples and lists element by element."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, convkit.Tensor), f"expected a Tensor, got {type(ours).__name__}"
        name = dtype_name(theirs.dtype)
        if check_dtype:
            assert ours.dtype.name == name, f"dtype: convkit {ours.dtype}, torch {theirs.dtype}"
        assert tuple(ours.shape) == tuple(theirs.shape), (
            f"shape: convkit {tuple(ours.shape)}, torch {tuple(theirs.shape)}")
        a = np.asarray(ours.detach().numpy())
        b = theirs.detach().resolve_conj().numpy()
        if name in BOOL + INTS:
            np.testing.assert_array_equal(a, b)
        else:
            r, t = default_tol(name)
            np.testing.assert_allclose(a, b, rtol=r if rtol is None else rtol,
                                       atol=t if atol is None else atol, equal_nan=True)
    elif isinstance(theirs, tuple | list):
        assert isinstance(ours, tuple | list) and len(ours) == len(theirs), (ours, theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert_same(o, t, rtol=rtol, atol=atol, check_dtype=check_dtype)
    elif isinstance(theirs, torch.dtype):
        assert isinstance(ours, convkit.dtype) and ours.name == dtype_name(theirs), (ours, theirs)
    elif isinstance(theirs, float) and isinstance(ours, float):
        np.testing.assert_allclose(ours, theirs, rtol=rtol or 1e-6, atol=atol or 0,
                                   equal_nan=True)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (ours, theirs)


def _without_complex32(theirs: Any) -> tuple[Any, bool]:
    """Deliberate difference: where torch gives complex32 (a float16 tensor meeting a
    complex number), convkit, which has no complex32, gives complex64."""
    if isinstance(theirs, torch.Tensor) and theirs.dtype == torch.complex32:
        return theirs.to(torch.complex64), True
    if isinstance(theirs, tuple | list):
        pairs = [_without_complex32(t) for t in theirs]
        return type(theirs)(t for t, _ in pairs), any(c for _, c in pairs)
    return theirs, False


def check(fn: Callable[..., Any], *args: Any, **tol: Any) -> None:
    """Run ``fn`` on both libraries and compare whatever came back (errors included)."""
    pair = run_both(fn, *args, match_message=tol.pop("match_message", False),
                    ok=tol.pop("ok", None))
    if pair is not None:
        ours, theirs = pair
        theirs, half = _without_complex32(theirs)
        if half:
            tol = {"rtol": 4e-3, "atol": 4e-3}
        assert_same(ours, theirs, **tol)


# ----------------------------------------------------------------------- gradients
def check_grad(fn: Callable[..., Any], *specs_: Spec, seed: int = 0, gradcheck: bool = True,
               rtol: float = 1e-7, atol: float = 1e-9) -> None:
    """Compare input gradients of ``fn`` with torch's for a random upstream gradient, then
    run convkit's ``gradcheck`` (finite differences) on the same function.

    Inputs are float64 leaves (in the Spec's layout); the output may be a tensor or a tuple
    whose first element is differentiable (``max(dim)``).
    """
    rng = np.random.default_rng(seed)
    upstream: np.ndarray | None = None
    grads: dict[str, list[np.ndarray]] = {}
    for lib in (torch, convkit):
        built = [s.build(lib, requires_grad=True) for s in specs_]
        out = fn(lib, *[t for t, _ in built])
        out = out[0] if isinstance(out, tuple) else out
        if upstream is None:
            upstream = rng.standard_normal(tuple(out.shape))
        assert tuple(out.shape) == upstream.shape
        out.backward(lib.from_numpy(upstream.astype(np_dtype(dtype_name(out.dtype)))))
        grads[lib.__name__] = [
            np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
            for _, leaf in built]
    for ours, theirs in zip(grads["convkit"], grads["torch"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    if gradcheck:
        leaves = [convkit.from_numpy(s.values.copy()).requires_grad_(True) for s in specs_]

        def first(*xs: Any) -> Any:
            out = fn(convkit, *xs)
            return out[0] if isinstance(out, tuple) else out

        assert convkit.autograd.gradcheck(first, leaves)


@contextlib.contextmanager
def default_dtype(name: str) -> Any:
    """Set both libraries' default float dtype for a block, restoring it afterwards."""
    old = (convkit.get_default_dtype(), torch.get_default_dtype())
    convkit.set_default_dtype(getattr(convkit, name))
    torch.set_default_dtype(getattr(torch, name))
    try:
        yield
    finally:
        convkit.set_default_dtype(old[0])
        torch.set_default_dtype(old[1])


def scalars(kind: str) -> st.SearchStrategy:
    """Python scalars of one kind (bool, int, float, complex)."""
    return {
        "bool": st.booleans(),
        "int": st.integers(-5, 5),
        "float": st.floats(-5, 5, allow_nan=False, allow_subnormal=False).map(
            lambda v: float(np.float32(v))),
        "complex": st.complex_numbers(max_magnitude=5, allow_nan=False, allow_infinity=False,
                                      width=64).map(complex),
    }[kind]
