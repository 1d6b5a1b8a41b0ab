"""The functional op layer: user-visible op functions and composite ops, written once over
`bind`, so they work on eager tensors, static symbolic tensors, tracers and plain graph nodes."""

from graphflow.ops.comparison import *  # noqa: F403
from graphflow.ops.distance import *  # noqa: F403
from graphflow.ops.einsum import *  # noqa: F403
from graphflow.ops.elementwise import *  # noqa: F403
from graphflow.ops.gathering import *  # noqa: F403
from graphflow.ops.grids import *  # noqa: F403
from graphflow.ops.linalg import *  # noqa: F403
from graphflow.ops.pointwise import *  # noqa: F403
from graphflow.ops.products import *  # noqa: F403
from graphflow.ops.reductions import *  # noqa: F403
from graphflow.ops.sampling import *  # noqa: F403
from graphflow.ops.scans import *  # noqa: F403
from graphflow.ops.scattering import *  # noqa: F403
from graphflow.ops.selection import *  # noqa: F403
from graphflow.ops.shape import *  # noqa: F403
from graphflow.ops.sorting import *  # noqa: F403
from graphflow.ops.statistics import *  # noqa: F403
from graphflow.ops.tiling import *  # noqa: F403
from graphflow.ops.triangular import *  # noqa: F403
from graphflow.ops.values import as_value, broadcast_values, is_value, promote  # noqa: F401
