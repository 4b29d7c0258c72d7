"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``) and ``lr_scheduler``."""

from convkit.optim import lr_scheduler
from convkit.optim.adam import Adam, AdamW
from convkit.optim.optimizer import Optimizer
from convkit.optim.rmsprop import Adagrad, RMSprop
from convkit.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
