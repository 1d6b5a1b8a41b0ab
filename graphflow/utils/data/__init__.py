"""PyTorch's name for `graphflow.data`: `from graphflow.utils.data import DataLoader` works."""

from graphflow.data import *  # noqa: F403
from graphflow.data import __all__  # noqa: F401
