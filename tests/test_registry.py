"""Generic checks for every op in the registry: PyTorch parity, gradients, gradcheck.

Each sample runs through convkit and PyTorch on the same arrays (float64 and float32,
contiguous and non-contiguous), comparing values, dtypes, shapes and every input gradient
for a random upstream gradient; then ``convkit.autograd.gradcheck`` checks convkit's
backward against finite differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import convkit
from convkit.ops.registry import OPS, OpInfo, Sample


def _resolve(module: Any, info: OpInfo, args: tuple[Any, ...]) -> Any:
    if info.call.startswith("."):
        return lambda *a, **k: getattr(a[0], info.call[1:])(*a[1:], **k)
    path = info.call
    if "{n}" in path:
        path = path.format(n=np.ndim(args[1]) - 2)
    fn = module
    for part in path.split("."):
        fn = getattr(fn, part)
    return fn


def _non_contiguous(a: np.ndarray) -> np.ndarray:
    """The same values in a transposed memory layout (strides reversed)."""
    return np.asfortranarray(a) if a.ndim >= 2 else a


def _to_lib(lib: Any, value: Any, dtype: str, layout: bool, leaves: list[Any]) -> Any:
    if isinstance(value, list):
        return [_to_lib(lib, v, dtype, layout, leaves) for v in value]
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype == bool:
        return lib.from_numpy(value.copy())
    arr = value.astype(dtype)
    arr = _non_contiguous(arr) if layout else np.ascontiguousarray(arr)
    t = lib.from_numpy(arr).requires_grad_(True)
    leaves.append(t)
    return t


def _cases() -> list[tuple[OpInfo, int, Sample]]:
    cases = []
    for info in OPS:
        for i, sample in enumerate(info.samples(np.random.default_rng(0))):
            cases.append(pytest.param(info, i, sample, id=f"{info.name}-{i}"))
    return cases


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("info,index,sample", _cases())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("non_contiguous", [False, True])
def test_matches_pytorch(info: OpInfo, index: int, sample: Sample, dtype: str,
                         non_contiguous: bool) -> None:
    if non_contiguous and info.needs_contiguous:
        pytest.skip("PyTorch itself refuses this layout (tested in test_views.py)")
    ck_leaves: list[Any] = []
    th_leaves: list[Any] = []
    ck_args = tuple(_to_lib(convkit, a, dtype, non_contiguous, ck_leaves) for a in sample.args)
    th_args = tuple(_to_lib(torch, a, dtype, non_contiguous, th_leaves) for a in sample.args)
    ck_out = _first(_resolve(convkit, info, sample.args)(*ck_args, **sample.kwargs))
    th_out = _first(_resolve(torch, info, sample.args)(*th_args, **sample.kwargs))

    tol = {"float64": 1e-10, "float32": 2e-5}[dtype]
    assert tuple(ck_out.shape) == tuple(th_out.shape)
    assert ck_out.dtype.name == str(th_out.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ck_out.detach().numpy(), th_out.detach().numpy(),
                               rtol=tol, atol=tol)

    upstream = np.random.default_rng(1).standard_normal(tuple(th_out.shape)).astype(dtype)
    ck_out.backward(convkit.from_numpy(upstream.copy()))
    th_out.backward(torch.from_numpy(upstream.copy()))
    assert len(ck_leaves) == len(th_leaves) > 0
    for ck_leaf, th_leaf in zip(ck_leaves, th_leaves, strict=True):
        assert ck_leaf.grad is not None
        assert ck_leaf.grad.dtype is ck_leaf.dtype
        np.testing.assert_allclose(ck_leaf.grad.numpy(), th_leaf.grad.numpy(),
                                   rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("info,index,sample", _cases())
def test_gradcheck(info: OpInfo, index: int, sample: Sample) -> None:
    leaves: list[Any] = []
    args = tuple(_to_lib(convkit, a, "float64", False, leaves) for a in sample.args)
    fn = _resolve(convkit, info, sample.args)
    flat_leaves = list(leaves)

    def call(*leaf_values: Any) -> Any:
        it = iter(leaf_values)

        def rebuild(a: Any) -> Any:
            if isinstance(a, list):
                return [rebuild(v) for v in a]
            return next(it) if any(a is leaf for leaf in flat_leaves) else a

        return _first(fn(*(rebuild(a) for a in args), **sample.kwargs))

    assert convkit.autograd.gradcheck(call, tuple(flat_leaves))


def test_registry_covers_every_op_family() -> None:
    names = {info.name for info in OPS}
    assert {"add", "mul", "div", "pow", "sum", "mean", "var", "matmul", "view", "reshape",
            "getitem", "conv", "cat", "expand"} <= names
