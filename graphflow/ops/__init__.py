"""The functional op layer: user-visible op functions and composite ops, written once over
`bind`, so they work on eager tensors, static symbolic tensors, tracers and plain graph nodes."""

from graphflow.ops.elementwise import *  # noqa: F403
from graphflow.ops.gathering import *  # noqa: F403
from graphflow.ops.linalg import *  # noqa: F403
from graphflow.ops.reductions import *  # noqa: F403
from graphflow.ops.scattering import *  # noqa: F403
from graphflow.ops.shape import *  # noqa: F403
from graphflow.ops.values import as_value, broadcast_values, is_value, promote  # noqa: F401
