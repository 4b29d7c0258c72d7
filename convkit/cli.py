"""The ``convkit`` command: a thin argparse front over the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import convkit

EDGE_DEMO = """\
The seeds' 8x8 step edge, cross-correlated by conv2d with the kernel [[-1, 0, 1]] * 3:

>>> arr = numpy.zeros((8, 8)); arr[:, :4] = 4.0; arr[:, 4:] = 1.0
>>> ker = numpy.zeros((3, 3)); ker[:, 0] = -1.0; ker[:, 2] = 1.0
>>> x = convkit.from_numpy(arr).unsqueeze(0).unsqueeze(0)     # (1, 1, 8, 8): N, C, H, W
>>> k = convkit.from_numpy(ker).unsqueeze(0).unsqueeze(0)     # (1, 1, 3, 3): out, in, kH, kW
>>> convkit.nn.functional.conv2d(x, k)
"""


def _edge_demo() -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convkit",
        description="Convolution the PyTorch way on NumPy and SciPy.")
    parser.add_argument("--version", action="version", version=f"convkit {convkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="print the seeds' 8x8 step-edge example through conv2d")
    tr = sub.add_parser("train", help="train a LeNet-style CNN on the shipped 8x8 digits")
    tr.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    tr.add_argument("--lr", type=float, default=1e-2, help="Adam's peak learning rate")
    tr.add_argument("--batch-size", type=int, default=32, help="mini-batch size")
    tr.add_argument("--seed", type=int, default=0, help="seed for split, init and shuffling")
    tr.add_argument("--out", default=None, help="save the weights here (.safetensors or .npz)")
    tr.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _edge_demo()
    if args.command == "train":
        from convkit.train import TrainConfig, train

        if args.out is not None and not args.out.lower().endswith((".safetensors", ".npz")):
            parser.error("--out must end in .safetensors or .npz")
        train(TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                          seed=args.seed, out=args.out, progress=not args.no_progress))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
