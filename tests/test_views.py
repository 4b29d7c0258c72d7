"""View and shape ops against PyTorch: values, dtype, shape, strides, contiguity, storage
offset, memory sharing (and writes through the result), error classes and gradients.

Inputs come from :func:`conftest.layouts`: a contiguous tensor put through random view steps
(transpose, permute, slices with steps, narrow, expand, unsqueeze), built identically in both
libraries, so every op also meets non-contiguous, overlapping and empty layouts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import convkit
from tests.conftest import (
    ALL_DTYPES,
    SETTINGS,
    Layout,
    assert_grads_match,
    assert_same,
    layouts,
    run_both,
    write_through,
)

Op = Callable[[Any, Any], Any]


def check(layout: Layout, op: Op, grad: bool = True, write: bool = True) -> None:
    """Run ``op(lib, x)`` on the layout in both libraries and compare everything."""
    _, _, c, t = layout.build()
    outs = run_both(op, (c,), (t,))
    if outs is None:
        return
    c_out, t_out = outs
    assert_same(c_out, t_out, c, t)
    if write:
        write_through(c_out, t_out, c, t)
    if grad:
        assert_grads_match(layout, op)


def dims(n: int) -> st.SearchStrategy[int]:
    """Dims of an n-d tensor, one past each end included (those must raise IndexError)."""
    m = max(n, 1)
    return st.integers(-m - 1, m)


def _prime_factors(n: int) -> list[int]:
    """``12 -> [2, 2, 3]``: the pieces a valid target shape distributes over its dims."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def target_shapes(draw: Any, numel: int) -> tuple[int, ...]:
    """Shapes for view/reshape: usually a valid factorisation (maybe with -1), else junk."""
    if draw(st.integers(0, 4)) == 0:
        return tuple(draw(st.lists(st.integers(-2, 6), max_size=4)))
    k = draw(st.integers(0 if numel == 1 else 1, 4))
    shape = [1] * k
    if numel == 0:
        shape = [draw(st.integers(0, 3)) for _ in range(k)]
        shape[draw(st.integers(0, k - 1))] = 0
    else:
        for p in _prime_factors(numel):
            shape[draw(st.integers(0, k - 1))] *= p
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, k - 1))] = -1
    return tuple(shape)


def call_with_shape(method: str, shape: tuple[int, ...], style: int) -> Op:
    """``x.view(2, 3)``, ``x.view((2, 3))`` or ``x.view([2, 3])``: torch accepts all three."""
    if style == 0 and shape:
        return lambda L, x: getattr(x, method)(*shape)
    if style == 1:
        return lambda L, x: getattr(x, method)(list(shape))
    return lambda L, x: getattr(x, method)(tuple(shape))


# --------------------------------------------------------------------------- view / reshape
@SETTINGS
@given(layouts(), st.data())
def test_view(layout: Layout, data: st.DataObject) -> None:
    numel = int(np.prod(layout.pair()[1].shape))
    shape = data.draw(target_shapes(numel), "shape")
    check(layout, call_with_shape("view", shape, data.draw(st.integers(0, 2))))


@SETTINGS
@given(layouts(), st.data())
def test_reshape(layout: Layout, data: st.DataObject) -> None:
    """reshape is a view whenever view would succeed, and a contiguous copy otherwise."""
    numel = int(np.prod(layout.pair()[1].shape))
    shape = data.draw(target_shapes(numel), "shape")
    check(layout, call_with_shape("reshape", shape, data.draw(st.integers(0, 2))))
    check(layout, lambda L, x: L.reshape(x, shape))


@SETTINGS
@given(layouts(), st.data())
def test_view_and_reshape_error_messages(layout: Layout, data: st.DataObject) -> None:
    """Bad shapes raise torch's RuntimeError with torch's exact text (infer_size's wording)."""
    c, t = layout.pair()
    shape = data.draw(target_shapes(t.numel()), "shape")
    for method in ("view", "reshape"):
        try:
            getattr(t, method)(shape)
        except RuntimeError as e:
            with pytest.raises(RuntimeError) as info:
                getattr(c, method)(shape)
            assert str(info.value) == str(e)


@pytest.mark.parametrize("method", ["view", "reshape"])
def test_invalid_shape_error_text(method: str) -> None:
    """Lecture 001, lines (W) and (Y): the documented message, word for word."""
    for lib in (convkit, torch):
        with pytest.raises(RuntimeError) as info:
            getattr(lib.arange(10), method)(3, -1)
        assert str(info.value) == "shape '[3, -1]' is invalid for input of size 10"


def test_view_on_transposed_tensor_error_text() -> None:
    y = torch.arange(10).view(2, 5).T
    with pytest.raises(RuntimeError) as expected:
        y.view(-1)
    with pytest.raises(RuntimeError) as got:
        convkit.arange(10).view(2, 5).T.view(-1)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("shape", [(2, -1), (-1,), (1, 5, 2), (10, 1), (5, 2), (2, 1, 5)])
@pytest.mark.parametrize("layout", [
    Layout((4, 5), "int64", 0, (("slice", 0, slice(None, None, 2)),)),  # rows 0, 2 only
    Layout((2, 5), "int64", 0, (("transpose", 0, 1),)),
    Layout((3, 10), "int64", 0, (("select", 0, 1), ("view", (2, 5)))),
    Layout((5, 1), "int64", 0, (("expand", (5, 2)),)),
    Layout((2, 1, 5), "int64", 0, (("transpose", 0, 1),)),  # size-1 dims never block a view
], ids=["strided-rows", "transposed", "offset", "expanded", "size1-moved"])
def test_view_layout_table(layout: Layout, shape: tuple[int, ...]) -> None:
    """Deterministic layouts where view must fail or succeed exactly as torch's does."""
    check(layout, lambda L, x: x.view(shape))


# --------------------------------------------------------------------------- squeeze & co
@SETTINGS
@given(layouts(), st.data())
def test_squeeze(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    kind = data.draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        check(layout, lambda L, x: x.squeeze())
        check(layout, lambda L, x: L.squeeze(x))
    elif kind == "int":
        d = data.draw(dims(n), "dim")
        check(layout, lambda L, x: x.squeeze(d))
        check(layout, lambda L, x: L.squeeze(x, dim=d))
    else:  # duplicates and out-of-range dims included: torch rejects both
        ds = tuple(data.draw(st.lists(dims(n), max_size=3), "dims"))
        check(layout, lambda L, x: x.squeeze(ds))


@SETTINGS
@given(layouts(), st.data())
def test_unsqueeze(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    d = data.draw(st.integers(-n - 2, n + 1), "dim")  # valid range is [-n-1, n]
    check(layout, lambda L, x: x.unsqueeze(d))
    check(layout, lambda L, x: L.unsqueeze(x, d))


@SETTINGS
@given(layouts(), st.data())
def test_flatten(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    start, end = data.draw(dims(n), "start"), data.draw(dims(n), "end")
    check(layout, lambda L, x: x.flatten())
    check(layout, lambda L, x: x.flatten(start, end))
    check(layout, lambda L, x: L.flatten(x, start_dim=start))


@SETTINGS
@given(layouts(), st.data())
def test_unflatten(layout: Layout, data: st.DataObject) -> None:
    t = layout.pair()[1]
    d = data.draw(dims(t.ndim), "dim")
    size = t.shape[d] if -t.ndim <= d < t.ndim else 4
    sizes = data.draw(target_shapes(size), "sizes")
    check(layout, lambda L, x: x.unflatten(d, sizes))


# --------------------------------------------------------------------------- dim reordering
@SETTINGS
@given(layouts(), st.data())
def test_transpose(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    d0, d1 = data.draw(dims(n), "d0"), data.draw(dims(n), "d1")
    check(layout, lambda L, x: x.transpose(d0, d1))
    check(layout, lambda L, x: L.transpose(x, d0, d1))
    check(layout, lambda L, x: x.swapaxes(d0, d1))


@SETTINGS
@given(layouts(), st.data())
def test_permute(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    order = list(data.draw(st.permutations(range(n))))
    how = data.draw(st.sampled_from(["ok", "negative", "duplicate", "short", "range"]))
    if how == "negative" and order:
        order[0] -= n
    elif how == "duplicate" and len(order) >= 2:
        order[1] = order[0]
    elif how == "short":
        order = order[:-1] if order else [0]
    elif how == "range" and order:
        order[-1] = n
    check(layout, lambda L, x: x.permute(*order) if order else x.permute(()))
    check(layout, lambda L, x: x.permute(tuple(order)))
    check(layout, lambda L, x: L.permute(x, tuple(order)))


@SETTINGS
@given(layouts())
def test_t_T_mT(layout: Layout) -> None:
    check(layout, lambda L, x: x.t())
    check(layout, lambda L, x: L.t(x))
    check(layout, lambda L, x: x.T)
    if layout.pair()[1].ndim:  # 0-d: see test_mT_of_0d_tensor_is_identity
        check(layout, lambda L, x: x.mT)


def test_mT_of_0d_tensor_is_identity() -> None:
    check(Layout((), "float64", 0), lambda L, x: x.mT)


@SETTINGS
@given(layouts(), st.data())
def test_movedim(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    if data.draw(st.booleans()):
        src, dst = data.draw(dims(n), "src"), data.draw(dims(n), "dst")
    else:  # tuples; repeats and unequal lengths must raise like torch
        k = data.draw(st.integers(0, max(n, 1)))
        src = tuple(data.draw(st.lists(dims(n), min_size=k, max_size=k), "src"))
        dst = tuple(data.draw(st.lists(dims(n), min_size=k, max_size=k + 1), "dst"))
    check(layout, lambda L, x: x.movedim(src, dst))
    check(layout, lambda L, x: L.movedim(x, src, dst))


def test_movedim_rejects_int_with_tuple() -> None:
    """torch has movedim(int, int) and movedim(tuple, tuple), nothing mixed."""
    check(Layout((2, 3), "float32", 0), lambda L, x: x.movedim(0, (1,)), grad=False)


# --------------------------------------------------------------------------- expand, repeat
@st.composite
def expand_sizes(draw: Any, shape: tuple[int, ...], valid_only: bool = False
                 ) -> tuple[int, ...]:
    """Targets for expand: size-1 dims stretched (to 0 too), others kept (-1 or equal)."""
    sizes = [draw(st.sampled_from([1, 2, 3, 0, -1])) if s == 1 else
             draw(st.sampled_from([-1, s] if valid_only else [-1, s, s, s + 1]))
             for s in shape]
    # -1 in a new leading dim is refused, except that torch skips every check for a 0-d
    # input (zeros(()).expand(0, -1) has shape [0, -1]); convkit refuses that too
    refusable = [] if valid_only or not shape else [-1]
    lead = [draw(st.sampled_from([1, 2, 0, *refusable])) for _ in range(draw(st.integers(0, 2)))]
    sizes = lead + sizes
    if not valid_only and sizes and draw(st.integers(0, 5)) == 0:
        sizes = sizes[1:]  # fewer sizes than dims (an error when it drops a real dim)
    return tuple(sizes)


@SETTINGS
@given(layouts(), st.data())
def test_expand(layout: Layout, data: st.DataObject) -> None:
    sizes = data.draw(expand_sizes(tuple(layout.pair()[1].shape)), "sizes")
    check(layout, lambda L, x: x.expand(*sizes) if sizes else x.expand(()))
    check(layout, lambda L, x: x.expand(sizes))


@SETTINGS
@given(layouts(), st.data())
def test_expand_as(layout: Layout, data: st.DataObject) -> None:
    shape = tuple(layout.pair()[1].shape)
    sizes = data.draw(expand_sizes(shape, valid_only=True), "sizes")
    target = tuple(torch.empty(shape).expand(sizes).shape)  # the -1s resolved
    check(layout, lambda L, x: x.expand_as(L.zeros(target)))


@SETTINGS
@given(layouts(max_ndim=3), st.data())
def test_repeat(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    reps = tuple(data.draw(st.lists(st.integers(-1, 3), min_size=max(n - 1, 0),
                                    max_size=n + 2), "reps"))
    # a negative repeat of a size-0 dim is legal, but torch's own backward fails on it
    grad = all(r >= 0 for r in reps)
    check(layout, lambda L, x: x.repeat(*reps) if reps else x.repeat(()), grad=grad)
    check(layout, lambda L, x: x.repeat(reps), grad=grad)


# --------------------------------------------------------------------------- narrow & pieces
@SETTINGS
@given(layouts(), st.data())
def test_narrow(layout: Layout, data: st.DataObject) -> None:
    t = layout.pair()[1]
    d = data.draw(dims(t.ndim), "dim")
    size = t.shape[d] if -t.ndim <= d < t.ndim else 3
    start = data.draw(st.integers(-size - 1, size + 1), "start")
    length = data.draw(st.integers(-1, size + 1), "length")
    check(layout, lambda L, x: x.narrow(d, start, length))
    check(layout, lambda L, x: L.narrow(x, d, start, length))


@SETTINGS
@given(layouts(), st.data())
def test_split(layout: Layout, data: st.DataObject) -> None:
    t = layout.pair()[1]
    d = data.draw(dims(t.ndim), "dim")
    size = t.shape[d] if -t.ndim <= d < t.ndim else 3
    if data.draw(st.booleans()):
        how: Any = data.draw(st.integers(-1, size + 2), "split_size")
    else:
        how = data.draw(st.lists(st.integers(-1, size), max_size=4), "sections")
        if data.draw(st.booleans()) and how:
            how[-1] = size - sum(how[:-1])  # usually sums to the size: valid
    check(layout, lambda L, x: x.split(how, d))
    check(layout, lambda L, x: L.split(x, how, dim=d))


@SETTINGS
@given(layouts(), st.data())
def test_chunk(layout: Layout, data: st.DataObject) -> None:
    n = layout.pair()[1].ndim
    chunks = data.draw(st.integers(-1, 6), "chunks")
    d = data.draw(dims(n), "dim")
    check(layout, lambda L, x: x.chunk(chunks, d))
    check(layout, lambda L, x: L.chunk(x, chunks, dim=d))


@SETTINGS
@given(layouts(), st.data())
def test_unbind(layout: Layout, data: st.DataObject) -> None:
    d = data.draw(dims(layout.pair()[1].ndim), "dim")
    check(layout, lambda L, x: x.unbind(d))
    check(layout, lambda L, x: L.unbind(x, d))


# --------------------------------------------------------------------------- copies
@SETTINGS
@given(layouts(), st.data())
def test_flip(layout: Layout, data: st.DataObject) -> None:
    """flip copies (strides never go negative) into torch's empty_like layout."""
    n = layout.pair()[1].ndim
    ds = tuple(data.draw(st.lists(dims(n), max_size=3), "dims"))
    check(layout, lambda L, x: x.flip(ds))
    check(layout, lambda L, x: L.flip(x, ds))
    if ds:
        check(layout, lambda L, x: x.flip(*ds))


@SETTINGS
@given(layouts())
def test_contiguous_and_clone(layout: Layout) -> None:
    """contiguous() is the input itself when already contiguous; clone() keeps the strides
    of dense layouts and gives other layouts dense strides in the same dim order."""
    check(layout, lambda L, x: x.contiguous())
    check(layout, lambda L, x: x.clone())
    check(layout, lambda L, x: L.clone(x))


@SETTINGS
@given(layouts(), st.sampled_from(ALL_DTYPES))
def test_to_dtype_keeps_layout(layout: Layout, dtype: str) -> None:
    """Conversion copies into empty_like's layout, like clone (and is x itself if a no-op)."""
    check(layout, lambda L, x: x.to(getattr(L, dtype)), grad=False)
    check(layout, lambda L, x: x.double())


def test_contiguous_returns_self_when_contiguous() -> None:
    x = convkit.arange(6).view(2, 3)
    assert x.contiguous() is x
    assert x.T.contiguous() is not x


# --------------------------------------------------------------------------- cat / stack
@st.composite
def layout_of_shape(draw: Any, shape: tuple[int, ...], dtype: str) -> Layout:
    """A layout whose result has exactly ``shape``: contiguous, permuted, strided or expanded."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = len(shape)
    kind = draw(st.sampled_from(["contiguous", "permuted", "strided", "expanded"]))
    if kind == "permuted" and n >= 2:
        order = tuple(draw(st.permutations(range(n))))
        inverse = tuple(int(i) for i in np.argsort(order))
        return Layout(tuple(shape[i] for i in order), dtype, seed, (("permute", inverse),))
    if kind == "strided" and n >= 1:
        d = draw(st.integers(0, n - 1))
        base = shape[:d] + (2 * shape[d],) + shape[d + 1:]
        return Layout(base, dtype, seed, (("slice", d, slice(None, None, 2)),))
    if kind == "expanded" and n >= 1:
        d = draw(st.integers(0, n - 1))
        return Layout(shape[:d] + (1,) + shape[d + 1:], dtype, seed, (("expand", shape),))
    return Layout(shape, dtype, seed)


@st.composite
def cat_inputs(draw: Any, same_shape: bool, dtypes: list[str] | None = None
               ) -> tuple[list[Layout], int]:
    """1-3 layouts that agree on every dim but ``dim`` (sometimes not: must raise)."""
    n = draw(st.integers(0, 4))
    shape = [draw(st.sampled_from([1, 2, 3, 0])) for _ in range(n)]
    # stack takes dims in [-n-1, n]; cat in [-n, n-1], so go past that only now and then
    dim = draw(st.integers(-n - 1, n) if same_shape or draw(st.integers(0, 4)) == 0
               else st.integers(-max(n, 1), max(n, 1) - 1))
    out = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        if not same_shape and s and -n <= dim < n:
            s[dim] = draw(st.integers(0, 3))
        if draw(st.integers(0, 9)) == 0:  # a mismatch, a missing dim, or legacy (0,)
            s = draw(st.sampled_from([s[:-1], [*s, 2], [0], [q + 1 for q in s]]))
        out.append(draw(layout_of_shape(tuple(s), draw(st.sampled_from(dtypes or ALL_DTYPES)))))
    return out, dim


def check_join(layouts_: list[Layout], op: Callable[[Any, list[Any]], Any]) -> None:
    """``op(lib, tensors)`` compared as a copy of all inputs; gradients on float64."""
    pairs = [lay.pair() for lay in layouts_]
    outs = run_both(op, ([c for c, _ in pairs],), ([t for _, t in pairs],))
    if outs is None:
        return
    assert_same(outs[0], outs[1])
    for c, t in pairs:  # a fresh tensor: writing into it leaves every input alone
        write_through(outs[0], outs[1], c, t)
    # gradients: every input float64 and requiring grad
    built = [lay.build("float64", requires_grad=True) for lay in layouts_]
    c_out, t_out = op(convkit, [b[2] for b in built]), op(torch, [b[3] for b in built])
    g = np.random.default_rng(0).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(g)).sum().backward()
    (c_out * convkit.tensor(g)).sum().backward()
    for cb, tb, _, _ in built:
        np.testing.assert_allclose(cb.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(cat_inputs(same_shape=False))
def test_cat(case: tuple[list[Layout], int]) -> None:
    """dtypes promote across inputs; 1-d (0,) inputs are skipped as in torch."""
    layouts_, dim = case
    check_join(layouts_, lambda L, xs: L.cat(xs, dim))
    check_join(layouts_, lambda L, xs: L.cat(tuple(xs), dim=dim))


@SETTINGS
@given(cat_inputs(same_shape=True))
def test_stack(case: tuple[list[Layout], int]) -> None:
    layouts_, dim = case
    check_join(layouts_, lambda L, xs: L.stack(xs, dim))


@SETTINGS
@given(layouts(min_ndim=4, max_ndim=5, max_steps=4), st.data())
def test_cat_output_layout(layout: Layout, data: st.DataObject) -> None:
    """cat's output is channels-last when all inputs suggest it (4-d and 5-d), and stack's
    is cat's viewed with a new dim: exercised on permuted, sliced and expanded inputs."""
    n = layout.pair()[1].ndim
    d = data.draw(st.integers(-n, n - 1), "dim")
    check(layout, lambda L, x: L.cat([x, x], d), write=False)
    check(layout, lambda L, x: L.cat([x.contiguous(), x], d), write=False)
    check(layout, lambda L, x: L.stack([x, x], d), write=False)


@pytest.mark.parametrize("order", [(0, 2, 3, 1), (0, 2, 3, 4, 1), (0, 3, 1, 2), (1, 0, 2, 3)])
def test_cat_and_stack_of_channels_last_inputs(order: tuple[int, ...]) -> None:
    """Images stored NHWC and permuted to NCHW: torch keeps that layout through cat/stack."""
    shape = (2, 3, 4, 5, 6)[:len(order)]
    inverse = tuple(int(i) for i in np.argsort(order))
    layout = Layout(tuple(shape[i] for i in order), "float64", 3, (("permute", inverse),))
    for d in range(-len(order), len(order)):
        check(layout, lambda L, x, d=d: L.cat([x, x * 2], d), write=False)
        check(layout, lambda L, x, d=d: L.stack([x, x], d), write=False)


@pytest.mark.parametrize("op", [
    lambda L: L.cat([]), lambda L: L.stack([]), lambda L: L.cat(L.zeros(2)),
    lambda L: L.cat([L.zeros(2), 1]), lambda L: L.cat([L.tensor(1.0), L.tensor(2.0)]),
    lambda L: L.stack([L.zeros(2), L.zeros(3)]),
])
def test_join_errors(op: Callable[[Any], Any]) -> None:
    assert run_both(lambda L: op(L), (), ()) is None


@pytest.mark.parametrize("op", [
    lambda L, x: x.view(2.0, 3), lambda L, x: x.view("a"), lambda L, x: x.view(None),
    lambda L, x: x.view(True, 6), lambda L, x: x.reshape(2, 3.0),
    lambda L, x: x.permute(0.0, 1), lambda L, x: x.expand(2.5, 3),
    lambda L, x: x.expand_as([2, 3]), lambda L, x: x.repeat(1.5, 1),
    lambda L, x: x.squeeze(1.0), lambda L, x: x.unsqueeze(1.5),
    lambda L, x: x.transpose(0, 1.0), lambda L, x: x.narrow(0, 0.5, 1),
    lambda L, x: x.flatten(0.0), lambda L, x: x.unflatten(0, (2.0, 1)),
    lambda L, x: x.split(1.5), lambda L, x: x.split([1.0, 1]), lambda L, x: x.chunk(1.5),
    lambda L, x: x.unbind(0.5), lambda L, x: x.flip(0.5), lambda L, x: x.movedim(0.5, 1),
    lambda L, x: x.select(0, 1.0), lambda L, x: x.t(0), lambda L, x: L.cat([x], dim=0.5),
    lambda L, x: L.stack(x), lambda L, x: L.cat([x, x.tolist()]),
], ids=lambda op: "")
def test_wrong_argument_types_raise_type_error(op: Op) -> None:
    """Floats, strings, None and lists where torch wants ints or tensors: TypeError."""
    c, t = Layout((2, 3), "float32", 0).pair()
    with pytest.raises(TypeError):
        op(torch, t)
    assert run_both(op, (c,), (t,)) is None


# --------------------------------------------------------------------------- misc
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_dtype_keeps_its_layout_through_views(dtype: str) -> None:
    """A fixed chain of views for each dtype (strides are in elements, not bytes)."""
    steps = (("permute", (2, 0, 1)), ("slice", 1, slice(None, None, 2)))
    layout = Layout((2, 3, 4), dtype, 1, steps)
    check(layout, lambda L, x: x.unsqueeze(1).expand(4, 3, 1, 3).transpose(0, 3)[..., 1:],
          grad=dtype == "float64")

