"""Neural-network building blocks (``convkit.nn.functional`` for now)."""

from convkit.nn import functional

__all__ = ["functional"]
