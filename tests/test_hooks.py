"""Module forward hooks and pre-hooks: every scenario runs on convkit and on PyTorch and the
event logs (which hook ran, in what order, with which arguments, and what came out) must
be identical."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

import convkit

LIBS = (convkit, torch)


def _value(obj: Any) -> Any:
    """A comparable description of hook arguments (tensors become lists of floats)."""
    if obj is None or isinstance(obj, int | float | str | bool):
        return obj
    if isinstance(obj, tuple | list):
        return tuple(_value(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _value(v) for k, v in sorted(obj.items())}
    return np.asarray(obj.detach().numpy(), dtype=np.float64).round(6).tolist()


def _scale_module(lib: Any, fail: bool = False) -> Any:
    class Scale(lib.nn.Module):
        def forward(self, x: Any, factor: float = 1.0) -> Any:
            if fail:
                raise ValueError("forward failed")
            return x * factor

    return Scale()


def _x(lib: Any) -> Any:
    return lib.tensor([1.0, 2.0])


def _order(lib: Any) -> list:
    log: list = []
    m = _scale_module(lib)

    def pre(name: str) -> Any:
        return lambda mod, args: log.append(("pre", name, _value(args)))

    def post(name: str) -> Any:
        return lambda mod, args, out: log.append(("post", name, _value(args), _value(out)))

    m.register_forward_pre_hook(pre("a"))
    m.register_forward_pre_hook(pre("b"))
    m.register_forward_pre_hook(pre("first"), prepend=True)
    m.register_forward_hook(post("x"))
    m.register_forward_hook(post("y"))
    m.register_forward_hook(post("first"), prepend=True)
    out = m(_x(lib), 3.0)
    log.append(("result", _value(out)))
    return log


def _replacements(lib: Any) -> list:
    log: list = []
    m = _scale_module(lib)
    # a non-tuple return replaces the whole argument tuple (it is wrapped into one)
    h1 = m.register_forward_pre_hook(lambda mod, args: args[0] + 1)
    m.register_forward_pre_hook(lambda mod, args: log.append(("args", _value(args))))
    m.register_forward_hook(lambda mod, args, out: out * 10)
    m.register_forward_hook(lambda mod, args, out: log.append(("sees", _value(out))))
    log.append(("out", _value(m(_x(lib), 2.0))))
    h1.remove()
    # a tuple return replaces the arguments as given
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0, 5.0), prepend=True)
    log.append(("out", _value(m(_x(lib), 2.0))))
    return log


def _removal(lib: Any) -> list:
    log: list = []
    m = _scale_module(lib)
    h1 = m.register_forward_hook(lambda mod, args, out: log.append("one"))
    h2 = m.register_forward_hook(lambda mod, args, kwargs, out: log.append("two"),
                                 with_kwargs=True, always_call=True)
    h3 = m.register_forward_pre_hook(lambda mod, args, kwargs: log.append("pre"),
                                     with_kwargs=True)
    log.append(("ids increase", h1.id < h2.id < h3.id))
    log.append(("tables", sorted(m._forward_hooks) == sorted([h1.id, h2.id]),
                type(m._forward_hooks).__name__, type(m._forward_pre_hooks).__name__))
    m(_x(lib))
    h2.remove()
    h2.remove()  # a second removal does nothing
    log.append(("side tables emptied", h2.id not in m._forward_hooks_with_kwargs,
                h2.id not in m._forward_hooks_always_called))
    m(_x(lib))
    with m.register_forward_hook(lambda mod, args, out: log.append("scoped")):
        m(_x(lib))
    m(_x(lib))
    h1.remove()
    h3.remove()
    log.append(("empty", len(m._forward_hooks), len(m._forward_pre_hooks),
                len(m._forward_pre_hooks_with_kwargs)))
    m(_x(lib))
    return log


def _with_kwargs(lib: Any) -> list:
    log: list = []
    m = _scale_module(lib)

    def pre(mod: Any, args: tuple, kwargs: dict) -> Any:
        log.append(("pre", _value(args), _value(kwargs)))
        return (args[0] + 1,), {"factor": kwargs.get("factor", 1.0) * 2}

    m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(
        lambda mod, args, kwargs, out: log.append(("post", _value(args), _value(kwargs),
                                                   _value(out))), with_kwargs=True)
    log.append(("out", _value(m(_x(lib), factor=3.0))))
    log.append(("out", _value(m(_x(lib)))))
    bad = _scale_module(lib)
    bad.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    try:
        bad(_x(lib))
    except RuntimeError as e:
        log.append(("error", type(e).__name__, "new_args, new_kwargs" in str(e)))
    return log


def _always_call(lib: Any) -> list:
    log: list = []
    m = _scale_module(lib, fail=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("plain", _value(out))))
    m.register_forward_hook(lambda mod, args, out: log.append(("always", _value(out))),
                            always_call=True)

    def broken(mod: Any, args: tuple, out: Any) -> None:
        log.append("broken ran")
        raise KeyError("hook failed too")

    m.register_forward_hook(broken, always_call=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m(_x(lib))
        except ValueError as e:
            log.append(("raised", str(e)))
    log.append(("warned", any("always_call" in str(w.message) for w in caught)))
    # a hook that raises after forward succeeded: the always_call hooks after it still run
    ok = _scale_module(lib)
    ok.register_forward_hook(lambda mod, args, out: log.append(("always first", _value(out))),
                             always_call=True)
    ok.register_forward_hook(lambda mod, args, out: 1 / 0)
    ok.register_forward_hook(lambda mod, args, out: log.append(("always late", _value(out))),
                             always_call=True)
    try:
        ok(_x(lib), 2.0)
    except ZeroDivisionError:
        log.append("zero division propagated")
    return log


def _nested(lib: Any) -> list:
    log: list = []
    model = lib.nn.Sequential(_scale_module(lib), lib.nn.Sequential(_scale_module(lib)))
    for name, mod in model.named_modules():
        mod.register_forward_pre_hook(lambda m, a, name=name: log.append(("enter", name)))
        mod.register_forward_hook(lambda m, a, o, name=name: log.append(("leave", name,
                                                                           _value(o))))
    model[1][0].register_forward_hook(lambda m, a, o: o + 100)
    log.append(("out", _value(model(_x(lib)))))
    return log


@pytest.mark.parametrize("scenario", [_order, _replacements, _removal, _with_kwargs,
                                      _always_call, _nested])
def test_hooks_behave_as_in_pytorch(scenario: Any) -> None:
    ours, theirs = (scenario(lib) for lib in LIBS)
    assert ours == theirs
    assert len(ours) >= 3  # the scenario did record events


def test_no_hooks_is_plain_forward() -> None:
    m = convkit.nn.Linear(2, 3)
    assert m._forward_hooks == OrderedDict() and m._forward_pre_hooks == OrderedDict()
    x = convkit.ones(4, 2)
    np.testing.assert_array_equal(m(x).detach().numpy(), m.forward(x).detach().numpy())


def test_handles_do_not_keep_modules_alive() -> None:
    import gc
    import weakref

    m = convkit.nn.ReLU()
    handle = m.register_forward_hook(lambda *a: None)
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
    handle.remove()  # the tables are gone: nothing to do, no error
