"""Static-mode op constructors (placeholder, constant, identity, group, gradients, random) and
TF1's op names as aliases of the functional layer's ops: one implementation for every mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir import source
from graphflow.ir.dtypes import DType, float32, get_dtype, int64
from graphflow.ir.graph import Node
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import check_shape, normalize_axis
from graphflow.ir.symbolic import Sym
from graphflow.ops import elementwise as E
from graphflow.ops import gathering as G
from graphflow.ops import grids as GRID
from graphflow.ops import linalg as L
from graphflow.ops import random as RND
from graphflow.ops import reductions as R
from graphflow.ops import shape as S
from graphflow.ops import tiling as TL
from graphflow.ops import triangular as TRI
from graphflow.ops.einsum import einsum as _einsum
from graphflow.ops.indexing import getitem as _getitem
from graphflow.ops.values import cast as _cast
from graphflow.ops.values import is_value
from graphflow.static.graph import Graph, get_default_graph
from graphflow.static.stable_grad import stable_grad
from graphflow.static.tensor import Operation, Tensor, as_control
from graphflow.static.variables import Variable


def _graph_of(*values: Any) -> Graph:
    for v in values:
        if isinstance(v, (Tensor, Variable)):
            return v.graph
    return get_default_graph()


def placeholder(dtype: Any = float32, shape: Any = None, name: str | None = None) -> Tensor:
    """A value fed at run time. `None` in `shape` is a size known only when fed (a symbol)."""
    g = get_default_graph()
    if shape is None:
        raise ShapeError("placeholder: graphflow needs the rank of every placeholder; give a shape such as "
                         "[None, 784] (None for each size known only when fed)"
                         + (f" (at {source.capture()})" if source.capture() else ""))
    if isinstance(shape, int):
        shape = (shape,)
    dims = tuple(Sym.fresh() if d is None or d == -1 else d for d in shape)
    dims = check_shape(dims, "placeholder")
    dtype = get_dtype(dtype)
    name = g.unique_name(name or "Placeholder", mark_used=False)
    node = g.handler.add_node(get_op("input"), (), {"name": name, "dtype": dtype, "shape": dims}, name=name)
    return g.handler.wrap(node)


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """A tensor computing `input` unless it is fed (any tensor can be fed)."""
    return identity(input, name=name or "PlaceholderWithDefault")


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str | None = None) -> Tensor:
    """A literal. `shape` broadcasts a scalar (or reshapes an array of the same size), as tf.constant."""
    g = get_default_graph()
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else value)
    if dtype is not None:
        arr = arr.astype(get_dtype(dtype).np)
    elif arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.float32)  # Python floats are float32 constants, as in TF
    if shape is not None:
        shape = tuple(shape)
        arr = np.broadcast_to(arr, shape) if arr.size == 1 else arr.reshape(shape)
    return g.handler.constant(arr, name=name or "Const")


def identity(x: Any, name: str | None = None) -> Tensor:
    """A new tensor with `x`'s value; declared under control dependencies, it runs after them."""
    g = _graph_of(x)
    node = g.handler.to_node(x)
    out = g.handler.add_node(get_op("reshape"), (node,), {"shape": tuple(node.shape)}, name=name or "Identity")
    return g.handler.wrap(out)


def no_op(name: str | None = None) -> Operation:
    """An operation that does nothing but run its control dependencies."""
    g = get_default_graph()
    return _operation(g, name or "NoOp", ())


def group(*inputs: Any, name: str | None = None) -> Operation:
    """An operation that runs all of `inputs` (tensors or operations)."""
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    g = _graph_of(*inputs)
    return _operation(g, name or "group_deps", tuple(as_control(g, x) for x in inputs))


def _operation(g: Graph, name: str, deps: tuple[Any, ...]) -> Operation:
    op = Operation(g, g.unique_name(name), deps + g.current_control_inputs(), source.capture())
    g.register(op.name, op)
    return op


def tuple_(tensors: Sequence[Any], name: str | None = None) -> list[Tensor]:
    """Each tensor, computed only after all of them (tf.tuple)."""
    gate = group(*tensors)
    g = gate.graph
    with g.control_dependencies([gate]):
        return [identity(t) for t in tensors]


def _flat(x: Any) -> tuple[list[Any], bool]:
    return (list(x), True) if isinstance(x, (list, tuple)) else ([x], False)


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients") -> list[Tensor | None]:
    """Symbolic gradients of sum(ys) (weighted by grad_ys) with respect to each x; None for an x
    the ys do not depend on. A variable's gradient sums over every read of it. The ys' graph is
    stabilised first (see `graphflow.static.stable_grad`), so e.g. a naive log(softmax(x)) gets
    finite gradients for large logits."""
    ys_l, _ = _flat(ys)
    xs_l, _ = _flat(xs)
    g = _graph_of(*ys_l, *xs_l)
    h = g.handler
    y_nodes = [h.to_node(y) for y in ys_l]
    seeds = None
    if grad_ys is not None:
        gy, _ = _flat(grad_ys)
        if len(gy) != len(y_nodes):
            raise ValueError(f"gradients: {len(gy)} grad_ys for {len(y_nodes)} ys")
        seeds = [None if s is None else _cast(Tensor(h.to_node(s), g), y.dtype).node for s, y in zip(gy, y_nodes)]
    groups: list[list[Node]] = []
    flat: list[Node] = []
    for x in xs_l:
        nodes = list(g.var_reads.get(x.ref, ())) if isinstance(x, Variable) else [h.to_node(x)]
        groups.append(nodes)
        flat.extend(nodes)
    results = stable_grad(y_nodes, flat, seeds)  # on the stabilised forward graph
    out: list[Tensor | None] = []
    k = 0
    for x_obj, nodes in zip(xs_l, groups):
        parts = [r for r in results[k:k + len(nodes)] if r is not None]
        k += len(nodes)
        if not parts:
            out.append(None)
            continue
        total = parts[0]
        for p in parts[1:]:
            total = E.add(total, p)
        if total.name is None:  # gradient nodes are built by autodiff, unnamed
            total.name = g.unique_name(f"{name}/{_op_name(x_obj)}_grad")
            g.register(total.name, Tensor(total, g))
        out.append(Tensor(total, g))
    return out


def _op_name(x: Any) -> str:
    return (getattr(x, "op_name", "") or "x").replace(":", "_")


# ---- random ops: a per-run key (fed by the session) plus a salt per op ----------------------
def _random_key(g: Graph, seed: int | None) -> Tensor:
    return g.handler.random_key(seed)


def _dtype(dtype: Any) -> DType:
    return get_dtype(dtype) if dtype is not None else float32


def random_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                  seed: int | None = None, name: str | None = None) -> Tensor:
    g = get_default_graph()
    return RND.normal(_random_key(g, seed), tuple(shape), _dtype(dtype), mean, stddev)


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                     seed: int | None = None, name: str | None = None) -> Tensor:
    g = get_default_graph()
    return RND.truncated_normal(_random_key(g, seed), tuple(shape), _dtype(dtype), mean, stddev)


def random_uniform(shape: Any, minval: float = 0.0, maxval: float | None = None, dtype: Any = float32,
                   seed: int | None = None, name: str | None = None) -> Tensor:
    g = get_default_graph()
    return RND.uniform(_random_key(g, seed), tuple(shape), _dtype(dtype), minval, 1.0 if maxval is None else maxval)


# ---- TF1 names for the functional layer's ops -----------------------------------------------
def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.sum(input_tensor, axis, keepdims)


def reduce_mean(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.mean(input_tensor, axis, keepdims)


def reduce_max(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.amax(input_tensor, axis, keepdims)


def reduce_min(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.amin(input_tensor, axis, keepdims)


def reduce_prod(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.prod(input_tensor, axis, keepdims)


def square(x: Any, name: str | None = None) -> Tensor:
    return E.square(x)


def add(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.add(x, y)


def subtract(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.sub(x, y)


def multiply(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.mul(x, y)


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.div(x, y)


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, name: str | None = None) -> Tensor:
    if transpose_a:
        a = S.transpose(a, -2, -1)
    if transpose_b:
        b = S.transpose(b, -2, -1)
    return L.matmul(a, b)


def _filled(shape: Any, value: Any, dtype: Any) -> Tensor:
    g = get_default_graph()
    dtype = _dtype(dtype)
    c = g.handler.constant(np.asarray(value, dtype=dtype.np))
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    return c if shape == () else S.expand(c, shape)


def zeros(shape: Any, dtype: Any = float32, name: str | None = None) -> Tensor:
    return _filled(shape, 0, dtype)


def ones(shape: Any, dtype: Any = float32, name: str | None = None) -> Tensor:
    return _filled(shape, 1, dtype)


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    arr = np.asarray(value)
    return _filled(dims, value, np.float32 if arr.dtype == np.float64 else arr.dtype)


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    return _cast(x, get_dtype(dtype))


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:
    return S.reshape(tensor, tuple(-1 if d is None else d for d in shape))


def transpose(a: Any, perm: Any = None, name: str | None = None) -> Tensor:
    return S.permute(a, tuple(perm) if perm is not None else tuple(reversed(range(len(a.shape)))))


def concat(values: Sequence[Any], axis: int, name: str | None = None) -> Tensor:
    return S.cat(values, axis)


def stack(values: Sequence[Any], axis: int = 0, name: str | None = None) -> Tensor:
    return S.stack(values, axis)


def argmax(input: Any, axis: int | None = None, output_type: Any = int64, name: str | None = None) -> Tensor:  # noqa: A002
    return _cast(R.argmax(input, 0 if axis is None else axis), get_dtype(output_type))


def argmin(input: Any, axis: int | None = None, output_type: Any = int64, name: str | None = None) -> Tensor:  # noqa: A002
    return _cast(R.argmin(input, 0 if axis is None else axis), get_dtype(output_type))


def gather(params: Any, indices: Any, validate_indices: Any = None, axis: int | None = None, batch_dims: int = 0,
           name: str | None = None) -> Tensor:
    """tf.gather: slices of `params` along `axis` at `indices` of any shape; the result's shape is
    params.shape[:axis] + indices.shape + params.shape[axis+1:]. Out-of-range (and negative)
    indices raise when the graph runs. `index_select` over the flattened indices."""
    if batch_dims:
        raise NotImplementedError("gather: batch_dims is not supported")
    params, idx = _as_tensor(params), _as_tensor(indices)
    axis = normalize_axis(0 if axis is None else axis, len(params.shape), "gather")
    flat = S.reshape(idx, (-1,))
    picked = G.index_select(params, axis, flat)
    return S.reshape(picked, tuple(params.shape[:axis]) + tuple(idx.shape) + tuple(params.shape[axis + 1:]))


def gather_nd(params: Any, indices: Any, name: str | None = None, batch_dims: int = 0) -> Tensor:
    """tf.gather_nd: indices[..., :k] address the first k dimensions of params; the result's shape
    is indices.shape[:-1] + params.shape[k:]. Out-of-range (and negative) indices raise when the
    graph runs: each address becomes one row of params flattened over its first k dimensions."""
    if batch_dims:
        raise NotImplementedError("gather_nd: batch_dims is not supported")
    params, idx = _as_tensor(params), _cast(_as_tensor(indices), int64)
    if not idx.shape or not isinstance(idx.shape[-1], int) or idx.shape[-1] > len(params.shape):
        raise ShapeError(f"gather_nd: the last dimension of indices {tuple(idx.shape)} must be a known size at most "
                         f"the rank of params {tuple(params.shape)}")
    k = idx.shape[-1]
    lead, rest = tuple(idx.shape[:-1]), tuple(params.shape[k:])
    if k == 0:  # every address is the whole of params
        return S.expand(S.reshape(params, (1,) * len(lead) + rest), lead + rest)
    linear, bad = None, None
    for j in range(k):
        c = _getitem(idx, (Ellipsis, j))
        size = R.count_of(params, (j,), int64)
        outside = E.logical_or(E.lt(c, 0), E.ge(c, size))
        linear = c if linear is None else E.add(E.mul(linear, size), c)
        bad = outside if bad is None else E.logical_or(bad, outside)
    # an invalid address reads past the last row, so the gather raises when the graph runs
    linear = E.where(bad, R.count_of(params, tuple(range(k)), int64), linear)
    picked = G.index_select(S.reshape(params, (-1,) + rest), 0, S.reshape(linear, (-1,)))
    return S.reshape(picked, lead + rest)


def _as_tensor(x: Any) -> Any:
    return x if is_value(x) else constant(x)


def equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.eq(x, y)


def expand_dims(input: Any, axis: int, name: str | None = None) -> Tensor:  # noqa: A002
    return S.unsqueeze(input, axis)


def squeeze(input: Any, axis: Any = None, name: str | None = None) -> Tensor:  # noqa: A002
    return S.squeeze(input, axis)


exp, log, sqrt, abs, negative, sigmoid, tanh, maximum, minimum, where, pow = (  # noqa: A001
    E.exp, E.log, E.sqrt, E.abs, E.neg, E.sigmoid, E.tanh, E.maximum, E.minimum, E.where, E.pow)


# ---- TF1 names for tiling, rolling, einsum, diagonals and classification of values ----------
def roll(input: Any, shift: Any, axis: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Elements shifted cyclically by `shift` along `axis` (ints or lists of equal length; a
    repeated axis adds its shifts)."""
    return TL.roll(input, shift, axis)


def tile(input: Any, multiples: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """`input` repeated multiples[i] times along dimension i (one multiple per dimension)."""
    x = _as_tensor(input)
    reps = (multiples,) if isinstance(multiples, int) else tuple(int(m) for m in multiples)
    if len(reps) != len(x.shape):
        raise ShapeError(f"tile: multiples {reps} must have one entry per dimension of input {tuple(x.shape)}")
    return TL.tile(x, reps)


def einsum(equation: str, *inputs: Any, **kwargs: Any) -> Tensor:
    """tf.einsum (the `name` and `optimize` keywords are accepted and ignored)."""
    return _einsum(equation, *inputs)


def meshgrid(*args: Any, **kwargs: Any) -> list[Tensor]:
    """Coordinate grids of 1-D tensors; indexing='xy' (Cartesian, TF's default) or 'ij'."""
    return list(GRID.meshgrid(*args, indexing=kwargs.get("indexing", "xy")))


def trace(x: Any, name: str | None = None) -> Tensor:
    """The sum of the main diagonal of each inner-most matrix."""
    return R.sum(TRI.diagonal(x, 0, -2, -1), -1)


def diag(diagonal: Any, name: str | None = None) -> Tensor:
    """The square matrix with a 1-D `diagonal` on its main diagonal."""
    d = _as_tensor(diagonal)
    if len(d.shape) != 1:
        raise ShapeError(f"diag: supports a 1-D diagonal, got shape {tuple(d.shape)} (see tf.linalg.diag for batches)")
    return TRI.diag(d)


def diag_part(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The main diagonal of a matrix."""
    x = _as_tensor(input)
    if len(x.shape) != 2:
        raise ShapeError(f"diag_part: supports a matrix, got shape {tuple(x.shape)} (see tf.linalg.diag_part)")
    return TRI.diagonal(x, 0, 0, 1)


def matrix_band_part(input: Any, num_lower: int, num_upper: int, name: str | None = None) -> Tensor:  # noqa: A002
    """Each inner-most matrix with everything outside its band zeroed: num_lower sub-diagonals
    and num_upper super-diagonals are kept (a negative count keeps that whole triangle)."""
    return TRI.band(_as_tensor(input), int(num_lower), int(num_upper), "matrix_band_part")


def is_nan(x: Any, name: str | None = None) -> Tensor:
    return E.isnan(x)


def is_inf(x: Any, name: str | None = None) -> Tensor:
    return E.isinf(x)


def is_finite(x: Any, name: str | None = None) -> Tensor:
    return E.isfinite(x)
