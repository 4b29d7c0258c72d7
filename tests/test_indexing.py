"""``x[index]`` and ``x[index] = v`` against PyTorch.

Basic indices (ints, slices with steps, None, ``...``) must give views with torch's strides
and storage offset on the same memory; advanced ones (int tensors and lists, bool masks,
Python bools, mixed with basic ones) copies laid out as torch lays them out. Writes must land
exactly where torch's land (cast like torch casts, or refused like torch refuses), and
gradients must flow through both reading and writing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import convkit
from tests.conftest import (
    ALL_DTYPES,
    SETTINGS,
    Layout,
    apply_step,
    assert_grads_match,
    assert_same,
    base_values,
    layouts,
    run_both,
    write_through,
)

# An index is a recipe, built in either library by ``build_index``: a tuple of items
# such as ("int", 2), ("slice", slice(0, None, 2)), ("tensor", [[0, 1]], "int64")...
Item = tuple[Any, ...]
CONSUMES_ONE = {"int", "slice", "list", "tensor", "int0d"}


def build_index(L: Any, items: tuple[Item, ...], bare: bool) -> Any:
    """The index for library ``L`` (tensors are made with ``L.tensor``)."""
    built = []
    for kind, *args in items:
        if kind in ("int", "slice", "list", "pybool"):
            built.append(args[0])
        elif kind == "none":
            built.append(None)
        elif kind == "ellipsis":
            built.append(Ellipsis)
        elif kind == "int0d":
            built.append(L.tensor(args[0]))
        elif kind == "tensor":
            values, dtype = args
            built.append(L.tensor(np.array(values, dtype=np.int64), dtype=getattr(L, dtype)))
        elif kind == "mask":
            values, as_tensor = args
            built.append(L.tensor(np.array(values, dtype=bool)) if as_tensor else values)
    if bare and len(built) == 1:
        return built[0]
    return tuple(built)


@st.composite
def index_recipes(draw: Any, shape: tuple[int, ...], advanced: bool = True
                  ) -> tuple[tuple[Item, ...], bool]:
    """An index for a tensor of ``shape``: the kinds first, then each item's values for the
    dim it lands on (as torch counts dims: masks take several, ``...`` the unnamed ones).
    Mostly valid, now and then out of range, too long or of a refused type."""
    ndim = len(shape)
    kinds_basic = ["int", "slice", "slice", "none", "ellipsis"]
    kinds_adv = ["list", "tensor", "mask", "pybool", "int0d"]
    kinds = draw(st.lists(st.sampled_from(kinds_basic + (kinds_adv if advanced else [])),
                          max_size=ndim + 1))
    while kinds.count("ellipsis") > 1:  # torch reads past the sizes then (see test_index_forms)
        kinds.remove("ellipsis")
    mask_dims = [draw(st.integers(1, 2)) if k == "mask" else 0 for k in kinds]
    specified = sum(1 for k in kinds if k in CONSUMES_ONE) + sum(mask_dims)
    items: list[Item] = []
    dim = 0
    for kind, k in zip(kinds, mask_dims, strict=True):
        size = shape[dim] if dim < ndim else 3
        oob = draw(st.integers(0, 15)) == 0  # an out-of-range value now and then
        if kind == "int":
            items.append(("int", size if oob else draw(st.integers(-size, max(size - 1, -size)))))
        elif kind == "int0d":
            items.append(("int0d", draw(st.integers(-size, max(size - 1, -size)))))
        elif kind == "slice":
            step = draw(st.sampled_from([None, None, 1, 2, 3] + ([0, -1] if oob else [])))
            bound = st.none() | st.integers(-size - 1, size + 1)
            items.append(("slice", slice(draw(bound), draw(bound), step)))
        elif kind in ("list", "tensor"):
            lo, hi = -size, size - 1 + oob
            n = draw(st.integers(0, 3))
            values: Any = [draw(st.integers(lo, hi)) for _ in range(n)] if hi >= lo else []
            if kind == "tensor" and values and draw(st.booleans()):
                values = [values, list(reversed(values))]  # a 2-d index
            if kind == "list":
                items.append(("list", values))
            else:
                dtype = draw(st.sampled_from(["int64", "int64", "int32"]
                                             + (["int16", "float32"] if oob else [])))
                items.append(("tensor", values, dtype))
        elif kind == "mask":
            sizes = [shape[d] if d < ndim else 2 for d in range(dim, dim + k)]
            if oob and sizes:
                sizes[0] += 1
            flat = draw(st.lists(st.booleans(), min_size=int(np.prod(sizes)),
                                 max_size=int(np.prod(sizes))))
            values = np.array(flat, dtype=bool).reshape(sizes).tolist()
            # torch counts a bool *list* as one dim however many it masks, and then reads
            # sizes past the end; only 1-d masks may be lists
            items.append(("mask", values, k > 1 or draw(st.booleans())))
        elif kind == "pybool":
            items.append(("pybool", draw(st.booleans())))
        else:
            items.append((kind,))
        if kind in CONSUMES_ONE:
            dim += 1
        elif kind == "mask":
            dim += k
        elif kind == "ellipsis":
            dim += max(ndim - specified, 0)
    return tuple(items), draw(st.booleans())


def is_basic(items: tuple[Item, ...]) -> bool:
    return all(kind in ("int", "slice", "none", "ellipsis", "int0d") for kind, *_ in items)


# --------------------------------------------------------------------------- reading
@SETTINGS
@given(layouts(), st.data())
def test_basic_indexing_returns_views(layout: Layout, data: st.DataObject) -> None:
    """ints, slices with steps, None and ``...``: a view with torch's strides and offset."""
    _, _, c, t = layout.build()
    items, bare = data.draw(index_recipes(tuple(t.shape), advanced=False), "index")
    op = lambda L, x: x[build_index(L, items, bare)]  # noqa: E731
    outs = run_both(op, (c,), (t,))
    if outs is None:
        return
    assert_same(*outs, c, t)
    assert outs[1].untyped_storage().data_ptr() == t.untyped_storage().data_ptr()
    write_through(*outs, c, t)
    assert_grads_match(layout, op)


@SETTINGS
@given(layouts(), st.data())
def test_advanced_indexing_copies(layout: Layout, data: st.DataObject) -> None:
    """Tensors, lists, masks and bools, mixed with basic items: a copy, laid out as torch's
    TensorIterator lays it out; out-of-range values and bad index dtypes raise alike."""
    _, _, c, t = layout.build()
    items, bare = data.draw(index_recipes(tuple(t.shape)), "index")
    op = lambda L, x: x[build_index(L, items, bare)]  # noqa: E731
    outs = run_both(op, (c,), (t,))
    if outs is None:
        return
    assert_same(*outs, c, t)
    write_through(*outs, c, t)
    assert_grads_match(layout, op)


@pytest.mark.parametrize("index", [
    (0, slice(None), [0, 1]),        # NumPy would put the [0, 1] dim first; torch does not
    (slice(None), [0, 1], 0),
    ([0, 1], slice(None), [1, 2]),   # separated advanced indices go to the front
    ([[0, 1], [1, 0]],),             # a 2-d index
    [[0, 1], [1, 0]],                # a list of lists is a tuple (NumPy's legacy rule)
    [[0, 1]],
    (True,), (False, 0), (None, True, ..., None),
    (Ellipsis, Ellipsis),            # torch accepts two
    ([],), [],
], ids=repr)
def test_index_forms(index: Any) -> None:
    layout = Layout((2, 3, 4), "float64", 5, (("permute", (1, 2, 0)),))
    check_getitem(layout, lambda L: index)


@pytest.mark.parametrize("make", [
    lambda L: L.tensor(1), lambda L: L.tensor(True), lambda L: L.tensor(False),
    lambda L: (L.tensor(1), [0, 1]), lambda L: np.array(1), lambda L: np.array([0, 1]),
    lambda L: np.array([[0, 1], [1, 0]]), lambda L: np.int64(1),
    lambda L: L.tensor([1, 0], dtype=L.uint8),  # a uint8 tensor is a mask
    lambda L: (L.tensor([[0, 1]]).T, slice(None)),  # a strided index tensor
    lambda L: (L.tensor([0, 1]).expand(2, 2), L.tensor([1, 2], dtype=L.int32)),
], ids=["int0d", "bool0d", "false0d", "int0d+list", "np0d", "np1d", "np2d", "npint",
        "uint8", "strided", "expanded+int32"])
def test_tensor_and_array_index_forms(make: Any) -> None:
    """A 0-d integer tensor selects (a view!), a 0-d bool adds a dim, uint8 masks."""
    layout = Layout((3, 4), "int64", 2, (("transpose", 0, 1),))
    check_getitem(layout, make)


@pytest.mark.parametrize("index", [
    0.5, "a", np.bool_(True), None, (0, 0, 0), (slice(None, None, -1),),
    (slice(None, None, 0),), [0.5], ([0, 1], [0, 1, 2]), (..., [5]),
], ids=repr)
def test_bad_indices(index: Any) -> None:
    check_getitem(Layout((3, 4), "float32", 0), lambda L: index)


def check_getitem(layout: Layout, make: Any) -> None:
    """Compare ``x[make(L)]`` in both libraries, including gradients."""
    _, _, c, t = layout.build()
    op = lambda L, x: x[make(L)]  # noqa: E731
    outs = run_both(op, (c,), (t,))
    if outs is not None:
        assert_same(*outs, c, t)
        write_through(*outs, c, t)
    assert_grads_match(layout, op)


def test_0d_tensor_indexing() -> None:
    for index in [(), Ellipsis, None, 0, (None, None), True, False]:
        check_getitem(Layout((), "float64", 1), lambda L, index=index: index)


# --------------------------------------------------------------------------- writing
@st.composite
def values_for(draw: Any, target: tuple[int, ...] | None, dtype: str
               ) -> tuple[str, Any, str]:
    """A value to assign: a Python number, or a tensor that broadcasts to ``target``
    (possibly with extra leading 1s, possibly of another dtype), rarely one that does not."""
    if target is None or draw(st.integers(0, 3)) == 0:
        return ("scalar", draw(st.sampled_from([0, 1, -3, 7, 2.5, -1.5, True, False, 250])),
                "")
    shape = [n if draw(st.integers(0, 2)) else 1 for n in target]
    shape = shape[draw(st.integers(0, len(shape))):]  # a suffix broadcasts too
    shape = [1] * draw(st.sampled_from([0, 0, 1, 2])) + shape
    if draw(st.integers(0, 9)) == 0:
        shape = [*shape, 2]
    other = draw(st.sampled_from([dtype, dtype, dtype, *ALL_DTYPES]))
    return ("tensor", tuple(shape), other)


def make_value(L: Any, value: tuple[str, Any, str], seed: int) -> Any:
    kind, spec, dtype = value
    if kind == "scalar":
        return spec
    return L.tensor(base_values(spec, dtype, seed))


@SETTINGS
@given(layouts(), st.data())
def test_setitem(layout: Layout, data: st.DataObject) -> None:
    """Writes through basic indices cast and broadcast (copy_); through advanced ones they
    are index_put_: same dtype required, except a single mask with one value (masked_fill)."""
    cb, tb, c, t = layout.build()
    items, bare = data.draw(index_recipes(tuple(t.shape)), "index")
    try:
        target = tuple(t[build_index(torch, items, bare)].shape)
    except (IndexError, RuntimeError, TypeError, ValueError):
        target = None
    value = data.draw(values_for(target, layout.dtype), "value")
    seed = data.draw(st.integers(0, 2**16))

    def op(L: Any, x: Any) -> Any:
        x[build_index(L, items, bare)] = make_value(L, value, seed)
        return x

    before = cb.numpy().copy()
    outs = run_both(op, (c,), (t,))
    if outs is None:
        # refused: convkit writes nothing (torch's kernel may have written some elements
        # before meeting an out-of-range index, so torch's memory is no reference here)
        np.testing.assert_array_equal(cb.numpy(), before)
        return
    np.testing.assert_array_equal(cb.numpy(), tb.numpy())  # the same elements changed
    assert_same(*outs, c, t)


@st.composite
def grad_cases(draw: Any) -> tuple[Layout, tuple[Item, ...], bool, Any]:
    layout = draw(layouts(dtypes=["float64"], expand=False))
    shape = tuple(layout.pair()[1].shape)
    items, bare = draw(index_recipes(shape))
    try:
        whole = torch.empty(shape)
        part = whole[build_index(torch, items, bare)]
        target = tuple(part.shape)
        # torch writes ``y[:] = v`` (and y[...], y[0:n]) with y.copy_(v) on y itself; that
        # case is test_copy_over_a_whole_non_leaf_gives_zero_grad (a bug outside indexing)
        assume(layout.steps or not is_basic(items) or part.stride() != whole.stride()
               or part.shape != whole.shape or part.storage_offset())
    except (IndexError, RuntimeError, TypeError, ValueError):
        target = None
    return layout, items, bare, draw(values_for(target, "float64"))


@SETTINGS
@given(grad_cases(), st.integers(0, 2**16))
def test_setitem_gradients(case: tuple[Layout, tuple[Item, ...], bool, Any], seed: int
                           ) -> None:
    """y = x * 1 viewed through the layout's steps; y_view[index] = w * 2; backward through
    all of y: x.grad is zero where overwritten, w.grad sums the upstream gradient."""
    layout, items, bare, value = case

    def run(L: Any) -> tuple[Any, Any, Any]:
        x = L.tensor(base_values(layout.shape, "float64", layout.seed), requires_grad=True)
        y = x * 1
        view = y
        for step in layout.steps:
            view = apply_step(view, step)
        w = None
        if value[0] == "tensor":
            w = L.tensor(base_values(value[1], "float64", seed), requires_grad=True)
            view[build_index(L, items, bare)] = w * 2
        else:
            view[build_index(L, items, bare)] = value[1]
        g = L.tensor(np.random.default_rng(seed).standard_normal(tuple(y.shape)))
        (y * g).sum().backward()
        return x, w, y

    try:
        tx, tw, ty = run(torch)
    except (IndexError, RuntimeError, TypeError, ValueError) as e:
        with pytest.raises(type(e) if type(e) is not RuntimeError else RuntimeError):
            run(convkit)
        return
    cx, cw, cy = run(convkit)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    if tw is not None:
        assert (cw.grad is None) == (tw.grad is None)
        if tw.grad is not None:
            np.testing.assert_allclose(cw.grad.numpy(), tw.grad.numpy(), atol=1e-12)


def test_copy_over_a_whole_non_leaf_gives_zero_grad() -> None:
    grads = {}
    for L in (torch, convkit):
        x = L.ones(3, requires_grad=True)
        y = x * 1
        y[:] = 5.0  # torch: y.copy_(...) on y itself, not on a view of it
        y.sum().backward()
        grads[L.__name__] = x.grad
    assert grads["convkit"] is not None
    np.testing.assert_array_equal(grads["convkit"].numpy(), grads["torch"].numpy())


def test_setitem_on_non_leaf_gradients() -> None:
    """The brief's example: y = x * 1; y[0] = w * 2; y.sum().backward()."""
    grads = {}
    for L in (torch, convkit):
        x = L.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        w = L.tensor([5.0, 6.0], requires_grad=True)
        y = x * 1
        y[0] = w * 2
        y.sum().backward()
        grads[L.__name__] = (x.grad.numpy(), w.grad.numpy(), y.detach().numpy())
    for a, b in zip(grads["convkit"], grads["torch"], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [-1, 300, 2.7, -2.7, 70000.0, 1e39, float("nan"), 1 + 2j,
                                   2**63, True], ids=repr)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "bool", "float16", "float32",
                                   "complex64"])
@pytest.mark.parametrize("index", [0, [0], "mask"], ids=["basic", "advanced", "mask"])
def test_setitem_scalar_conversion(value: Any, dtype: str, index: Any) -> None:
    """Python numbers convert like torch's Scalar: ints wrap into uint8, out-of-range values
    raise RuntimeError (float16 saturates to inf), huge ints raise ValueError."""
    def op(L: Any, x: Any) -> Any:
        x[L.tensor([True, False, True]) if index == "mask" else index] = value
        return x

    c, t = Layout((3,), dtype, 0).pair()
    outs = run_both(op, (c,), (t,))
    if outs is not None:
        assert_same(*outs)


@pytest.mark.parametrize("value", [
    lambda L: L.tensor([1.5, 2.5]), lambda L: L.tensor(2.5), lambda L: L.tensor([[7]]),
    lambda L: L.tensor(300.0), lambda L: [1, 2], lambda L: np.array([1.0, 2.0]),
    lambda L: None, lambda L: "a",
], ids=["float-2", "float-0d", "int-1x1", "float-300", "list", "ndarray", "None", "str"])
@pytest.mark.parametrize("index", [
    lambda L: slice(0, 2), lambda L: [0, 2], lambda L: L.tensor([True, False, True]),
    lambda L: (L.tensor([True, False, True]),), lambda L: L.tensor([0, 2]),
], ids=["slice", "list", "mask", "mask-tuple", "tensor"])
def test_setitem_value_dtypes(value: Any, index: Any) -> None:
    """Into an int64 tensor: copy_ casts, index_put_ refuses another dtype unless a single
    mask takes a one-element value (masked_fill), non-tensor values are a TypeError."""
    def op(L: Any, x: Any) -> Any:
        x[index(L)] = value(L)
        return x

    c, t = Layout((3,), "int64", 0).pair()
    outs = run_both(op, (c,), (t,))
    if outs is not None:
        assert_same(*outs)


def test_setitem_on_expanded_tensor() -> None:
    """torch refuses copies into overlapping memory but lets index_put_ write through it."""
    layout = Layout((1,), "float32", 0, (("expand", (3,)),))
    for index in [slice(None), [0], 0]:
        def op(L: Any, x: Any, index: Any = index) -> Any:
            x[index] = 5.0
            return x

        cb, tb, c, t = layout.build()
        outs = run_both(op, (c,), (t,))
        if outs is not None:
            assert_same(*outs, c, t)
        np.testing.assert_array_equal(cb.numpy(), tb.numpy())


@pytest.mark.parametrize("index, value", [
    ([0], lambda x: x[1]), (slice(0, 2), lambda x: x[1:3]), (0, lambda x: x[1]),
    ("mask", lambda x: x[1]), ([0, 1], lambda x: x[2:4]), (slice(None), lambda x: x),
    (slice(0, None, 2), lambda x: x[1::2]), ([0, 1, 2, 3], lambda x: x),
    (slice(0, 2), lambda x: x[2:]), (slice(1, None), lambda x: x[:1]),
], ids=["adv-elem", "partial", "elem", "mask-one", "adv-range", "self", "strided",
        "adv-self", "disjoint", "broadcast"])
def test_setitem_from_own_memory(index: Any, value: Any) -> None:
    """A value that aliases the written memory: torch refuses partial overlap for copies
    and any overlap for index_put_ (not checked when either side is not dense)."""
    def op(L: Any, x: Any) -> Any:
        x[L.tensor([True, False, False, False]) if index == "mask" else index] = value(x)
        return x

    c, t = Layout((4,), "float64", 0).pair()
    outs = run_both(op, (c,), (t,))
    if outs is not None:
        assert_same(*outs)
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_setitem_false_is_a_no_op() -> None:
    for L in (torch, convkit):
        x = L.zeros(2)
        x[False] = L.ones(7)  # not even the shape is checked
        assert x.tolist() == [0.0, 0.0]
