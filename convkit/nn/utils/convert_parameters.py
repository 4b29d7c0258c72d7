"""Parameters to and from one flat vector (``torch.nn.utils.convert_parameters``)."""

from __future__ import annotations

from collections.abc import Iterable

from convkit.autograd.tensor import Tensor
from convkit.ops import shape as S

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_iterable(parameters: Iterable[Tensor]) -> None:
    if isinstance(parameters, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(parameters).__name__}")


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (differentiable)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return S.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
