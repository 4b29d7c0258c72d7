"""Autograd against real PyTorch: every scenario runs once with ``lib=torch`` and once with
``lib=convkit`` on the same values, and the two must agree (results, gradients, exception
classes, node names). PyTorch is the oracle only; convkit is never compared with itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LIBS = (torch, convkit)
# Most specific first: NotImplementedError and the like subclass RuntimeError.
ERROR_CLASSES = (BufferError, IndexError, TypeError, ValueError, NotImplementedError,
                 RuntimeError)


# ------------------------------------------------------------------ oracle helpers
def _error_class(e: BaseException) -> type:
    return next(k for k in ERROR_CLASSES if isinstance(e, k))


def _run(fn: Callable[[Any], Any], lib: Any) -> tuple[Any, BaseException | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about .grad of non-leaves, etc.
        try:
            return fn(lib), None
        except ERROR_CLASSES as e:
            return None, e


def assert_same(c: Any, t: Any, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """convkit's ``c`` equals torch's ``t``: tensors by dtype, shape and values, the rest
    by equality (strings with ``torch.`` read as ``convkit.``)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(c, convkit.Tensor), f"convkit gave {c!r}, torch {t!r}"
        assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (c.dtype, t.dtype)
        assert tuple(c.shape) == tuple(t.shape), (tuple(c.shape), tuple(t.shape))
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=rtol,
                                   atol=atol, equal_nan=True)
    elif isinstance(t, tuple | list):
        assert isinstance(c, tuple | list) and len(c) == len(t), (c, t)
        for ci, ti in zip(c, t, strict=True):
            assert_same(ci, ti, rtol, atol)
    elif isinstance(t, torch.dtype):
        assert str(c) == str(t).replace("torch.", "convkit."), (c, t)
    elif isinstance(t, str):
        assert c == t.replace("torch.", "convkit."), (c, t)
    elif isinstance(t, float):
        assert c == pytest.approx(t, rel=rtol, abs=atol), (c, t)
    else:
        assert c == t, (c, t)


def same(fn: Callable[[Any], Any], rtol: float = 1e-6, atol: float = 1e-9) -> Any:
    """Run ``fn`` on both libraries; both must return equal results or raise the same class.

    Returns torch's result, or ``(torch_error, convkit_error)`` when both raised.
    """
    t_out, t_err = _run(fn, torch)
    c_out, c_err = _run(fn, convkit)
    if t_err is not None or c_err is not None:
        assert t_err is not None, f"convkit raised {c_err!r}; torch returned {t_out!r}"
        assert c_err is not None, f"torch raised {t_err!r}; convkit returned {c_out!r}"
        assert _error_class(c_err) is _error_class(t_err), (c_err, t_err)
        return t_err, c_err
    assert_same(c_out, t_out, rtol, atol)
    return t_out


def raises_like_torch(fn: Callable[[Any], Any], cls: type = RuntimeError,
                      match: str | None = None) -> None:
    """Both libraries raise ``cls``; convkit's message contains ``match`` if given."""
    result = same(fn)
    assert isinstance(result, tuple) and len(result) == 2 \
        and isinstance(result[0], BaseException), f"expected both to raise, got {result!r}"
    t_err, c_err = result
    assert isinstance(t_err, cls) and isinstance(c_err, cls), (t_err, c_err)
    if match is not None:
        assert match in str(c_err), (str(c_err), str(t_err))


def node_name(t: Any) -> str | None:
    fn = t.grad_fn
    return None if fn is None else type(fn).__name__


values = st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=1, max_size=6)


# ------------------------------------------------------------------ requires_grad and leaves
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64", "complex128"])
def test_requires_grad_on_float_and_complex(dtype: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.zeros(2, dtype=getattr(lib, dtype))
        y = x.requires_grad_()
        z = lib.ones(2, dtype=getattr(lib, dtype), requires_grad=True)
        return y is x, x.requires_grad, x.is_leaf, z.requires_grad, x.grad_fn is None

    same(scenario)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("how", ["method", "setter", "factory", "tensor"])
def test_requires_grad_refused_for_non_float(dtype: str, how: str) -> None:
    def scenario(lib: Any) -> Any:
        d = getattr(lib, dtype)
        if how == "method":
            return lib.zeros(2, dtype=d).requires_grad_()
        if how == "setter":
            x = lib.zeros(2, dtype=d)
            x.requires_grad = True
            return x
        if how == "factory":
            return lib.zeros(2, dtype=d, requires_grad=True)
        return lib.tensor([1, 0], dtype=d, requires_grad=True)

    raises_like_torch(scenario, RuntimeError, "Tensors of floating point")


def test_requires_grad_false_on_non_leaf_raises_and_true_is_noop() -> None:
    def set_false(lib: Any) -> Any:
        y = lib.tensor([1.0], requires_grad=True) * 2
        y.requires_grad = False

    raises_like_torch(set_false, RuntimeError, "leaf variables")

    def set_true(lib: Any) -> Any:
        y = lib.tensor([1.0], requires_grad=True) * 2
        y.requires_grad_(True)
        return y.requires_grad, y.is_leaf

    same(set_true)


def test_requires_grad_false_on_leaf() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.requires_grad_(False)
        y = x * 2
        return x.requires_grad, y.requires_grad, y.grad_fn is None, repr(x)

    same(scenario)


def test_grad_fn_and_is_leaf() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        y = x * c
        z = c * 2  # no input requires grad: a leaf without history
        with lib.no_grad():
            w = x * 2
        return (x.is_leaf, y.is_leaf, z.is_leaf, w.is_leaf, node_name(x), node_name(y),
                node_name(z), node_name(w), y.requires_grad, z.requires_grad, w.requires_grad,
                type(y.grad_fn.next_functions[0][0]).__name__)

    same(scenario)


# ------------------------------------------------------------------ .grad accumulation
@SETTINGS
@given(values, st.integers(1, 4))
def test_grad_accumulates_across_backward_calls(xs: list[float], calls: int) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor(xs, requires_grad=True)
        grads = []
        for k in range(calls):
            (x * x * (k + 1)).sum().backward()
            grads.append(x.grad.clone())
        return grads, x.grad.dtype

    same(scenario, rtol=1e-5)


def test_grad_reset_to_none_then_backward() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).sum().backward()
        first = x.grad
        x.grad = None
        (x * 5).sum().backward()
        return first, x.grad

    same(scenario)


def test_grad_setter_checks_shape_and_dtype() -> None:
    raises_like_torch(lambda lib: setattr(lib.zeros(2, requires_grad=True), "grad",
                                          lib.zeros(3)), RuntimeError)
    raises_like_torch(lambda lib: setattr(lib.zeros(2, requires_grad=True), "grad",
                                          lib.zeros(2, dtype=lib.float64)), RuntimeError)


def test_leaf_grad_does_not_alias_the_incoming_gradient() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        g = lib.tensor([5.0, 6.0])
        (x + w).backward(g)  # x and w receive the same gradient
        x.grad.add_(100)
        return g, x.grad, w.grad

    same(scenario)


# ------------------------------------------------------------------ retain_grad
def test_retain_grad_on_non_leaf() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 3
        y.retain_grad()
        u = y.exp()  # not retained
        (y * u).sum().backward()
        return y.grad, u.grad, x.grad, y.retains_grad, u.retains_grad

    same(scenario, rtol=1e-5)


def test_retain_grad_accumulates_and_follows_in_place_ops() -> None:
    def accumulate(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        (y * y).sum().backward(retain_graph=True)
        (y * y).sum().backward()
        return y.grad, x.grad

    same(accumulate)

    def after_in_place(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)  # y.grad is then the gradient of the new value, as in PyTorch
        (y * y).sum().backward()
        return y.grad, x.grad

    same(after_in_place)


def test_retain_grad_requires_grad() -> None:
    raises_like_torch(lambda lib: lib.tensor([1.0]).retain_grad(), RuntimeError)

    def on_leaf(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.retain_grad()
        (x * 2).sum().backward()
        return x.grad

    same(on_leaf)


# ------------------------------------------------------------------ backward()
@SETTINGS
@given(values, values)
def test_backward_with_gradient_on_non_scalar(xs: list[float], gs: list[float]) -> None:
    n = min(len(xs), len(gs))

    def scenario(lib: Any) -> Any:
        x = lib.tensor(xs[:n], requires_grad=True)
        (x * x).backward(lib.tensor(gs[:n]))
        return x.grad

    same(scenario, rtol=1e-5, atol=1e-6)


def test_backward_errors() -> None:
    raises_like_torch(lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
                      RuntimeError, "grad can be implicitly created only for scalar outputs")
    raises_like_torch(lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) * 2).backward(
        lib.ones(3)), RuntimeError, "Mismatch in shape")
    raises_like_torch(lambda lib: lib.tensor([1.0, 2.0]).sum().backward(), RuntimeError,
                      "does not require grad")


def test_backward_gradient_takes_the_output_dtype() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.backward(lib.tensor([1.0, 2.0], dtype=lib.float64))  # the root is the leaf
        y = lib.tensor([1.0, 2.0], requires_grad=True)
        (y * 1).backward(lib.tensor([3, 4]))
        return x.grad, y.grad

    same(scenario)


@pytest.mark.parametrize("op", ["exp", "mul", "sin", "pow", "div"])
def test_backward_through_freed_graph(op: str) -> None:
    def forward(lib: Any, x: Any) -> Any:
        return {"exp": lambda: x.exp(), "mul": lambda: x * x, "sin": lambda: x.sin(),
                "pow": lambda: x ** 3, "div": lambda: 1 / x}[op]().sum()

    def twice(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = forward(lib, x)
        y.backward()
        y.backward()

    raises_like_torch(twice, RuntimeError, "backward through the graph a second time")

    def retained(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = forward(lib, x)
        y.backward(retain_graph=True)
        first = x.grad.clone()
        y.backward()
        return first, x.grad

    same(retained, rtol=1e-5)


def test_backward_inputs_restricts_accumulation() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        (x * w).sum().backward(inputs=[x])
        return x.grad, w.grad

    same(scenario)


def test_backward_create_graph_makes_grad_differentiable() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        return g, g.requires_grad, node_name(g)

    same(scenario)


# ------------------------------------------------------------------ autograd.grad
def test_autograd_grad_retain_graph() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        a = lib.autograd.grad(y, x, retain_graph=True)
        b = lib.autograd.grad(y, [x])
        return a, b, x.grad  # .grad untouched

    same(scenario)

    def freed(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        lib.autograd.grad(y, x)
        lib.autograd.grad(y, x)

    raises_like_torch(freed, RuntimeError, "second time")


def test_autograd_grad_allow_unused() -> None:
    def unused(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        return lib.autograd.grad((x * 2).sum(), [x, w])

    raises_like_torch(unused, RuntimeError, "appears to not have been used in the graph")

    def allowed(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        return lib.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)

    same(allowed)


def test_autograd_grad_of_input_not_requiring_grad() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([1.0, 2.0])
        return lib.autograd.grad((x * c).sum(), [c])

    raises_like_torch(scenario, RuntimeError)


@SETTINGS
@given(values)
def test_autograd_grad_grad_outputs(gs: list[float]) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.arange(len(gs), dtype=lib.float64).requires_grad_()
        y = x.sin() * 3
        return lib.autograd.grad([y], [x], grad_outputs=[lib.tensor(gs, dtype=lib.float64)])

    same(scenario, rtol=1e-12)


def test_autograd_grad_of_a_non_leaf() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        y = (h * h).sum()
        return lib.autograd.grad(y, [h, x])

    same(scenario)


@SETTINGS
@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=5))
def test_second_derivatives_with_create_graph(xs: list[float]) -> None:
    def cube(lib: Any) -> Any:
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x)
        return g, g2, g.requires_grad  # 3x^2 and 6x

    same(cube, rtol=1e-12, atol=1e-12)

    def sin_x(lib: Any) -> Any:
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((lib.sin(x) * x).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x)
        return g, g2  # sin + x cos and 2 cos - x sin

    same(sin_x, rtol=1e-12, atol=1e-12)


def test_third_derivative() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.5, -1.5], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((x ** 4).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        return g, g2, g3

    same(scenario, rtol=1e-12)


# ------------------------------------------------------------------ grad modes
def test_no_grad_and_enable_grad_contexts() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            a = x * 2
            inner = lib.is_grad_enabled()
            with lib.enable_grad():
                b = x * 2
            c = x * 2
        return (a.requires_grad, b.requires_grad, c.requires_grad, inner,
                lib.is_grad_enabled(), node_name(b))

    same(scenario)


def test_grad_mode_decorators() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)

        @lib.no_grad()
        def called() -> Any:
            return x * 2

        @lib.no_grad
        def bare() -> Any:
            return x * 2

        @lib.enable_grad()
        def enabled() -> Any:
            return x * 2

        @lib.enable_grad
        def enabled_bare() -> Any:
            return x * 2

        @lib.set_grad_enabled(False)
        def disabled() -> Any:
            return x * 2

        with lib.no_grad():
            e, eb = enabled(), enabled_bare()
        return (called().requires_grad, bare().requires_grad, e.requires_grad,
                eb.requires_grad, disabled().requires_grad, lib.is_grad_enabled(),
                called.__name__, bare.__name__)

    same(scenario)


def test_set_grad_enabled_as_call_and_context() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.set_grad_enabled(False)
        a = x * 2
        off = lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        with lib.set_grad_enabled(False):
            b = x * 2
        with lib.set_grad_enabled(True):
            c = x * 2
        return a.requires_grad, off, b.requires_grad, c.requires_grad, lib.is_grad_enabled()

    same(scenario)


def test_grad_mode_restored_after_exception() -> None:
    def scenario(lib: Any) -> Any:
        try:
            with lib.no_grad():
                raise KeyError("boom")
        except KeyError:
            pass
        return lib.is_grad_enabled()

    same(scenario)


# ------------------------------------------------------------------ detach and .data
def test_detach_shares_memory_and_version_counter() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        d = y.detach()
        d[0] = 10.0  # a write through the detached tensor is seen by y
        return (y.detach().clone(), d.is_leaf, d.requires_grad, y._version, d._version,
                d.data_ptr() == y.data_ptr())

    same(scenario, rtol=1e-6)

    def breaks_backward(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.detach().add_(1)  # same version counter: autograd notices
        y.sum().backward()

    raises_like_torch(breaks_backward, RuntimeError, "modified by an inplace operation")


def test_data_shares_memory_but_hides_in_place_changes() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        d = y.data
        d.add_(1)  # its own version counter: backward uses the modified values, no error
        y.sum().backward()
        return x.grad, y._version, d.requires_grad, d.data_ptr() == y.data_ptr()

    same(scenario, rtol=1e-6)


def test_data_setter_swaps_the_memory() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.data = lib.tensor([5.0, 6.0, 7.0])
        (x * x).sum().backward()
        return x, x.grad

    same(scenario)


def test_detach_in_place() -> None:
    def non_leaf(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.detach_()
        return y.is_leaf, y.requires_grad, repr(y)

    same(non_leaf)
    raises_like_torch(lambda lib: lib.tensor([1.0, 2.0], requires_grad=True)[:1].detach_(),
                      RuntimeError, "Can't detach views in-place")


# ------------------------------------------------------------------ version counters
def test_version_counter_is_shared_by_views() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.zeros(2, 3)
        v = x[1]
        t = x.t()
        versions = []
        v.add_(1)
        versions.append((x._version, v._version, t._version))
        x.mul_(2)
        x[0, 0] = 5.0
        versions.append((x._version, v._version, t._version))
        x[lib.tensor([0, 1]), 1] = 7.0  # advanced-index write: one bump
        d = x.detach()
        d.zero_()
        versions.append((x._version, d._version))
        x.data.add_(1)  # .data has its own counter
        versions.append((x._version, x.data._version))
        return versions, x

    same(scenario)


@pytest.mark.parametrize("case", ["exp", "sigmoid", "tanh", "mul_input", "pow_input",
                                  "div_output_of_sqrt", "where_condition", "max_all"])
def test_saved_tensor_modified_in_place_raises_at_backward(case: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.5, 2.0], requires_grad=True)
        if case == "exp":
            y = x.exp()
            y.add_(1)
            loss = y.sum()
        elif case == "sigmoid":
            y = x.sigmoid()
            y.mul_(2)
            loss = y.sum()
        elif case == "tanh":
            y = x.tanh()
            y.sub_(1)
            loss = y.sum()
        elif case == "mul_input":
            h = x * 2
            y = h * h
            h.add_(1)
            loss = y.sum()
        elif case == "pow_input":
            h = x + 1
            y = h ** 3
            h.mul_(2)
            loss = y.sum()
        elif case == "div_output_of_sqrt":
            y = x.sqrt()
            y.div_(2)
            loss = y.sum()
        elif case == "where_condition":
            cond = lib.tensor([True, False])
            y = lib.where(cond, x, x * 0)
            cond.copy_(lib.tensor([False, True]))
            loss = y.sum()
        else:
            y = x.max()
            y.mul_(2)
            loss = y
        loss.backward()

    raises_like_torch(scenario, RuntimeError, "modified by an inplace operation")


def test_in_place_on_a_leaf_that_requires_grad() -> None:
    raises_like_torch(lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).add_(1),
                      RuntimeError, "a leaf Variable that requires grad")
    raises_like_torch(lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).zero_(),
                      RuntimeError, "a leaf Variable that requires grad")

    def allowed_under_no_grad(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            x.mul_(3)
        (x * x).sum().backward()
        return x, x.grad, x._version

    same(allowed_under_no_grad)


@pytest.mark.parametrize("make_view", [
    lambda x: x[1:], lambda x: x[0], lambda x: x.view(2, 2), lambda x: x.view(2, 2)[:, 1],
    lambda x: x.unsqueeze(0), lambda x: x.view(2, 2).t(), lambda x: x.narrow(0, 1, 2),
])
def test_in_place_on_a_view_of_a_leaf_that_requires_grad(make_view: Any) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        make_view(x).mul_(2)

    raises_like_torch(scenario, RuntimeError, "view of a leaf Variable")

    def setitem(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        v = make_view(x)
        v[...] = 0.0

    raises_like_torch(setitem, RuntimeError, "view of a leaf Variable")


def test_in_place_into_a_plain_tensor_from_one_that_requires_grad() -> None:
    def scenario(lib: Any) -> Any:
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([2.0, 3.0, 4.0])
        y.mul_(w)  # y's old values are needed for w's gradient
        y.add_(w * w)
        (y * y).sum().backward()
        return w.grad, y, node_name(y)

    same(scenario)


# ------------------------------------------------------------------ in-place on views of non-leaves
def test_in_place_on_a_slice_rebases_history() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y[1:].mul_(2)
        y.sum().backward()
        return x.grad, y, node_name(y)

    same(scenario)


def test_in_place_on_a_reshaped_view_rebases_history() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = x * 1
        v = y.view(2, 2)
        v[0].mul_(x[:2])
        (y * y).sum().backward()
        return x.grad, y, v, node_name(y), node_name(v)

    same(scenario)


def test_sibling_view_sees_a_write_through_another_view() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = x * 1
        v = y[:2]
        w = y[1:]
        w.mul_(10)  # changes v[1] too: v's history must include the write
        (v * v).sum().backward()
        return x.grad, v, node_name(v), node_name(w)

    same(scenario)


def test_view_of_a_plain_tensor_written_with_a_value_that_requires_grad() -> None:
    def scenario(lib: Any) -> Any:
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.zeros(4)
        v = y.view(2, 2)
        v[0].add_(w)
        (v * v).sum().backward()
        return w.grad, y, v.requires_grad, node_name(y), node_name(v)

    same(scenario)


def test_setitem_with_a_value_that_requires_grad() -> None:
    def basic(lib: Any) -> Any:
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.zeros(2, 3)
        y[:, 1] = w * 2
        (y * lib.arange(6.0).view(2, 3)).sum().backward()
        return w.grad, y, node_name(y)

    same(basic)

    def mixed(lib: Any) -> Any:  # node names differ here (IndexPutBackward0 vs CopySlices)
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.zeros(2, 3)
        y[:, 1] = w * 2
        y[0, lib.tensor([0, 2])] = w
        (y * lib.arange(6.0).view(2, 3)).sum().backward()
        return w.grad, y

    same(mixed)


@pytest.mark.parametrize("fill", ["zero_", "fill_", "fill_view"])
def test_overwriting_with_constants_cuts_the_history(fill: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        if fill == "zero_":
            y.zero_()
        elif fill == "fill_":
            y.fill_(4.0)
        else:
            y[1:].fill_(4.0)
        (y * y).sum().backward()
        return x.grad, y, y.requires_grad

    same(scenario)


_IN_PLACE = {
    "mul_": lambda lib, v, w: v.mul_(2.5),
    "add_w": lambda lib, v, w: v.add_(w.reshape(-1)[0] * 3),
    "exp_": lambda lib, v, w: v.exp_(),
    "zero_": lambda lib, v, w: v.zero_(),
    "copy_w": lambda lib, v, w: v.copy_(w.reshape(-1)[: 1].expand(v.shape) + 1),
    "setitem": lambda lib, v, w: v.__setitem__(..., w.sum()),
    "sub_self": lambda lib, v, w: v.sub_(v.detach() * 0.5),
    "div_": lambda lib, v, w: v.div_(4.0),
}


@st.composite
def view_scenarios(draw: Any) -> tuple[Any, ...]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["all", "slice", "int"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.integers(0, n - 1))
            index.append(slice(start, draw(st.integers(start + 1, n)),
                               draw(st.integers(1, 2))))
        else:
            index.append(slice(None))
    through = draw(st.sampled_from(["index", "flat", "transpose"]))
    op = draw(st.sampled_from(sorted(_IN_PLACE)))
    return shape, tuple(index), through, op, draw(st.integers(0, 2**31 - 1))


@SETTINGS
@given(view_scenarios())
def test_in_place_through_views_matches_pytorch(case: tuple[Any, ...]) -> None:
    shape, index, through, op, seed = case
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.5, 1.5, shape)
    weights = rng.standard_normal(shape)

    def scenario(lib: Any) -> Any:
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(x0[..., :1] + 1, requires_grad=True)
        y = x.sin() * 1  # a non-leaf whose history saves x
        sibling = y.reshape(-1)[:1]  # made before the write
        if through == "flat":
            n = y.numel()
            v = y.view(-1)[n // 3: n]
        elif through == "transpose" and y.ndim > 1:
            v = y.transpose(0, -1)[index[::-1]]
        else:
            v = y[index]
        _IN_PLACE[op](lib, v, w)
        loss = (y * lib.tensor(weights)).sum() + (sibling * 3).sum() + (v * v).sum()
        loss.backward()
        return x.grad, w.grad, y, v

    same(scenario, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ graph shapes
def test_deep_chain_does_not_recurse() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x
        for i in range(5000):
            y = y * 1.0001 if i % 2 else y + 0.001
        y.sum().backward()
        return x.grad, y

    same(scenario, rtol=1e-9)


def test_diamond_graph_sums_each_path_once() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x * 2
        b = a * 3
        c = a.exp()
        d = a + x  # x also reaches the root directly
        (b + c + d * b).sum().backward()
        return x.grad

    same(scenario, rtol=1e-6)


def test_shared_subgraph_used_by_two_roots() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x.sin()
        lib.autograd.backward([(h * 2).sum(), (h * h).sum()])
        return x.grad

    same(scenario)


@pytest.mark.parametrize("use", ["first", "last", "middle"])
def test_multi_output_ops_with_some_outputs_unused(use: str) -> None:
    pick = {"first": 0, "last": -1, "middle": 1}[use]

    def split(lib: Any) -> Any:
        x = lib.arange(7.0, requires_grad=True)
        parts = x.split(3)
        (parts[pick] * 2).sum().backward()
        return x.grad, [p.shape for p in parts]

    same(split)

    def chunk(lib: Any) -> Any:
        x = lib.arange(12.0).view(3, 4).requires_grad_()
        parts = x.chunk(3, dim=0)
        (parts[pick] ** 2).sum().backward()
        return x.grad

    same(chunk)

    def unbind(lib: Any) -> Any:
        x = lib.arange(6.0).view(3, 2).requires_grad_()
        parts = x.unbind(0)
        (parts[pick] * 5).sum().backward()
        return x.grad

    same(unbind)


def test_max_and_min_with_dim_use_values_only() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([[1.0, 5.0, 2.0], [4.0, 2.0, 6.0]], requires_grad=True)
        values, indices = x.max(dim=1)
        low = x.min(dim=0)
        (values * 2).sum().backward()
        (low.values * 3).sum().backward()
        return x.grad, indices, low.indices, node_name(values), indices.requires_grad

    same(scenario)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_grad_has_the_leaf_dtype(dtype: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], dtype=getattr(lib, dtype), requires_grad=True)
        y = x.double() * lib.tensor([3.0, 4.0], dtype=lib.float64)
        z = x.float() * 2
        (y.sum() + z.sum()).backward()
        return x.grad, x.grad.dtype

    same(scenario, rtol=1e-3)


def test_mixed_dtype_promotion_grads() -> None:
    def scenario(lib: Any) -> Any:
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], dtype=lib.float64, requires_grad=True)
        (a * b).sum().backward()
        return a.grad, b.grad

    same(scenario)


def test_broadcast_gradients_are_reduced() -> None:
    def scenario(lib: Any) -> Any:
        a = lib.arange(6.0).view(2, 3).requires_grad_()
        b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        c = lib.tensor([[2.0], [3.0]], requires_grad=True)
        ((a * b + c) ** 2).sum().backward()
        return a.grad, b.grad, c.grad

    same(scenario)


# ------------------------------------------------------------------ repr and node names
_NAMED = {
    "leaf": lambda x: x,
    "add": lambda x: x + 1,
    "sub": lambda x: x - 1,
    "mul": lambda x: x * 2,
    "div": lambda x: x / 2,
    "neg": lambda x: -x,
    "pow": lambda x: x ** 2,
    "exp": lambda x: x.exp(),
    "sin": lambda x: x.sin(),
    "relu": lambda x: x.relu(),
    "view": lambda x: x.view(2, 1),
    "reshape": lambda x: x.reshape(1, 2),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "transpose": lambda x: x.unsqueeze(0).transpose(0, 1),
    "select": lambda x: x[0],
    "slice": lambda x: x[1:],
    "clone": lambda x: x.clone(),
    "to": lambda x: x.double(),
    "sum_dim": lambda x: x.sum(0),
    "max_dim": lambda x: x.view(1, 2).max(1).values,
    "expand": lambda x: x.expand(2, 2),
    "matmul": lambda x: x.view(1, 2) @ x.view(2, 1),
    "setitem": lambda x: _set_first(x * 1),
    "detached": lambda x: x.detach(),
}


def _set_first(y: Any) -> Any:
    y[0] = 5.0
    return y


@pytest.mark.parametrize("name", sorted(_NAMED))
def test_repr_suffix_and_node_name(name: str) -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([1.5, 2.0], requires_grad=True)
        y = _NAMED[name](x)
        return repr(y), node_name(y), y.requires_grad, y.is_leaf

    same(scenario)


def test_repr_of_float64_requires_grad() -> None:
    same(lambda lib: repr(lib.tensor([1.5, -2.0], dtype=lib.float64, requires_grad=True)))
    same(lambda lib: repr(lib.tensor(3.0, dtype=lib.float64, requires_grad=True) * 2))


# ------------------------------------------------------------------ custom Functions
def _functions(lib: Any) -> dict[str, Any]:
    """The same user-defined Functions written against either library."""

    class ScaledExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, k: float) -> Any:
            y = x.exp() * k
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (y,) = ctx.saved_tensors
            return g * y, None

    class MulAdd(lib.autograd.Function):
        """Two outputs; gradients only for the inputs that need them."""

        @staticmethod
        def forward(ctx: Any, a: Any, b: Any, flag: bool) -> Any:
            ctx.save_for_backward(a, b)
            ctx.seen_needs = ctx.needs_input_grad
            return a * b, a + b

        @staticmethod
        def backward(ctx: Any, g_prod: Any, g_sum: Any) -> Any:
            a, b = ctx.saved_tensors
            ga = g_prod * b + g_sum if ctx.needs_input_grad[0] else None
            gb = g_prod * a + g_sum if ctx.needs_input_grad[1] else None
            return ga, gb, None

    class Identity(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

    class WrongSquare(lib.autograd.Function):
        """x**2 with a deliberately wrong backward (x instead of 2x)."""

        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return g * x

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return g * 2 * x

    class TooFewGrads(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            return x * y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g

    class BadShape(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return lib.ones(3)

    class ArgmaxToo(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            idx = x.argmax(1)
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx: Any, g: Any, g_idx: Any) -> Any:
            return g * 2

    class Lazy(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: Any, g1: Any, g2: Any) -> Any:
            return (g1 * 2 if g1 is not None else 0) + (g2 * 3 if g2 is not None else 0)

    return {c.__name__: c for c in (ScaledExp, MulAdd, Identity, WrongSquare, Square,
                                    TooFewGrads, BadShape, ArgmaxToo, Lazy)}


def test_custom_function_forward_backward() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        y = _functions(lib)["ScaledExp"].apply(x, 2.0)
        (y * y).sum().backward()
        return y, x.grad, repr(y), node_name(y)

    same(scenario, rtol=1e-6)


@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_custom_function_needs_input_grad_and_two_outputs(needs: tuple[bool, bool]) -> None:
    def scenario(lib: Any) -> Any:
        a = lib.tensor([1.0, 2.0], requires_grad=needs[0])
        b = lib.tensor([3.0, 4.0], requires_grad=needs[1])
        prod, total = _functions(lib)["MulAdd"].apply(a, b, True)
        (total * 3).sum().backward()  # only the second output is used
        return (prod, total, a.grad, b.grad, prod.grad_fn is total.grad_fn,
                prod.grad_fn.seen_needs if hasattr(prod.grad_fn, "seen_needs") else None)

    t_out = same(scenario)
    assert t_out[-1] == (needs[0], needs[1], False)  # needs_input_grad as seen in forward


def test_custom_function_returning_its_input_keeps_the_leaf() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        y = _functions(lib)["Identity"].apply(x)
        y.sum().backward()
        return y, x.grad, x.is_leaf, y is x, repr(x), y.data_ptr() == x.data_ptr()

    same(scenario)


def test_custom_function_saved_output_modified() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        y = _functions(lib)["ScaledExp"].apply(x, 2.0)
        y.add_(1)
        y.sum().backward()

    raises_like_torch(scenario, RuntimeError, "modified by an inplace operation")


def test_custom_function_wrong_gradient_count_or_shape() -> None:
    def count(lib: Any) -> Any:
        x = lib.tensor([1.0], requires_grad=True)
        _functions(lib)["TooFewGrads"].apply(x, x).sum().backward()

    raises_like_torch(count, RuntimeError, "incorrect number of gradients")

    def shape(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        _functions(lib)["BadShape"].apply(x).sum().backward()

    raises_like_torch(shape, RuntimeError, "invalid gradient at index 0")


def test_custom_function_non_differentiable_output_and_lazy_grads() -> None:
    def marked(lib: Any) -> Any:
        x = lib.tensor([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]], requires_grad=True)
        y, idx = _functions(lib)["ArgmaxToo"].apply(x)
        y.sum().backward()
        return y, idx, idx.requires_grad, x.grad

    same(marked)

    def lazy(lib: Any) -> Any:
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        _, b = _functions(lib)["Lazy"].apply(x)
        b.sum().backward()
        return x.grad

    same(lazy)


def test_custom_function_under_no_grad_records_nothing() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with lib.no_grad():
            y = _functions(lib)["ScaledExp"].apply(x, 1.0)
        return y, y.requires_grad, y.grad_fn is None

    same(scenario, rtol=1e-6)


# ------------------------------------------------------------------ gradcheck
def test_gradcheck_passes_a_correct_function() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        fns = _functions(lib)
        return (lib.autograd.gradcheck(lambda t: fns["ScaledExp"].apply(t, 1.5), (x,)),
                lib.autograd.gradcheck(fns["Square"].apply, (x,)),
                lib.autograd.gradcheck(lambda t: (t.sin() * t, (t / 3).sum()), (x,)))

    assert same(scenario) == (True, True, True)


def test_gradcheck_catches_a_wrong_backward() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.3, 1.2], dtype=lib.float64, requires_grad=True)
        return lib.autograd.gradcheck(_functions(lib)["WrongSquare"].apply, (x,))

    raises_like_torch(scenario, RuntimeError, "Jacobian mismatch")
    x = convkit.tensor([0.3, 1.2], dtype=convkit.float64, requires_grad=True)
    wrong = _functions(convkit)["WrongSquare"]
    with pytest.raises(convkit.autograd.GradcheckError):
        convkit.autograd.gradcheck(wrong.apply, (x,))

    def quiet(lib: Any) -> Any:
        x = lib.tensor([0.3, 1.2], dtype=lib.float64, requires_grad=True)
        return lib.autograd.gradcheck(_functions(lib)["WrongSquare"].apply, (x,),
                                      raise_exception=False)

    assert same(quiet) is False


def test_gradcheck_catches_a_function_that_drops_the_graph() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.3, 1.2], dtype=lib.float64, requires_grad=True)
        return lib.autograd.gradcheck(lambda t: t.detach() * 2, (x,))

    raises_like_torch(scenario, RuntimeError)


def test_gradgradcheck() -> None:
    def scenario(lib: Any) -> Any:
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        return (lib.autograd.gradgradcheck(lambda t: t ** 3, (x,)),
                lib.autograd.gradgradcheck(lambda t: (lib.sin(t) * t).sum(), (x,)),
                lib.autograd.gradgradcheck(_functions(lib)["Square"].apply, (x,)))

    assert same(scenario) == (True, True, True)
