"""Neural-network building blocks: ``functional``, layers, ``Parameter`` and ``init``."""

from convkit.nn import functional, init, utils
from convkit.nn.modules import *  # noqa: F403 - the layers are the package's public surface
from convkit.nn.modules import __all__ as _layers
from convkit.nn.parameter import Parameter

__all__ = ["functional", "init", "utils", "Parameter", *_layers]
