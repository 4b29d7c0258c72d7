"""The engine: plain NumPy kernels on ndarrays (no Tensor, no autograd)."""

from convkit.engine.conv import conv_forward, conv_grad_input, conv_grad_weight

# single-signal convolution for convkit.signal: direct sums, FFT, and the planner between them
from convkit.engine.direct import correlate_valid, direct_convolve
from convkit.engine.fft import fft_convolve, oa_convolve
from convkit.engine.plan import select as select_convolution

__all__ = ["conv_forward", "conv_grad_input", "conv_grad_weight",
           "correlate_valid", "direct_convolve", "fft_convolve", "oa_convolve",
           "select_convolution"]
