"""Reductions over any set of axes (sum, max, min, prod) and arg-reductions over one axis."""

from __future__ import annotations

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int64
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef, register
from graphflow.ir.shapes import fmt, normalize_axes, normalize_axis


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_infer(name: str, needs_nonempty: bool, numeric: bool):
    def infer(types, attrs):
        (t,) = types
        axes = normalize_axes(attrs["axes"], len(t.shape), name)
        if attrs["axes"] is not None and tuple(attrs["axes"]) != axes:
            raise ValueError(f"axes must be sorted non-negative ints (normalise them first), got {attrs['axes']}")
        if needs_nonempty and any(t.shape[a] == 0 for a in axes):
            raise ValueError(f"cannot reduce over an empty dimension of shape {fmt(t.shape)} (no identity)")
        if numeric and t.dtype.kind == "b":
            raise TypeError("expects a numeric dtype, got bool")
        return TensorType(t.dtype, _reduced_shape(t.shape, axes, attrs["keepdims"]))

    return infer


def _np_axes(attrs, ndim):
    return tuple(range(ndim)) if attrs["axes"] is None else tuple(attrs["axes"])


def _sum_vjp(node, g):
    (x,) = node.inputs
    axes = _np_axes(node.attrs, x.ndim)
    return [B.expand_reduced(g, x.shape, axes, node.attrs["keepdims"])]


def _extreme_vjp(node, g):
    # the gradient is shared evenly among the elements equal to the extreme (PyTorch's amax rule)
    (x,) = node.inputs
    axes = _np_axes(node.attrs, x.ndim)
    kd = node.attrs["keepdims"]
    out_b = B.expand_reduced(node, x.shape, axes, kd)
    # as torch.amax: a group holding a NaN gets NaN gradients (no element equals the NaN result)
    mask = bind("cast", bind("eq", x, out_b), dtype=x.dtype)
    count = bind("reduce_sum", mask, axes=axes, keepdims=True)
    share = bind("div", mask, bind("broadcast_to", count, shape=x.shape))
    return [bind("mul", B.expand_reduced(g, x.shape, axes, kd), share)]


def _prod_vjp(node, g):
    """d prod / d x_i = the product of the others, without dividing by zero, written so that its
    own derivative is right too (second order): with c zeros in the reduced group,
      c = 0: P / x_i;   c = 1: P at the zero, Z * P / x_i elsewhere;   c = 2: (Z - x_i) * P at a
      zero, 0 elsewhere;   c > 2: 0,
    where P is the product of the non-zero elements and Z the sum of the zero elements: Z is 0 in
    value but carries the derivative with respect to the zero element."""
    (x,) = node.inputs
    axes = _np_axes(node.attrs, x.ndim)
    kd = node.attrs["keepdims"]
    zeros_x = B.zeros_like(x)

    def group(op, value):  # reduce over the group, broadcast back to x's shape
        return B.expand_reduced(bind(op, value, axes=axes, keepdims=True), x.shape, axes, True)

    is_zero = bind("eq", x, zeros_x)
    nonzero = bind("where", is_zero, B.ones_like(x), x)
    prod_nz = group("reduce_prod", nonzero)
    count = group("reduce_sum", bind("cast", is_zero, dtype=x.dtype))
    zsum = group("reduce_sum", bind("where", is_zero, x, zeros_x))

    def count_is(k):
        return bind("eq", count, B.full_like(x, k))

    at_zero = bind("where", count_is(1), prod_nz,
                   bind("where", count_is(2), bind("mul", bind("sub", zsum, x), prod_nz), zeros_x))
    quotient = bind("div", prod_nz, nonzero)
    elsewhere = bind("where", count_is(0), quotient,
                     bind("where", count_is(1), bind("mul", zsum, quotient), zeros_x))
    others = bind("where", is_zero, at_zero, elsewhere)
    return [bind("mul", B.expand_reduced(g, x.shape, axes, kd), others)]


def _reference(fn):
    def reference(arrays, attrs):
        (x,) = arrays
        axes = _np_axes(attrs, x.ndim)
        work = x.astype(np.float32) if x.dtype.itemsize == 2 and x.dtype.kind != "i" else x
        out = fn(work, axis=axes, keepdims=attrs["keepdims"])
        return np.asarray(out).astype(x.dtype, copy=False)

    return reference


REDUCTIONS = {
    # name: (numpy, needs a non-empty axis, numeric only, vjp)
    "reduce_sum": (np.sum, False, False, _sum_vjp),
    "reduce_prod": (np.prod, False, False, _prod_vjp),
    "reduce_max": (np.max, True, False, _extreme_vjp),
    "reduce_min": (np.min, True, False, _extreme_vjp),
}

for _name, (_fn, _nonempty, _numeric, _vjp) in REDUCTIONS.items():
    register(OpDef(_name, "reduce", _reduce_infer(_name, _nonempty, _numeric), _reference(_fn),
                   _vjp, {"axes": None, "keepdims": False}, 1,
                   doc=f"{_name[7:]} over `axes` (None: all), keeping reduced axes as size 1 if `keepdims`"))


def _arg_infer(name):
    def infer(types, attrs):
        (t,) = types
        axis = attrs["axis"]
        if axis is None:
            if 0 in t.shape:
                raise ValueError(f"cannot take the {name} of an empty tensor of shape {fmt(t.shape)}")
            shape = (1,) * len(t.shape) if attrs["keepdims"] else ()
            return TensorType(int64, shape)
        a = normalize_axis(axis, len(t.shape), name)
        if t.shape and t.shape[a] == 0:
            raise ValueError(f"cannot take the {name} over an empty dimension of shape {fmt(t.shape)}")
        return TensorType(int64, _reduced_shape(t.shape, (a,), attrs["keepdims"]) if t.shape else ())

    return infer


def _arg_reference(fn):
    def reference(arrays, attrs):
        (x,) = arrays
        work = x.astype(np.float32) if x.dtype.name in ("bfloat16", "float16") else x
        axis = attrs["axis"]
        if axis is None or x.ndim == 0:
            out = fn(work.reshape(-1))
            return np.asarray(out, dtype=np.int64).reshape((1,) * x.ndim if attrs["keepdims"] else ())
        return np.asarray(fn(work, axis=axis, keepdims=attrs["keepdims"]), dtype=np.int64)

    return reference


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(OpDef(_name, "reduce", _arg_infer(_name), _arg_reference(_fn), NOT_DIFFERENTIABLE,
                   {"axis": None, "keepdims": False}, 1,
                   doc=f"index of the first {_name[3:]} along `axis` (None: of the flattened tensor); NaN counts as the max"))
