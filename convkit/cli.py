"""The ``convkit`` command: a thin argparse front over the public API.

Each subcommand is a :class:`Command`: a name, a help line, a function that adds its
arguments and one that runs it. Adding a subcommand means adding one entry to
:data:`COMMANDS`. A user error (bad layer string, malformed shape, missing or unreadable
file, ...) raised as ValueError, TypeError, RuntimeError, OSError or ImportError is printed
as one line, ``convkit: error: ...``, with exit status 1; so is running out of memory and,
naming the exception class, any other exception; usage errors (unknown option, missing
argument) exit with 2, also on one line. Set ``CONVKIT_TRACEBACK=1`` to see the full
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import convkit
from convkit.dask import cli as dask_cli  # imports dask only when the command runs

USER_ERRORS = (ValueError, TypeError, RuntimeError, OSError, ImportError)
TRACEBACK_ENV = "CONVKIT_TRACEBACK"

EDGE_DEMO = """\
The seeds' 8x8 step edge, cross-correlated by conv2d with the kernel [[-1, 0, 1]] * 3:

>>> arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
>>> ker = numpy.zeros((3, 3)); ker[:, 0] = -1.0; ker[:, 2] = 1.0
>>> x = convkit.from_numpy(arr).unsqueeze(0).unsqueeze(0)     # (1, 1, 8, 8): N, C, H, W
>>> k = convkit.from_numpy(ker).unsqueeze(0).unsqueeze(0)     # (1, 1, 3, 3): out, in, kH, kW
>>> convkit.nn.functional.conv2d(x, k)
"""


class UserError(Exception):
    """An error in what the user asked for, reported as one line (no traceback)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like the other errors."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (see: convkit {command + ' ' if command else ''}--help)"
        self.exit(2, f"convkit: error: {_one_line(message)}{hint}\n")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


# ------------------------------------------------------------------ argument types
def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (brackets and spaces allowed) as a tuple of positive ints."""
    body = text.strip().strip("()[]").strip()
    parts = [p.strip() for p in body.split(",")] if body else []
    if parts and parts[-1] == "":  # a trailing comma, as in "(8,)"
        parts.pop()
    if not parts or not all(re.fullmatch(r"\d+", p) for p in parts) or any(
            int(p) == 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected a shape as comma-separated positive integers such as 1,3,224,224, "
            f"got {text!r}")
    return tuple(int(p) for p in parts)


# ------------------------------------------------------------------ demo and train
def _edge_demo(args: argparse.Namespace) -> int:
    import numpy as np

    arr = np.zeros((8, 8))
    arr[:, :4] = 4.0
    arr[:, 4:] = 1.0
    ker = np.zeros((3, 3))
    ker[:, 0] = -1.0
    ker[:, 2] = 1.0
    x = convkit.from_numpy(arr).unsqueeze(0).unsqueeze(0)
    k = convkit.from_numpy(ker).unsqueeze(0).unsqueeze(0)
    out = convkit.nn.functional.conv2d(x, k)
    print(EDGE_DEMO + repr(out))
    print(f"\nshape {tuple(out.shape)}: the edge gives -9, not +9, because PyTorch's conv2d is a "
          "cross-correlation\n(the kernel is not flipped); scipy.signal.convolve2d flips it and "
          "gives +9.")
    return 0


def _train_arguments(tr: argparse.ArgumentParser) -> None:
    tr.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    tr.add_argument("--lr", type=float, default=1e-2, help="Adam's peak learning rate")
    tr.add_argument("--batch-size", type=int, default=32, help="mini-batch size")
    tr.add_argument("--seed", type=int, default=0, help="seed for split, init and shuffling")
    tr.add_argument("--out", default=None, type=_weights_path,
                    help="save the weights here (.safetensors or .npz)")
    tr.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _weights_path(text: str) -> str:
    if not text.lower().endswith((".safetensors", ".npz")):
        raise argparse.ArgumentTypeError(f"must end in .safetensors or .npz, got {text!r}")
    return text


def _train(args: argparse.Namespace) -> int:
    from convkit.train import TrainConfig, train

    train(TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                      seed=args.seed, out=args.out, progress=not args.no_progress))
    return 0


# ------------------------------------------------------------------ explain and summary
def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("layer", metavar="LAYER",
                   help='a layer written as in Python, e.g. "Conv2d(4, 4, 3, groups=2)" '
                        "(parsed, never evaluated: layer names and literal arguments only)")
    p.add_argument("--input", "-i", required=True, type=parse_shape, metavar="SHAPE",
                   help="input shape, e.g. 1,4,8,8 (N, C, H, W)")
    p.add_argument("--png", metavar="PATH",
                   help="also draw the channel wiring and the receptive field of the centre "
                        "output (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _explain(args: argparse.Namespace) -> int:
    from convkit.explain import explain, parse_layer

    if args.png:
        _check_png_path(args.png)
    layer = parse_layer(args.layer)
    report = explain(layer, args.input)
    print(json.dumps(report.to_dict(), indent=2, default=_json_default) if args.json
          else report)
    if args.png:
        from convkit.explain import viz

        viz.explain_figure(layer, args.input, args.png)
        print(f"wrote {args.png}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _check_png_path(path: str) -> None:
    if not path.lower().endswith(".png"):
        raise UserError(f"--png: the picture is written as PNG; give a path ending in .png, "
                        f"got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"--png: folder {folder!r} does not exist")


def _summary_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="module:factory (e.g. my_models:build_model; the current folder is "
                        "searched first), module:instance, or a layer string such as "
                        '"Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2))"')
    p.add_argument("--input", "-i", required=True, type=parse_shape, metavar="SHAPE",
                   help="input shape, e.g. 1,3,224,224")
    p.add_argument("--json", action="store_true", help="print the table as JSON")


_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def load_model(target: str) -> Any:
    """The Module that ``module:name`` names (called if it is a factory), or the layer a
    layer string describes."""
    from convkit.nn.modules.module import Module

    if not _TARGET.fullmatch(target.strip()):
        if "(" not in target:  # neither module:factory nor a layer call
            raise UserError(f"expected MODULE:FACTORY such as my_models:build_model, or a "
                            f'layer string such as "Sequential(Conv2d(1, 8, 3), ReLU())", '
                            f"got {target!r}")
        from convkit.explain import parse_layer

        return parse_layer(target)
    module_name, attr_path = target.strip().split(":", 1)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # `convkit summary my_models:build` finds ./my_models.py
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UserError(f"cannot import module {module_name!r}: {e}") from None
    except (ImportError, SyntaxError) as e:
        raise UserError(f"importing {module_name!r} failed: {type(e).__name__}: {e}"
                        ) from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise UserError(f"module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, Module):
        if not callable(obj):
            raise UserError(f"{target} is a {type(obj).__name__}, neither a Module nor a "
                            "function returning one")
        try:
            obj = obj()
        except TypeError as e:
            raise UserError(f"calling {target}() failed: {e} (the factory must take no "
                            "required arguments)") from None
        if not isinstance(obj, Module):
            raise UserError(f"{target}() returned a {type(obj).__name__}, not a "
                            "convkit.nn.Module")
    return obj


def _summary(args: argparse.Namespace) -> int:
    from convkit.explain import summary

    report = summary(load_model(args.model), args.input)
    print(json.dumps(report.to_dict(), indent=2, default=_json_default) if args.json
          else report)
    return 0


# ------------------------------------------------------------------ filter
def _filter_arguments(p: argparse.ArgumentParser) -> None:
    from convkit.filters import BOUNDARIES, MODES, SIGNED_RULES

    p.add_argument("image", metavar="IMAGE", help="input image (PNG, JPEG, ...; needs Pillow)")
    p.add_argument("--kernel", "-k", required=True, metavar="KERNEL",
                   help="sobel_x, sobel_y, laplace, gaussian:SIGMA, box:K, or a 2-d .npy file")
    p.add_argument("--mode", choices=MODES, default="same",
                   help="output size as in scipy.signal.convolve2d (default: same)")
    p.add_argument("--boundary", choices=BOUNDARIES, default="fill",
                   help="outside the image: fill (zeros), wrap, symm (mirror); default fill")
    p.add_argument("--signed", choices=SIGNED_RULES, default="abs",
                   help="for PNG/JPEG output of signed results (sobel, laplace): abs writes "
                        "|value|, offset writes value+128 (default abs)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help=".png, .jpg or .npy (raw floats); default IMAGE-filtered.png")


def _filter(args: argparse.Namespace) -> int:
    from convkit.filters import filter_image

    report = filter_image(args.image, args.kernel, mode=args.mode, boundary=args.boundary,
                          out_path=args.output, signed=args.signed)
    print(report)
    return 0


# ------------------------------------------------------------------ tour
def _tour_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sections", nargs="*", metavar="SECTION",
                   help="section names or numbers to run (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the sections and exit")
    p.add_argument("--out", default="convkit-tour", metavar="DIR",
                   help="folder for the figures (default: ./convkit-tour)")
    p.add_argument("--quick", action="store_true",
                   help="shorten the training (also: CONVKIT_TOUR_QUICK=1)")


def _tour(args: argparse.Namespace) -> int:
    from convkit import tour

    if args.list:
        print(tour.list_sections())
        return 0
    tour.run_tour(args.sections, out_dir=args.out, quick=True if args.quick else None)
    return 0


def _doctor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _doctor(args: argparse.Namespace) -> int:
    from convkit import _machine

    report = _machine.doctor()
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report)
    return 0


def _calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="fewer, smaller problems: a rough model in a few seconds")
    p.add_argument("--only", choices=("conv", "signal"), default=None,
                   help="calibrate one planner only (default: both)")
    p.add_argument("--output-dir", default=None, metavar="DIR",
                   help="write the constants files here instead of the installed package "
                        "(point CONVKIT_CONV_CONSTANTS / CONVKIT_PLAN_CONSTANTS at them)")


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from convkit.engine import conv_calibrate, conv_plan
    from convkit.engine import plan as signal_plan

    out = Path(args.output_dir) if args.output_dir else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "conv"):
        print("convolution planner (nn.functional): timing every algorithm ...")
        conv_calibrate.calibrate(out / conv_plan.CONSTANTS_PATH.name if out else
                                 conv_plan.CONSTANTS_PATH, quick=args.quick)
    if args.only in (None, "signal"):
        print("signal planner (convkit.signal): direct sums vs FFT ...")
        signal_plan.calibrate(out / signal_plan.CONSTANTS_PATH.name if out else
                              signal_plan.CONSTANTS_PATH, quick=args.quick)
    return 0


# ------------------------------------------------------------------ the table of commands
@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    description: str | None = None


COMMANDS: list[Command] = [
    Command("demo", "print the seeds' 8x8 step-edge example through conv2d", _edge_demo),
    Command("train", "train a LeNet-style CNN on the shipped 8x8 digits", _train,
            _train_arguments),
    Command("explain", "explain a layer on an input shape: sizes, padding, parameters, "
            "wiring", _explain, _explain_arguments,
            'Example: convkit explain "Conv2d(4, 4, 3, groups=2)" --input 1,4,8,8'),
    Command("summary", "per-layer table of a model from a real forward pass", _summary,
            _summary_arguments, "Example: convkit summary my_models:build_model --input "
            "1,3,224,224"),
    Command("filter", "convolve an image file with a named kernel (true convolution)",
            _filter, _filter_arguments,
            "Example: convkit filter in.png --kernel sobel_x --mode same --boundary symm -o "
            "out.png"),
    Command("tour", "a guided walk through the lectures' lessons, computed live", _tour,
            _tour_arguments, "Example: convkit tour padding --out figures"),
    Command("dask-filter", dask_cli.HELP, dask_cli.run, dask_cli.add_arguments,
            dask_cli.DESCRIPTION),
    Command("doctor", "what this machine offers convkit: BLAS, cores, AVX-512, calibration",
            _doctor, _doctor_arguments),
    Command("calibrate", "time the convolution algorithms here and write the planners' "
            "cost models", _calibrate, _calibrate_arguments),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convkit", description="Convolution the PyTorch way on NumPy and SciPy.")
    parser.add_argument("--version", action="version", version=f"convkit {convkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help,
                           description=command.description or command.help)
        if command.arguments is not None:
            command.arguments(p)
        p.set_defaults(handler=command.run)
    return parser


def _restart_with_avx512_blas(argv: Sequence[str] | None) -> None:
    """Re-run this command with ``OPENBLAS_CORETYPE=SkylakeX`` when OpenBLAS runs AVX2
    kernels on an AVX-512 CPU (the variable only works before NumPy loads, and NumPy is
    loaded by now). Only for the console command itself, never for in-process calls."""
    from convkit import _machine

    if argv is not None or "OPENBLAS_CORETYPE" in os.environ:
        return
    if _machine.openblas_coretype_advice() is None:
        return
    env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX")
    os.execve(sys.executable, [sys.executable, "-m", "convkit", *sys.argv[1:]], env)


def _want_traceback() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip() not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    _restart_with_avx512_blas(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except (UserError, *USER_ERRORS) as e:
        if _want_traceback():
            raise
        print(f"convkit: error: {_one_line(e) or type(e).__name__}", file=sys.stderr)
        return 1
    except MemoryError as e:  # a layer or input too large to build (numpy names the size)
        if _want_traceback():
            raise
        print(f"convkit: error: out of memory: {_one_line(e) or 'MemoryError'}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("convkit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug (convkit's, or in the user's model): still one line
        if _want_traceback():
            raise
        print(f"convkit: error: {type(e).__name__}: {_one_line(e)} (unexpected; set "
              f"{TRACEBACK_ENV}=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
