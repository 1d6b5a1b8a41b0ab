"""`graphflow.utils`: `graphflow.utils.data` is `graphflow.data` under PyTorch's name."""

from graphflow.utils import data

__all__ = ["data"]
