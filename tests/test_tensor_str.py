"""Check ``convkit._tensor_str.format_tensor`` against real PyTorch ``repr``.

PyTorch is used only as the oracle: every case builds a torch tensor from the
same NumPy values and requires the two texts to be identical.

The comparison passes torch's own dtype name (``torch.uint8``) as
``dtype_name`` rather than comparing against ``repr`` with ``torch.``
renamed to ``convkit.``: the suffix line-wrapping decision depends on the
suffix length, so the two extra characters of ``convkit.`` legitimately move
a suffix to the next line in some cases where torch keeps it on the same line.
Using the same name on both sides keeps the oracle exact;
``test_convkit_dtype_name`` checks that the name is inserted verbatim.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch._tensor_str import printoptions

from convkit._tensor_str import format_tensor

INT_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.int64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
COMPLEX_DTYPES = [np.complex64, np.complex128]
ALL_DTYPES = [np.bool_, *INT_DTYPES, *FLOAT_DTYPES, *COMPLEX_DTYPES]

HYPOTHESIS = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow,
                                             HealthCheck.data_too_large])


# --------------------------------------------------------------------------
# Oracle helpers
# --------------------------------------------------------------------------

def torch_shows_dtype(tensor: torch.Tensor) -> bool:
    """PyTorch's rule for printing ``dtype=`` (default dtype is float32 here)."""
    if tensor.numel() == 0:
        # An empty tensor has no values to hint at its dtype.
        return tensor.dtype != torch.get_default_dtype()
    return tensor.dtype not in (torch.float32, torch.complex64, torch.int64, torch.bool)


def autograd_suffix(tensor: torch.Tensor) -> "list[str]":
    """The autograd suffix torch prints, as the convkit caller would pass it."""
    if tensor.grad_fn is not None:
        return [f"grad_fn=<{type(tensor.grad_fn).__name__}>"]
    if tensor.requires_grad:
        return ["requires_grad=True"]
    return []


def ours(tensor: torch.Tensor, prefix: str = "tensor(", **options: object) -> str:
    """format_tensor applied to the values, dtype and autograd state of ``tensor``."""
    return format_tensor(
        tensor.detach().numpy(),
        dtype_name=str(tensor.dtype),
        show_dtype=torch_shows_dtype(tensor),
        suffixes=autograd_suffix(tensor),
        prefix=prefix,
        **options,
    )


def theirs(tensor: torch.Tensor) -> str:
    """torch's repr, the text format_tensor must reproduce."""
    return repr(tensor)


def assert_same(tensor: torch.Tensor, **options: object) -> None:
    """Compare under the given print options (torch's are set to match)."""
    with printoptions(**options):
        expected = theirs(tensor)
    assert ours(tensor, **options) == expected


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------

SPECIAL_FLOATS = [0.0, -0.0, math.nan, math.inf, -math.inf, 1.0, -1.0, 0.5,
                  1e-5, 1e9, 123456.789, 1e8, 1e-4, 999.5]


@st.composite
def float_values(draw: st.DrawFn, dtype: type, shape: "tuple[int, ...]") -> np.ndarray:
    """Float64 values of one "regime" per array, cast to ``dtype``.

    A single regime per array keeps many arrays in fixed-point or integer mode;
    mixing everything per element would almost always force scientific mode.
    """
    width = {np.float16: 16, np.float32: 32}.get(dtype, 64)
    exponent = draw(st.integers(-12, 12))
    regimes = {
        # Anything the dtype can hold: subnormals, huge values, nan, inf.
        "any": st.floats(width=width),
        # Integer-valued floats, the "4." case, including large ones.
        "integral": st.integers(-(10 ** 10), 10 ** 10).map(float),
        "small_integral": st.integers(-20, 20).map(float),
        # Fixed-point friendly values: magnitudes within a factor of 1000.
        "moderate": st.one_of(st.floats(0.1, 99.9), st.floats(-99.9, -0.1)),
        # Values of one magnitude, so the dynamic-range test varies by array.
        "scaled": st.floats(-10, 10).map(lambda m: m * 10.0 ** exponent),
    }
    elements = regimes[draw(st.sampled_from(sorted(regimes)))]
    if draw(st.booleans()):
        elements = st.one_of(elements, st.sampled_from(SPECIAL_FLOATS))
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    # float16 overflow to inf is intended: it is a legitimate value to print.
    with np.errstate(over="ignore"):
        return values.astype(dtype)


@st.composite
def value_arrays(draw: st.DrawFn, shapes: st.SearchStrategy) -> np.ndarray:
    """An array of any supported dtype whose shape is drawn from ``shapes``."""
    dtype = draw(st.sampled_from(ALL_DTYPES))
    shape = draw(shapes)
    if dtype is np.bool_:
        return draw(hnp.arrays(np.bool_, shape))
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        full = st.integers(int(info.min), int(info.max))
        small = st.integers(max(int(info.min), -12), 12)
        return draw(hnp.arrays(dtype, shape, elements=draw(st.sampled_from([full, small]))))
    if dtype in FLOAT_DTYPES:
        return draw(float_values(dtype, shape))
    part = np.float32 if dtype is np.complex64 else np.float64
    result = np.empty(shape, dtype=dtype)
    # Assigning parts (rather than real + 1j * imag) keeps inf and -0. intact.
    result.real = draw(float_values(part, shape))
    result.imag = draw(float_values(part, shape))
    return result


SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
LONG_SHAPES = st.one_of(
    st.integers(6, 150).map(lambda n: (n,)),
    st.tuples(st.integers(1, 3), st.integers(10, 60)),
)
ANY_SHAPES = st.one_of(SMALL_SHAPES, LONG_SHAPES)


def to_tensor(values: np.ndarray, autograd: str) -> torch.Tensor:
    """A torch tensor of ``values`` in the requested autograd state.

    ``autograd`` is "none", "leaf" (requires_grad=True) or the name of a
    differentiable op whose output carries a grad_fn.
    """
    tensor = torch.from_numpy(values.copy())
    if autograd == "none" or not (tensor.is_floating_point() or tensor.is_complex()):
        return tensor
    tensor.requires_grad_(True)
    if autograd == "leaf":
        return tensor
    ops = {"clone": torch.clone, "mul": lambda x: x * 2, "neg": torch.neg}
    return ops[autograd](tensor)


AUTOGRAD = st.sampled_from(["none", "none", "leaf", "clone", "mul", "neg"])


# --------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------

@HYPOTHESIS
@given(values=value_arrays(ANY_SHAPES), autograd=AUTOGRAD)
def test_matches_torch_default_options(values: np.ndarray, autograd: str) -> None:
    """All dtypes, 0-4 dims, empty and wrapped shapes, autograd suffixes."""
    assert_same(to_tensor(values, autograd))


@HYPOTHESIS
@given(
    values=value_arrays(ANY_SHAPES),
    autograd=AUTOGRAD,
    linewidth=st.integers(1, 160),
    precision=st.integers(0, 8),
    threshold=st.integers(0, 60),
    edgeitems=st.integers(0, 4),
    sci_mode=st.sampled_from([None, True, False]),
)
def test_matches_torch_print_options(values: np.ndarray, autograd: str, linewidth: int,
                                     precision: int, threshold: int, edgeitems: int,
                                     sci_mode: "bool | None") -> None:
    """Every print option; small thresholds make ordinary arrays summarise."""
    assert_same(to_tensor(values, autograd), linewidth=linewidth, precision=precision,
                threshold=threshold, edgeitems=edgeitems, sci_mode=sci_mode)


class LongSubclassName(torch.Tensor):
    """A subclass only to make torch print a prefix other than ``tensor(``."""


@settings(max_examples=60, deadline=None)
@given(values=value_arrays(ANY_SHAPES), autograd=AUTOGRAD)
def test_prefix_sets_indent(values: np.ndarray, autograd: str) -> None:
    """Continuation lines and suffix wrapping follow the prefix length."""
    # as_subclass of a leaf adds an AliasBackward0 grad_fn, so the autograd
    # suffix is taken from the subclass tensor itself.
    tensor = to_tensor(values, autograd).as_subclass(LongSubclassName)
    assert ours(tensor, prefix="LongSubclassName(") == theirs(tensor)


# --------------------------------------------------------------------------
# Fixed cases: large tensors that summarise, and hand-picked corner cases
# --------------------------------------------------------------------------

def random_values(shape: "tuple[int, ...]", dtype: type, kind: str, seed: int) -> np.ndarray:
    """Deterministic large arrays, too big to draw efficiently with hypothesis."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        values = rng.standard_normal(shape)
    elif kind == "integral":
        values = rng.integers(-500, 500, shape).astype(np.float64)
    elif kind == "wide":
        values = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 9, shape)
    else:
        raise ValueError(kind)
    if np.dtype(dtype).kind == "c":
        return (values + 1j * rng.standard_normal(shape)).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        return np.clip(values * 100, -100, 100).astype(dtype)
    if dtype is np.bool_:
        return values > 0
    return values.astype(dtype)


@pytest.mark.parametrize("shape", [(2000,), (1001,), (40, 40), (3, 400), (400, 3),
                                   (2, 3, 200), (7, 7, 7, 7), (1, 1, 1001)])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("kind", ["normal", "integral", "wide"])
def test_summarised_tensors(shape: "tuple[int, ...]", dtype: type, kind: str) -> None:
    """Tensors over the 1000-element threshold print with "..." and edge items."""
    values = random_values(shape, dtype, kind, seed=sum(shape))
    assert_same(to_tensor(values, "none"))


def test_summary_formatter_ignores_hidden_values() -> None:
    """A huge hidden value must not switch the visible ones to scientific."""
    values = 1 + np.arange(2000, dtype=np.float32) / 7
    values[1000] = 1e20
    text = ours(torch.from_numpy(values))
    assert "e+" not in text
    assert_same(torch.from_numpy(values))


@pytest.mark.parametrize("tensor", [
    torch.tensor([[4.0, 4.0, 1.0]], dtype=torch.float64),
    torch.tensor(3.5),
    torch.tensor(-0.0),
    torch.tensor(7),
    torch.tensor(True),
    torch.tensor(1 - 0j),
    torch.tensor(complex(-0.0, -0.0)),
    torch.tensor([]),
    torch.tensor([], dtype=torch.int64),
    torch.tensor([], dtype=torch.float64),
    torch.zeros(0, 3),
    torch.zeros(2, 0, 4, dtype=torch.bool),
    torch.zeros(0, dtype=torch.complex64),
    torch.tensor([0.0, -0.0, math.nan, math.inf, -math.inf]),
    torch.tensor([math.nan, math.inf]),
    torch.tensor([1e-5, 1.0]),
    torch.tensor([1e9, 1.0]),
    torch.tensor([1000.0, 1.0]),
    torch.tensor([1001.0, 1.0]),
    torch.tensor([65504.0, 1e-7], dtype=torch.float16),
    torch.tensor([complex(1, -0.0), complex(-2.5, math.inf), complex(math.nan, 1e10)]),
    torch.tensor([[True, False], [False, True]]),
    torch.arange(30.0),
    torch.arange(-10, 10, dtype=torch.int8).reshape(2, 2, 5),
    torch.ones(2, 2, 2, 2, dtype=torch.complex128),
    torch.ones(3, requires_grad=True),
    torch.ones(12, 6, requires_grad=True) * 123.456,
    torch.ones(3, dtype=torch.float64, requires_grad=True).sum(),
], ids=repr)
def test_corner_cases(tensor: torch.Tensor) -> None:
    """Hand-picked shapes and values named in the specification."""
    assert_same(tensor)


def test_parameter_repr_is_caller_prefix_plus_tensor_text() -> None:
    """nn.Parameter's repr is our text after a fixed first line."""
    parameter = torch.nn.Parameter(torch.linspace(-1, 1, 30))
    assert theirs(parameter) == "Parameter containing:\n" + ours(parameter)


@pytest.mark.parametrize("tensor", [
    torch.tensor([[4.0, 4.0, 1.0]], dtype=torch.float64),
    torch.zeros(0, 3, dtype=torch.int64),
    torch.arange(5, dtype=torch.int16),
], ids=repr)
def test_convkit_dtype_name(tensor: torch.Tensor) -> None:
    """The dtype name is used verbatim (short cases, where wrapping is unaffected)."""
    name = str(tensor.dtype).replace("torch.", "convkit.")
    text = format_tensor(tensor.numpy(), dtype_name=name, show_dtype=True)
    assert text == repr(tensor).replace("torch.", "convkit.")
    assert "dtype=convkit." in text


def test_convkit_dtype_name_wraps_by_its_own_length() -> None:
    """torch's wrapping rule applied to the longer convkit name.

    The last line is 58 characters; torch's estimate adds 2, so
    "dtype=torch.uint8" (17) fits in 80 but "dtype=convkit.uint8" (19) does not.
    """
    values = np.zeros((1, 33), dtype=np.uint8)
    prefix = "LongSubclassName("
    text = format_tensor(values, dtype_name="convkit.uint8", show_dtype=True, prefix=prefix)
    assert text.endswith("0]],\n" + " " * len(prefix) + "dtype=convkit.uint8)")
    torch_text = format_tensor(values, dtype_name="torch.uint8", show_dtype=True, prefix=prefix)
    assert torch_text == repr(torch.from_numpy(values).as_subclass(LongSubclassName))


@pytest.mark.parametrize("options", [{"precision": 2}, {"threshold": 5, "edgeitems": 1},
                                     {"linewidth": 40}, {"sci_mode": True},
                                     {"profile": "short"}, {"profile": "full"}])
def test_set_printoptions_matches_pytorch(options: dict) -> None:
    import convkit

    # float32: no dtype suffix, whose longer "convkit." name may wrap differently
    values = np.linspace(-3.3, 12.7, 1200, dtype=np.float32).reshape(30, 40)
    try:
        torch.set_printoptions(**options)
        convkit.set_printoptions(**options)
        expected = repr(torch.from_numpy(values))
        got = repr(convkit.from_numpy(values))
    finally:
        torch.set_printoptions(profile="default")
        convkit.set_printoptions(profile="default")
    assert got == expected.replace("torch.", "convkit.")
