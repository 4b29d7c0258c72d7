"""Zero-copy interchange through DLPack, with real PyTorch and with NumPy.

A tensor handed over must keep its dtype, shape, strides and values, and share memory: a
write on one side is seen on the other. Exporting a tensor that requires grad is refused
exactly as PyTorch refuses its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convkit

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]


def values_for(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    vals = (rng.permutation(n) % 100).astype(np.float64)
    if dtype.startswith("complex"):
        vals = vals + 1j * rng.permutation(n)
    return vals.astype(dtype).reshape(shape)


# Each view step is written once and applied to either library (both share these names).
_STEPS = {
    "contiguous": lambda x: x,
    "transpose": lambda x: x.transpose(0, -1),
    "strided": lambda x: x[..., ::2],
    "offset": lambda x: x[1:],
    "select": lambda x: x[-1, ...],  # NumPy keeps a 0-d array, not a scalar
    "expand": lambda x: x[:1].expand(3, *x.shape[1:]),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "permute strided": lambda x: x.permute(*reversed(range(x.ndim)))[::2],
}


@st.composite
def cases(draw: Any) -> tuple[Any, ...]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    return (shape, draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)),
            draw(st.sampled_from(sorted(_STEPS))))


def build(lib: Any, case: tuple[Any, ...]) -> tuple[Any, Any]:
    """A fresh base tensor of the case's values and the case's view of it."""
    shape, dtype, seed, step = case
    base = lib.from_numpy(values_for(shape, dtype, seed))
    return base, _STEPS[step](base)


def bump(value: Any) -> Any:
    return (not value) if isinstance(value, bool | np.bool_) else value + 1




def assert_same_tensor(received: Any, sent: Any, like: Any) -> None:
    """``received`` views ``sent``'s memory with torch's ``like`` geometry and values."""
    assert tuple(received.shape) == tuple(like.shape)
    assert str(received.dtype).split(".")[-1] == str(like.dtype).split(".")[-1]
    if like.numel():
        assert tuple(received.stride()) == tuple(like.stride())
        assert received.data_ptr() == sent.data_ptr()
    np.testing.assert_array_equal(np.asarray(received.detach()), np.asarray(like.detach()))


# ------------------------------------------------------------------ convkit <-> torch
@SETTINGS
@given(cases())
def test_torch_from_dlpack_of_convkit_shares_memory(case: tuple[Any, ...]) -> None:
    cb, c = build(convkit, case)
    tb, t = build(torch, case)  # the reference geometry and values
    received = torch.from_dlpack(c)
    assert_same_tensor(received, c, t)
    if t.numel() and 0 not in t.stride():
        index = (0,) * t.ndim
        received[index] = bump(received[index].item())  # torch writes, convkit sees
        t[index] = bump(t[index].item())
        np.testing.assert_array_equal(cb.numpy(), tb.numpy())
        c[index] = bump(c[index].item())  # convkit writes, torch sees
        assert received[index].item() == c[index].item()


@SETTINGS
@given(cases())
def test_convkit_from_dlpack_of_torch_shares_memory(case: tuple[Any, ...]) -> None:
    _, t = build(torch, case)
    received = convkit.from_dlpack(t)
    assert isinstance(received, convkit.Tensor)
    assert_same_tensor(received, t, t)
    if t.numel() and 0 not in t.stride():
        index = (0,) * t.ndim
        before = t[index].item()
        received[index] = bump(before)
        assert t[index].item() == bump(before)
        t.zero_()
        assert not received.numpy().any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_convkit_torch_convkit(dtype: str) -> None:
    c = convkit.from_numpy(values_for((3, 4), dtype, 0))[:, 1::2]
    back = convkit.from_dlpack(torch.from_dlpack(c))
    assert back.dtype is c.dtype and back.stride() == c.stride()
    assert back.data_ptr() == c.data_ptr()
    np.testing.assert_array_equal(back.numpy(), c.numpy())


def test_in_place_ops_are_seen_across_libraries() -> None:
    c = convkit.zeros(2, 3)
    t = torch.from_dlpack(c)
    t.add_(2)
    c.mul_(5)
    c[0, 1] = -1.0
    assert t.tolist() == c.tolist() == [[10.0, -1.0, 10.0], [10.0, 10.0, 10.0]]


def test_zero_dim_and_empty_tensors() -> None:
    for make in (lambda lib: lib.tensor(3.5), lambda lib: lib.zeros(0, 3),
                 lambda lib: lib.zeros(2, 0, dtype=lib.int64)):
        c, t = make(convkit), make(torch)
        assert_same_tensor(torch.from_dlpack(c), c, t)
        assert_same_tensor(convkit.from_dlpack(t), t, t)


def test_dlpack_device_matches_torch() -> None:
    c, t = convkit.zeros(2), torch.zeros(2)
    assert tuple(int(v) for v in c.__dlpack_device__()) == \
        tuple(int(v) for v in t.__dlpack_device__())


def test_versioned_protocol() -> None:
    c = convkit.arange(6.0).view(2, 3)
    capsule = c.__dlpack__(max_version=(1, 0))
    assert type(capsule).__name__ == "PyCapsule"
    received = torch.from_dlpack(c)  # torch asks for the versioned protocol itself
    assert received.data_ptr() == c.data_ptr()


# ------------------------------------------------------------------ requires_grad
@pytest.mark.parametrize("consumer", ["torch", "numpy", "protocol"])
@pytest.mark.parametrize("tensor", ["leaf", "non-leaf", "view"])
def test_exporting_a_tensor_that_requires_grad_raises_like_torch(consumer: str,
                                                                 tensor: str) -> None:
    def make(lib: Any) -> Any:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        return {"leaf": x, "non-leaf": x * 2, "view": x[1:]}[tensor]

    def export(x: Any) -> Any:
        if consumer == "torch":
            return torch.from_dlpack(x)
        if consumer == "numpy":
            return np.from_dlpack(x)
        return x.__dlpack__()

    with pytest.raises(BufferError) as torch_error:
        export(make(torch))
    with pytest.raises(type(torch_error.value), match="require gradient"):
        export(make(convkit))


def test_detached_tensor_exports() -> None:
    x = convkit.tensor([1.0, 2.0], requires_grad=True)
    received = torch.from_dlpack(x.detach())
    assert received.data_ptr() == x.data_ptr() and not received.requires_grad
    assert received.tolist() == [1.0, 2.0]


def test_imported_tensor_is_a_fresh_leaf() -> None:
    t = torch.tensor([1.0, 2.0])
    c = convkit.from_dlpack(t)
    assert c.is_leaf and not c.requires_grad and c.grad_fn is None
    c.requires_grad_()
    (c * c).sum().backward()
    assert c.grad.tolist() == [2.0, 4.0]


# ------------------------------------------------------------------ NumPy
@SETTINGS
@given(cases())
def test_numpy_from_dlpack_of_convkit_shares_memory(case: tuple[Any, ...]) -> None:
    _, c = build(convkit, case)
    _, t = build(torch, case)
    arr = np.from_dlpack(c)
    reference = np.from_dlpack(t)  # what NumPy makes of torch's same tensor
    assert arr.dtype == reference.dtype and arr.shape == reference.shape
    if t.numel():
        assert arr.strides == reference.strides
        assert arr.ctypes.data == c.data_ptr()
    np.testing.assert_array_equal(arr, reference)
    if t.numel() and 0 not in t.stride():
        index = (0,) * t.ndim
        arr[index] = bump(arr[index])
        assert c[index].item() == arr[index].item()


@SETTINGS
@given(cases())
def test_convkit_from_dlpack_of_numpy_shares_memory(case: tuple[Any, ...]) -> None:
    shape, dtype, seed, step = case
    arr = _STEPS[step](values_for(shape, dtype, seed)) if step not in (
        "expand", "unsqueeze", "permute strided", "transpose") else values_for(
        shape, dtype, seed)[..., ::2]  # NumPy spells these views differently
    c = convkit.from_dlpack(arr)
    t = torch.from_dlpack(arr)
    assert_same_tensor(c, t, t)
    if arr.size:
        index = (0,) * arr.ndim
        arr[index] = bump(arr[index])
        assert c[index].item() == arr[index].item()
        c[index] = bump(c[index].item())
        assert c[index].item() == arr[index].item()
