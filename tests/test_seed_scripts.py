"""The lecture scripts of seed 001 (reshape1.py, flatten.py, reshaping2.py) and the
squeeze/unsqueeze examples of seeds 000/001, run with ``import convkit as torch``.

Each script runs twice, as written against PyTorch and with ``import convkit as torch``;
where it is deterministic the two printouts must be identical (``torch.`` read as
``convkit.``), and the lines the lecture documents are asserted literally. Values drawn
from ``torch.randn`` need not match torch's stream, so there the relations the scripts
show (y equals z, allclose is True, ...) are asserted instead.
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
import torch

import convkit

SEED_001 = next(Path("/work/shared/seeds").glob("001_*.txt"), None)

RESHAPE1 = """\
import torch
torch.manual_seed(0)

x = torch.randn(3,4)
print(x)

y = x.view(2,6)
print(y)

z = x.reshape(2,6)
print(z)

del x
print(y)

print(z)

print(torch.eq(y,z))
print(y.eq(z))

## An interesting construct from stackoverflow.com:
print(torch.all(torch.lt(torch.abs(torch.sum(y - z)), 1e-12)))      ## tensor(True)      ## (L)
print(torch.allclose(y,z))                                       ## True              ## (M)

## A second reshaping example to illustrate the use of "-1" as an arg:
x = torch.randn(10)                                             ## (N)

z = x.reshape(2,5)
print(z)                                                        ## (O)

z = x.reshape(2,-1)
print(z)                                                        ## (Q)

z = x.view(2,5)
print(z)                                                        ## (S)

z = x.view(2,-1)
print(z)                                                        ## (U)
"""

FLATTEN = """\
import torch
torch.manual_seed(0)

x = torch.arange(10)
print(x)                                ## tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  ## (A)

y = x.view(2,5)
print(y)                                ## tensor([[0, 1, 2, 3, 4],  ## (C)

z1 = y.reshape(-1)
print(z1)                                ## tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  ## (E)

z2 = y.view(-1)
print(z2)                                ## tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  ## (G)

z3 = y.view(1,-1)
print(z3)                                ## tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])  ## (I)

w = y.T
print(w)                                ## tensor([[0, 5],  ## (K)

z3 = w.reshape(-1)
print(z3)                                ## tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])  ## (M)
"""

RESHAPING2 = """\
import torch
torch.manual_seed(0)

x = torch.arange(10)
print(x)                                ## tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])    ## (A)
print("\\nIs x contiguous: ", x.is_contiguous())  ## True  ## (B)

x1 = x.view(-1,5)
print(x1)                                ## tensor([[0, 1, 2, 3, 4],                    ## (C)

print("\\nStride for x1: ", x1.stride())    ## (5, 1)                                     ## (D)
print("\\nIs x1 contiguous: ", x1.is_contiguous())  ## True  ## (E)

y = x1.T
print(y)                                ## tensor([[0, 5],                             ## (F)

print("\\nIs y contiguous: ", y.is_contiguous())  ## False  ## (H)
print("\\nStride for y: ", y.stride())  ## (1,5)  ## (I)

y1 = y.reshape(-1)
print(y1)                                ## tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])    ## (J)
print("\\nIs y1 contiguous: ", y1.is_contiguous())  ## True  ## (K)
print("\\nStride for y1: ", y1.stride())  ## (1,)  ## (L)

try:
    y2 = y.view(-1)
except RuntimeError as e:
    print(e)
    y2 = y.contiguous()
    print(y2)

print("\\nIs y2 contiguous: ", y2.is_contiguous())
print("\\nStride for y2: ", y2.stride())

y3 = y2.view(-1)
print(y3)
print("\\nIs y3 contiguous: ", y3.is_contiguous())
print("\\nStride for y3: ", y3.stride())
"""

# The squeeze/unsqueeze slides (seed 001 section 4; seed 000 has the same text). The slides
# name the tensors inconsistently (``print(x.shape)`` for ``tensor_x``, two unsqueezes of
# ``tsr_arr`` into ``tensor_arr``); these are the runnable versions of what they show.
SQUEEZE_UNSQUEEZE = """\
import numpy
import torch
arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
tsr_arr = torch.from_numpy(arr)
tensor_arr = torch.unsqueeze(tsr_arr, 0)      ## Yes, you need two invocations
tensor_arr = torch.unsqueeze(tensor_arr, 0)   ##       of unsqueeze()
print(tensor_arr)
print(tensor_arr.shape)                       ## torch.Size([1, 1, 8, 8])

tensor_x = torch.tensor( [1,2,3,4] )
print(tensor_x.shape)                          ## torch.Size([4])
tensor_y = torch.unsqueeze(tensor_x,0)
print(tensor_y)                                ## tensor([[1, 2, 3, 4]])
print(tensor_y.shape)                          ## torch.Size([1, 4])

tensor_y = torch.unsqueeze( tensor_x, 1 )
print(tensor_y)
print(tensor_y.shape)           ## torch.Size([4, 1])

tensor_x = torch.tensor( [ [[1,2,1,2], [3,4,3,4], [1,3,1,3]], [[5,6,5,6], [6,7,6,7], [8,9,8,9]] ] )
print(tensor_x)
print(tensor_x.shape)      ## torch.Size([2, 3, 4])
tensor_y = torch.unsqueeze(tensor_x, 1)
print(tensor_y)
print(tensor_y.shape)      ## torch.Size([2, 1, 3, 4])

x = torch.tensor( [[[[1,2,3,4]]]] )
print(x)                                ## tensor([[[[1, 2, 3, 4]]]])
print(x.shape)                           ## torch.Size([1, 1, 1, 4])
x = torch.squeeze(x)
print(x)                                  ## tensor([1, 2, 3, 4])
print(x.shape)                            ## torch.Size([4])

x = torch.zeros(4,1,5)
print(x)
x = torch.squeeze(x)
print(x)
print(x.shape)
"""


def run_script(source: str, lib: Any) -> tuple[str, dict[str, Any]]:
    """Execute a lecture script with ``torch`` bound to ``lib``; its stdout and globals."""
    if lib is convkit:
        source = source.replace("import torch", "import convkit as torch")
    namespace: dict[str, Any] = {"__name__": "__lecture__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<lecture>", "exec"), namespace)
    return out.getvalue(), namespace


def both(source: str) -> tuple[str, str, dict[str, Any]]:
    """convkit's printout, torch's printout with ``torch.`` read as ``convkit.``, and
    convkit's globals."""
    ours, ns = run_script(source, convkit)
    theirs, _ = run_script(source, torch)
    return ours, theirs.replace("torch.", "convkit."), ns


@pytest.mark.skipif(SEED_001 is None, reason="lecture seeds not present")
@pytest.mark.parametrize("script", [RESHAPE1, FLATTEN, RESHAPING2, SQUEEZE_UNSQUEEZE],
                         ids=["reshape1", "flatten", "reshaping2", "squeeze_unsqueeze"])
def test_scripts_are_the_lectures(script: str) -> None:
    """Every statement run here appears in seed 001 (up to spacing): no silent edits."""
    seed = re.sub(r"\s+", "", SEED_001.read_text())
    # the slides' naming slips, set right, and the set-up they leave to earlier slides
    corrected = {"tensor_arr = torch.unsqueeze(tensor_arr, 0)", "tsr_arr = torch.from_numpy(arr)",
                 "import numpy", "print(tensor_x.shape)", "print(tensor_arr)",
                 # the slide has 5 brackets ([[[[[1,2,3,4]]]] ]) but prints a 4-d tensor
                 "x = torch.tensor( [[[[1,2,3,4]]]] )",
                 "arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0",
                 "print(x.shape)"}
    for line in script.splitlines():
        code = line.split("##")[0].strip()
        if code and code not in corrected:
            assert re.sub(r"\s+", "", code) in seed, code


def test_reshape1() -> None:
    out, _, ns = both(RESHAPE1)
    x34, y, z, y_again, z_again, eq1, eq2, all_lt, allclose, *second = _printed_values(out)
    assert re.fullmatch(r"tensor\(\[\[.*\]\]\)", x34, re.S)  # a 3x4 float tensor
    assert x34.count("\n") == 2 and y.count("\n") == 1
    assert y == z == y_again == z_again  # view and reshape give the same 2x6 tensor
    true_row = "[True, True, True, True, True, True]"
    assert eq1 == eq2 == f"tensor([{true_row},\n        {true_row}])"
    assert all_lt == "tensor(True)"
    assert allclose == "True"
    assert len(second) == 4 and len(set(second)) == 1  # (O), (Q), (S), (U) print alike
    assert second[0].count("\n") == 1 and second[0].startswith("tensor([[")
    assert ns["z"].shape == convkit.Size([2, 5])
    # (W) and (Y): 3 is not a factor of 10
    for method in ("reshape", "view"):
        with pytest.raises(RuntimeError) as info:
            getattr(ns["x"], method)(3, -1)
        assert str(info.value) == "shape '[3, -1]' is invalid for input of size 10"


def _printed_values(out: str) -> list[str]:
    """Split a printout into the printed objects (a tensor's repr spans several lines)."""
    values: list[str] = []
    for line in out.splitlines():
        if line.startswith(" ") and values:
            values[-1] += "\n" + line
        elif line:
            values.append(line)
    return values


def test_reshape1_views_share_memory_and_reshape_does_not_need_to_copy() -> None:
    """Before ``del x``: y and z hold x's values in row-major order, on x's memory."""
    _, ns = run_script(RESHAPE1.split("del x")[0], convkit)
    x, y, z = ns["x"], ns["y"], ns["z"]
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(2, 6))
    np.testing.assert_array_equal(z.numpy(), x.numpy().reshape(2, 6))
    assert y.data_ptr() == z.data_ptr() == x.data_ptr()  # all three are one storage
    x[0, 0] = 100.0
    assert y[0, 0].item() == z[0, 0].item() == 100.0


def test_flatten() -> None:
    out, theirs, ns = both(FLATTEN)
    assert out == theirs
    assert _printed_values(out) == [
        "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])",
        "tensor([[0, 1, 2, 3, 4],\n        [5, 6, 7, 8, 9]])",
        "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])",
        "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])",
        "tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])",
        "tensor([[0, 5],\n        [1, 6],\n        [2, 7],\n        [3, 8],\n        [4, 9]])",
        "tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])",
    ]
    # (P): the commented-out z4 = w.view(-1)
    with pytest.raises(RuntimeError) as info:
        ns["w"].view(-1)
    assert str(info.value).startswith("view size is not compatible with input tensor's size")
    assert ns["z2"].data_ptr() == ns["x"].data_ptr()  # view(-1) of a view: same memory
    assert ns["z3"].data_ptr() != ns["x"].data_ptr()  # reshape of the transpose: a copy


def test_reshaping2() -> None:
    out, theirs, ns = both(RESHAPING2)
    assert out == theirs
    lines = out.splitlines()
    for documented in ["Is x contiguous:  True", "Stride for x1:  (5, 1)",
                       "Is x1 contiguous:  True", "Is y contiguous:  False",
                       "Stride for y:  (1, 5)", "Is y1 contiguous:  True",
                       "Stride for y1:  (1,)", "Is y2 contiguous:  True",
                       "Stride for y2:  (2, 1)", "Is y3 contiguous:  True",
                       "Stride for y3:  (1,)",
                       "tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])"]:
        assert documented in lines, documented
    error = next(line for line in lines if line.startswith("view size"))
    assert error.startswith("view size is not compatible with input tensor's size")
    assert out.count("tensor([[0, 5],\n        [1, 6],\n        [2, 7],\n        [3, 8],\n"
                     "        [4, 9]])") == 2  # y (F) and its contiguous copy y2
    assert ns["y2"].data_ptr() != ns["y"].data_ptr()


def test_squeeze_unsqueeze_examples() -> None:
    out, theirs, ns = both(SQUEEZE_UNSQUEEZE)
    assert out == theirs
    lines = out.splitlines()
    for documented in ["convkit.Size([1, 1, 8, 8])", "convkit.Size([4])",
                       "tensor([[1, 2, 3, 4]])", "convkit.Size([1, 4])",
                       "convkit.Size([4, 1])", "convkit.Size([2, 3, 4])",
                       "convkit.Size([2, 1, 3, 4])", "tensor([[[[1, 2, 3, 4]]]])",
                       "convkit.Size([1, 1, 1, 4])", "tensor([1, 2, 3, 4])",
                       "convkit.Size([4, 5])"]:
        assert documented in lines, documented
    assert "tensor([[1],\n        [2],\n        [3],\n        [4]])" in out
    assert "        [4., 4., 4., 4., 1., 1., 1., 1.]]]], dtype=convkit.float64)" in out
    # unsqueeze and squeeze are views: the 8x8 array, its tensor and the 4-d view share memory
    assert ns["tensor_arr"].data_ptr() == ns["tsr_arr"].data_ptr()
    assert ns["tensor_arr"].stride() == (64, 64, 8, 1)


def test_seed_000_squeeze_text_matches_torch() -> None:
    """Seed 000 prints the zeros(4, 1, 5) example before and after squeeze()."""
    src = textwrap.dedent("""\
        import torch
        x = torch.zeros(4,1,5)
        print(x)
        x = torch.squeeze(x)
        print(x)
    """)
    out, theirs, _ = both(src)
    assert out == theirs
    assert out.endswith("tensor([[0., 0., 0., 0., 0.],\n        [0., 0., 0., 0., 0.],\n"
                        "        [0., 0., 0., 0., 0.],\n        [0., 0., 0., 0., 0.]])\n")
