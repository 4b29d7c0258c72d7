"""Data shipped with convkit.

``digits.npz``: the 1797 8x8 grey-level images (values 0..16, ``uint8``) and labels (0..9) of
the UCI ML hand-written digits data set (Alpaydin and Kaynak, UCI Machine Learning Repository,
"Optical Recognition of Handwritten Digits"), as distributed with scikit-learn
(``sklearn.datasets.load_digits``, BSD-3-Clause licence). Extracted once with
``np.savez_compressed("digits.npz", images=d.images.astype(np.uint8),
target=d.target.astype(np.uint8))``; scikit-learn is not needed at run time.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_digits"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images, target)``: ``(1797, 8, 8)`` uint8 values 0..16 and ``(1797,)`` labels."""
    with resources.files(__name__).joinpath("digits.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            return data["images"].copy(), data["target"].copy()
