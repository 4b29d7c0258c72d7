"""``convkit tour``: the lecture seeds' lessons, computed live.

Eight sections walk through what the lectures teach (Kak and Bouman's "Demystifying the
Convolutions in PyTorch", the conv-layer notebooks and the "4.1 Convolution" slides), with
their own examples and values. Each step prints its code as ``>>>`` lines followed by what
running it printed, like a doctest: the code shown is the code that ran, in one namespace per
section, with ``import convkit as torch`` in place of PyTorch. Figures go to a folder
(``./convkit-tour/`` by default).

Run it all with ``convkit tour``, one section with ``convkit tour padding``, list them with
``convkit tour --list``; ``--quick`` (or the environment variable ``CONVKIT_TOUR_QUICK=1``)
shortens the training at the end, for tests.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["SECTIONS", "Lesson", "Section", "list_sections", "run_tour"]

WIDTH = 92  # prose is wrapped to this many columns
CODE_INDENT = "    "
QUICK_ENV = "CONVKIT_TOUR_QUICK"

# Where the run of seed 002's "learning a kernel" loop started: recovered from the losses it
# printed (tests/test_seed_conv.py::seed_starting_weight derives it), so the tour prints the
# notebook's numbers digit for digit.
LECTURE_START_KERNEL = (0.411581, -0.424002)


class _IndentedWriter(io.TextIOBase):
    """A stdout stand-in that indents every line it passes on (program output under the
    ``>>>`` lines) and writes through at once, so long steps show progress as it happens."""

    def __init__(self, target: TextIO, indent: str) -> None:
        self._target, self._indent, self._at_line_start = target, indent, True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            if self._at_line_start and piece.strip("\n"):
                self._target.write(self._indent)
            self._target.write(piece)
            self._at_line_start = piece.endswith("\n")
        self._target.flush()
        return len(text)


class Lesson:
    """Prints a section: prose, code steps with their real output, and figures.

    ``namespace`` holds the section's variables; ``OUT`` in it is the figure folder.
    """

    def __init__(self, out_dir: Path, quick: bool, stream: TextIO | None = None) -> None:
        self.out_dir = out_dir
        self.quick = quick
        self.stream = stream or sys.stdout
        self.namespace: dict[str, Any] = {}
        self.figures: list[tuple[Path, str]] = []
        self.can_draw = self.has("matplotlib.figure", "Figure")

    # -------------------------------------------------------------- text
    def _write(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def heading(self, number: int, title: str) -> None:
        line = f"{number}. {title}"
        self._write()
        self._write(line)
        self._write("=" * len(line))

    def say(self, text: str) -> None:
        """A paragraph of explanation, wrapped."""
        self._write()
        for paragraph in textwrap.dedent(text).strip().split("\n\n"):
            self._write(textwrap.fill(" ".join(paragraph.split()), WIDTH))

    # -------------------------------------------------------------- code
    def start(self, **names: Any) -> None:
        """A fresh namespace and random seed for a section: each section runs on its own
        and prints the same numbers every time."""
        import convkit

        convkit.manual_seed(0)
        self.namespace = {"__name__": "__tour__", "OUT": self.out_dir, **names}

    def run(self, code: str) -> None:
        """Show each statement of ``code`` as ``>>>`` lines, run it, show what it printed
        (and, for an expression, its repr, as the interactive prompt does)."""
        source = textwrap.dedent(code).strip("\n")
        tree = ast.parse(source)
        lines = source.splitlines()
        self._write()
        previous_end = 0
        for node in tree.body:
            start = node.lineno - 1
            if start < previous_end:  # `a = 1; b = 2`: the line is already shown
                self._execute(node)
                continue
            # comment lines just above a statement are shown with it
            while start > previous_end and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            shown = lines[start:node.end_lineno]
            previous_end = node.end_lineno or start
            for k, line in enumerate(shown):
                prompt = ">>> " if k == 0 or (not line.startswith((" ", "\t")) and
                                              shown[k - 1].lstrip().startswith("#")) else "... "
                self._write(f"{CODE_INDENT}{prompt}{line}")
            self._execute(node)

    def _execute(self, node: ast.stmt) -> None:
        # 'single' is the interactive prompt's mode: expression statements echo their repr
        # (through sys.displayhook), also inside loops and with-blocks, None excepted
        code = compile(ast.Interactive([node]), "<tour>", "single")
        with contextlib.redirect_stdout(_IndentedWriter(self.stream, CODE_INDENT)):
            exec(code, self.namespace)

    def figure(self, code: str, captions: dict[str, str]) -> None:
        """Run drawing code (shown like any step) that writes the PNG files named in
        ``captions``; list each with its caption."""
        if not self.can_draw:
            self._write()
            for name in captions:
                self._write(f"{CODE_INDENT}(figure {name} skipped: it needs matplotlib: "
                            "pip install 'convkit[viz]')")
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        before = {p.name: p.stat().st_mtime_ns for p in self.out_dir.glob("*.png")}
        self.run(code)
        self._write()  # (a blank line ends the step's output, as in a doctest)
        for name, caption in captions.items():
            path = self.out_dir / name
            if not path.is_file() or before.get(name) == path.stat().st_mtime_ns:
                raise RuntimeError(f"tour: the step above should have written {path}")
            self.figures.append((path, caption))
            self._write(textwrap.fill(f"[figure] {_display_path(path)}: {caption}", WIDTH,
                                      initial_indent=CODE_INDENT,
                                      subsequent_indent=CODE_INDENT + " " * 9))

    def has(self, module: str, name: str) -> bool:
        """Whether ``module`` provides ``name`` (optional parts of the install)."""
        try:
            return hasattr(importlib.import_module(module), name)
        except ImportError:
            return False

    def skip(self, what: str) -> None:
        self._write()
        self._write(f"{CODE_INDENT}({what} skipped: not available in this installation)")


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------ the sections
def _edge(lesson: Lesson) -> None:
    lesson.say("""
        Kak and Bouman define a 2-d convolution in ten lines: sweep the image with the
        FLIPPED kernel and, at every position where the kernel fits inside the image, sum the
        products. Here is their definition, run on their 8x8 step edge (bright 4s on the left,
        dim 1s on the right) with a 3x3 kernel that compares the left and right columns.""")
    lesson.run("""
        import numpy
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
        print(arr)
        ker = numpy.zeros((3, 3), dtype=float)
        ker[:, 0] = -1.0
        ker[:, 2] = 1.0
        print(ker)
        convo_out = convo2d(arr, ker)
        print(convo_out)
        convo_out.shape
        """)
    lesson.say("""
        Where the window straddles the edge, the flipped kernel [1, 0, -1] meets 4, 4, 1 (or
        4, 1, 1) in each of its three rows: (4*1 + 4*0 + 1*(-1)) * 3 = 9. On flat regions the
        +1 and -1 cancel to 0. The output is 6x6, not 8x8: a 3x3 kernel fits in only
        8 - 3 + 1 = 6 positions along each axis ('valid' mode). Three or four such layers and
        little is left of a small image.""")
    lesson.figure("""
        from convkit.explain import viz
        fig = viz.array_panels({"arr (input)": arr, "ker": ker,
                                "numpy.flip(ker): what slides": numpy.flip(ker),
                                "convo2d(arr, ker)": convo_out},
                               OUT / "01_definition.png",
                               title="convolution = slide the flipped kernel, sum products")
        """, {"01_definition.png": "the input, the kernel, the flipped kernel, the 'valid' output"})


def _scipy(lesson: Lesson) -> None:
    lesson.say("""
        scipy.signal.convolve2d computes the same true convolution; convkit.signal has SciPy's
        API on convkit's own engine. mode='valid' uses only real pixels, as convo2d does.""")
    lesson.run("""
        import numpy
        from convkit import signal
        arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
        ker = numpy.zeros((3, 3)); ker[:, 0] = -1.0; ker[:, 2] = 1.0
        print(signal.convolve2d(arr, ker, mode='valid'))
        """)
    lesson.say("""
        Now the same data through PyTorch's conv2d (here convkit's, with the lecture's code as
        written: `import convkit as torch`). The input must be (batch, channels, height,
        width) and the kernel (out_channels, in_channels, height, width), hence the two
        unsqueezes of each.""")
    lesson.run("""
        import convkit as torch
        tsr_arr = torch.unsqueeze(torch.unsqueeze(torch.from_numpy(arr), 0), 0)
        tsr_ker = torch.unsqueeze(torch.unsqueeze(torch.from_numpy(ker), 0), 0)
        output = torch.nn.functional.conv2d(tsr_arr, tsr_ker, stride=1)
        print(output)
        """)
    lesson.say("""
        The signs are reversed: -9 instead of 9. conv2d does not flip the kernel; it computes
        a cross-correlation. Flip the kernel yourself and you get SciPy's convolution back.
        (For a learned kernel it makes no difference: training would simply learn the
        flipped weights.)""")
    lesson.run("""
        flipped = torch.nn.functional.conv2d(tsr_arr, torch.flip(tsr_ker, [2, 3]))
        flipped[0, 0, 0]
        """)
    lesson.say("""
        The lecture's test that tells the two apart: a vertical line of ones under a kernel
        whose rows are [1, 2, 3]. As the window slides over the line, each output copies one
        kernel column (times 3 rows). Cross-correlation meets the kernel's LAST column first
        and prints the row reversed, 9 6 3; convolution flips first and prints it in order,
        3 6 9.""")
    lesson.run("""
        input = torch.zeros(1,1,8,8, dtype=float)
        input[0,0,:,4] = 1
        ker123 = torch.tensor([[[[1., 2., 3.], [1., 2., 3.], [1., 2., 3.]]]], dtype=float)
        torch.nn.functional.conv2d(input, ker123)[0, 0, 0]
        signal.convolve2d(input[0, 0].numpy(), ker123[0, 0].numpy(), mode='valid')[0]
        """)
    lesson.say("""
        To keep the output 8x8, SciPy must invent pixels beyond the border: boundary='fill'
        (zeros), 'wrap' (periodic) or 'symm' (mirrored). That is the lecture's dilemma: a
        shrunk output from real pixels, or a full-size one partly made of hallucinations.""")
    lesson.run("""
        signal.convolve2d(arr, ker, mode='full', boundary='symm').shape
        signal.convolve2d(arr, ker, mode='same', boundary='symm')[0]
        signal.convolve2d(arr, ker, mode='same', boundary='fill')[0]
        """)
    lesson.say("""
        The picture below takes nn.Conv2d with the lecture's kernel and shows one window
        position: the 3x3 taps on the input, the kernel, and the sum written out term by term
        (no flip), which gives the -9.""")
    lesson.figure("""
        from convkit.explain import viz
        conop = torch.nn.Conv2d(1, 1, 3, bias=False)
        conop.weight = torch.nn.Parameter(tsr_ker.float())
        fig = viz.sliding_window(conop, tsr_arr.float(), (0, 2), OUT / "02_sliding_window.png")
        """, {"02_sliding_window.png": "one window of conv2d on the step edge, summed by hand"})


def _axes(lesson: Lesson) -> None:
    lesson.say("""
        A tensor of shape (1, 1, 16, 16) has FOUR AXES; calling it 4-dimensional invites
        confusion (the lecture warns of "mental anguish"). Axis 0 of conv2d's input is the
        batch, axis 1 the channels, axes 2 and 3 height and width: NCHW. unsqueeze(t, k)
        inserts an axis of size 1 at position k; squeeze drops every axis of size 1.""")
    lesson.run("""
        import numpy
        import convkit as torch
        arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
        tsr_arr = torch.from_numpy(arr)
        tsr_arr.shape, tsr_arr.dtype
        tensor_arr = torch.unsqueeze(torch.unsqueeze(tsr_arr, 0), 0)
        tensor_arr.shape
        tensor_arr.data_ptr() == tsr_arr.data_ptr()
        """)
    lesson.say("""
        The dtype is float64 because the NumPy array was; from_numpy shares its memory, and
        unsqueeze is a view too: the (1, 1, 8, 8) tensor is the same 64 numbers, no copy. On
        a vector, unsqueeze at axis 0 gives a row, at axis 1 a column:""")
    lesson.run("""
        tensor_x = torch.tensor([1,2,3,4])
        torch.unsqueeze(tensor_x, 0)
        torch.unsqueeze(tensor_x, 1)
        tensor_x = torch.tensor([[[1,2,1,2], [3,4,3,4], [1,3,1,3]],
                                 [[5,6,5,6], [6,7,6,7], [8,9,8,9]]])
        torch.unsqueeze(tensor_x, 1).shape
        x = torch.tensor([[[[1,2,3,4]]]])
        torch.squeeze(x), torch.squeeze(x).shape
        torch.squeeze(torch.zeros(4,1,5)).shape
        """)
    lesson.say("""
        A layer reads the same convention. nn.Conv2d(3, 7, 5) takes (N, 3, H, W) and returns
        (N, 7, H-4, W-4); its weight is (out_channels, in_channels, kH, kW) = (7, 3, 5, 5),
        note the opposite order to the constructor's arguments, and there is one bias per
        output channel. A batch of 32 colour images of 128x128, as in the conv-layer
        notebook:""")
    lesson.run("""
        from convkit import nn
        conv = nn.Conv2d(in_channels=3, out_channels=7, kernel_size=5)
        x = torch.randn(32, 3, 128, 128)
        conv(x).shape
        conv.weight.shape, conv.bias.shape
        conv(x[0]).shape
        """)
    lesson.say("""
        The last call passed one image without a batch axis, (3, 128, 128): like PyTorch,
        convkit treats it as a batch of one and drops the axis again on the way out. The
        "4.1 Convolution" slides say the same with F.conv2d: input N x C x H x W, weight
        D x C x h x w, output N x D x (H-h+1) x (W-w+1), also for a non-square kernel:""")
    lesson.run("""
        import convkit.nn.functional as F
        F.conv2d(torch.empty(128, 3, 20, 20).normal_(), torch.empty(5, 3, 5, 5).normal_()).shape
        f = nn.Conv2d(in_channels=3, out_channels=5, kernel_size=(2, 3))
        [(n, p.size()) for n, p in f.named_parameters()]
        f(torch.empty(128, 3, 28, 28).normal_()).size()
        """)


def _views(lesson: Lesson) -> None:
    lesson.say("""
        view() and reshape() both regroup a tensor's elements, and most of the time they
        return the same thing. The difference is memory: a tensor is a window onto a
        storage, described by its shape and its STRIDES (how many storage elements one step
        along each axis skips). view() only ever makes a new window; reshape() copies when no
        window can do it. (The lecture's flatten.py and reshaping2.py.)""")
    lesson.run("""
        import convkit as torch
        x = torch.arange(10)
        y = x.view(2, 5)
        y
        y.stride(), y.is_contiguous()
        w = y.T
        w
        w.stride(), w.is_contiguous()
        """)
    lesson.say("""
        y steps 5 elements per row and 1 per column: row-major, contiguous. Its transpose w is
        the same storage read with the strides swapped, (1, 5). Reading w row by row visits
        storage offsets 0, 5, 1, 6, ...: no single stride can do that, so w.view(-1) is
        refused and w.reshape(-1) copies.""")
    lesson.run("""
        try:
            w.view(-1)
        except RuntimeError as e:
            print("RuntimeError:", e)
        z = w.reshape(-1)
        z
        z.data_ptr() == x.data_ptr(), y.view(-1).data_ptr() == x.data_ptr()
        w2 = w.contiguous()
        w2.stride(), w2.view(-1)
        """)
    lesson.say("""
        Views share memory, so writing through one shows in all of them. And -1 asks for
        "whatever size fits", which must divide the number of elements (reshape1.py):""")
    lesson.run("""
        x[0] = 100
        y[0, 0], w[0, 0]
        try:
            torch.randn(10).reshape(3, -1)
        except RuntimeError as e:
            print("RuntimeError:", e)
        torch.zeros(1, 3, 4, 5).stride()
        """)
    lesson.say("""
        The last line is an NCHW batch: one step along W is 1 element, along H 5 (a row),
        along C 20 (an image plane), along N 60. The figure draws, for y and w, where each
        element lives in the storage, computed from their strides.""")
    lesson.figure("""
        from convkit.explain import viz
        def storage_offsets(t):
            (rows, cols), (s0, s1) = t.shape, t.stride()
            return [[t.storage_offset() + i*s0 + j*s1 for j in range(cols)] for i in range(rows)]
        fig = viz.array_panels({"y = x.view(2, 5)": storage_offsets(y),
                                "w = y.T": storage_offsets(w)}, OUT / "04_strides.png",
                               title="storage offset of each element: i*stride[0] + j*stride[1]",
                               note="w read row by row: 0, 5, 1, 6, ... (not in storage order)")
        """, {"04_strides.png": "storage offsets of a view and of its transpose"})


def _groups(lesson: Lesson) -> None:
    lesson.say("""
        With several input channels, each output channel has one kernel PER input channel and
        adds up their results: nn.Conv2d(2, 1, 3) has a (1, 2, 3, 3) weight. The lecture puts
        a vertical line at column 2 of channel 0 and at column 6 of channel 1, and loads the
        kernel its own PyTorch run printed, so the numbers below are the lecture's.""")
    lesson.run("""
        import convkit as torch
        from convkit import nn
        input = torch.zeros(1,2,8,8)
        input[0,0,:,2] = 1.0
        input[0,1,:,6] = 1.0
        conop = nn.Conv2d(2, 1, 3, bias=False)
        conop.weight.shape
        LECTURE_KERNEL = [[[[0.0624, -0.0712, -0.0463], [-0.2252, -0.1561, -0.0972],
                            [0.0087, 0.0932, 0.1414]],
                           [[-0.1598, -0.1026, 0.0856], [0.1957, -0.0485, 0.1764],
                            [-0.0380, 0.0249, 0.2134]]]]
        conop.weight.data[:] = torch.tensor(LECTURE_KERNEL)
        output = conop(input)
        output * 10 + 0.5
        (output * 10 + 0.5).type(torch.int8)
        """)
    lesson.say("""
        Columns 0-2 of the output come from channel 0's line under channel 0's 3x3 operator,
        columns 4-5 from channel 1's; column 3 is 0 because no window reaches either line from
        there. With 3 output channels the weight is (3, 2, 3, 3): three such pairs.""")
    lesson.figure("""
        from convkit.explain import viz
        conop3 = nn.Conv2d(2, 3, 3, bias=False)
        fig = viz.kernel_grid(conop3, OUT / "05_kernels_2_to_3.png")
        fig = viz.feature_maps(conop3, input, OUT / "05_feature_maps_2_to_3.png")
        """, {"05_kernels_2_to_3.png": "the (3, 2, 3, 3) weight as a grid of 3x3 kernels",
           "05_feature_maps_2_to_3.png": "the three output channels for the two-line input"})
    lesson.say("""
        groups splits the channels into blocks that never mix: with groups=g, in_channels and
        out_channels must both be divisible by g, and each output channel reads only the
        in_channels/g inputs of its block. groups=in_channels gives one kernel per channel
        (depthwise); the weight shrinks to (out_channels, in_channels/groups, kH, kW).""")
    lesson.run("""
        nn.Conv2d(4, 4, 3, groups=4, bias=False).weight.shape
        nn.Conv2d(4, 4, 3, groups=2, bias=False).weight.shape
        nn.Conv2d(16, 64, 3, groups=4, bias=False).weight.shape
        try:
            nn.Conv2d(2, 3, 3, groups=2, bias=False)
        except ValueError as e:
            print("ValueError:", e)
        """)
    lesson.say("""
        Which outputs does an input channel reach? Ask the layer: light up input channel 0
        alone and see which output channels change. With groups=2 it is channels 0 and 1
        only. convkit.explain reports the same wiring, with the parameter and compute
        savings, and the figure draws it.""")
    lesson.run("""
        conv = nn.Conv2d(4, 4, 3, groups=2, bias=False)
        x = torch.zeros(1, 4, 5, 5)
        x[0, 0] = 1.0
        conv(x).abs().sum((2, 3)) > 0
        """)
    if lesson.has("convkit.explain", "explain"):
        lesson.run("""
            from convkit import explain
            print(explain(conv, (1, 4, 8, 8)))
            """)
    else:
        lesson.skip("convkit.explain")
    lesson.figure("""
        fig = viz.wiring_diagram(conv, OUT / "05_groups_wiring.png", input_shape=(1, 4, 8, 8))
        """, {"05_groups_wiring.png": "which input channels feed which outputs, groups=2"})


def _padding(lesson: Lesson) -> None:
    lesson.say("""
        Every conv layer's output size follows one formula, per spatial axis:
        out = floor((in + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1.
        padding adds a ring of zeros (or copies of edge values, with padding_mode), stride
        skips positions, dilation spreads the kernel's taps apart. The conv-layer notebook's
        examples first:""")
    lesson.run("""
        import convkit as torch
        from convkit import nn
        def comp_conv2d(conv2d, X):
            X = X.reshape((1,1) + X.shape)
            Y = conv2d(X)
            return Y.reshape(Y.shape[2:])
        X = torch.rand(size=(8,8))
        comp_conv2d(nn.Conv2d(1, 1, kernel_size=3, padding=1), X).shape
        comp_conv2d(nn.Conv2d(1, 1, kernel_size=3), X).shape
        comp_conv2d(nn.Conv2d(1, 1, kernel_size=(5,3), padding=(2,1)), X).shape
        """)
    lesson.say("""
        The nn.Conv2d notebook's 5x5 image with a bright middle row: stride 2 leaves
        floor((5 - 3)/2) + 1 = 2 positions per axis, padding 1 brings it back to 3.""")
    lesson.run("""
        image = torch.zeros(1, 1, 5, 5)
        image[0,0:,2]=1
        nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, stride=2)(image).shape
        nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, stride=2, padding=1)(image).shape
        """)
    lesson.say("""
        With the 2x2 kernel [[0, 1], [2, 3]] on a 3x3 input, the numbers are easy to check by
        hand: 0*0 + 1*1 + 2*3 + 3*4 = 19. padding=1 adds a ring of zeros (the corners now see
        mostly zeros) and stride=2 keeps every other position: floor((3 + 2*1 - 2)/2) + 1 =
        2 per axis.""")
    lesson.run("""
        X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        K = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
        for padding, stride in [(0, 1), (1, 1), (1, 2)]:
            conv2d = nn.Conv2d(1, 1, kernel_size=2, padding=padding, stride=stride, bias=False)
            conv2d.weight = nn.Parameter(K)
            print(f"padding={padding}, stride={stride}:", conv2d(X.reshape((1,1) + X.shape)))
        """)
    lesson.say("""
        convkit.explain writes the formula out with the numbers in, for each spatial axis
        (H, W), along with much else. PyTorch's documentation warns that "several of the last
        columns of your input might be lost": with kernel 3 and stride 2 on 8 columns the
        windows start at 0, 2 and 4, so column 7 is never read. explain lists it, and
        scribbling over column 7 proves it.""")
    if lesson.has("convkit.explain", "explain"):
        lesson.run("""
            from convkit import explain
            explain(nn.Conv2d(1, 1, 2, padding=1, stride=2), (1, 1, 3, 3)).axes[0].formula
            report = explain(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 8, 8))
            for axis in report.axes:
                print(axis.name, axis.formula, "  lost:", list(axis.lost))
            """)
    else:
        lesson.skip("convkit.explain")
    lesson.run("""
        conv = nn.Conv2d(1, 1, 3, stride=2)
        x = torch.rand(1, 1, 8, 8)
        before = conv(x)
        x[..., 7] = 100.0
        torch.equal(conv(x), before)
        """)
    lesson.say("""
        padding='same' keeps the size at stride 1 by padding dilation*(kernel_size - 1) in
        total. For an even kernel that total is odd, and frameworks disagree on where the
        extra pixel goes: PyTorch (like JAX and TensorFlow) puts it at the END (bottom,
        right). Checked by computation: 'same' equals padding 1 before and 2 after.""")
    lesson.run("""
        import convkit.nn.functional as F
        x, w = torch.rand(1, 1, 6, 6), torch.rand(1, 1, 4, 4)
        same = F.conv2d(x, w, padding='same')
        same.shape, torch.allclose(same, F.conv2d(F.pad(x, (1, 2, 1, 2)), w))
        """)
    lesson.say("""
        Dilation inserts gaps between the taps (the slides' "atrous" convolution): a 3x3
        kernel with dilation 2 spans 5x5 but still has 9 weights, so the receptive field
        grows at no cost. The figure computes the receptive field of one output pixel from
        real gradients: the input pixels whose change would change it.""")
    lesson.figure("""
        from convkit.explain import viz
        dilated = nn.Conv2d(1, 1, 3, dilation=2)
        fig = viz.receptive_field(dilated, (1, 1, 9, 9), (2, 2), OUT / "06_dilation.png")
        """, {"06_dilation.png": "receptive field of a dilated 3x3 kernel: 9 taps over 5x5"})
    lesson.say("""
        Padding is not free: an output pixel near the border is partly computed from pixels
        that do not exist. The contamination map gives, for each output pixel, the share of
        its receptive field that lies in the padding; in a deep stack of padded layers this
        share creeps inwards from the border.""")
    if not lesson.has("convkit.explain", "contamination"):
        lesson.skip("convkit.explain.contamination")
        return
    lesson.figure("""
        stack = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
        fig = viz.contamination_map(stack, (1, 1, 8, 8), "zeros",
                                    OUT / "06_contamination.png")
        """, {"06_contamination.png": "share of each output's receptive field that is padding"})


def _learning(lesson: Lesson) -> None:
    lesson.say("""
        A kernel can be learned. The conv-layer notebook makes an image X with a dark band,
        computes Y = the cross-correlation of X with the edge kernel [1, -1], then starts a
        1x2 Conv2d from random weights and runs plain gradient descent on the squared error.
        The loop below starts from the weights the notebook's own run started from (recovered
        from the losses it printed), so it prints the notebook's numbers.""")
    lesson.run(f"""
        import convkit as torch
        from convkit import nn
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
        Y
        conv2d = nn.Conv2d(1, 1, kernel_size=(1,2), bias=False)
        conv2d.weight.data[:] = torch.tensor([[[[{LECTURE_START_KERNEL[0]}, \
{LECTURE_START_KERNEL[1]}]]]])
        X = X.reshape((1,1,6,8))
        Y = Y.reshape((1,1,6,7))
        lr = 3e-2
        losses = []
        for i in range(10):
            Y_hat = conv2d(X)
            l = (Y_hat-Y)**2
            conv2d.zero_grad()
            l.sum().backward()
            conv2d.weight.data[:] -= lr * conv2d.weight.grad
            losses.append(l.sum().item())
            if (i+1) % 2 == 0:
                print(f'epoch {{i+1}}, loss {{l.sum(): 3f}}')
        conv2d.weight.data.reshape((1,2))
        """)
    lesson.say("""
        The loss falls about six-fold every two steps and the kernel is close to [1, -1], the
        one that made Y. Thirty more steps get it to four decimals. The learned kernel answers
        to vertical edges only: on the transposed image (horizontal edges) its output is zero
        up to the error left in the kernel.""")
    lesson.run("""
        for i in range(30):
            conv2d.zero_grad()
            l = ((conv2d(X) - Y)**2).sum()
            l.backward()
            conv2d.weight.data[:] -= lr * conv2d.weight.grad
            losses.append(l.item())
        conv2d.weight.data.reshape((1,2))
        corr2d(X[0, 0].t(), conv2d.weight.data[0, 0]).abs().max()
        """)
    lesson.figure("""
        from convkit.explain import viz
        fig = viz.loss_curve(losses, OUT / "07_loss.png",
                             title="learning the [1, -1] edge kernel: squared error per step")
        """, {"07_loss.png": "the loss of the 40 gradient-descent steps (log scale)"})


def _digits(lesson: Lesson) -> None:
    epochs = 1 if lesson.quick else 8
    how_long = f"{epochs} epoch{'s' * (epochs != 1)}" + (" (quick mode)" if lesson.quick else "")
    lesson.say(f"""
        All of it together: a small CNN (two conv/ReLU/max-pool stages, then two linear
        layers) trained with Adam on the 1797 8x8 handwritten digits that ship with convkit.
        The loop is the one a PyTorch user writes: model(x), loss.backward(),
        optimizer.step(). {how_long} here; `convkit train` runs the full 20.""")
    lesson.run(f"""
        import convkit as torch
        from convkit.train import LeNet, TrainConfig, train
        print(LeNet())
        result = train(TrainConfig(epochs={epochs}, out=str(OUT / "08_lenet.npz")))
        """)
    lesson.say("""
        The first layer's sixteen 3x3 kernels are what the network learned to look for in
        the raw pixels (strokes and edges at various angles); the feature maps show each
        kernel's answer on one test digit, and the model's guess for the first test digits.""")
    lesson.run("""
        from convkit.train import load_digit_splits
        model = LeNet().eval()
        model.load_state_dict(torch.load(OUT / "08_lenet.npz"))
        x_train, y_train, x_test, y_test = load_digit_splits(seed=0)
        with torch.no_grad():
            guess = model(torch.from_numpy(x_test[:12])).argmax(1)
        print("labels:", y_test[:12].tolist())
        print("guess: ", guess.tolist())
        """)
    if lesson.has("convkit.explain", "summary"):
        lesson.say("""
            convkit.explain.summary runs one forward pass with hooks and tabulates every
            layer: output shape, parameters, multiply-accumulates, receptive field.""")
        lesson.run("""
            from convkit import explain
            print(explain.summary(model, (1, 1, 8, 8)))
            """)
    lesson.figure("""
        from convkit.explain import viz
        fig = viz.kernel_grid(model.features[0], OUT / "08_first_layer_kernels.png")
        fig = viz.feature_maps(model.features[0], x_test[:1], OUT / "08_feature_maps.png")
        """, {"08_first_layer_kernels.png": "the 16 learned first-layer kernels",
           "08_feature_maps.png": "the first layer's 16 feature maps on a test digit"})


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    summary: str
    run: Callable[[Lesson], None]


SECTIONS: tuple[Section, ...] = (
    Section("edge", "The 8x8 step edge and the definition of convolution",
            "convo2d: slide the flipped kernel, sum the products; the 6x6 'valid' output",
            _edge),
    Section("scipy", "SciPy's convolve2d and PyTorch's conv2d: the sign flip",
            "convolve2d gives +9, conv2d -9: conv2d is a cross-correlation", _scipy),
    Section("axes", "Talking about axes: NCHW, squeeze and unsqueeze",
            "four axes, not four dimensions; what unsqueeze and squeeze do", _axes),
    Section("views", "view() and reshape(): strides and contiguity",
            "why w.T.view(-1) fails and reshape copies", _views),
    Section("groups", "Multi-channel kernels and the groups wiring",
            "one kernel per input channel, summed; groups blocks; the wiring diagram", _groups),
    Section("padding", "Padding, stride and dilation: the output-size arithmetic",
            "the formula with numbers, lost columns, 'same', dilation, contamination",
            _padding),
    Section("learning", "Learning the [1, -1] edge kernel by gradient descent",
            "the notebook's loop, loss going down, the learned kernel", _learning),
    Section("digits", "Training a CNN on the 8x8 digits",
            "LeNet on the shipped digits: progress bar, accuracy, learned kernels", _digits),
)


def list_sections() -> str:
    """One line per section: number, name, summary."""
    width = max(len(s.name) for s in SECTIONS)
    return "\n".join(f"{i:>2}. {s.name:<{width}}  {s.summary}"
                     for i, s in enumerate(SECTIONS, start=1))


def _select(names: Sequence[str] | None) -> list[tuple[int, Section]]:
    numbered = list(enumerate(SECTIONS, start=1))
    if not names:
        return numbered
    chosen = []
    for name in names:
        key = name.strip().lower()
        match = [(i, s) for i, s in numbered if s.name == key or str(i) == key]
        if not match:
            raise ValueError(f"unknown tour section {name!r}; choose from "
                             f"{', '.join(s.name for s in SECTIONS)} (or 1-{len(SECTIONS)})")
        chosen.extend(match)
    return chosen


def run_tour(sections: Sequence[str] | None = None, out_dir: str | os.PathLike[str] =
             "convkit-tour", quick: bool | None = None, stream: TextIO | None = None
             ) -> list[tuple[Path, str]]:
    """Run the named sections (all by default) and return the figures written, with their
    captions. ``quick`` defaults to the ``CONVKIT_TOUR_QUICK`` environment variable."""
    chosen = _select(sections)
    if quick is None:
        quick = os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out '{out}' exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)  # the training step saves its weights there too
    lesson = Lesson(out, quick, stream)
    start = time.perf_counter()
    lesson._write(f"convkit tour: {len(chosen)} section{'s' * (len(chosen) != 1)}"
                  f"{' (quick)' if quick else ''}. Code runs as shown, with `import convkit "
                  f"as torch`;\nfigures go to {_display_path(out)}/ (OUT in the code).")
    if not lesson.can_draw:
        lesson._write("matplotlib is not installed: the figures are skipped "
                      "(pip install 'convkit[viz]').")
    for number, section in chosen:
        lesson.start()
        lesson.heading(number, section.title)
        section.run(lesson)
    lesson._write()
    lesson._write(f"Done in {time.perf_counter() - start:.1f} s. Figures written: "
                  f"{len(lesson.figures)}")
    for path, caption in lesson.figures:
        lesson._write(f"  {_display_path(path)}  {caption}")
    return lesson.figures
