# ruff: noqa: I001 - grouped by subsystem, eager exports after the dtypes
"""graphflow: a deep-learning framework with eager (PyTorch-style) and static (TF1-style) modes
lowered to one op graph, optimised, compiled and differentiated symbolically."""

from graphflow.ir.dtypes import (
    bfloat16,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from graphflow.ir.dtypes import bool_ as bool  # noqa: A001 - PyTorch's name
from graphflow.ir.dtypes import DType as dtype  # noqa: N813
from graphflow.ir.dtypes import promote_types  # noqa: F401
from graphflow import backends

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"

# ---- eager mode (PyTorch names) ------------------------------------------------------------
from graphflow.eager import *  # noqa: E402,F401,F403
from graphflow.eager import __all__ as _eager_all  # noqa: E402
# gf.exp, gf.matmul, gf.where, gf.cat, gf.softmax, gf.sum, ... (the functional layer's public names)
from graphflow.ops.elementwise import *  # noqa: E402,F401,F403
from graphflow.ops.gathering import *  # noqa: E402,F401,F403
from graphflow.ops.linalg import *  # noqa: E402,F401,F403
from graphflow.ops.reductions import *  # noqa: E402,F401,F403
from graphflow.ops.scattering import *  # noqa: E402,F401,F403
from graphflow.ops.shape import *  # noqa: E402,F401,F403
from graphflow.ops.comparison import *  # noqa: E402,F401,F403
from graphflow.ops.distance import *  # noqa: E402,F401,F403
from graphflow.ops.einsum import *  # noqa: E402,F401,F403
from graphflow.ops.grids import *  # noqa: E402,F401,F403
from graphflow.ops.pointwise import *  # noqa: E402,F401,F403
from graphflow.ops.products import *  # noqa: E402,F401,F403
from graphflow.ops.statistics import *  # noqa: E402,F401,F403
from graphflow.ops.tiling import *  # noqa: E402,F401,F403
from graphflow.ops.triangular import *  # noqa: E402,F401,F403
from graphflow.ops.sampling import *  # noqa: E402,F401,F403
from graphflow.ops.scans import *  # noqa: E402,F401,F403
from graphflow.ops.selection import *  # noqa: E402,F401,F403
from graphflow.ops.sorting import *  # noqa: E402,F401,F403
from graphflow.random import Generator, initial_seed, manual_seed, seed, get_rng_state, set_rng_state  # noqa: E402,F401
from graphflow import autograd  # noqa: E402,F401
from graphflow import random  # noqa: E402,F401

del _eager_all

# ---- other front ends and subsystems (one line each, appended below) ------------------------
from graphflow import static  # noqa: E402,F401
from graphflow.compile import compile  # noqa: E402,F401,A001
from graphflow import data, nn, optim, utils  # noqa: E402,F401
from graphflow.io import load, save  # noqa: E402,F401
from graphflow.passes.explain import explain  # noqa: E402,F401

from graphflow.backends import cuda  # noqa: E402 - gf.cuda.is_available(); the reason is in gf.backends.available()
