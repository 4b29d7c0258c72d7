"""Convolution and CNN inference over Dask arrays (the ``dask`` extra).

``convkit.signal`` and ``convkit.nn.functional`` semantics on dask arrays chunked along batch
and space: each block runs through the in-memory convkit function with a halo sized from the
kernel extent, dilation, stride and padding, and boundary modes are applied at the true edges
of the whole array only, so the results equal the in-memory ones on the same data.

* signal: :func:`convolve`, :func:`correlate`, :func:`convolve2d`, :func:`correlate2d`,
  :func:`fftconvolve`
* nn: :func:`conv`, :func:`conv1d`, :func:`conv2d`, :func:`conv3d`, :func:`conv_transpose`,
  :func:`conv_transpose1d`, :func:`conv_transpose2d`, :func:`conv_transpose3d`
* :func:`apply` (a Module over a dask array of images) and :func:`client` (a scheduler).

See ``docs/dask.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are resolved on first use (PEP 562) so that ``import convkit.dask.cli`` (done by the
# ``convkit`` command) does not import dask, and a missing extra gives a clear message.
_WHERE = {
    "apply": "_apply", "client": "_client", "local_cluster_size": "_client",
    "conv": "_nn", "conv1d": "_nn", "conv2d": "_nn", "conv3d": "_nn",
    "conv_transpose": "_nn", "conv_transpose1d": "_nn", "conv_transpose2d": "_nn",
    "conv_transpose3d": "_nn",
    "convolve": "_signal", "convolve2d": "_signal", "correlate": "_signal",
    "correlate2d": "_signal", "fftconvolve": "_signal",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'convkit.dask' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f"convkit.dask.{module}"), name)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("dask", "distributed", "toolz"):
            raise ImportError("convkit.dask needs the dask extra: "
                              "pip install 'convkit[dask]'") from e
        raise
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
