"""The layers of ``convkit.nn``."""

from convkit.nn.modules.container import ModuleDict, ModuleList, Sequential
from convkit.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvNd,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    ConvTransposeNd,
)
from convkit.nn.modules.fold import Fold, Unfold
from convkit.nn.modules.module import Module
from convkit.nn.modules.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from convkit.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "Conv1d", "Conv2d", "Conv3d", "ConvNd",
    "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "ConvTransposeNd", "Fold", "Unfold",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
]

# Linear, activation, normalisation, dropout, resampling and loss layers.
from convkit.nn.modules.activation import *  # noqa: F403
from convkit.nn.modules.activation import __all__ as _activation
from convkit.nn.modules.dropout import *  # noqa: F403
from convkit.nn.modules.dropout import __all__ as _dropout
from convkit.nn.modules.linear import *  # noqa: F403
from convkit.nn.modules.linear import __all__ as _linear
from convkit.nn.modules.loss import *  # noqa: F403
from convkit.nn.modules.loss import __all__ as _loss
from convkit.nn.modules.normalization import *  # noqa: F403
from convkit.nn.modules.normalization import __all__ as _normalization
from convkit.nn.modules.pixelshuffle import *  # noqa: F403
from convkit.nn.modules.pixelshuffle import __all__ as _pixelshuffle
from convkit.nn.modules.upsampling import *  # noqa: F403
from convkit.nn.modules.upsampling import __all__ as _upsampling

__all__ += [*_linear, *_activation, *_dropout, *_normalization, *_upsampling,
            *_pixelshuffle, *_loss]
