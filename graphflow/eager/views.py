"""Views: tensors that share another tensor's storage, and in-place writes through them.

A view op (`slice`, `reshape`, `permute`: basic indexing, integer indices, `t()`, `view`,
`narrow`, `unbind`...) gives a tensor whose `_alias` is a `View`: its base (the tensor owning the
storage; never itself a view) and the ops leading from the base to it. On the CPU the view's array
is a NumPy view of the base's; on a device it is a copy, kept in step by the writes below. Views
share the base's version counter, so an in-place change through any of them marks every value
saved from that storage as modified (as PyTorch's shared version counter does).

An in-place op on a view while gradients are recorded rewrites the base (PyTorch's CopySlices):
the base's new value is the base with the view's elements replaced by the op's result, built from
primitives (`scatter_add` of the new elements into zeros, `where` over the elements the view
covers), so its gradient reaches both the old base and the new elements. It is written into the
base's storage, and the view's history becomes its view ops applied to that new value. Any other
view of the base sees its version counter move and re-derives its history (`refresh`) the next
time an op records it."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.eager.grad_mode import STATE as GRAD
from graphflow.ir.registry import OpDef, get_op

VIEW_OPS = frozenset(get_op(n) for n in ("slice", "reshape", "permute"))
_RESHAPE, _WHERE, _SCATTER_ADD = get_op("reshape"), get_op("where"), get_op("scatter_add")


class View:
    """What a view tensor is a view of: `base`, the ops (`(op, attrs)` pairs) from the base to
    the view, and whether grad mode was on when it was made (PyTorch forbids an in-place op
    under grad mode on a view made without it when the base requires grad)."""

    __slots__ = ("base", "chain", "grad_mode")

    def __init__(self, base: Any, chain: tuple, grad_mode: bool):
        self.base = base
        self.chain = chain
        self.grad_mode = grad_mode

    def __bool__(self) -> bool:  # `_alias` is truthy: the storage is shared
        return True


def tag(t: Any, src: Any, op: OpDef, attrs: Any, src_array: Any) -> None:
    """Mark `t`, the result of view op `op` on `src`, as a view of `src`'s base. A CPU reshape
    that had to copy (a non-contiguous input) is no view, as in PyTorch."""
    if t._device is None:
        owner = t._data.base  # NumPy points a view at the array owning the memory
        if owner is None or (owner is not src_array and owner is not src_array.base):
            if not np.may_share_memory(t._data, src_array):
                return
    sv = src._alias
    if sv.__class__ is View:
        base, chain, grad_mode = sv.base, sv.chain + ((op, attrs),), sv.grad_mode and GRAD.enabled
    else:
        base, chain, grad_mode = src, ((op, attrs),), GRAD.enabled
        if not sv:
            base._alias = True  # in-place writes into the base must stay in its storage
    t._alias = View(base, chain, grad_mode)
    vc = base._vc_()
    t._vc = vc
    node = t._node
    if node is not None and node.inputs:
        node.vc = vc
        node.version = vc.version


def derive(base: Any, chain: tuple) -> Any:
    """The view `chain` describes, taken from `base` now (recorded when grad mode is on)."""
    from graphflow.eager.tensor import apply

    t = base
    for op, attrs in chain:
        t = apply(op, (t,), attrs)
    return t


def refresh(x: Any, stale: Any) -> Any:
    """The tape node for view `x` after its base changed since `stale` (x's node) was recorded:
    the view ops over the base's current value. x's array follows (a device view is a copy)."""
    view = x._alias
    prev = GRAD.enabled
    GRAD.enabled = True
    try:
        t = derive(view.base, view.chain)
    finally:
        GRAD.enabled = prev
    if t._node is None:  # the base no longer requires grad (detach_()): keep the old history
        return stale
    x._data = t._data
    x._node = t._node
    x._rg = True
    return t._node


_PLANS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _plan(shape: tuple, chain: tuple) -> tuple[np.ndarray, np.ndarray]:
    """For a base of `shape`: the flat base position of each view element (in the view's order)
    and the mask of base positions the view covers."""
    key = (shape, chain)
    plan = _PLANS.get(key)
    if plan is None:
        n = int(np.prod(shape, dtype=np.int64))
        idx = np.arange(n, dtype=np.int64).reshape(shape)
        for op, attrs in chain:
            idx = op.reference([idx], attrs)
        sel = np.array(idx, dtype=np.int64).reshape(-1)
        hit = np.zeros(n, dtype=bool)
        hit[sel] = True
        if len(_PLANS) > 256:
            _PLANS.clear()
        plan = _PLANS[key] = (sel, hit)
    return plan


def embed(base: Any, chain: tuple, value: Any) -> Any:
    """`base` with the elements the view `chain` selects replaced by `value` (of the view's shape
    and the base's dtype), computed through primitives so that it is recorded and differentiable
    in both `base` and `value`."""
    from graphflow.eager.tensor import HANDLER, apply

    shape = tuple(base._data.shape)
    sel, hit = _plan(shape, chain)
    n, m = hit.size, sel.size
    flat_value = apply(_RESHAPE, (value,), {"shape": (m,)})
    zeros = HANDLER.constant_like(np.zeros(n, dtype=base._dtype.np), base)
    placed = apply(_SCATTER_ADD, (zeros, HANDLER.constant_like(sel, base), flat_value), {"axis": 0})
    flat_base = apply(_RESHAPE, (base,), {"shape": (n,)})
    mixed = apply(_WHERE, (HANDLER.constant_like(hit, base), placed, flat_base), {})
    return apply(_RESHAPE, (mixed,), {"shape": shape})


def write(t: Any, view: View, result: Any, name: str, tracked: bool) -> None:
    """`t` (a view) gets `result`: the base is rewritten (recorded when `tracked`), then t is
    taken from it again."""
    base = view.base
    before = base._data
    prev = GRAD.enabled
    GRAD.enabled = tracked
    try:
        new_base = embed(base, view.chain, result)
        base._write(new_base, name)
        if tracked:
            fresh = derive(base, view.chain)
            t._node = fresh._node
            t._rg = True
            t._data = fresh._data
        elif base._data is not before or t._data.__class__ is not np.ndarray:
            t._data = derive(base, view.chain)._data  # the base's storage moved (or t is a device copy)
    finally:
        GRAD.enabled = prev


def check_inplace(t: Any, view: View, name: str) -> None:
    """PyTorch's rules for an in-place op on a view under grad mode."""
    base = view.base
    if not base._rg:
        return
    if base.is_leaf:
        raise RuntimeError(f"{name}: a view of a leaf tensor that requires grad is being used in an in-place "
                           "operation (wrap the update in `with gf.no_grad():`, or clone() the view first)")
    if not view.grad_mode:
        raise RuntimeError(f"{name}: a view created in no_grad mode is being modified in place with grad mode "
                           "enabled; this is ambiguous, so it is forbidden: create the view and modify it both "
                           "inside the no_grad block (not tracked), or both outside it (tracked)")
