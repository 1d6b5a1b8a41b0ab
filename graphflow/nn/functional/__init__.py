"""`graphflow.nn.functional` (imported as `F`): layers, activations and losses as functions of
values. Every function is written once over the functional ops, so it accepts eager tensors,
static symbolic tensors, tracers and graph nodes alike."""

from graphflow.nn.functional.activation import *  # noqa: F403
from graphflow.nn.functional.attention import *  # noqa: F403
from graphflow.nn.functional.conv import *  # noqa: F403
from graphflow.nn.functional.distance import *  # noqa: F403
from graphflow.nn.functional.dropout import *  # noqa: F403
from graphflow.nn.functional.linear import *  # noqa: F403
from graphflow.nn.functional.loss import *  # noqa: F403
from graphflow.nn.functional.normalization import *  # noqa: F403
from graphflow.nn.functional.sparse import *  # noqa: F403
from graphflow.ops.shape import pad  # noqa: F401
