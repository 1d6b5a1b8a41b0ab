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
    results = stable_grad(y_nodes, flat, seeds, _stops_under(g, y_nodes))  # on the stabilised forward graph
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
    """tf.reshape; `shape` may hold (or be) tensors computed from `tf.shape(...)` and constants,
    such as `[tf.shape(x)[0], -1]`: their values are known while the graph is built."""
    return S.reshape(tensor, tuple(-1 if d is None else d for d in _static_shape(shape)))


def _static_shape(shape: Any) -> list[Any]:
    if isinstance(shape, Tensor):
        return [_static_entry(shape, None)] if not shape.shape else list(_static_array(shape, None).reshape(-1))
    return [_static_entry(d, k) if isinstance(d, Tensor) else d for k, d in enumerate(shape)]


def _static_array(t: Tensor, k: int | None) -> np.ndarray:
    from graphflow.static.shape_values import static_value

    value = static_value(t.node)
    if value is None:
        where = "the shape" if k is None else f"entry {k} of the shape"
        raise ShapeError(f"reshape: {where} is not known while the graph is built (it depends on fed values, or "
                         f"is arithmetic an unknown size cannot express, such as s0 + 1); use sizes from "
                         f"tf.shape(...), constants, products of them, or -1 for one inferred size")
    return value


def _static_entry(t: Tensor, k: int | None) -> Any:
    value = _static_array(t, k)
    if value.size != 1:
        raise ShapeError(f"reshape: entry {k} of the shape must be a scalar, got shape {tuple(value.shape)}")
    v = value.reshape(-1)[0]
    return int(v) if isinstance(v, (int, np.integer)) else v


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


exp, log, sqrt, abs, negative, sigmoid, tanh, maximum, minimum, pow = (  # noqa: A001
    E.exp, E.log, E.sqrt, E.abs, E.neg, E.sigmoid, E.tanh, E.maximum, E.minimum, E.pow)


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


# ---- more TF1 names: shapes, slicing, padding, ranges, masks, clipping, elementwise math ------
# (names that would shadow a builtin inside this module get a trailing `_`; the package exports
# them under TF's names)
def _stops_under(g: Graph, ys: list[Node]) -> list[Node]:
    """The `stop_gradient` nodes of `g` that the ys depend on (gradients treat them as constants)."""
    stops = getattr(g, "_gf_stop_gradients", None)
    if not stops:
        return []
    from graphflow.ir.graph import toposort

    ids = {n.id for n in toposort(ys)}
    return [n for n in stops if n.id in ids]


def stop_gradient(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """`input`'s value, seen by `gradients` as a constant."""
    x = _as_tensor(input)
    g = _graph_of(x)
    out = identity(x, name=name or "StopGradient")
    if not hasattr(g, "_gf_stop_gradients"):
        g._gf_stop_gradients = []
    g._gf_stop_gradients.append(out.node)
    return out


def _dim_value(x: Any, axis: int, dtype: DType) -> Any:
    d = x.shape[axis]
    return R.count_of(x, (axis,), dtype) if isinstance(d, Sym) else constant(d, dtype=dtype)


def shape_(input: Any, out_type: Any = "int32", name: str | None = None) -> Tensor:  # noqa: A002
    """The shape of `input` as a 1-D tensor: a constant when every size is known, else each
    unknown size is read when the graph runs (a `sym_size` node)."""
    x = _as_tensor(input)
    dt = get_dtype(out_type)
    if all(isinstance(d, int) for d in x.shape):
        return constant(np.asarray(x.shape, dtype=dt.np).reshape(len(x.shape)), dtype=dt)
    return S.stack([_dim_value(x, i, dt) for i in range(len(x.shape))], 0)


def size(input: Any, name: str | None = None, out_type: Any = "int32") -> Tensor:  # noqa: A002
    """The number of elements of `input` (a scalar)."""
    x = _as_tensor(input)
    return R.count_of(x, tuple(range(len(x.shape))), get_dtype(out_type))


def rank(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The number of dimensions of `input`, an int32 scalar (always known in graphflow)."""
    return constant(len(_as_tensor(input).shape), dtype="int32")


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    from graphflow.ir import builder as B

    x = _as_tensor(tensor)
    return B.full(x.shape, 0, get_dtype(dtype) if dtype is not None else x.dtype, like=x)


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    from graphflow.ir import builder as B

    x = _as_tensor(tensor)
    return B.full(x.shape, 1, get_dtype(dtype) if dtype is not None else x.dtype, like=x)


def split(value: Any, num_or_size_splits: Any, axis: int = 0, num: int | None = None,
          name: str | None = None) -> list[Tensor]:
    """tf.split: an int splits `axis` into that many equal pieces (it must divide the size); a
    list gives each piece's size (one entry may be -1: the rest)."""
    x = _as_tensor(value)
    ax = normalize_axis(axis, len(x.shape), "split")
    n = x.shape[ax]
    if isinstance(n, Sym):
        raise ShapeError(f"split: dimension {ax} of {tuple(x.shape)} has an unknown size; split along a known one")
    if isinstance(num_or_size_splits, int):
        k = num_or_size_splits
        if k <= 0 or n % k:
            raise ValueError(f"split: dimension {ax} of size {n} cannot be split into {k} equal pieces")
        sizes = [n // k] * k
    else:
        sizes = [int(v) for v in num_or_size_splits]
        if sizes.count(-1) > 1:
            raise ValueError("split: at most one size may be -1")
        if -1 in sizes:
            rest = n - sum(v for v in sizes if v != -1)
            if rest < 0:
                raise ValueError(f"split: sizes {sizes} exceed the size {n} of dimension {ax}")
            sizes[sizes.index(-1)] = rest
    return list(S.split(x, sizes, ax))


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str | None = None) -> list[Tensor]:
    """The slices of `value` along `axis`, each without that dimension."""
    x = _as_tensor(value)
    ax = normalize_axis(axis, len(x.shape), "unstack")
    if isinstance(x.shape[ax], Sym):
        raise ShapeError(f"unstack: dimension {ax} of {tuple(x.shape)} has an unknown size; pass a known one")
    if num is not None and num != x.shape[ax]:
        raise ValueError(f"unstack: num={num} but dimension {ax} has size {x.shape[ax]}")
    return list(S.unbind(x, ax))


def slice_(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:
    """tf.slice: input_[begin[i]:begin[i] + size[i]] on each dimension (size -1: to the end)."""
    x = _as_tensor(input_)
    begin, sz = [int(b) for b in begin], [int(v) for v in size]
    if len(begin) != len(x.shape) or len(sz) != len(x.shape):
        raise ShapeError(f"slice: begin {begin} and size {sz} need one entry per dimension of {tuple(x.shape)}")
    key = tuple(slice(b, None if n == -1 else b + n) for b, n in zip(begin, sz))
    return _getitem(x, key)


def strided_slice(input_: Any, begin: Any, end: Any, strides: Any = None, begin_mask: int = 0, end_mask: int = 0,
                  ellipsis_mask: int = 0, new_axis_mask: int = 0, shrink_axis_mask: int = 0,
                  var: Any = None, name: str | None = None) -> Tensor:
    """tf.strided_slice: the key begin[i]:end[i]:strides[i] per entry, with TF's bit masks
    (a set bit i of begin_mask/end_mask ignores begin[i]/end[i]; ellipsis_mask puts `...`,
    new_axis_mask a new axis, shrink_axis_mask the single index begin[i])."""
    begin, end = [int(b) for b in begin], [int(e) for e in end]
    strides = [1] * len(begin) if strides is None else [int(s) for s in strides]
    key: list[Any] = []
    for i, (b, e, st) in enumerate(zip(begin, end, strides)):
        if ellipsis_mask >> i & 1:
            key.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            key.append(None)
        elif shrink_axis_mask >> i & 1:
            key.append(b)
        else:
            key.append(slice(None if begin_mask >> i & 1 else b, None if end_mask >> i & 1 else e, st))
    return _getitem(_as_tensor(input_), tuple(key))


def _axis_key(ndim: int, axis: int, s: Any) -> tuple:
    return (slice(None),) * axis + (s,) + (slice(None),) * (ndim - axis - 1)


def pad(tensor: Any, paddings: Any, mode: str = "CONSTANT", constant_values: Any = 0,
        name: str | None = None) -> Tensor:
    """tf.pad: paddings[i] = [before, after] for dimension i; mode CONSTANT (with
    constant_values), REFLECT (mirror without the edge) or SYMMETRIC (mirror with it)."""
    x = _as_tensor(tensor)
    pads = np.asarray(paddings.numpy() if hasattr(paddings, "numpy") else paddings, dtype=np.int64)
    n = len(x.shape)
    if pads.shape != (n, 2) or (pads < 0).any():
        raise ValueError(f"pad: paddings must be {n} non-negative [before, after] pairs, got {pads.tolist()}")
    mode = mode.upper()
    if mode == "CONSTANT":
        flat = [int(v) for pair in pads[::-1] for v in pair]
        return S.pad(x, flat, "constant", float(constant_values)) if any(flat) else identity(x)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
    edge = 1 if mode == "REFLECT" else 0
    for axis, (lo, hi) in enumerate(pads.tolist()):
        if not (lo or hi):
            continue
        d = x.shape[axis]
        if isinstance(d, Sym):
            raise ShapeError(f"pad: mode {mode} needs the size of dimension {axis}, which is unknown")
        if max(lo, hi) > d - edge:
            raise ValueError(f"pad: {mode} padding {[lo, hi]} is too large for dimension {axis} of size {d}")
        parts = []
        if lo:
            parts.append(S.flip(_getitem(x, _axis_key(n, axis, slice(edge, edge + lo))), [axis]))
        parts.append(x)
        if hi:
            parts.append(S.flip(_getitem(x, _axis_key(n, axis, slice(d - hi - edge, d - edge))), [axis]))
        x = S.cat(parts, axis)
    return x


def range_(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range") -> Tensor:
    """tf.range: start, start + delta, ... up to (not including) limit; range(n) counts 0..n-1.
    int32 for integer arguments, float32 if any is a float (unless dtype says otherwise)."""
    if limit is None:
        start, limit = 0, start
    vals = [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in (start, limit, delta)]
    if dtype is None:
        dtype = "float32" if any(v.dtype.kind == "f" for v in vals) else "int32"
    dt = get_dtype(dtype)
    if vals[2] == 0:
        raise ValueError("range: delta must not be 0")
    return constant(np.arange(*(v.item() for v in vals)).astype(dt.np), dtype=dt)


def linspace(start: Any, stop: Any, num: int, name: str | None = None, axis: int = 0) -> Tensor:
    """`num` evenly spaced values from start to stop inclusive (float32 unless given float64 arrays)."""
    a, b = np.asarray(start), np.asarray(stop)
    dt = a.dtype if isinstance(start, np.ndarray) and a.dtype.kind == "f" else np.float32
    return constant(np.linspace(a, b, int(num), axis=axis).astype(dt))


def one_hot(indices: Any, depth: int, on_value: Any = None, off_value: Any = None, axis: int | None = None,
            dtype: Any = None, name: str | None = None) -> Tensor:
    """tf.one_hot: on_value where the new `axis` (default last) equals the index, else off_value;
    an index outside [0, depth) gives a row of off_value. dtype: that of on_value/off_value, else
    float32."""
    idx = _as_tensor(indices)
    if dtype is None:
        given = next((v for v in (on_value, off_value) if v is not None), None)
        if given is None:
            dtype = float32
        elif is_value(given):
            dtype = given.dtype
        else:  # Python numbers: float32 or int32, as TF's constants
            arr = np.asarray(given)
            dtype = arr.dtype if isinstance(given, np.ndarray) else ("float32" if arr.dtype.kind == "f" else "int32")
    dt = get_dtype(dtype)
    n = len(idx.shape) + 1
    ax = n - 1 if axis is None or axis == -1 else normalize_axis(axis, n, "one_hot")
    view = [1] * n
    view[ax] = int(depth)
    classes = constant(np.arange(int(depth), dtype=np.int64).reshape(view))
    hit = E.eq(S.unsqueeze(_cast(idx, int64), ax), classes)
    on = _cast(_as_tensor(1 if on_value is None else on_value), dt)
    off = _cast(_as_tensor(0 if off_value is None else off_value), dt)
    return E.where(hit, on, off)


def reverse(tensor: Any, axis: Any, name: str | None = None) -> Tensor:
    """`tensor` with the order of the entries along each axis in `axis` reversed."""
    axes = [axis] if isinstance(axis, int) else [int(a) for a in axis]
    return S.flip(_as_tensor(tensor), axes)


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask", axis: int | None = None) -> Tensor:
    """tensor's entries where `mask` (covering dimensions axis, axis+1, ...) is True, flattened
    over the masked dimensions. The result's shape depends on the mask's values, so in a graph
    the mask must be a constant (use where(mask, x, 0) or a masked reduction otherwise)."""
    x = _as_tensor(tensor)
    ax = 0 if axis is None else normalize_axis(axis, len(x.shape), "boolean_mask")
    try:
        return _getitem(x, (slice(None),) * ax + (mask,))
    except TypeError as e:
        raise TypeError(f"boolean_mask: the result's shape depends on the values of the mask, which a graph "
                        f"does not know when it is built ({e})") from None


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """tf.where(condition, x, y): x where condition is True, else y (broadcasting). The
    one-argument form (the coordinates of the True entries) has a data-dependent shape: it is
    not supported in a graph."""
    if x is None and y is None:
        raise TypeError("where: the one-argument form where(condition) returns the coordinates of the True "
                        "entries, whose number depends on the data, which a graph does not know when it is "
                        "built; use the three-argument form where(condition, x, y)")
    if x is None or y is None:
        raise ValueError("where: pass both x and y, or neither")
    return E.where(condition, x, y)


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None) -> Tensor:
    """t with each entry clamped into [clip_value_min, clip_value_max]."""
    x = _as_tensor(t)
    return E.minimum(E.maximum(x, clip_value_min), clip_value_max)


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """t * clip_norm / max(||t||_2, clip_norm), the L2 norm over `axes` (all by default), as TF
    (a zero norm gets a zero, not NaN, gradient)."""
    x = _as_tensor(t)
    l2sum = R.sum(E.square(x), axes, axes is not None)  # a scalar over all axes
    pred = E.gt(l2sum, 0)
    l2norm = E.where(pred, E.sqrt(E.where(pred, l2sum, 1.0)), l2sum)
    return E.div(E.mul(x, clip_norm), E.maximum(l2norm, clip_norm))


def global_norm(t_list: Sequence[Any], name: str | None = None) -> Tensor:
    """sqrt(sum of the squares of every entry of every tensor in t_list; None entries skipped)."""
    ts = [_as_tensor(t) for t in t_list if t is not None]
    if not ts:
        raise ValueError("global_norm: t_list holds no tensors")
    return E.sqrt(add_n([R.sum(E.square(t)) for t in ts]))


def clip_by_global_norm(t_list: Sequence[Any], clip_norm: Any, use_norm: Any = None,
                        name: str | None = None) -> tuple[list[Any], Tensor]:
    """(each t * clip_norm / max(global_norm, clip_norm), global_norm); None entries stay None."""
    if isinstance(t_list, (str, bytes)) or not isinstance(t_list, Sequence):
        raise TypeError("clip_by_global_norm: t_list must be a sequence of tensors")
    norm = global_norm(t_list) if use_norm is None else _as_tensor(use_norm)
    scale = E.div(_cast(_as_tensor(clip_norm), norm.dtype), E.maximum(norm, clip_norm))
    return [None if t is None else E.mul(t, _cast(scale, _as_tensor(t).dtype)) for t in t_list], norm


def squared_difference(x: Any, y: Any, name: str | None = None) -> Tensor:
    return E.square(E.sub(x, y))


def reduce_any(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.any(input_tensor, axis, keepdims)


def reduce_all(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    return R.all(input_tensor, axis, keepdims)


def reduce_logsumexp(input_tensor: Any, axis: Any = None, keepdims: bool = False,
                     name: str | None = None) -> Tensor:
    return R.logsumexp(input_tensor, axis, keepdims)


def reduce_variance(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """The population variance (divides by N), as tf.math.reduce_variance."""
    return R.var(input_tensor, axis, unbiased=False, keepdim=keepdims)


def reduce_std(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """The population standard deviation (divides by N), as tf.math.reduce_std."""
    return R.std(input_tensor, axis, unbiased=False, keepdim=keepdims)


def count_nonzero(input_tensor: Any = None, axis: Any = None, keepdims: bool | None = None, dtype: Any = int64,
                  name: str | None = None, input: Any = None) -> Tensor:  # noqa: A002
    """The number of non-zero entries over `axis` (all by default), of `dtype` (int64)."""
    x = _as_tensor(input if input_tensor is None else input_tensor)
    return _cast(R.sum(_cast(E.ne(x, 0), int64), axis, bool(keepdims)), get_dtype(dtype))


def add_n(inputs: Sequence[Any], name: str | None = None) -> Tensor:
    """The elementwise sum of a list of tensors of one shape."""
    xs = list(inputs)
    if not xs:
        raise ValueError("add_n: inputs must be a non-empty list of tensors")
    total = _as_tensor(xs[0])
    for v in xs[1:]:
        total = E.add(total, v)
    return total if len(xs) > 1 else identity(total)


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y in floating point: int8/int16/uint8 become float32, int32/int64 float64 (as TF)."""
    a, b = _as_tensor(x), y
    if a.dtype.kind in "iu":
        ft = "float64" if a.dtype.np.itemsize >= 4 else "float32"
        a, b = _cast(a, get_dtype(ft)), _cast(_as_tensor(b), get_dtype(ft))
    return E.div(a, b)


def tensordot(a: Any, b: Any, axes: Any, name: str | None = None) -> Tensor:
    """Sum over a's `axes[0]` and b's `axes[1]` (an int n: a's last n and b's first n)."""
    a, b = _as_tensor(a), _as_tensor(b)
    na, nb = len(a.shape), len(b.shape)
    if isinstance(axes, int):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [normalize_axis(i, na, "tensordot") for i in ax_a]
    ax_b = [normalize_axis(i, nb, "tensordot") for i in ax_b]
    if len(ax_a) != len(ax_b) or na + nb > 52:
        raise ValueError(f"tensordot: axes {axes} do not pair up the dimensions of {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    sa = list(letters[:na])
    sb = list(letters[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + [c for j, c in enumerate(sb) if j not in ax_b]
    return _einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


def _binary_alias(fn: Any, tf_name: str) -> Any:
    def alias(x: Any, y: Any, name: str | None = None) -> Tensor:
        return fn(x, y)

    alias.__name__ = alias.__qualname__ = tf_name
    return alias


def _unary_alias(fn: Any, tf_name: str) -> Any:
    def alias(x: Any, name: str | None = None) -> Tensor:
        return fn(x)

    alias.__name__ = alias.__qualname__ = tf_name
    return alias


floor, ceil, sign, rsqrt, reciprocal, logical_not, log1p, expm1, sin, cos, erf = (
    _unary_alias(f, n) for f, n in ((E.floor, "floor"), (E.ceil, "ceil"), (E.sign, "sign"), (E.rsqrt, "rsqrt"),
                                    (E.reciprocal, "reciprocal"), (E.logical_not, "logical_not"),
                                    (E.log1p, "log1p"), (E.expm1, "expm1"), (E.sin, "sin"), (E.cos, "cos"),
                                    (E.erf, "erf")))
round_ = _unary_alias(E.round, "round")  # half to even, as tf.round
floordiv, mod, logical_and, logical_or, logical_xor = (
    _binary_alias(f, n) for f, n in ((E.floor_divide, "floordiv"), (E.remainder, "mod"),
                                     (E.logical_and, "logical_and"), (E.logical_or, "logical_or"),
                                     (E.logical_xor, "logical_xor")))
greater, greater_equal, less, less_equal, not_equal = (
    _binary_alias(f, n) for f, n in ((E.gt, "greater"), (E.ge, "greater_equal"), (E.lt, "less"),
                                     (E.le, "less_equal"), (E.ne, "not_equal")))
floormod = mod
