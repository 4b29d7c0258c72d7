"""The engine: plain NumPy kernels on ndarrays (no Tensor, no autograd)."""

from convkit.engine.conv import conv_forward, conv_grad_input, conv_grad_weight

__all__ = ["conv_forward", "conv_grad_input", "conv_grad_weight"]
