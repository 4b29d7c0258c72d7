"""Tensor creation, differentially against PyTorch.

Deterministic constructors must give torch's values, dtype, shape and (for ``*_like``)
strides; random ones torch's shapes, dtypes and ranges (convkit's stream is NumPy's, so
values are compared with convkit's own reruns only for reproducibility, never as a result).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import convkit
from tests.strategies import (
    ALL_DTYPES,
    COMPLEX,
    FEW,
    FLOATS,
    INTS,
    SETTINGS,
    Spec,
    arrays,
    assert_same,
    check,
    default_dtype,
    np_dtype,
    run_both,
    specs,
)

# ----------------------------------------------------------------------- tensor(data)
LEAVES = {
    "bool": st.booleans(),
    "int": st.integers(-1000, 1000),
    "float": st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
    "complex": st.complex_numbers(max_magnitude=1e3, allow_nan=False, allow_infinity=False),
}


@st.composite
def nested_lists(draw: st.DrawFn, kinds: list[str]) -> object:
    """A rectangular nested list (or a bare number, 0-d) with leaves of the given kinds."""
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    leaf = st.one_of(*(LEAVES[k] for k in kinds))

    def build(dims: list[int]) -> object:
        if not dims:
            return draw(leaf)
        return [build(dims[1:]) for _ in range(dims[0])]
    # tuples are sequences too: use one at the top now and then
    data = build(shape)
    return tuple(data) if isinstance(data, list) and draw(st.booleans()) else data


@given(st.lists(st.sampled_from(sorted(LEAVES)), min_size=1, max_size=3, unique=True)
       .flatmap(nested_lists))
@SETTINGS
def test_tensor_from_nested_lists(data: object) -> None:
    # Python leaves: any complex -> complex64, any float -> float32, any int -> int64, bools
    # only -> bool; empty lists -> float32.
    check(lambda lib: lib.tensor(data))
    with default_dtype("float64"):
        check(lambda lib: lib.tensor(data))


@given(nested_lists(["int", "float", "bool"]), st.sampled_from(ALL_DTYPES))
@SETTINGS
def test_tensor_with_dtype(data: object, dtype: str) -> None:
    # floats into an integer dtype truncate toward zero; out-of-range values raise
    check(lambda lib: lib.tensor(data, dtype=getattr(lib, dtype)))


@given(st.sampled_from(ALL_DTYPES), st.data())
@SETTINGS
def test_tensor_from_numpy_array_keeps_dtype_and_copies(dtype: str, data: st.DataObject) -> None:
    spec = data.draw(specs(dtype, layouts=["contiguous", "transposed"]))
    arr = spec.base.T if spec.layout == "transposed" else spec.base

    def fn(lib: object) -> object:
        t = lib.tensor(arr)  # type: ignore[attr-defined]
        return t, t.is_contiguous(), np.shares_memory(t.numpy(), arr)
    check(fn)


@given(st.sampled_from(ALL_DTYPES), st.sampled_from(ALL_DTYPES), st.data())
@FEW
def test_tensor_from_array_with_dtype(src: str, dst: str, data: st.DataObject) -> None:
    assume(not (src in FLOATS + COMPLEX and dst in INTS))  # out-of-range float->int is UB
    arr = data.draw(arrays(src, (3,)))
    check(lambda lib: lib.tensor(arr, dtype=getattr(lib, dst)), rtol=1e-3)


@pytest.mark.parametrize("data", [
    3, True, 2.5, 1j, -0.0, [], [[]], [[], []], (), [[[]]], np.float64(1.5), np.int16(2),
    [np.float64(1.5), 2], [np.float32(1.5), 2], [np.int32(1), 2], [True, 2], [True, 2.5],
    [1, 1j], range(4), [(1, 2), [3, 4]], [np.array([1, 2]), np.array([3, 4])],
    -(2 ** 63), [float("nan"), float("inf")], 1e300,
])
def test_tensor_from_special_data(data: object) -> None:
    check(lambda lib: lib.tensor(data))


def test_tensor_from_tensors_in_lists() -> None:
    # Tensors inside a list are numbers: one element each, their dtype taking part.
    check(lambda lib: lib.tensor([lib.tensor(1.5), 2]))
    check(lambda lib: lib.tensor([lib.tensor(1.5, dtype=lib.float64), 2]))
    check(lambda lib: lib.tensor([lib.tensor([1.5]), lib.tensor([[2]])]))
    check(lambda lib: lib.tensor([lib.tensor(1, dtype=lib.int8), 2]))
    check(lambda lib: lib.tensor([lib.ones(2), lib.ones(2)]))  # ValueError: not scalars
    check(lambda lib: lib.tensor(lib.ones(2, 3)))
    # past the first element, a tensor where a sequence is due is taken as one
    check(lambda lib: lib.tensor([[1, 2], lib.tensor([3, 4])]))
    check(lambda lib: lib.tensor([[1, 2], lib.tensor([3, 4, 5])]))
    check(lambda lib: lib.tensor([[1.5, 2], lib.tensor([3, 4], dtype=lib.float64)]))


@pytest.mark.parametrize(("data", "dtype"), [
    ([300], "uint8"), ([-1], "uint8"), ([-255], "uint8"), ([-256], "uint8"), ([200], "int8"),
    ([-129], "int8"), ([40000], "int16"), ([2 ** 31], "int32"), ([2.0 ** 40], "int32"),
    ([float("nan")], "int64"), ([1e300], "int64"), ([2 ** 63], "int64"), ([2 ** 63], None),
    ([2 ** 64], None), (2 ** 63, "float32"), ([1e40], "float32"), ([1e10], "float16"),
    ([2], "bool"), ([1.7, -1.7], "int64"), ([1j], "float32"), ([1 + 1j], "int64"),
])
def test_tensor_value_ranges(data: object, dtype: str | None) -> None:
    check(lambda lib: lib.tensor(data, dtype=getattr(lib, dtype) if dtype else None),
          match_message=True)


@pytest.mark.parametrize("data", [
    [[1, 2], [3]], [[1, 2], 3], [1, [2, 3]], [[[1], [2]], [[3], [4, 5]]], [[1], [2, 3]],
    [[1, 2], [3, 4, 5]], [[], [1]],
])
def test_ragged_lists_raise_like_torch(data: object) -> None:
    check(lambda lib: lib.tensor(data))
    check(lambda lib: lib.tensor(data, dtype=lib.float32))


def test_ragged_messages_name_the_dim() -> None:
    check(lambda lib: lib.tensor([[1, 2], [3]]), match_message=True)
    check(lambda lib: lib.tensor([[[1], [2]], [[3], [4, 5]]]), match_message=True)


@pytest.mark.parametrize("data", [
    "abc", ["a"], [1, "a"], [[1, 2], [3, "a"]], b"ab", None, [None], [1, None], {1: 2},
    {1, 2}, [{1, 2}], object(),
])
def test_non_numbers_raise_like_torch(data: object) -> None:
    check(lambda lib: lib.tensor(data), match_message=not isinstance(data, object.__class__))


@given(nested_lists(["int", "float"]), st.sampled_from(["float32", "float64", "int64", None]))
@FEW
def test_tensor_requires_grad(data: object, dtype: str | None) -> None:
    def fn(lib: object) -> object:
        t = lib.tensor(data, requires_grad=True,  # type: ignore[attr-defined]
                       dtype=getattr(lib, dtype) if dtype else None)
        return t.requires_grad, t.is_leaf, t.grad is None, t.detach()
    check(fn)


# ----------------------------------------------------------------------- memory sharing
@given(st.sampled_from(ALL_DTYPES), st.data())
@SETTINGS
def test_from_numpy_and_as_tensor_share_memory(dtype: str, data: st.DataObject) -> None:
    spec = data.draw(specs(dtype, shape=data.draw(st.sampled_from([(3,), (2, 3)])),
                           layouts=["contiguous", "transposed", "sliced"]))
    one = np.ones((), np_dtype(dtype))
    scalar = one.item()

    def fn(lib: object, make: str) -> object:
        arr = spec.base.copy()
        view = arr.T if spec.layout == "transposed" else arr[..., ::2] if (
            spec.layout == "sliced") else arr
        t = getattr(lib, make)(view)
        arr[...] = np.logical_not(arr) if dtype == "bool" else arr + one  # numpy -> tensor
        seen = t.clone()
        t[0] = scalar  # tensor -> numpy
        return seen, t.stride(), lib.from_numpy(view.copy())  # type: ignore[attr-defined]
    check(fn, "from_numpy")
    check(fn, "as_tensor")


@pytest.mark.parametrize("make", ["from_numpy", "as_tensor", "tensor"])
@pytest.mark.parametrize("index", [np.s_[::-1], np.s_[:, ::-1], np.s_[::-2, 1:]])
def test_negative_strides_raise_value_error(make: str, index: object) -> None:
    arr = np.arange(12.0).reshape(3, 4)[index]
    check(lambda lib: getattr(lib, make)(arr), match_message=True)


def test_as_tensor_copies_only_when_it_must() -> None:
    arr = np.arange(4.0)
    for lib in (convkit, torch):
        assert np.shares_memory(lib.as_tensor(arr).numpy(), arr)
        assert not np.shares_memory(lib.as_tensor(arr, dtype=lib.float32).numpy(), arr)
        t = lib.ones(2)
        assert lib.as_tensor(t) is t
        assert lib.as_tensor(t, dtype=lib.float64) is not t
    check(lambda lib: lib.as_tensor([1, 2.5]))
    check(lambda lib: lib.as_tensor(3.5))


@pytest.mark.parametrize("bad", [[1, 2], 3.0, np.array([1], dtype=">f8"),
                                 np.array(["a"])])
def test_from_numpy_rejects(bad: object) -> None:
    check(lambda lib: lib.from_numpy(bad))


# ----------------------------------------------------------------------- filled tensors
small_shape = st.lists(st.integers(0, 3), max_size=3).map(tuple)


@given(small_shape, st.sampled_from([*ALL_DTYPES, None]), st.sampled_from(["args", "tuple",
                                                                          "list"]))
@SETTINGS
def test_zeros_ones_empty(shape: tuple[int, ...], dtype: str | None, style: str) -> None:
    for name in ["zeros", "ones", "empty"]:
        def fn(lib: object, name: str = name) -> object:
            d = getattr(lib, dtype) if dtype else None
            make = getattr(lib, name)
            t = (make(*shape, dtype=d) if style == "args" and shape else
                 make(list(shape), dtype=d) if style == "list" else make(shape, dtype=d))
            # empty's values are arbitrary: compare its metadata only
            return (t.dtype, tuple(t.shape), t.stride()) if name == "empty" else t
        check(fn)


def test_size_keyword() -> None:
    for name in ["zeros", "ones", "empty", "rand", "randn"]:
        check(lambda lib, name=name: tuple(getattr(lib, name)(size=(2, 3)).shape))
        check(lambda lib, name=name: getattr(lib, name)(2, size=(2, 3)))  # TypeError


@pytest.mark.parametrize("args", [(2, -1), (-1,), (2.5,), ("2",)])
def test_bad_sizes(args: tuple[object, ...]) -> None:
    for name in ["zeros", "ones", "empty"]:
        check(lambda lib, name=name: getattr(lib, name)(*args))


@given(small_shape, st.one_of(*LEAVES.values(), st.integers(-300, 300)),
       st.sampled_from([*ALL_DTYPES, None]))
@SETTINGS
def test_full(shape: tuple[int, ...], value: object, dtype: str | None) -> None:
    # Without dtype, the fill value picks it as a Python number would: bool, int64, float32,
    # complex64; with one, out-of-range values raise RuntimeError.
    check(lambda lib: lib.full(shape, value, dtype=getattr(lib, dtype) if dtype else None))
    check(lambda lib: lib.full(shape, lib.tensor(value)))


def test_full_dtype_inference() -> None:
    for value in [3, 3.5, True, 1j, np.float64(2.5), np.int32(2), 2 ** 63]:
        check(lambda lib, value=value: lib.full((2,), value))
    check(lambda lib: lib.full((2,), lib.tensor(1.5, dtype=lib.float64)))
    check(lambda lib: lib.full(2, 1))  # size must be a sequence
    with default_dtype("float64"):
        check(lambda lib: lib.full((2,), 3.5))


@given(st.sampled_from(ALL_DTYPES), st.sampled_from([*ALL_DTYPES, None]),
       st.one_of(LEAVES["int"], LEAVES["float"], LEAVES["bool"]), st.data())
@SETTINGS
def test_like_constructors(src: str, dtype: str | None, value: object,
                           data: st.DataObject) -> None:
    x = data.draw(specs(src))

    def meta(t: object) -> object:
        return t.dtype, tuple(t.shape), t.requires_grad  # type: ignore[attr-defined]

    for name in ["zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
                 "randn_like"]:
        def fn(lib: object, x: object, name: str = name) -> object:
            d = getattr(lib, dtype) if dtype else None
            extra = (value,) if name == "full_like" else ()
            t = getattr(lib, name)(x, *extra, dtype=d)
            # strides follow a dense input's layout (a transpose stays transposed); the
            # stride of a size-1 dim is arbitrary (convkit's Tensor normalises it)
            layout = tuple(s for s, n in zip(t.stride(), t.shape, strict=True) if n > 1) if (
                x.is_contiguous() or x.permute(*reversed(range(x.ndim))).is_contiguous()
            ) else None
            return (meta(t), layout) if name in ("empty_like", "rand_like", "randn_like") \
                else (t, layout)
        check(fn, x)
    check(lambda lib, x: lib.randint_like(x, 3, 7).dtype, x)


# ----------------------------------------------------------------------- ranges
@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(-5, 5).filter(bool),
       st.sampled_from([None, "int64", "int32", "float32", "float64", "int16"]))
@SETTINGS
def test_arange_ints(start: int, end: int, step: int, dtype: str | None) -> None:
    d = (lambda lib: getattr(lib, dtype)) if dtype else (lambda lib: None)
    check(lambda lib: lib.arange(start, end, step, dtype=d(lib)))
    check(lambda lib: lib.arange(end, dtype=d(lib)))
    check(lambda lib: lib.arange(start, end, dtype=d(lib)))


@given(st.floats(-10, 10), st.floats(-10, 10), st.floats(-3, 3).filter(lambda v: abs(v) > .05),
       st.sampled_from([None, "float32", "float64", "int64", "float16"]))
@SETTINGS
def test_arange_floats(start: float, end: float, step: float, dtype: str | None) -> None:
    start, end, step = (float(np.float32(v)) for v in (start, end, step))
    assume(abs((end - start) / step - round((end - start) / step)) > 1e-6)  # length unambiguous
    d = (lambda lib: getattr(lib, dtype)) if dtype else (lambda lib: None)
    # torch's vectorised loop restarts from a rounded base every SIMD width, so values may
    # differ from the exact start + i * step by an ulp of the dtype
    tol = 2e-3 if dtype == "float16" else 1e-5
    check(lambda lib: lib.arange(start, end, step, dtype=d(lib)), rtol=tol, atol=tol)


@pytest.mark.parametrize("args", [
    (0, 5, -1), (5, 0, 1), (0, 5, 0), (0.0, 1.0, 0.0), (True,), (0, 3, 1, "bool"),
    (5, "complex64"), (0, 1, 0.3, "int64"), (0.5, 5.5, 1.5, "int64"),
    (-1.5, 1.5, 1, "int32"), (np.int64(3),), (1j,), (10, "uint8"),
])
def test_arange_special(args: tuple[object, ...]) -> None:
    *nums, dtype = args if isinstance(args[-1], str) else (*args, None)
    check(lambda lib: lib.arange(*nums, dtype=getattr(lib, dtype) if dtype else None),
          match_message=True)
    check(lambda lib: lib.arange(lib.tensor(nums[0])) if len(nums) == 1 and not isinstance(
        nums[0], complex) else lib.zeros(0))


@given(st.floats(-100, 100), st.floats(-100, 100), st.integers(0, 25),
       st.sampled_from([None, "float32", "float64", "int64", "int32", "float16"]))
@SETTINGS
def test_linspace(start: float, end: float, steps: int, dtype: str | None) -> None:
    d = (lambda lib: getattr(lib, dtype)) if dtype else (lambda lib: None)
    for lo, hi in [(start, end), (int(start), int(end))]:
        ours, theirs = run_both(
            lambda lib, lo=lo, hi=hi: lib.linspace(lo, hi, steps, dtype=d(lib)), ok=True)
        if dtype not in ("int64", "int32"):
            assert_same(ours, theirs, rtol=1e-5, atol=1e-4)
            continue
        # Integer results truncate values computed in double. Where the exact value is an
        # integer, torch's answer depends on its SIMD width (its vectorised loop steps from
        # a per-vector base), so one below is as right as the integer itself there.
        assert ours.dtype.name == dtype and tuple(ours.shape) == tuple(theirs.shape)
        a, b = int(lo), int(hi)
        exact = np.array([a + (b - a) * i / max(steps - 1, 1) for i in range(steps)])
        on_integer = np.abs(exact - np.round(exact)) < 1e-9
        diff = ours.numpy().astype(np.int64) - theirs.numpy().astype(np.int64)
        assert np.all(diff[~on_integer] == 0) and np.all(np.abs(diff[on_integer]) <= 1)


@pytest.mark.parametrize("args", [(0, 1, -1), (0, 1, 2.5), (1j, 2, 3), (3, -1, 4), (0, 1, 1),
                                  (0, 1, 0), (0.5, 10.7, 4, "int64")])
def test_linspace_special(args: tuple[object, ...]) -> None:
    *nums, dtype = args if isinstance(args[-1], str) else (*args, None)
    check(lambda lib: lib.linspace(*nums, dtype=getattr(lib, dtype) if dtype else None))


@given(st.integers(0, 5), st.one_of(st.none(), st.integers(0, 5)),
       st.sampled_from([None, *ALL_DTYPES]))
@FEW
def test_eye(n: int, m: int | None, dtype: str | None) -> None:
    d = (lambda lib: getattr(lib, dtype)) if dtype else (lambda lib: None)
    check(lambda lib: lib.eye(n, dtype=d(lib)) if m is None else lib.eye(n, m, dtype=d(lib)))


@pytest.mark.parametrize("args", [(-1,), (2, -1)])
def test_eye_rejects_negative(args: tuple[int, ...]) -> None:
    check(lambda lib: lib.eye(*args), match_message=True)


# ----------------------------------------------------------------------- random
@given(small_shape, st.sampled_from([None, "float32", "float64", "float16", "int64", "bool",
                                     "complex64"]))
@SETTINGS
def test_rand_randn_shapes_dtypes_ranges(shape: tuple[int, ...], dtype: str | None) -> None:
    for name in ["rand", "randn"]:
        def fn(lib: object, name: str = name) -> object:
            d = getattr(lib, dtype) if dtype else None
            make = getattr(lib, name)
            return make(*shape, dtype=d) if shape else make(shape, dtype=d)
        pair = run_both(fn)
        if pair is None:
            continue  # both refused the dtype (checked by run_both)
        ours, theirs = pair
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.is_contiguous()
        values = ours.numpy()
        assert np.all(np.isfinite(values))
        parts = [values.real, values.imag] if ours.dtype.is_complex else [values]
        if name == "rand":  # [0, 1), for each part of a complex number
            assert all(np.all((p >= 0) & (p < 1)) for p in parts)
        if ours.dtype.is_complex and values.size > 1:  # both parts are random
            assert len(np.unique(values.imag)) > 1


@given(st.integers(-50, 50), st.integers(1, 60), small_shape,
       st.sampled_from([None, "int64", "int32", "int16", "int8", "uint8", "float32", "bool"]))
@SETTINGS
def test_randint(low: int, span: int, shape: tuple[int, ...], dtype: str | None) -> None:
    high = low + span
    pair = run_both(lambda lib: lib.randint(low, high, shape,
                                            dtype=getattr(lib, dtype) if dtype else None))
    if pair is None:
        return  # out of the dtype's range: both raised RuntimeError
    ours, theirs = pair
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    values = ours.numpy().astype(np.int64)
    assert np.all((values >= low) & (values < high))
    if high <= 0:
        return
    ours, theirs = run_both(lambda lib: lib.randint(high, shape))
    assert ours.dtype is convkit.int64 and tuple(ours.shape) == tuple(theirs.shape)
    assert np.all((ours.numpy() >= 0) & (ours.numpy() < high))


@pytest.mark.parametrize("call", [
    "randint(5)", "randint(5, 3)", "randint(2.5, (2,))", "randint(5, 5, (2,))",
    "randint(5, size=(2,))", "randint(low=1, high=5, size=(2,))", "randint(5, [2, 2])",
])
def test_randint_signatures(call: str) -> None:
    check(lambda lib: tuple(eval(f"lib.{call}", {"lib": lib}).shape))


def test_randint_covers_its_range() -> None:
    convkit.manual_seed(0)
    values = convkit.randint(3, 9, (2000,)).numpy()
    assert set(np.unique(values)) == set(range(3, 9))


def test_manual_seed_reproducible() -> None:
    def draw() -> list[np.ndarray]:
        return [convkit.rand(3).numpy(), convkit.randn(2, 2).numpy(),
                convkit.randint(0, 100, (4,)).numpy(), convkit.randperm(6).numpy(),
                convkit.empty(5).normal_().numpy(), convkit.empty(5).uniform_(-1, 1).numpy()]
    convkit.manual_seed(1234)
    first = draw()
    convkit.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    convkit.manual_seed(4321)
    third = draw()
    assert not np.array_equal(first[0], third[0])
    # a generator object is independent of the global seed
    g = convkit.Generator().manual_seed(7)
    a = convkit.rand(4, generator=g).numpy()
    convkit.rand(10)
    assert np.array_equal(a, convkit.rand(4, generator=convkit.Generator().manual_seed(7))
                          .numpy())


def test_random_fills_statistics() -> None:
    convkit.manual_seed(0)
    h = convkit.rand(50000, dtype=convkit.float16).numpy()
    assert h.max() < 1 and h.min() >= 0  # float16 rounding must not reach 1
    h = convkit.empty(50000, dtype=convkit.float16).uniform_(-1, 1).numpy()
    assert h.max() < 1 and h.min() >= -1
    z = convkit.randn(20000, dtype=convkit.complex128).numpy()  # E|z|^2 = 1, as in torch
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 0.05 and abs(z.imag.var() - 0.5) < 0.03
    n = 20000
    x = convkit.empty(n, dtype=convkit.float64).normal_(2.0, 0.5).numpy()
    assert abs(x.mean() - 2.0) < 0.02 and abs(x.std() - 0.5) < 0.02
    u = convkit.empty(n).uniform_(-3, 1).numpy()
    assert u.min() >= -3 and u.max() < 1 and abs(u.mean() + 1) < 0.05
    r = convkit.rand(n).numpy()
    assert abs(r.mean() - 0.5) < 0.02
    z = convkit.randn(n, dtype=convkit.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


@given(st.sampled_from(ALL_DTYPES), st.data())
@SETTINGS
def test_inplace_initialisers(dtype: str, data: st.DataObject) -> None:
    x = data.draw(specs(dtype, layouts=["contiguous", "transposed", "sliced"]))
    value = data.draw(st.one_of(LEAVES["int"], LEAVES["float"], LEAVES["bool"],
                                st.integers(-300, 300)))

    def meta(lib: object, x: object, name: str, *args: object) -> object:
        out = getattr(x, name)(*args)
        return out is x, out.dtype, tuple(out.shape), out.stride()
    check(lambda lib, x: (x.zero_() is x, x), x)
    check(lambda lib, x: (x.fill_(value) is x, x), x)
    check(lambda lib, x: x.fill_(lib.tensor(value)), x)
    check(lambda lib, x: x.fill_(lib.tensor([value])), x)  # only 0-d tensors
    check(meta, x, "normal_")  # integer dtypes: NotImplementedError
    check(meta, x, "normal_", 1.0, 2.0)
    check(meta, x, "uniform_", -1.0, 1.0)
    check(meta, x, "uniform_", 2.0, 1.0)  # from > to


def test_inplace_initialiser_errors() -> None:
    check(lambda lib: lib.ones(3).normal_(0, -1))
    check(lambda lib: lib.ones(3).fill_(1e300), match_message=True)
    check(lambda lib: lib.ones(3).fill_(1j), match_message=True)
    check(lambda lib: lib.ones(3, dtype=lib.uint8).fill_(300), match_message=True)
    check(lambda lib: lib.ones(3, dtype=lib.uint8).fill_(-1))
    for name in ["normal_", "zero_", "uniform_"]:
        check(lambda lib, name=name: getattr(lib.ones(3, requires_grad=True), name)())
    with torch.no_grad(), convkit.no_grad():
        check(lambda lib: lib.ones(3, requires_grad=True).zero_())


def test_seed_idioms() -> None:
    # PyTorch code seeds and draws like this; the calls must exist and behave alike.
    convkit.manual_seed(0)
    x = convkit.randn(1, 1, 8, 8)
    assert tuple(x.shape) == (1, 1, 8, 8) and x.dtype is convkit.float32
    assert isinstance(convkit.initial_seed(), int) and convkit.initial_seed() == 0
    assert math.isfinite(float(x.sum()))


def test_spec_helper_builds_same_layouts() -> None:
    # the helper the tests above rely on: both libraries see equal values and strides
    spec = Spec(np.arange(6.0).reshape(3, 2), "transposed", (2, 3))
    ours, theirs = spec.build(convkit), spec.build(torch)
    assert ours.stride() == theirs.stride() == (1, 2)
    assert_same(ours, theirs)
