"""Utilities: ``convkit.utils.data`` (datasets, samplers, ``DataLoader``)."""

from convkit.utils import data

__all__ = ["data"]
