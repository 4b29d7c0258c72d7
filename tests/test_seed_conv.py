"""The convolution examples of the lecture seeds, run with ``import convkit as torch``.

Each example is kept as the lecture writes it (for PyTorch) and run twice: with ``torch``
bound to convkit and to real PyTorch. Where the lecture prints deterministic values, convkit's
printout must equal PyTorch's (``torch.`` read as ``convkit.``) and the lecture's text (up to
whitespace, which the text extraction mangled). Where the values come from PyTorch's random
stream, which convkit does not reproduce, the relations the lecture explains are asserted on
convkit's own random kernels instead, and the lecture's printed kernels are loaded into
convkit's layers to reproduce its printed outputs.

Seeds: 001 = Kak & Bouman, "Demystifying the Convolutions in PyTorch"; 002 = the conv-layer
notebook; 003 = the "4.1 Convolution" slides; 004 = the nn.Conv2d notebook.
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.signal
import torch

import convkit

SEEDS = Path("/work/shared/seeds")
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="lecture seeds not present")


# ------------------------------------------------------------------ helpers
def seed_text(number: str) -> str:
    return next(SEEDS.glob(f"{number}_*.txt")).read_text()


def squash(text: str) -> str:
    """Text without whitespace and comment marks, library names read as ``torch``: the
    form in which a printout can be found in the extracted lecture text."""
    return re.sub(r"[\s#]+", "", text.replace("convkit.", "torch."))


def assert_in_seed(printed: str, number: str) -> None:
    """``printed`` (a short printout) is in the lecture's text, up to whitespace."""
    assert squash(printed) in squash(seed_text(number)), printed


def assert_rows_in_seed(printed: str, number: str, max_gap: int = 40) -> None:
    """Every row ``[...]`` of a tensor printout is in the lecture's text, in order and close
    together. The extraction mangled the brackets between rows and the line a ``dtype=``
    goes on, so the rows, not the whole printout, are what can be compared."""
    seed = squash(seed_text(number))
    rows = [squash(f"[{r}]") for r in re.findall(r"\[([^\[\]]+)\]", printed)]
    assert rows, printed
    starts = [m.start() for m in re.finditer(re.escape(rows[0]), seed)]
    for start in starts:
        pos, ok = start + len(rows[0]), True
        for row in rows[1:]:
            found = seed.find(row, pos)
            if found < 0 or found - pos > max_gap:
                ok = False
                break
            pos = found + len(row)
        if ok:
            return
    raise AssertionError(f"rows not found in seed {number} in this order:\n{printed}")


def tensor_text(rows: list[str], depth: int, suffix: str = "") -> str:
    """PyTorch's printout of a tensor of shape (1, ..., 1, H, W) (``depth`` dims) whose
    rows print as ``rows``; ``suffix`` is what follows the values (``, dtype=...``)."""
    indent = " " * (len("tensor(") + depth - 1)
    body = f",\n{indent}".join(rows)
    return f"tensor({'[' * (depth - 1)}{body}{']' * (depth - 1)}{suffix})"


def run_script(source: str, lib: Any) -> tuple[str, dict[str, Any]]:
    """Execute a lecture script with ``torch`` bound to ``lib``; its stdout and globals."""
    source = textwrap.dedent(source)
    if lib is convkit:
        source = (source.replace("import torch.nn.functional as F",
                                 "import convkit.nn.functional as F")
                  .replace("from torch import nn", "from convkit import nn")
                  .replace("import torch.nn as nn", "import convkit.nn as nn")
                  .replace("import torch\n", "import convkit as torch\n"))
        assert "torch" not in source.replace("import convkit as torch", "").replace(
            "torch.", "").replace("torch,", ""), "the script must not reach real torch"
    namespace: dict[str, Any] = {"__name__": "__lecture__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<lecture>", "exec"), namespace)
    return out.getvalue(), namespace


def both(source: str) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """convkit's printout, torch's with ``torch.`` read as ``convkit.``, and both globals."""
    ours, ns = run_script(source, convkit)
    theirs, tns = run_script(source, torch)
    return ours, theirs.replace("torch.", "convkit."), ns, tns


def printed_values(out: str) -> list[str]:
    """Split a printout into the printed objects (a tensor's repr spans several lines)."""
    values: list[str] = []
    for line in out.splitlines():
        if values and (line.startswith(" ") or not line
                       or values[-1].endswith("Parameter containing:")):
            values[-1] += "\n" + line
        else:
            values.append(line)
    return [v.rstrip("\n") for v in values]


def numpy_correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid 2-d cross-correlation, summed over input channels: (C, H, W), (O, C, kh, kw) ->
    (O, H-kh+1, W-kw+1). A loop oracle written from the definition."""
    out = np.zeros((w.shape[0], x.shape[1] - w.shape[2] + 1, x.shape[2] - w.shape[3] + 1))
    for o in range(w.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[o, i, j] = np.sum(x[:, i:i + w.shape[2], j:j + w.shape[3]] * w[o])
    return out


# ------------------------------------------------------------------ seed 001: the step edge
EDGE = """\
import numpy
import scipy.signal
import torch

def convo2d(input, kernel):
    H,W = input.shape
    M,N = kernel.shape
    out = numpy.zeros((H-M+1,W-N+1), dtype=float)
    kernel = numpy.flip(kernel)
    for i in range(H-M+1):
        for j in range(W-N+1):
            out[i,j] = numpy.sum( input[i:i+M,j:j+N] * kernel)
    return out

arr = numpy.zeros((8, 8), dtype=float)
arr[:, :4] = 4.0
arr[:, 4:] = 1.0
ker = numpy.zeros((3, 3), dtype=float)
ker[:, 0] = -1.0
ker[:, 2] = 1.0
convo_out = convo2d(arr, ker)
scipy_out = scipy.signal.convolve2d(arr, ker, mode='valid')

tsr_arr = torch.from_numpy( arr )
print(tsr_arr)
print(tsr_arr.shape)
tsr_ker = torch.from_numpy( ker )
print(tsr_ker)
tsr_arr = torch.unsqueeze(tsr_arr, 0)
tsr_arr = torch.unsqueeze(tsr_arr, 0)
tsr_ker = torch.unsqueeze(tsr_ker, 0)
tsr_ker = torch.unsqueeze(tsr_ker, 0)
print(tsr_ker)
print(tsr_ker.shape)
output = torch.nn.functional.conv2d(tsr_arr, tsr_ker, stride=1)
print(output)
print(output.shape)
flipped = torch.nn.functional.conv2d(tsr_arr, torch.flip(tsr_ker, [2, 3]), stride=1)
"""

EDGE_MINUS_NINE = """\
tensor([[[[ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.],
          [ 0.,  0., -9., -9.,  0.,  0.]]]], dtype=convkit.float64)"""


@needs_seeds
def test_step_edge_conv2d_gives_minus_nine_and_the_flipped_kernel_plus_nine() -> None:
    out, theirs, ns, _ = both(EDGE)
    assert out == theirs
    arr_print, arr_shape, ker_print, ker4_print, ker4_shape, conv_print, conv_shape = (
        printed_values(out))
    assert arr_print == tensor_text(["[4., 4., 4., 4., 1., 1., 1., 1.]"] * 8, 2,
                                    ", dtype=convkit.float64")
    assert arr_shape == "convkit.Size([8, 8])"
    assert ker_print == ("tensor([[-1.,  0.,  1.],\n        [-1.,  0.,  1.],\n"
                         "        [-1.,  0.,  1.]], dtype=convkit.float64)")
    assert ker4_print == ("tensor([[[[-1.,  0.,  1.],\n          [-1.,  0.,  1.],\n"
                          "          [-1.,  0.,  1.]]]], dtype=convkit.float64)")
    assert ker4_shape == "convkit.Size([1, 1, 3, 3])"
    assert conv_print == EDGE_MINUS_NINE
    assert conv_shape == "convkit.Size([1, 1, 6, 6])"
    for printed in (arr_print, ker4_print, conv_print):
        assert_rows_in_seed(printed, "001")
    # The lecture's point: conv2d is a cross-correlation (-9), the true convolution of
    # convo2d and scipy.signal.convolve2d gives +9; conv2d with the kernel flipped is it.
    plus_nine = np.tile([0.0, 0.0, 9.0, 9.0, 0.0, 0.0], (6, 1))
    np.testing.assert_array_equal(ns["convo_out"], plus_nine)
    np.testing.assert_array_equal(ns["scipy_out"], plus_nine)
    np.testing.assert_array_equal(ns["flipped"].numpy()[0, 0], ns["scipy_out"])
    np.testing.assert_array_equal(ns["output"].numpy()[0, 0], -plus_nine)
    assert ns["output"].dtype is convkit.float64


MODULE_OWN_KERNEL = """\
import numpy
import torch
from torch import nn

arr = numpy.zeros((8, 8), dtype=float)
arr[:, :4] = 4.0
arr[:, 4:] = 1.0
tensor_arr = torch.unsqueeze(torch.unsqueeze(torch.from_numpy(arr), 0), 0)
print(tensor_arr.type())
tensor_arr = tensor_arr.float()
print(tensor_arr.type())
ker = numpy.array([[-1,0,1],
                   [-1,0,1],
                   [-1,0,1]])
ker = torch.from_numpy(ker)
print( ker.type() )
ker = ker.float()
ker = torch.unsqueeze(ker, 0)
ker = torch.unsqueeze(ker, 0)
conop = nn.Conv2d(1, 1, 3, bias=False)
conop.weight = torch.nn.Parameter( ker )
output = conop(tensor_arr)
print(output)
print(output.shape)
"""


@needs_seeds
def test_conv2d_module_with_our_own_kernel() -> None:
    out, theirs, ns, _ = both(MODULE_OWN_KERNEL)
    assert out == theirs
    double, single, long_, printed, shape = printed_values(out)
    assert (double, single, long_) == ("convkit.DoubleTensor", "convkit.FloatTensor",
                                       "convkit.LongTensor")
    assert printed == (EDGE_MINUS_NINE.replace("dtype=convkit.float64",
                                               "grad_fn=<ConvolutionBackward0>"))
    assert_rows_in_seed(printed, "001")
    assert shape == "convkit.Size([1, 1, 6, 6])"
    # nn.Parameter(ker) shares ker's memory, as in PyTorch
    assert ns["conop"].weight.data_ptr() == ns["ker"].data_ptr()


RANDOM_INPUT = """\
import torch
from torch import nn
conop = nn.Conv2d(1, 1, 3, bias=False)
input = torch.randn(1, 1, 8, 8)
print(input.shape)
print(input.type())
output = conop(input)
print(output.shape)
print(output.type())
ker = conop.weight
print(ker)
print(ker.shape)
print(ker.type())
"""


def test_conv2d_module_on_random_input() -> None:
    """The values are PyTorch's random stream; the shapes, types and the relation
    output = cross-correlation(input, weight) are what the lecture shows."""
    out, _, ns, _ = both(RANDOM_INPUT)
    in_shape, in_type, out_shape, out_type, ker, ker_shape, ker_type = printed_values(out)
    assert (in_shape, in_type, out_shape, out_type) == (
        "convkit.Size([1, 1, 8, 8])", "convkit.FloatTensor", "convkit.Size([1, 1, 6, 6])",
        "convkit.FloatTensor")
    assert ker.startswith("Parameter containing:\ntensor([[[[")
    assert ker.endswith("]]]], requires_grad=True)")
    assert (ker_shape, ker_type) == ("convkit.Size([1, 1, 3, 3])", "convkit.FloatTensor")
    expected = numpy_correlate(ns["input"].numpy()[0], ns["ker"].detach().numpy())
    np.testing.assert_allclose(ns["output"].detach().numpy()[0], expected, rtol=1e-5,
                               atol=1e-6)
    assert type(ns["output"].grad_fn).__name__ == "ConvolutionBackward0"


# ------------------------------------------------------------------ seed 001: cross-correlation
CROSS_CORRELATION = """\
import numpy
import torch
from torch import nn
input = torch.zeros(1,1,8,8, dtype=float)
input[0,0,:,4] = 1
print(input)
ker = numpy.zeros((1,1,3,3), dtype=float)
ker[0,0,:] = [1,2,3]
ker = torch.from_numpy(ker)
conop = nn.Conv2d(1, 1, 3, bias=False)
conop.weight = nn.Parameter( ker )
output = conop(input)
print(output)
print(output.shape)
"""


@needs_seeds
def test_cross_correlation_rows_are_0_0_9_6_3_0() -> None:
    out, theirs, ns, _ = both(CROSS_CORRELATION)
    assert out == theirs
    input_print, output_print, shape = printed_values(out)
    assert input_print == tensor_text(["[0., 0., 0., 0., 1., 0., 0., 0.]"] * 8, 4,
                                      ", dtype=convkit.float64")
    assert output_print == tensor_text(["[0., 0., 9., 6., 3., 0.]"] * 6, 4,
                                       ", dtype=convkit.float64,\n"
                                       "       grad_fn=<ConvolutionBackward0>")
    assert shape == "convkit.Size([1, 1, 6, 6])"
    assert_rows_in_seed(input_print, "001")
    # the lecture printed this with an older PyTorch (no dtype, another grad_fn name)
    assert_rows_in_seed(output_print, "001")
    # Why only a cross-correlation prints 9 6 3: sliding the kernel over a line of ones
    # copies the kernel's row [1, 2, 3] (times the 3 rows) into the output mirrored, as the
    # line meets the kernel's last column first. A true convolution flips the kernel first
    # and so copies the row in order: 3 6 9.
    conv = np.tile([0.0, 0.0, 3.0, 6.0, 9.0, 0.0], (6, 1))
    flipped = scipy.signal.convolve2d(ns["input"].numpy()[0, 0], ns["ker"].numpy()[0, 0],
                                      mode="valid")
    np.testing.assert_array_equal(flipped, conv)


# ------------------------------------------------------------------ seed 001: multi-channel
TWO_CHANNELS = """\
import torch
from torch import nn
input = torch.zeros(1,2,8,8, dtype=float)
input[0,0,:,2] = 1.0
input[0,1,:,6] = 1.0
input = input.float()
print(input)
print(input.shape)
conop = nn.Conv2d(2, OUT, 3, bias=False)
ker = conop.weight
print(ker.shape)
output = conop(input)
print(output.shape)
float_output = output
output = output * 10 + 0.5
output = output.type(torch.int8)
print(output)
"""


@needs_seeds
@pytest.mark.parametrize("out_ch", [1, 3])
def test_two_channel_input_sums_per_channel_correlations(out_ch: int) -> None:
    """With convkit's own random kernel: each output channel is the sum over the two input
    channels of that channel's 3x3 operator run over it; the line of ones in channel 0
    (column 2) reaches output columns 0-2, the one in channel 1 (column 6) columns 4-5."""
    out, ns = run_script(TWO_CHANNELS.replace("OUT", str(out_ch)), convkit)
    input_print, in_shape, ker_shape, out_shape, int8_print = printed_values(out)
    assert_rows_in_seed(input_print, "001")
    assert in_shape == "convkit.Size([1, 2, 8, 8])"
    assert ker_shape == f"convkit.Size([{out_ch}, 2, 3, 3])"
    assert out_shape == f"convkit.Size([1, {out_ch}, 6, 6])"
    w = ns["ker"].detach().numpy().astype(np.float64)
    got = ns["float_output"].detach().numpy()[0]
    for o in range(out_ch):
        row = np.zeros(6)
        for j in range(3):  # channel 0: the ones sit under kernel column 2 - j
            row[j] += w[o, 0, :, 2 - j].sum()
        for j in (4, 5):  # channel 1: under kernel column 6 - j
            row[j] += w[o, 1, :, 6 - j].sum()
        np.testing.assert_allclose(got[o], np.tile(row, (6, 1)), rtol=1e-5, atol=1e-6)
        assert (got[o, :, 3] == 0).all()  # no kernel reaches either line from column 3
    # the discretisation: int8 truncates toward zero, as PyTorch's cast does
    th = (torch.from_numpy(got[None].copy()) * 10 + 0.5).type(torch.int8)
    assert ns["output"].dtype is convkit.int8
    np.testing.assert_array_equal(ns["output"].numpy(), th.numpy())
    assert int8_print == repr(th).replace("torch.", "convkit.")


# The kernels the lecture printed (its PyTorch random stream), loaded into convkit's layers:
# the lecture's printed outputs follow exactly.
SEED_KERNEL_2_TO_1 = [[[[0.0624, -0.0712, -0.0463], [-0.2252, -0.1561, -0.0972],
                        [0.0087, 0.0932, 0.1414]],
                       [[-0.1598, -0.1026, 0.0856], [0.1957, -0.0485, 0.1764],
                        [-0.0380, 0.0249, 0.2134]]]]
SEED_KERNEL_2_TO_3 = [
    [[[-0.2187, -0.1484, -0.0597], [-0.0919, 0.2036, -0.1528], [-0.1085, -0.1647, -0.2207]],
     [[-0.1376, 0.2026, 0.1052], [0.1142, 0.0124, -0.1208], [0.0399, -0.2201, -0.1703]]],
    [[[-0.1215, 0.1487, 0.1382], [-0.1045, -0.0085, 0.1507], [0.2343, 0.0935, 0.0318]],
     [[0.1580, -0.1388, 0.0439], [-0.1827, -0.1634, -0.1218], [0.1066, 0.0948, -0.1396]]],
    [[[0.0712, 0.1294, -0.0297], [0.0090, 0.0546, 0.1462], [0.2263, -0.1816, -0.0864]],
     [[0.0926, 0.1953, 0.2051], [0.2080, 0.0469, -0.2050], [0.0217, -0.1475, -0.2197]]]]
SEED_INT8_2_TO_1 = """\
tensor([[[[ 0,  0, -1,  0,  5,  0],
          [ 0,  0, -1,  0,  5,  0],
          [ 0,  0, -1,  0,  5,  0],
          [ 0,  0, -1,  0,  5,  0],
          [ 0,  0, -1,  0,  5,  0],
          [ 0,  0, -1,  0,  5,  0]]]], dtype=convkit.int8)"""


@needs_seeds
@pytest.mark.parametrize("out_ch,kernel", [(1, SEED_KERNEL_2_TO_1), (3, SEED_KERNEL_2_TO_3)])
def test_two_channel_outputs_with_the_lectures_kernels(out_ch: int, kernel: list) -> None:
    script = TWO_CHANNELS.replace("OUT", str(out_ch)).replace(
        "ker = conop.weight\n", f"conop.weight.data[:] = torch.tensor({kernel})\n"
        "ker = conop.weight\nprint(ker)\n")
    out, theirs, ns, _ = both(script)
    assert out == theirs
    _, _, ker_print, _, _, int8_print = printed_values(out)
    assert ker_print.startswith("Parameter containing:\ntensor([[[[")
    assert ker_print.endswith("]]]], requires_grad=True)")
    assert_rows_in_seed(ker_print, "001")
    if out_ch == 1:
        assert int8_print == SEED_INT8_2_TO_1
        # the slide's float output, to the rounding of the printed kernel
        np.testing.assert_allclose(ns["float_output"].detach().numpy()[0, 0, 0],
                                   [-0.0021, -0.1342, -0.1541, 0.0, 0.4754, -0.1262],
                                   atol=2e-4)
    assert_rows_in_seed(int8_print, "001")


# ------------------------------------------------------------------ seed 001: groups
def test_groups_kernel_shapes_and_connectivity() -> None:
    nn = convkit.nn
    depthwise = nn.Conv2d(4, 4, 3, groups=4, bias=False)
    pairs = nn.Conv2d(4, 4, 3, groups=2, bias=False)
    assert tuple(depthwise.weight.shape) == (4, 1, 3, 3)
    assert tuple(pairs.weight.shape) == (4, 2, 3, 3)
    assert tuple(nn.Conv2d(16, 64, 3, groups=4, bias=False).weight.shape) == (64, 4, 3, 3)
    assert repr(pairs) == "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), groups=2, bias=False)"
    # which input channels each output channel sees: perturb one input channel at a time
    x = convkit.zeros(1, 4, 5, 5)
    base = {name: layer(x).detach().numpy() for name, layer in
            (("depthwise", depthwise), ("pairs", pairs))}
    for c in range(4):
        bumped = convkit.zeros(1, 4, 5, 5)
        bumped[0, c] = 1.0
        for name, layer in (("depthwise", depthwise), ("pairs", pairs)):
            changed = np.abs(layer(bumped).detach().numpy() - base[name]).sum(axis=(0, 2, 3)) > 0
            group = [c] if name == "depthwise" else [2 * (c // 2), 2 * (c // 2) + 1]
            assert sorted(np.flatnonzero(changed)) == group, (name, c)


SEED_DEPTHWISE_KERNEL = [[[[0.0675, 0.2119, 0.3157], [0.2117, 0.3165, -0.0241],
                           [-0.2994, -0.1580, 0.2270]]],
                         [[[-0.0022, -0.1657, -0.2554], [-0.3120, -0.2813, -0.0676],
                           [0.1828, 0.1802, -0.3215]]],
                         [[[0.2079, -0.2608, -0.0705], [-0.1352, -0.0642, -0.0654],
                           [-0.2991, -0.2878, -0.0522]]],
                         [[[0.0043, -0.1514, 0.1256], [-0.3000, -0.0225, 0.2931],
                           [-0.1360, 0.3010, 0.1207]]]]


@needs_seeds
def test_groups_4_parameter_printout() -> None:
    """The lecture's groups=4 kernel, loaded into convkit's layer, prints as the slide."""
    def printout(lib: Any) -> str:
        conop = lib.nn.Conv2d(4, 4, 3, groups=4, bias=False)
        with lib.no_grad():
            conop.weight.copy_(lib.tensor(SEED_DEPTHWISE_KERNEL))
        return repr(conop.weight)

    text = printout(convkit)
    assert text == printout(torch).replace("torch.", "convkit.")
    assert text.startswith("Parameter containing:\ntensor([[[[ 0.0675,  0.2119,  0.3157],\n")
    assert_rows_in_seed(text, "001")


def test_groups_2_with_3_out_channels_is_illegal() -> None:
    with pytest.raises(ValueError) as info:
        convkit.nn.Conv2d(2, 3, 3, groups=2, bias=False)
    for words in ("groups=2", "in_channels=2", "out_channels=3"):
        assert words in str(info.value)
    with pytest.raises(ValueError):
        torch.nn.Conv2d(2, 3, 3, groups=2, bias=False)


# ------------------------------------------------------------------ seed 002: the notebook
LAYERS = """\
import torch
from torch import nn
conv = nn.Conv2d(in_channels=3,  # number of input channels
                 out_channels=7, # number of output channels
                 kernel_size=5)  # size of the kernel
x = torch.randn(32, 3, 128, 128)
y = conv(x)
print(y.shape)
conv2 = nn.Conv2d(in_channels=3,
                  out_channels=7,
                  kernel_size=5,
                  padding=2)
y = conv2(x)
print(y.shape)
conv_params = list(conv2.parameters())
print("len(conv_params):", len(conv_params))
print("Filters:", conv_params[0].shape)
print("Biases:", conv_params[1].shape)
pool = nn.MaxPool2d(kernel_size=2, stride=2) # take the max over each 2-by-2 small blocks
y = conv2(x)
z = pool(y)
print((x.shape, y.shape, z.shape))
print(list(pool.parameters()))
"""


def test_notebook_layer_shapes_parameters_and_pooling() -> None:
    out, ns = run_script(LAYERS, convkit)
    assert out.splitlines() == [
        "convkit.Size([32, 7, 124, 124])",
        "convkit.Size([32, 7, 128, 128])",
        "len(conv_params): 2",
        "Filters: convkit.Size([7, 3, 5, 5])",
        "Biases: convkit.Size([7])",
        "(convkit.Size([32, 3, 128, 128]), convkit.Size([32, 7, 128, 128]), "
        "convkit.Size([32, 7, 64, 64]))",
        "[]",
    ]
    # the pooled map is the 2x2 block maximum of the convolution's output
    y, z = ns["y"].detach().numpy(), ns["z"].detach().numpy()
    np.testing.assert_array_equal(z, y.reshape(32, 7, 64, 2, 64, 2).max(axis=(3, 5)))


CORR2D = """\
import torch
from torch import nn

def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            # print(X[i:i+h, j:j+w])
            # print(K)
            Y[i,j] = (X[i:i+h, j:j+w] * K).sum()
    return Y

X = torch.tensor([[0.0, 1.0, 2.0],
                  [3.0, 4.0, 5.0],
                  [6.0, 7.0, 8.0]])
K = torch.tensor([[0.0, 1.0],
                  [2.0, 3.0]])
print(corr2d(X, K))

class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.rand(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias

X = torch.ones((6,8))
X[:, 2:6] = 0
print(X)
K = torch.tensor([[1.0, -1.0]])
Y = corr2d(X, K)
print(Y)
print(corr2d(X.t(), K))
layer = Conv2D((1, 2))
"""


@needs_seeds
def test_notebook_corr2d_and_the_edge_detector() -> None:
    out, theirs, ns, _ = both(CORR2D)
    assert out == theirs
    corr, x_print, y_print, xt_print = printed_values(out)
    assert corr == "tensor([[19., 25.],\n        [37., 43.]])"
    assert x_print == "tensor([" + ",\n        ".join(
        ["[1., 1., 0., 0., 0., 0., 1., 1.]"] * 6) + "])"
    assert y_print == "tensor([" + ",\n        ".join(
        ["[ 0.,  1.,  0.,  0.,  0., -1.,  0.]"] * 6) + "])"
    assert xt_print == "tensor([" + ",\n        ".join(["[0., 0., 0., 0., 0.]"] * 8) + "])"
    for printed in (corr, x_print, y_print, xt_print):
        assert_rows_in_seed(printed, "002")
    # the notebook's hand-written layer is a convkit Module with two registered parameters
    layer = ns["layer"]
    assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == [
        ("weight", (1, 2)), ("bias", (1,))]
    x = ns["X"]
    expected = ns["corr2d"](x, layer.weight.detach()) + layer.bias.detach()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected.numpy())


LEARN = """\
import torch
from torch import nn

def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i,j] = (X[i:i+h, j:j+w] * K).sum()
    return Y

X = torch.ones((6,8))
X[:, 2:6] = 0
K = torch.tensor([[1.0, -1.0]])
Y = corr2d(X, K)
conv2d = nn.Conv2d(1, 1, kernel_size=(1,2), bias=False)
conv2d.weight.data[:] = torch.tensor([[[START]]])

X = X.reshape((1,1,6,8))
Y = Y.reshape((1,1,6,7))
lr = 3e-2

for i in range(10):
    Y_hat = conv2d(X)
    l = (Y_hat-Y)**2
    conv2d.zero_grad()
    l.sum().backward()

    conv2d.weight.data[:] -= lr * conv2d.weight.grad
    if (i+1) % 2 == 0:
        print(f'epoch {i+1}, loss {l.sum(): 3f}')
print(conv2d.weight.data.reshape((1,2)))
"""

SEED_LOSSES = [1.667570, 0.280130, 0.047145, 0.007970, 0.001362]


def seed_starting_weight() -> tuple[float, float]:
    """The kernel the notebook's run started from, recovered from its printed losses.

    The loss is quadratic in the kernel w = (a, b); gradient descent with lr = 0.03 keeps
    the error e = w - (1, -1) in the eigenbasis of the windows' Gram matrix G (eigenvalues
    6 along (1, -1) and 30 along (1, 1)), where each step multiplies it by 1 - 2*lr*6 = 0.64
    or 1 - 2*lr*30 = -0.8. The loss before step k+1 is 6*c1**2*0.4096**k + 30*c2**2*0.64**k;
    the losses printed at epochs 2 and 4 (k = 1 and 3) give c1**2 and c2**2, and the final
    kernel the notebook printed, [0.9926, -0.9940], fixes the signs.
    """
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    windows = np.stack([x[:, :-1].ravel(), x[:, 1:].ravel()], axis=1)  # (42, 2)
    eigvals, vecs = np.linalg.eigh(windows.T @ windows)  # 6, 30
    decay = 1 - 2 * 3e-2 * eigvals
    rates = np.array([[d ** (2 * k) for d in decay] for k in (1, 3)])
    energy = np.linalg.solve(rates, SEED_LOSSES[:2])  # eigval * c**2 per mode
    best = None
    for signs in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        e0 = vecs @ (np.array(signs) * np.sqrt(energy / eigvals))
        final = np.array([1.0, -1.0]) + vecs @ (decay ** 10 * (vecs.T @ e0))
        miss = np.abs(final - [0.9926, -0.9940]).max()
        if best is None or miss < best[0]:
            best = (miss, e0)
    assert best is not None and best[0] < 1e-4
    a, b = np.array([1.0, -1.0]) + best[1]
    return round(float(a), 6), round(float(b), 6)


@needs_seeds
def test_learning_the_edge_kernel_follows_the_notebooks_loss_trajectory() -> None:
    start = seed_starting_weight()
    assert start == (0.411581, -0.424002)
    out, theirs, ns, _ = both(LEARN.replace("START", f"{start[0]}, {start[1]}"))
    assert out == theirs  # the same float32 trajectory as PyTorch's, digit for digit
    expected = [f"epoch {2 * (i + 1)}, loss {loss: 3f}" for i, loss in enumerate(SEED_LOSSES)]
    assert out.splitlines() == expected + ["tensor([[ 0.9926, -0.9940]])"]
    for line in expected:
        assert_in_seed(line, "002")
    assert_in_seed("tensor([[ 0.9926, -0.9940]])", "002")
    assert ns["conv2d"].weight.grad is not None


@pytest.mark.parametrize("start", [(0.3, 0.2), (-1.5, 2.0), (0.0, 0.0), (1.0, -1.0)])
def test_learning_loop_matches_torch_from_any_start(start: tuple[float, float]) -> None:
    """From the same weights, convkit's losses and kernel follow PyTorch's (float32)."""
    script = LEARN.replace("START", f"{start[0]}, {start[1]}").replace(
        "print(f'epoch {i+1}, loss {l.sum(): 3f}')", "print(repr(l.sum().item()))")
    ours, ns = run_script(script, convkit)
    theirs, tns = run_script(script, torch)
    got = [float(v) for v in ours.splitlines()[:5]]
    want = [float(v) for v in theirs.splitlines()[:5]]
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(ns["conv2d"].weight.detach().numpy(),
                               tns["conv2d"].weight.detach().numpy(), rtol=1e-6, atol=1e-7)


PADDING_AND_STRIDE = """\
import torch
from torch import nn

def comp_conv2d(conv2d, X):
    X = X.reshape((1,1) + X.shape)
    Y = conv2d(X)      # the default class nn.Conv2D takes a 4-dimensional tensor as its input
    return Y.reshape(Y.shape[2:])

conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1)
X = torch.rand(size=(8,8))
print(comp_conv2d(conv2d, X).shape)
conv2d = nn.Conv2d(1, 1, kernel_size=3) # default padding=0
print(comp_conv2d(conv2d, X).shape)
conv2d = nn.Conv2d(1,1,kernel_size=(5,3), padding=(2,1))
print(comp_conv2d(conv2d, X).shape)

X = torch.tensor([[0.0, 1.0, 2.0],
                  [3.0, 4.0, 5.0],
                  [6.0, 7.0, 8.0]])
conv2d = nn.Conv2d(1, 1, kernel_size=(2,2), bias=False)
conv2d.weight = nn.Parameter(torch.tensor([[[[0.0, 1.0],
                                             [2.0, 3.0]]]]))
output = conv2d(X.reshape((1,1) + X.shape))
print(output)
conv2d = nn.Conv2d(1, 1, kernel_size=(2,2), bias=False, padding=1)
conv2d.weight = nn.Parameter(torch.tensor([[[[0.0, 1.0],
                                             [2.0, 3.0]]]]))
output = conv2d(X.reshape((1,1) + X.shape))
print(output)
conv2d = nn.Conv2d(1, 1, kernel_size=2, padding=1, stride=2, bias=False)
conv2d.weight = nn.Parameter(torch.tensor([[[[0.0, 1.0],
                                             [2.0, 3.0]]]]))
output = conv2d(X.reshape((1,1) + X.shape))
print(output)
"""


@needs_seeds
def test_notebook_padding_and_stride_outputs() -> None:
    out, theirs, _, _ = both(PADDING_AND_STRIDE)
    assert out == theirs
    s88, s66, s88_rect, plain, padded, strided = printed_values(out)
    assert (s88, s66, s88_rect) == ("convkit.Size([8, 8])", "convkit.Size([6, 6])",
                                    "convkit.Size([8, 8])")
    assert plain == ("tensor([[[[19., 25.],\n          [37., 43.]]]], "
                     "grad_fn=<ConvolutionBackward0>)")
    assert padded == ("tensor([[[[ 0.,  3.,  8.,  4.],\n"
                      "          [ 9., 19., 25., 10.],\n"
                      "          [21., 37., 43., 16.],\n"
                      "          [ 6.,  7.,  8.,  0.]]]], grad_fn=<ConvolutionBackward0>)")
    assert strided == ("tensor([[[[ 0.,  8.],\n          [21., 43.]]]], "
                       "grad_fn=<ConvolutionBackward0>)")
    for printed in (plain, padded, strided):
        assert_in_seed(printed, "002")  # the notebook's PyTorch printed these exactly


# ------------------------------------------------------------------ seeds 003 and 004
SLIDES_003 = """\
import torch
import torch.nn.functional as F
from torch import nn
input = torch.empty(128, 3, 20, 20).normal_()
weight = torch.empty(5, 3, 5, 5).normal_()
bias = torch.empty(5).normal_()
output = F.conv2d(input, weight, bias)
print(output.size())
f = nn.Conv2d(in_channels = 3, out_channels = 5,kernel_size = (2, 3))
for n, p in f.named_parameters():
    print(n, p.size())
input = torch.empty(128, 3, 28, 28).normal_()
output = f(input)
print(output.size())
"""


def test_slides_003_shapes_and_named_parameters() -> None:
    out, theirs, _, _ = both(SLIDES_003)
    assert out == theirs
    assert out.splitlines() == ["convkit.Size([128, 5, 16, 16])",
                                "weight convkit.Size([5, 3, 2, 3])", "bias convkit.Size([5])",
                                "convkit.Size([128, 5, 27, 26])"]


NOTEBOOK_004 = """\
import torch
import torch.nn as nn
conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3)
image = torch.zeros(1, 1, 5,5)
image[0,0:,2]=1
print(image)
z = conv(image)
print(z.shape)
conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, stride=2)
z = conv(image)
print(z.shape)
conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, stride=2, padding=1)
print(conv(image).shape)
conv = nn.Conv2d(in_channels=1, out_channels=3, kernel_size=3)
print(conv(image).shape)
image = torch.zeros(1, 2, 5,5)
image[0, 0, 2,:]= -2
image[0, 1, 2,:]= 1
conv = nn.Conv2d(in_channels=2, out_channels=3, kernel_size=3)
print(conv(image).shape)
"""


@needs_seeds
def test_notebook_004_image_stride_padding_channels() -> None:
    out, theirs, _, _ = both(NOTEBOOK_004)
    assert out == theirs
    image, *shapes = printed_values(out)
    assert image == ("tensor([[[[0., 0., 0., 0., 0.],\n          [0., 0., 0., 0., 0.],\n"
                     "          [1., 1., 1., 1., 1.],\n          [0., 0., 0., 0., 0.],\n"
                     "          [0., 0., 0., 0., 0.]]]])")
    assert_rows_in_seed(image, "004")
    assert shapes == ["convkit.Size([1, 1, 3, 3])", "convkit.Size([1, 1, 2, 2])",
                      "convkit.Size([1, 1, 3, 3])", "convkit.Size([1, 3, 3, 3])",
                      "convkit.Size([1, 3, 3, 3])"]
    # 004 then builds a 3-channel layer for a 2-channel image but never calls it: both
    # libraries refuse the call
    for lib in (convkit, torch):
        with pytest.raises(RuntimeError, match="channels"):
            lib.nn.Conv2d(3, 1, 3)(lib.zeros(1, 2, 5, 5))


@needs_seeds
def test_notebook_004_parameter_printout_and_constant_rows() -> None:
    """004's printed kernel, loaded into convkit: the 'Parameter containing:' printout is
    the notebook's, and a horizontal line of ones gives constant output rows."""
    conv = convkit.nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3)
    with convkit.no_grad():
        conv.weight.copy_(convkit.tensor([[[[-0.2185, 0.2629, -0.3321],
                                            [-0.2577, -0.0972, 0.2869],
                                            [-0.0022, 0.0432, 0.2632]]]]))
    text = repr(conv.weight)
    assert text == ("Parameter containing:\ntensor([[[[-0.2185,  0.2629, -0.3321],\n"
                    "          [-0.2577, -0.0972,  0.2869],\n"
                    "          [-0.0022,  0.0432,  0.2632]]]], requires_grad=True)")
    assert_in_seed(text, "004")  # printed exactly, 'Parameter containing:' and all
    image = convkit.zeros(1, 1, 5, 5)
    image[0, 0:, 2] = 1
    z = conv(image).detach().numpy()[0, 0]
    w = conv.weight.detach().numpy()[0, 0]
    b = conv.bias.item()
    np.testing.assert_allclose(z, np.array([[w[2 - i].sum() + b] * 3 for i in range(3)]),
                               rtol=1e-6)

