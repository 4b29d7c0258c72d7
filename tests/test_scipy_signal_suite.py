"""SciPy's own tests of its convolution functions, run against ``convkit.signal``.

The tests are not re-typed: the test classes are taken from the installed SciPy's
``scipy/signal/tests/test_signaltools.py`` and rebuilt here with their module-level names
bound to convkit's functions instead of SciPy's:

* every test method is re-created (same code object) over a *copy* of that module's globals
  in which ``convolve``, ``correlate``, ``convolve2d``, ``correlate2d``, ``fftconvolve``,
  ``oaconvolve``, ``choose_conv_method`` and ``correlation_lags`` are convkit's, and
  ``signal`` is a namespace whose convolution functions (and ``_signaltools``, which the
  overlap-add tests monkeypatch to catch a fallback to ``fftconvolve``) are convkit's while
  anything else (``signal.firwin``, used to build an input) stays SciPy's;
* ``@pytest.mark.parametrize`` values that captured SciPy functions at import time
  (``[convolve2d, correlate2d]``, ``make_xp_pytest_param(fftconvolve)``) are mapped to
  convkit's functions too, so no test silently checks SciPy against itself;
* SciPy's module is left untouched (other tests in the same process still see SciPy).

``xp`` is SciPy's array-namespace fixture, restricted to the NumPy backend (convkit is a
NumPy library): it yields the namespace SciPy's own fixture yields for NumPy. SciPy's
``skip_xp_backends``/``xfail_xp_backends`` marks only ever exclude other backends in these
classes; a mark naming 'numpy' would still be honoured.

SciPy marks a few tests ``slow``: they run here too (about 10,000 size combinations of
``fftconvolve``/``oaconvolve``, some 15 s), except ``TestConvolve2d.test_large_array``, which
builds a 4.3 GB array (about 30 s); ``CONVKIT_SCIPY_SLOW=1`` runs that one as well.
"""

from __future__ import annotations

import importlib
import os
import types
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.signal

import convkit.signal
import convkit.signal._signaltools

with warnings.catch_warnings():
    # SciPy registers its custom marks (slow, skip_xp_backends, ...) in its own conftest,
    # which is not loaded here (it would also load a hypothesis profile for the session)
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    _scipy_tests = importlib.import_module("scipy.signal.tests.test_signaltools")
    from scipy._lib._array_api import array_namespace

CLASSES = ("TestConvolve", "TestConvolve2d", "TestCorrelate2d", "TestFFTConvolve",
           "TestOAConvolve", "TestAllFreqConvolves", "TestCorrelateReal", "TestCorrelate",
           "TestCorrelateComplex")
NAMES = ("convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve",
         "choose_conv_method", "correlation_lags")
RUN_SLOW = os.environ.get("CONVKIT_SCIPY_SLOW", "") not in ("", "0")

# SciPy's function -> convkit's, for the names rebound and for captured parametrize values
_REPLACEMENT = {getattr(scipy.signal, name): getattr(convkit.signal, name) for name in NAMES}


class _SignalNamespace(types.ModuleType):
    """``signal`` as the SciPy tests use it: convkit's convolution functions, SciPy's rest."""

    def __init__(self) -> None:
        super().__init__("signal", "convkit.signal for the convolution names, else scipy")
        for name in NAMES:
            setattr(self, name, getattr(convkit.signal, name))
        self._signaltools = convkit.signal._signaltools

    def __getattr__(self, name: str) -> Any:
        return getattr(scipy.signal, name)  # e.g. firwin, to build a test input


_GLOBALS = dict(vars(_scipy_tests))
_GLOBALS.update({name: getattr(convkit.signal, name) for name in NAMES})
_GLOBALS["signal"] = _SignalNamespace()


def _map_value(value: Any) -> Any:
    try:
        return _REPLACEMENT.get(value, value)
    except TypeError:  # unhashable parameter values (lists, arrays) are data, not functions
        return value


def _map_marks(marks: list) -> list:
    """Copy of ``marks`` with SciPy functions in parametrize values replaced by convkit's."""
    out = []
    for mark in marks:
        if mark.name == "parametrize":
            argnames, argvalues = mark.args[0], mark.args[1]
            values = []
            for v in argvalues:
                if isinstance(v, type(pytest.param(None))):  # a ParameterSet
                    v = pytest.param(*map(_map_value, v.values), marks=v.marks, id=v.id)
                else:
                    v = _map_value(v)
                values.append(v)
            mark = pytest.mark.parametrize(argnames, values, *mark.args[2:],
                                           **mark.kwargs).mark
        out.append(mark)
    return out


# SciPy's slow tests too heavy for the default run: name -> why
HEAVY = {"test_large_array": "marked slow by SciPy: allocates a 4.3 GB int64 array (about 30 s "
                             "here); set CONVKIT_SCIPY_SLOW=1 to run it"}


def _rebind(func: types.FunctionType) -> types.FunctionType:
    """``func`` re-created over the convkit globals, with its marks mapped."""
    new = types.FunctionType(func.__code__, _GLOBALS, func.__name__, func.__defaults__,
                             func.__closure__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__ = func.__qualname__
    new.__dict__.update(func.__dict__)
    marks = list(getattr(func, "pytestmark", []))
    if marks:
        new.pytestmark = _map_marks(marks)
        if any(m.name == "slow" for m in marks) and func.__name__ in HEAVY:
            new.pytestmark.append(pytest.mark.skipif(not RUN_SLOW,
                                                     reason=HEAVY[func.__name__]).mark)
    return new


def _rebuild(cls: type) -> type:
    """A copy of SciPy's test class whose methods run on convkit."""
    namespace = {}
    for attr, value in vars(cls).items():
        if attr in ("__dict__", "__weakref__"):
            continue
        if isinstance(value, types.FunctionType):
            value = _rebind(value)
        elif attr == "pytestmark":
            value = _map_marks(list(value))
        namespace[attr] = value
    namespace["__module__"] = __name__
    assert cls.__bases__ == (object,), cls  # no inherited SciPy methods to miss
    return type(cls.__name__, (object,), namespace)


for _name in CLASSES:
    globals()[_name] = _rebuild(getattr(_scipy_tests, _name))


@pytest.fixture(params=[pytest.param(np, id="numpy")])
def xp(request: pytest.FixtureRequest) -> Any:
    """SciPy's ``xp`` fixture for the NumPy backend only (see the module docstring)."""
    for kind in ("skip", "xfail"):
        for mark in request.node.iter_markers(f"{kind}_xp_backends"):
            if mark.args and mark.args[0] == "numpy":
                getattr(pytest, kind)(reason=mark.kwargs.get("reason") or "numpy excluded")
    return array_namespace(request.param.empty(0))


def test_rebinding_reaches_convkit() -> None:
    """The rebuilt tests really call convkit (guards the mechanism above)."""
    method = globals()["TestConvolve"].test_basic
    assert method.__globals__["convolve"] is convkit.signal.convolve
    assert method.__globals__["signal"].convolve is convkit.signal.convolve
    assert method.__globals__["signal"].firwin is scipy.signal.firwin
    assert _scipy_tests.convolve is scipy.signal.convolve  # SciPy's module untouched
    params = next(m for m in globals()["TestConvolve2d"].test_same_with_boundary.pytestmark
                  if m.name == "parametrize" and m.args[0] == "func").args[1]
    assert list(params) == [convkit.signal.convolve2d, convkit.signal.correlate2d]
    freq = next(m for m in globals()["TestAllFreqConvolves"].pytestmark
                if m.name == "parametrize").args[1]
    assert [p.values[0] for p in freq] == [convkit.signal.fftconvolve,
                                           convkit.signal.oaconvolve]
