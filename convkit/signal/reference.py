"""The seeds' ``convo2d``: 2-d convolution written straight from its definition.

From the lecture notes (Kak and Bouman, "Demystifying the Convolutions in PyTorch"): sweep
the image with the *flipped* kernel and sum the products at every position where the kernel
fits entirely inside the image ('valid' mode). That flip is what makes it a true convolution
(``scipy.signal.convolve2d``), and its absence what makes PyTorch's ``conv2d`` a
cross-correlation.

Kept readable rather than fast: tests use it as the oracle on tiny inputs, and the tour uses
it to teach. The one change from the seeds: the output dtype is the inputs' common dtype
(the seeds always produced float), so integers and complex numbers are exact too.

>>> import numpy
>>> arr = numpy.zeros((8, 8), dtype=float)
>>> arr[:, :4] = 4.0
>>> arr[:, 4:] = 1.0
>>> ker = numpy.zeros((3, 3), dtype=float)
>>> ker[:, 0] = -1.0
>>> ker[:, 2] = 1.0
>>> convo2d(arr, ker)[0]
array([0., 0., 9., 9., 0., 0.])
>>> convo2d(arr, ker).shape
(6, 6)
"""

from __future__ import annotations

import numpy

__all__ = ["convo2d"]


def convo2d(input: numpy.ndarray, kernel: numpy.ndarray) -> numpy.ndarray:
    """True 2-d convolution, 'valid' mode: ``out[i, j] = sum(input[i:i+M, j:j+N] * flip(kernel))``.

    Parameters
    ----------
    input : ndarray, shape (H, W)
    kernel : ndarray, shape (M, N), with M <= H and N <= W

    Returns
    -------
    ndarray, shape (H - M + 1, W - N + 1), dtype ``numpy.result_type(input, kernel)``
    """
    H, W = input.shape  # noqa: N806  (the seeds' mnemonics: height, width of the image)
    M, N = kernel.shape  # noqa: N806
    out = numpy.zeros((H - M + 1, W - N + 1), dtype=numpy.result_type(input, kernel))
    kernel = numpy.flip(kernel)  # the flip: convolution, not correlation
    for i in range(H - M + 1):
        for j in range(W - N + 1):
            out[i, j] = numpy.sum(input[i:i + M, j:j + N] * kernel)
    return out
