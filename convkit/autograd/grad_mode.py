"""Grad modes: whether operations record the graph (``no_grad``, ``enable_grad``, ...)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

_F = TypeVar("_F", bound=Callable[..., Any])
_state = threading.local()


def is_grad_enabled() -> bool:
    """True when new operations record their backward graph."""
    return getattr(_state, "enabled", True)


def _set_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradModeContext:
    """Shared body of the grad-mode context managers; also usable as decorators."""

    _mode: bool

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set_enabled(self._mode)

    def __exit__(self, *exc: object) -> None:
        _set_enabled(self._prev)

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _NoParamGradModeContext(_GradModeContext):
    """A grad mode without arguments, also usable as a bare decorator: ``@no_grad``."""

    def __new__(cls, orig_func: _F | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamGradModeContext):  # noqa: N801 - PyTorch's name
    """Context manager and decorator under which no operation records a graph."""

    _mode = False


class enable_grad(_NoParamGradModeContext):  # noqa: N801
    """Context manager and decorator that turns graph recording back on."""

    _mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set grad mode: as a call it takes effect at once; as a context it restores on exit."""

    def __init__(self, mode: bool) -> None:
        self._prev = is_grad_enabled()
        self._mode = bool(mode)
        _set_enabled(mode)

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: _F) -> _F:
        mode = self._mode
        _set_enabled(self._prev)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
