"""Optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`), learning-rate schedulers, and the pure update
rules they share with static mode (`graphflow.optim.functional`)."""

from graphflow.optim import functional, lr_scheduler
from graphflow.optim.adam import Adam, AdamW
from graphflow.optim.optimizer import Optimizer
from graphflow.optim.rmsprop import RMSprop
from graphflow.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "functional"]
