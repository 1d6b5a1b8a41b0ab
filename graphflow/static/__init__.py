# ruff: noqa: F401, A001
"""Static mode (TF1-style): declare a graph of placeholders, variables and ops, then run parts
of it with a `Session`. Ops are the same functions as eager mode's (`gf.matmul`, `x @ W`,
`x.sum(1)`); TF1's names (`reduce_sum`, `nn.relu`, ...) are aliases of them."""

from graphflow.ir.dtypes import (  # noqa: F401  (tf.float32 and friends)
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
from graphflow.ir.dtypes import bool_ as bool  # noqa: A001
from graphflow.static import linalg, math, nn, train
from graphflow.static.explain import explain
from graphflow.static.graph import (
    GLOBAL_VARIABLES,
    TRAINABLE_VARIABLES,
    Graph,
    add_to_collection,
    control_dependencies,
    get_collection,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
from graphflow.static.ops import (
    abs,
    add,
    argmax,
    argmin,
    cast,
    concat,
    constant,
    diag,
    diag_part,
    divide,
    einsum,
    equal,
    exp,
    expand_dims,
    fill,
    gather,
    gather_nd,
    gradients,
    group,
    identity,
    is_finite,
    is_inf,
    is_nan,
    log,
    matmul,
    matrix_band_part,
    maximum,
    meshgrid,
    minimum,
    multiply,
    negative,
    no_op,
    ones,
    placeholder,
    placeholder_with_default,
    pow,
    random_normal,
    random_uniform,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reshape,
    roll,
    sigmoid,
    sqrt,
    square,
    squeeze,
    stack,
    subtract,
    tanh,
    tile,
    trace,
    transpose,
    truncated_normal,
    where,
    zeros,
)
from graphflow.static.ops import tuple_ as tuple  # noqa: A001
from graphflow.static.scans import argsort, cumprod, cumsum, searchsorted, sort
from graphflow.static.session import Session, default_session
from graphflow.static.tensor import Operation, Tensor
from graphflow.static.variables import (
    Variable,
    global_variables,
    global_variables_initializer,
    trainable_variables,
    variables_initializer,
)


class GraphKeys:
    """Collection names, as tf.GraphKeys."""

    GLOBAL_VARIABLES = GLOBAL_VARIABLES
    TRAINABLE_VARIABLES = TRAINABLE_VARIABLES
