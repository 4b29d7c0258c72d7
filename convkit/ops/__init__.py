"""The differentiable operations, one ``Function`` per op, and the Tensor method table."""

from convkit.ops import creation, elementwise, indexing, linalg, methods, reduction, shape

methods.install()

__all__ = ["creation", "elementwise", "indexing", "linalg", "reduction", "shape"]
