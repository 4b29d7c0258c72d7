"""SciPy's convolution API (``scipy.signal``) on convkit's engine.

``from convkit import signal`` gives the functions a SciPy user knows, with SciPy's names,
signatures, defaults, output shapes and dtypes, and errors::

    convolve, correlate            N-d, method 'auto' | 'direct' | 'fft'
    convolve2d, correlate2d        2-d, with boundaries 'fill' | 'wrap' | 'symm'
    fftconvolve, oaconvolve        N-d by FFT (whole array / overlap-add), along any axes
    choose_conv_method             what 'auto' would do (or measure both)
    correlation_lags               the lag of each output of a 1-d correlation

The arithmetic runs on ``convkit.engine``, whose planner picks direct sums or the FFT per call
from constants measured on the machine (``python -m convkit.engine.plan --calibrate``), and
never takes the FFT where it would lose accuracy. ``convkit.signal.reference`` keeps the
seeds' ``convo2d`` loop, the definition everything here is tested against on tiny inputs.

NumPy arrays (anything ``numpy.asarray`` accepts) and convkit Tensors are accepted; a Tensor
in gives a Tensor out. Inputs are never modified. No autograd.
"""

from convkit.signal import reference
from convkit.signal._signaltools import (
    choose_conv_method,
    convolve,
    convolve2d,
    correlate,
    correlate2d,
    correlation_lags,
    fftconvolve,
    oaconvolve,
)

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve",
           "choose_conv_method", "correlation_lags", "reference"]
