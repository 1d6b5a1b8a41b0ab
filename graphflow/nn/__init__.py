"""`graphflow.nn`: modules, layers, losses, initialisation and utilities, with PyTorch's names,
arguments, defaults and default initialisations. Every layer is written over
`graphflow.nn.functional`, so it runs eagerly, inside `gf.compile`, and on static symbolic tensors."""

from graphflow.nn import functional, init, utils
from graphflow.nn.module import IncompatibleKeys, Module
from graphflow.nn.modules.activation import *  # noqa: F403
from graphflow.nn.modules.container import *  # noqa: F403
from graphflow.nn.modules.conv import *  # noqa: F403
from graphflow.nn.modules.distance import *  # noqa: F403
from graphflow.nn.modules.dropout import *  # noqa: F403
from graphflow.nn.modules.linear import *  # noqa: F403
from graphflow.nn.modules.loss import *  # noqa: F403
from graphflow.nn.modules.normalization import *  # noqa: F403
from graphflow.nn.modules.rnn import *  # noqa: F403
from graphflow.nn.modules.sparse import *  # noqa: F403
from graphflow.nn.modules.transformer import *  # noqa: F403
from graphflow.nn.parameter import Buffer, Parameter

__all__ = ["functional", "init", "utils", "Module", "IncompatibleKeys", "Parameter", "Buffer"]
