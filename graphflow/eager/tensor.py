"""`Tensor`: eager mode's value, and the handler that runs each op at once.

Every op reaches `EagerHandler.bind` through `graphflow.ir.bind`. The handler infers the output
type once per (op, input types, attributes), runs the op with the current backend's `run_op`,
and, when grad is enabled and an input requires grad, records a `TapeNode` holding the result.
The no-grad path creates no node and captures no source line."""

from __future__ import annotations

import math
from sys import getrefcount
from typing import Any

import numpy as np

from graphflow.eager.device import CPU, as_device, device, require
from graphflow.eager.fast import BY_OP, TINY, make_kernel, quiet
from graphflow.eager.grad_mode import STATE as GRAD
from graphflow.eager.runtime import RUNTIME, cpu_backend
from graphflow.eager.tape import INPUT_OP, SIG_IDS, TapeNode, VersionCounter, leaf_node, user_loc
from graphflow.eager.views import VIEW_OPS, View
from graphflow.eager.views import tag as _tag_view
from graphflow.errors import DeviceError, DTypeError, ShapeError
from graphflow.ir import source
from graphflow.ir.bind import DYNAMIC as _DYNAMIC
from graphflow.ir.bind import infer_type, normalize_attrs
from graphflow.ir.dtypes import DType, category, get_dtype
from graphflow.ir.graph import Attrs, Node, TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef, get_op
from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops.methods import TensorMethods
from graphflow.ops.pointwise import INPLACE as POINTWISE_INPLACE
from graphflow.ops.scattering import INPLACE as SCATTER_INPLACE
from graphflow.ops.triangular import INPLACE as TRIANGULAR_INPLACE
from graphflow.ops.values import cast

_INFER_CACHE: dict[tuple, tuple[Attrs, TensorType, int, Any, bool]] = {}
_set = object.__setattr__
_CACHE_LIMIT = 20000
_UNSET = object()
_BACKWARD = None  # graphflow.eager.engine.backward, imported on first use (engine imports this module)


class _Typed:
    __slots__ = ("type",)

    def __init__(self, type_: TensorType):
        self.type = type_


def _infer(op: OpDef, sig: list, attrs: Any, key: tuple | None) -> tuple[Attrs, TensorType, int, Any, bool]:
    """Normalised attributes, output type, a structure id (the tape's key for backward plans),
    the tiny-tensor kernel (`fast.make_kernel`) of one op signature, and whether its result is a
    view of its input (`views.VIEW_OPS`)."""
    norm = attrs if isinstance(attrs, Attrs) else normalize_attrs(op, attrs)
    typed = tuple(_Typed(TensorType(sig[i], sig[i + 1])) for i in range(0, len(sig), 2))
    out_type = infer_type(op, typed, norm, source.capture(3))
    entry = (norm, out_type, next(SIG_IDS), make_kernel(op, sig[0] if sig else None, norm), op in VIEW_OPS)
    if key is not None:
        if len(_INFER_CACHE) > _CACHE_LIMIT:
            _INFER_CACHE.clear()
        _INFER_CACHE[key] = entry
    return entry


def _coerce(op: OpDef, x: Any) -> Tensor:
    if isinstance(x, Node):
        raise TypeError(f"{op.name}: cannot combine an eager tensor with a graph node {x.describe()}")
    arr = np.asarray(x)
    return _new(arr, get_dtype(arr.dtype), None)


def _device_error(op: OpDef, a: device, b: device) -> DeviceError:
    return DeviceError(f"{op.name}: expected all tensors to be on the same device, but found at least "
                       f"two devices, {a} and {b}")


def _backend_for(dev: device | None):
    if dev is None or dev.type == "cpu":
        return RUNTIME.backend or cpu_backend()
    from graphflow.backends import get_backend

    return get_backend(dev.type)


def apply(op: OpDef, inputs: tuple, attrs: Any) -> Tensor:
    """Run `op` on eager tensors now; record it on the tape when a gradient may be needed."""
    sig = []
    arrays = []
    rg = False
    dev: Any = _UNSET
    converted = False
    for x in inputs:
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            x = _coerce(op, x)
            converted = True
        d = x._data
        arrays.append(d)
        sig.append(x._dtype)
        sig.append(d.shape)
        if x._rg:
            rg = True
        xd = x._device
        if xd is not dev:
            if dev is _UNSET:
                dev = xd
            elif (xd or CPU) != (dev or CPU):
                raise _device_error(op, dev or CPU, xd or CPU)
    if dev is _UNSET:
        dev = None
    if converted:
        inputs = tuple(x if isinstance(x, Tensor) else _coerce(op, x) for x in inputs)
    key: tuple | None = (op, *sig, tuple(attrs.items()) if attrs else ())
    try:
        entry = _INFER_CACHE.get(key)  # type: ignore[arg-type]
    except TypeError:  # unhashable attribute values (lists): normalise first
        attrs = normalize_attrs(op, attrs)
        key = (op, *sig, attrs)
        entry = _INFER_CACHE.get(key)
    if entry is None:
        entry = _infer(op, sig, attrs, key)
    norm, out_type, sig_id, kernel, view = entry
    if dev is None or dev is CPU or dev.type == "cpu":
        dev = None
        backend = RUNTIME.backend or cpu_backend()
        limit = _LIMITS.get((backend, op))
        if limit is None:
            limit = _reference_limit(backend, op)
        if kernel is not None and arrays and arrays[0].size < limit:
            # what the backend's run_op would compute (the reference), without its per-call cost
            out = kernel(*arrays)
            if out.__class__ is not np.ndarray:  # ufuncs give 0-d results as NumPy scalars
                out = np.asarray(out)
            if out.dtype is not out_type.dtype.np:
                out = out.astype(out_type.dtype.np)
        else:
            out = backend.run_op(op, arrays, norm, out_type)
    else:
        from graphflow.eager.devices import run_op as run_on_device

        out = run_on_device(dev, op, arrays, norm, out_type)
    t = _new(out, out_type.dtype, dev)
    if rg and GRAD.enabled and op.vjp is not NOT_DIFFERENTIABLE and out_type.dtype.kind == "f":
        _record(op, inputs, norm, out_type, t, sig_id)
    if view:
        _tag_view(t, inputs[0], op, norm, arrays[0])
    return t


_LIMITS: dict[tuple, int] = {}


def _reference_limit(backend: Any, op: OpDef) -> int:
    """Inputs below this many elements take the op's direct NumPy kernel: tiny tensors always
    (`fast.TINY`: the NumPy call costs less than a native one), bigger ones where the backend
    promises its `run_op` is the reference anyway."""
    limit = _LIMITS[(backend, op)] = max(TINY + 1, backend.reference_below(op))
    return limit


def _record(op: OpDef, inputs: tuple, attrs: Attrs, out_type: TensorType, t: Tensor, sig_id: int,
            loc: Any = None) -> None:
    in_nodes = tuple([_node_of(x) for x in inputs])
    node = TapeNode(op, in_nodes, attrs, out_type, loc=loc or user_loc())
    vc = VersionCounter()
    _set(node, "value", t._data)  # the tape's own fields (TapeNode.__setattr__ guards the rest)
    _set(node, "vc", vc)
    _set(node, "version", 0)
    _set(node, "rg", True)
    _set(node, "leaf", None)
    _set(node, "sig", sig_id)
    t._vc = vc
    t._node = node
    t._rg = True


def _node_of(x: Tensor) -> TapeNode:
    """The tape node standing for x's current value (a cached leaf node while x is unchanged)."""
    n = x._node
    if n is not None:
        if n.inputs or n.op is not INPUT_OP:
            if n.version == n.vc.version or x._alias.__class__ is not View:
                return n
            from graphflow.eager.views import refresh

            return refresh(x, n)  # a view whose base changed since: the view ops over its new value
        if n.version == n.vc.version and n.rg == x._rg and n.value is x._data:
            return n
    n = leaf_node(x, x._rg)
    x._node = n
    return n


def _new(data: np.ndarray, dtype: DType, dev: device | None) -> Tensor:
    t = object.__new__(Tensor)
    t._data = data
    t._dtype = dtype
    t._device = dev
    t._rg = False
    t._node = None
    t._vc = None
    t._alias = False
    t.grad = None
    return t


class EagerHandler:
    """Level 1: eager tensors outrank plain graph nodes."""

    level = 1

    def bind(self, op: OpDef, inputs: tuple, attrs: dict) -> Tensor:
        return apply(op, inputs, attrs)

    def constant(self, array: Any) -> Tensor:
        arr = np.asarray(array)
        return _new(arr, get_dtype(arr.dtype), None)

    def constant_like(self, array: Any, like: Any) -> Tensor:
        """A literal on `like`'s device (composites' constants beside a cuda tensor, as PyTorch's scalars)."""
        dev = getattr(like, "_device", None)
        if dev is None:
            return self.constant(array)
        from graphflow.eager.devices import upload

        arr = np.asarray(array)
        return _new(upload(arr, dev), get_dtype(arr.dtype), dev)

    def composite(self, name: str, fn: Any, inputs: tuple, static: tuple, min_elements: int = 0) -> Any:
        """`graphflow.ops.composite.offer`'s hook: CPU tensors with some input above
        `min_elements` elements run `fn` as one cached compiled graph (`graphflow.eager.composite`)."""
        big = False
        for t in inputs:
            if t.__class__ is not Tensor and not isinstance(t, Tensor):
                return None
            n = t._data.size
            if not n:
                return None
            big = big or n > min_elements
        if not big:
            return None
        from graphflow.eager import composite

        return composite.run(name, fn, inputs, static)


HANDLER = EagerHandler()
_ADD, _SUB, _MUL, _DIV = (get_op(n) for n in ("add", "sub", "mul", "div"))
_RESHAPE, _WHERE = get_op("reshape"), get_op("where")
_REDUCE_SUM = get_op("reduce_sum")
_ALL_AXES = [tuple(range(n)) for n in range(8)]
_NO_ATTRS: dict = {}
_alloc = object.__new__


def _scalar_literal(value: Any, like: Tensor) -> Tensor:
    """A Python scalar as a literal of `like`'s dtype and shape (no broadcast op to run)."""
    shape = like._data.shape
    np_dtype = like._dtype.np
    if like._device is not None:  # a literal on the tensor's device, as PyTorch's scalars
        from graphflow.eager.devices import upload

        return _new(upload(np.full(shape, value, np_dtype), like._device), like._dtype, like._device)
    arr = np.full(shape, value, np_dtype) if like._data.size <= 4096 else \
        np.broadcast_to(np.asarray(value, np_dtype), shape)
    return _new(arr, like._dtype, None)


def _scalar_keeps_dtype(value: Any, t: Tensor, float_only: bool) -> bool:
    """Whether PyTorch's promotion leaves t's dtype unchanged for `t op value`."""
    kind = t._dtype.kind
    cls = type(value)
    if cls is float:
        return kind == "f"
    if cls is int:
        return kind == "f" or (not float_only and t._dtype.name == "int64")
    return False


def _entry(op: OpDef, sig: list) -> tuple:
    """The cached (attrs, out type, structure id, kernel) of an attribute-free op signature."""
    key = (op, *sig, ())
    entry = _INFER_CACHE.get(key)
    return entry if entry is not None else _infer(op, sig, _NO_ATTRS, key)


# Temporary elision (as NumPy does for its own temporaries): `a * b + c` on big float tensors
# writes the sum into the product's buffer when nothing else can see it — no fresh allocation,
# so no page faults on first touch. The ufunc is the reference's own (same bits).
ELIDE_MIN = 1 << 16  # elements: below this a fresh allocation costs little
_ELIDE_DTYPES = ("float32", "float64")  # float16/bfloat16 references compute in float32
_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _temporary(t: Tensor, refs: int, held: int = 0) -> np.ndarray | None:
    """t's array when t is an unnamed temporary (`refs`, its reference count seen from an operator
    method, is what the interpreter's stack alone gives) owning an array nothing else references:
    no tape, no view, no `.numpy()` alias, no version counter (shared by detach/views). `held`:
    references the caller's own locals hold to the array."""
    if refs > _TEMP_REFS or t._node is not None or t._rg or t._alias or t._vc is not None or \
            t._device is not None or t.__class__ is not Tensor:
        return None
    arr = t._data
    if getrefcount(arr) != _ARRAY_REFS + held or arr.base is not None or not arr.flags.writeable or \
            not arr.flags.c_contiguous:
        return None
    return arr


def _probe_refs() -> tuple[int, int]:
    """The reference counts an operator method sees for an unnamed temporary operand and for a
    tensor's private array on this interpreter; (0, 0) disables elision when a named operand
    would look the same."""
    seen = []

    class Probe:
        def __init__(self) -> None:
            self.data = np.empty(1)

        def __mul__(self, other: Any) -> Probe:
            seen.append(getrefcount(self))
            return Probe()

    named = Probe()
    _ = Probe() * named  # a temporary on the left
    _ = named * named  # a named operand
    arr = named.data  # as `_temporary` sees a private array: its holder, a local, the call's argument
    return (seen[0], getrefcount(arr)) if seen[0] < seen[1] else (0, 0)


_TEMP_REFS, _ARRAY_REFS = _probe_refs()


_BROADCAST = get_op("broadcast_to")
_SHAPES: dict[tuple, tuple | None] = {}


def _broadcast_shape(a: tuple, b: tuple) -> tuple | None:
    """The broadcast of two shapes; None when they do not broadcast (the slow path raises the
    error that names the user's line)."""
    key = (a, b)
    shape = _SHAPES.get(key, _UNSET)
    if shape is _UNSET:
        try:
            shape = np.broadcast_shapes(a, b)
        except ValueError:
            shape = None
        if len(_SHAPES) > 1000:
            _SHAPES.clear()
        _SHAPES[key] = shape
    return shape


def _size(shape: tuple, a: np.ndarray, b: np.ndarray) -> int:
    """Elements of `shape`, the broadcast of a's and b's shapes (usually one of them)."""
    if shape == a.shape:
        return a.size
    return b.size if shape == b.shape else math.prod(shape)


def _direct_limit(op: OpDef) -> int:
    """The output size below which the current CPU backend computes `op` as its reference does."""
    backend = RUNTIME.backend or cpu_backend()
    limit = _LIMITS.get((backend, op))
    return limit if limit is not None else _reference_limit(backend, op)


def _broadcast_direct(op: OpDef, fn: Any, x: Tensor, y: Tensor, shape: tuple, reflected: bool) -> Tensor:
    """x (op) y on CPU tensors of one dtype whose shapes broadcast to `shape`, where the backend
    would compute the reference anyway: one NumPy call that broadcasts as it reads (the bits of
    the ufunc over broadcast copies) instead of a `broadcast_to` op and then the op. With a
    gradient, the tape gets the same two nodes the op-by-op path records, each `broadcast_to`
    holding a read-only view as its value."""
    a, b = x._data, y._data
    out = fn(b, a) if reflected else fn(a, b)
    if out.__class__ is not np.ndarray:  # 0-d results come back as NumPy scalars
        out = np.asarray(out)
    d = x._dtype
    entry = _entry(op, [d, shape, d, shape])
    if out.dtype is not entry[1].dtype.np:
        out = out.astype(entry[1].dtype.np)
    t = _new(out, entry[1].dtype, None)
    if (x._rg or y._rg) and GRAD.enabled and entry[1].dtype.kind == "f":
        loc = user_loc()  # one frame walk for the two or three nodes
        x = x if a.shape == shape else _broadcast_recorded(x, shape, loc)
        y = y if b.shape == shape else _broadcast_recorded(y, shape, loc)
        _record(op, (y, x) if reflected else (x, y), entry[0], entry[1], t, entry[2], loc)
    return t


def _broadcast_recorded(x: Tensor, shape: tuple, loc: Any) -> Tensor:
    """`broadcast_to(x, shape)` as the tape's value, recorded when x needs a gradient (under the
    same signature, so the same structure id, as `apply` gives it). The value is what the
    op's tiny-tensor kernel makes: a filled copy up to TINY elements (cheaper than NumPy's
    `broadcast_to`, a Python function), a read-only view above."""
    key = (_BROADCAST, x._dtype, x._data.shape, (("shape", shape),))
    entry = _INFER_CACHE.get(key)
    if entry is None:
        entry = _infer(_BROADCAST, [x._dtype, x._data.shape], {"shape": shape}, key)
    t = _new(entry[3](x._data), x._dtype, None)
    if x._rg:
        _record(_BROADCAST, (x,), entry[0], entry[1], t, entry[2], loc)
    return t


def _fast_binary(op: OpDef, slow, float_only: bool = False, reflected: bool = False):
    """The Tensor operator for `op`. Three paths, cheapest first:
    - two CPU tensors of one dtype and shape under `TINY` elements: the NumPy function straight
      from `fast.BY_OP` (what the backends compute for tiny tensors), recorded on the tape with
      the signature's cached entry when a gradient is needed;
    - same dtype and shape (or a Python scalar that keeps the tensor's dtype): `apply`, skipping
      promotion and broadcasting;
    - anything else: the functional layer (`slow`), which promotes and broadcasts."""
    table = BY_OP[op.name]
    ufunc = _UFUNCS.get(op.name) if _TEMP_REFS else None
    if float_only:
        table = {d: f for d, f in table.items() if d.kind == "f"}
    get = table.get
    sigs: dict[tuple, tuple] = {}

    def method(self, other):
        if _DYNAMIC:  # inside gf.compile's trace: the op must reach the tracer, not run now
            return slow(other, self) if reflected else slow(self, other)
        if other.__class__ is Tensor or isinstance(other, Tensor):
            a = self._data
            b = other._data
            d = self._dtype
            if other._dtype is d and a.shape == b.shape:
                if self._device is None and other._device is None and a.size <= TINY:
                    fn = get(d)
                    if fn is not None:
                        out = fn(b, a) if reflected else fn(a, b)
                        if out.__class__ is not np.ndarray:  # 0-d results come back as NumPy scalars
                            out = np.asarray(out)
                        t = _alloc(Tensor)
                        t._data = out
                        t._dtype = d
                        t._device = None
                        t._rg = False
                        t._node = None
                        t._vc = None
                        t._alias = False
                        t.grad = None
                        if (self._rg or other._rg) and GRAD.enabled:
                            shape = a.shape
                            entry = sigs.get((d, shape))
                            if entry is None:
                                if len(sigs) > 1000:
                                    sigs.clear()
                                entry = sigs[(d, shape)] = _entry(op, [d, shape, d, shape])
                            _record(op, (other, self) if reflected else (self, other), entry[0], entry[1], t,
                                    entry[2])
                        return t
                if not float_only or d.kind == "f":
                    if ufunc is not None and d.name in _ELIDE_DTYPES and a.size >= ELIDE_MIN and \
                            not ((self._rg or other._rg) and GRAD.enabled):
                        refs = getrefcount(self)  # before `self` sits on the stack as an argument
                        buf = _temporary(self, refs, 1)  # `a` holds its array too
                        if buf is None:
                            refs = getrefcount(other)
                            buf = _temporary(other, refs, 1)
                        if buf is not None:
                            quiet(ufunc, b, a, buf) if reflected else quiet(ufunc, a, b, buf)
                            return _new(buf, d, None)
                    return apply(op, (other, self) if reflected else (self, other), _NO_ATTRS)
            elif other._dtype is d and (not float_only or d.kind == "f"):
                # one dtype, shapes that differ (a bias row): broadcast each side, no promotion
                shape = _broadcast_shape(a.shape, b.shape)
                if shape is not None:
                    fn = get(d)
                    if fn is not None and self._device is None and other._device is None and \
                            _size(shape, a, b) < _direct_limit(op):
                        return _broadcast_direct(op, fn, self, other, shape, reflected)
                    x = self if a.shape == shape else apply(_BROADCAST, (self,), {"shape": shape})
                    y = other if b.shape == shape else apply(_BROADCAST, (other,), {"shape": shape})
                    return apply(op, (y, x) if reflected else (x, y), _NO_ATTRS)
        elif _scalar_keeps_dtype(other, self, float_only):
            if ufunc is not None and self._dtype.name in _ELIDE_DTYPES and self._data.size >= ELIDE_MIN and \
                    not (self._rg and GRAD.enabled):
                refs = getrefcount(self)  # before `self` sits on the stack as an argument
                buf = _temporary(self, refs)
                if buf is not None:
                    s = self._dtype.np.type(other)
                    quiet(ufunc, s, buf, buf) if reflected else quiet(ufunc, buf, s, buf)
                    return _new(buf, self._dtype, None)
            lit = _scalar_literal(other, self)
            return apply(op, (lit, self) if reflected else (self, lit), _NO_ATTRS)
        return slow(other, self) if reflected else slow(self, other)

    method.__name__ = ("__r" + slow.__name__ + "__") if reflected else slow.__name__
    return method


def _fast_unary(op: OpDef, slow):
    """A unary Tensor method for an op whose result keeps its input's dtype: tiny CPU tensors
    call the NumPy function directly (as `_fast_binary`, recording when a gradient is needed);
    other dtypes go through `slow` (the functional layer, which turns integers into floats)."""
    get = BY_OP[op.name].get
    sigs: dict[tuple, tuple] = {}

    def method(self):
        if not _DYNAMIC:
            d = self._dtype
            fn = get(d)
            if fn is not None:
                a = self._data
                if self._device is None and a.size <= TINY:
                    out = fn(a)
                    if out.__class__ is not np.ndarray:  # 0-d results come back as NumPy scalars
                        out = np.asarray(out)
                    if out.dtype is not d.np:
                        out = out.astype(d.np)
                    t = _new(out, d, None)
                    if self._rg and GRAD.enabled and d.kind == "f":
                        shape = a.shape
                        entry = sigs.get((d, shape))
                        if entry is None:
                            if len(sigs) > 1000:
                                sigs.clear()
                            entry = sigs[(d, shape)] = _entry(op, [d, shape])
                        _record(op, (self,), entry[0], entry[1], t, entry[2])
                    return t
                return apply(op, (self,), _NO_ATTRS)  # a dtype the op takes as is: nothing to convert
        return slow(self)

    method.__name__ = slow.__name__
    return method


def _leaf_inplace_error(name: str) -> RuntimeError:
    return RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an in-place operation "
                        "(wrap the update in `with gf.no_grad():`, or operate on `.detach()`)")


class GradFn:
    """What `grad_fn` shows for a tensor produced by a recorded op (`<MulBackward0>`)."""

    __slots__ = ("node",)

    def __init__(self, node: TapeNode):
        self.node = node

    def name(self) -> str:
        return "".join(p.capitalize() for p in self.node.op.name.split("_")) + "Backward0"

    @property
    def next_functions(self) -> tuple:
        out = []
        hop = self.node.leaf if not self.node.inputs else None  # a device copy continues at its source
        for i in self.node.inputs or ((hop.src,) if hop is not None and hasattr(hop, "src") else ()):
            if i.inputs or i.op is not INPUT_OP:
                out.append((GradFn(i), 0))
            else:
                out.append((AccumulateGrad(i) if i.rg else None, 0))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad:
    """The `grad_fn` chain's end: the leaf whose `.grad` receives the gradient."""

    __slots__ = ("node",)

    def __init__(self, node: TapeNode):
        self.node = node

    @property
    def variable(self) -> Tensor | None:
        return self.node.leaf() if self.node.leaf else None

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def _parse_to(args: tuple, kwargs: dict) -> tuple[device | None, DType | None, bool]:
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword argument(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, DType) or a in (float, int, bool) or isinstance(a, np.dtype):
            dtype = a
        elif isinstance(a, (str, device, int)):
            dev = a
        else:
            raise TypeError(f"to: cannot interpret {a!r} as a device or a dtype")
    return (as_device(dev) if dev is not None else None,
            get_dtype(dtype) if dtype is not None else None, copy)


class Tensor(TensorMethods):
    """An n-dimensional array that runs ops at once and records them for `backward()`.

    CPU tensors are backed by NumPy arrays: `from_numpy` and `.numpy()` share memory."""

    __slots__ = ("_data", "_dtype", "_device", "_rg", "_node", "_vc", "_alias", "grad", "__weakref__")
    _gf_handler = HANDLER

    def __init__(self, data: Any = (), dtype: DType | None = None, device: Any = None,
                 requires_grad: bool = False):
        from graphflow.eager.creation import _to_array

        arr = _to_array(data, dtype)
        self._data = arr
        self._dtype = get_dtype(arr.dtype)
        self._device = None
        self._rg = False
        self._node = None
        self._vc = None
        self._alias = False
        self.grad = None
        dev = as_device(device)
        if dev.type != "cpu":
            require(dev)
            from graphflow.eager.devices import upload

            self._data = upload(arr, dev)
            self._device = dev
        if requires_grad:
            self.requires_grad = True

    # ---- attributes -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def device(self) -> device:
        return self._device or CPU

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def type(self) -> TensorType:
        return TensorType(self._dtype, self._data.shape)

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf tensors; use .detach() to get "
                               "a tensor without history")
        if flag and self._dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self._dtype.name}")
        self._rg = flag
        self._node = None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        n = self._node
        return not self._rg or n is None or (not n.inputs and n.op is INPUT_OP)

    @property
    def grad_fn(self) -> GradFn | None:
        return None if self.is_leaf else GradFn(_node_of(self) if GRAD.enabled else self._node)

    @property
    def _version(self) -> int:
        return self._vc.version if self._vc is not None else 0

    @property
    def data(self) -> Tensor:
        """The same storage without history (as torch's `.data`)."""
        return self.detach()

    @data.setter
    def data(self, other: Tensor) -> None:
        if not isinstance(other, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(other).__name__}")
        self._data = other._data
        self._dtype = other._dtype
        self._device = other._device
        self._alias = bool(self._alias or other._alias)  # other's storage, no longer a view
        self._node = None if self.is_leaf else self._node

    def _vc_(self) -> VersionCounter:
        if self._vc is None:
            self._vc = VersionCounter()
        return self._vc

    # ---- conversion -------------------------------------------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        """The NumPy array backing this tensor (shared memory on the CPU)."""
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if self.device.type != "cpu":
            raise DeviceError(f"can't convert a {self.device} tensor to numpy; use Tensor.cpu() first")
        if not self._alias:  # (a view keeps its `View`, which is truthy too)
            self._alias = True  # the caller may hold the array: in-place ops must keep writing into it
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def _host(self) -> np.ndarray:
        """The values as a host array (a copy for a device tensor)."""
        if self._device is None:
            return self._data
        from graphflow.eager.devices import download

        return download(self._data)

    def item(self) -> Any:
        data = self._host()
        if data.size != 1:
            raise RuntimeError(f"a Tensor with {data.size} elements cannot be converted to a Python scalar")
        v = data.reshape(()).item() if self._dtype.kind != "f" else float(data.reshape(()))
        return v

    def tolist(self) -> Any:
        data = self._host()
        if self._dtype.kind == "f" and data.dtype.itemsize == 2:
            data = data.astype(np.float32)
        return data.tolist()

    def __bool__(self) -> bool:
        data = self._host()
        if data.size != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {data.size} values is ambiguous")
        return bool(data.reshape(())[()])

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._dtype.kind not in "ui" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        from graphflow.eager.format import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage (and version counter) without history."""
        t = _new(self._data, self._dtype, self._device)
        t._vc = self._vc_()
        t._alias = bool(self._alias)  # the storage, not the view relation: writes change no history
        return t

    def detach_(self) -> Tensor:
        self._node = None
        self._rg = False
        return self

    def clone(self) -> Tensor:
        """A copy with its own storage; gradients flow back to the original."""
        out = apply(_RESHAPE, (self,), {"shape": self._data.shape})
        if out._data.__class__ is np.ndarray:  # (a device op's result is a fresh buffer already)
            out._data = np.array(out._data, copy=True, order="C")
        out._alias = False  # own storage: no view of self, own version counter
        out._vc = None
        node = out._node
        if node is not None:
            node.value = out._data
            node.vc = out._vc_()
            node.version = 0
        return out

    def contiguous(self) -> Tensor:
        return self if self._data.flags.c_contiguous else self.clone()

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other_tensor)`. Moving to a device
        copies the data there (`require` names the reason where the device is missing); a
        tensor already there with the dtype asked for is returned as is (unless copy=True)."""
        dev, dtype, copy = _parse_to(args, kwargs)
        out = self
        if dev is not None and dev != self.device:
            out = _move(out, dev)
        if dtype is not None and dtype is not out._dtype:
            out = cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        return self.to(as_device(device if device is not None else "cuda"))

    def type_as(self, other: Tensor) -> Tensor:
        return cast(self, other.dtype)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return Tensor(data, dtype=dtype or self._dtype, device=self.device, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        from graphflow.eager import creation

        return creation.zeros(*size, dtype=dtype or self._dtype, device=self.device)

    def new_ones(self, *size: Any, dtype: Any = None) -> Tensor:
        from graphflow.eager import creation

        return creation.ones(*size, dtype=dtype or self._dtype, device=self.device)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None) -> Tensor:
        from graphflow.eager import creation

        return creation.full(size, fill_value, dtype=dtype or self._dtype, device=self.device)

    def new_empty(self, *size: Any, dtype: Any = None) -> Tensor:
        return self.new_zeros(*size, dtype=dtype)

    def __deepcopy__(self, memo: dict) -> Tensor:
        t = Tensor(np.array(self._data, copy=True), dtype=self._dtype)
        t._device = self._device
        if self.is_leaf and self._rg:
            t.requires_grad = True
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    def __reduce__(self):
        return (_rebuild, (np.array(self._data), self._dtype.name, self._rg and self.is_leaf))

    # ---- autograd ---------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's `.grad` (`gradient` seeds a non-scalar)."""
        global _BACKWARD
        if _BACKWARD is None:
            from graphflow.eager.engine import backward as _BACKWARD
        _BACKWARD([self], [gradient], retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after `backward()` (as leaves do);
        nothing to do for a leaf."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf:
            return
        import weakref

        leaf = self._node.leaf
        if not self._node.inputs and hasattr(leaf, "retain"):  # a device copy: its Hop keeps the tensor
            leaf.retain(self)
            return
        _set(self._node, "leaf", weakref.ref(self))

    @property
    def retains_grad(self) -> bool:
        """Whether `retain_grad()` was called on this non-leaf tensor."""
        n = self._node
        return n is not None and bool(n.inputs) and n.leaf is not None

    # ---- fast operators ---------------------------------------------------------------------
    __add__ = _fast_binary(_ADD, E.add)
    __sub__ = _fast_binary(_SUB, E.sub)
    __mul__ = _fast_binary(_MUL, E.mul)
    __truediv__ = _fast_binary(_DIV, E.div, float_only=True)
    __radd__ = _fast_binary(_ADD, E.add, reflected=True)
    __rsub__ = _fast_binary(_SUB, E.sub, reflected=True)
    __rmul__ = _fast_binary(_MUL, E.mul, reflected=True)
    __rtruediv__ = _fast_binary(_DIV, E.div, float_only=True, reflected=True)
    __hash__ = object.__hash__
    __eq__ = TensorMethods.__eq__  # type: ignore[assignment]
    __neg__ = neg = negative = _fast_unary(get_op("neg"), E.neg)
    __abs__ = abs = _fast_unary(get_op("abs"), E.abs)
    exp = _fast_unary(get_op("exp"), E.exp)
    expm1 = _fast_unary(get_op("expm1"), E.expm1)
    log = _fast_unary(get_op("log"), E.log)
    log1p = _fast_unary(get_op("log1p"), E.log1p)
    sin = _fast_unary(get_op("sin"), E.sin)
    cos = _fast_unary(get_op("cos"), E.cos)
    tanh = _fast_unary(get_op("tanh"), E.tanh)
    sigmoid = _fast_unary(get_op("sigmoid"), E.sigmoid)
    sqrt = _fast_unary(get_op("sqrt"), E.sqrt)
    rsqrt = _fast_unary(get_op("rsqrt"), E.rsqrt)
    reciprocal = _fast_unary(get_op("reciprocal"), E.reciprocal)

    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A003
        """Sum over `dim` (None: every element); integers and bools sum as int64."""
        if dim is None and dtype is None and not _DYNAMIC and self._dtype.kind == "f":
            nd = self._data.ndim
            return apply(_REDUCE_SUM, (self,), {"axes": _ALL_AXES[nd] if nd < 8 else tuple(range(nd)),
                                                "keepdims": bool(keepdim)})
        from graphflow.ops.reductions import sum as sum_

        return sum_(self, dim, keepdim, dtype)

    # ---- in-place ops -----------------------------------------------------------------------
    def _inplace(self, name: str, result: Any, unsafe_cast: bool = False) -> Tensor:
        """Make `result` (an out-of-place result, already computed) this tensor's value."""
        if _DYNAMIC:  # inside gf.compile's trace: the tracer records the write
            return _DYNAMIC[-1].write_eager(self, name, result)
        if not isinstance(result, Tensor):
            result = HANDLER.constant(np.asarray(result))
        if result._data.shape != self._data.shape:
            raise ShapeError(f"{name}: the result of shape {fmt(result.shape)} does not match the tensor's shape "
                             f"{fmt(self.shape)} (an in-place op cannot broadcast the tensor it writes into)")
        if result._dtype is not self._dtype:
            if not unsafe_cast and category(result._dtype) > category(self._dtype):
                raise DTypeError(f"{name}: result type {result._dtype.name} can't be cast to the desired output "
                                 f"type {self._dtype.name}")
            result = cast(result, self._dtype)
        self._write(result, name)
        return self

    def _check_inplace(self, name: str) -> None:
        if GRAD.enabled:
            if self._rg and self.is_leaf:
                raise _leaf_inplace_error(name)
            if self._alias.__class__ is View:
                from graphflow.eager.views import check_inplace

                check_inplace(self, self._alias, name)

    def _write(self, result: Tensor, name: str) -> None:
        data = self._data
        new = result._data
        tracked = result._node is not None and result._rg and GRAD.enabled
        view = self._alias
        if view.__class__ is View and (tracked or data.__class__ is not np.ndarray or not data.flags.writeable):
            # the base takes the new elements (recorded when tracked); a plain CPU write below
            # lands in the base's storage by itself
            from graphflow.eager.views import write

            write(self, view, result, name, tracked)
            return
        if data.__class__ is not np.ndarray:  # device memory is never written in place: take the result's buffer
            self._data = data = new
        elif data.flags.writeable and (data.base is None or self._alias or not tracked):
            np.copyto(data, new)
        else:
            self._data = data = new if (new.flags.writeable and new.base is None) else np.array(new, copy=True)
        vc = self._vc_()
        vc.bump(name)
        if tracked:
            node = result._node
            old = self._node
            node.value = data
            node.vc = vc
            node.version = vc.version
            if old is not None and old.inputs and old.leaf is not None and old.leaf() is self:
                node.leaf = old.leaf  # retain_grad() follows the tensor to its new value
                old.leaf = None
            self._node = node
            self._rg = True

    def _apply_inplace(self, name: str, fn, *args: Any, **kwargs: Any) -> Tensor:
        self._check_inplace(name)
        return self._inplace(name, fn(self, *args, **kwargs))

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002
        return self.clamp_(min=min)

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002
        return self.clamp_(max=max)

    def addcmul_(self, t1: Any, t2: Any, value: Any = 1) -> Tensor:
        return self._apply_inplace("addcmul_", lambda s: E.add(s, E.mul(E.mul(t1, t2), value)))

    def addcdiv_(self, t1: Any, t2: Any, value: Any = 1) -> Tensor:
        return self._apply_inplace("addcdiv_", lambda s: E.add(s, E.mul(E.div(t1, t2), value)))

    def _overwrite(self, name: str, value: Any) -> Tensor:
        """Replace every element by `value` (broadcast); differentiable in `value`, and the old
        value gets a zero gradient (the tape stays connected through `where`)."""
        if _DYNAMIC:  # inside gf.compile's trace: the tracer records the write
            return _DYNAMIC[-1].write_eager(self, name, value, broadcast=True)
        self._check_inplace(name)
        vrg = isinstance(value, Tensor) and value._rg
        if isinstance(value, Tensor) and value.device != self.device:
            raise DeviceError(f"{name}: expected both tensors on the same device, got {self.device} "
                              f"and {value.device}")
        if self._device is None and not (GRAD.enabled and (self._rg or vrg)) and \
                (self._data.flags.writeable or self._alias.__class__ is not View):
            src = value._data if isinstance(value, Tensor) else value
            data = self._data
            if not data.flags.writeable or (data.base is not None and not self._alias and self._rg):
                self._data = data = np.array(data, copy=True)
            try:
                np.copyto(data, np.broadcast_to(src, data.shape), casting="unsafe")
            except ValueError:
                raise ShapeError(f"{name}: cannot broadcast a value of shape {fmt(np.shape(src))} to "
                                 f"{fmt(self.shape)}") from None
            self._vc_().bump(name)
            return self
        from graphflow.ir import builder as B

        keep = B.full(self.shape, True, get_dtype("bool"), like=self)
        if not isinstance(value, Tensor):
            value = HANDLER.constant_like(np.asarray(value, dtype=self._dtype.np), self)
        value = cast(value, self._dtype)
        return self._inplace(name, E.where(keep, value, self), unsafe_cast=True)

    def fill_(self, value: Any) -> Tensor:
        return self._overwrite("fill_", value)

    def zero_(self) -> Tensor:
        return self._overwrite("zero_", 0)

    def copy_(self, src: Any, non_blocking: bool = False) -> Tensor:
        return self._overwrite("copy_", src)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        from graphflow.eager.creation import rand

        return self._overwrite("uniform_", rand(self.shape, dtype=self._dtype, generator=generator) * (b - a) + a)

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        from graphflow.eager.creation import randn

        return self._overwrite("normal_", randn(self.shape, dtype=self._dtype, generator=generator) * std + mean)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        """Fill with 0/1 draws, 1 with probability `p` (a float or a tensor broadcast to self)."""
        from graphflow.ops.sampling import bernoulli

        return self._overwrite("bernoulli_", bernoulli(self, p, generator=generator))

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    def __setitem__(self, key: Any, value: Any) -> None:
        from graphflow.ops import indexing

        self._check_inplace("__setitem__")
        if self._device is not None:
            target = self[key]
            own_base = self._alias.base if self._alias.__class__ is View else self
            if target is self or (target._alias.__class__ is View and target._alias.base is own_base):
                target.copy_(value)  # basic indexing: a write through a view of this storage
                return
            # advanced indexing selected a copy (a gather, maybe reshaped): the functional update below
        vrg = isinstance(value, Tensor) and value._rg
        if GRAD.enabled and (self._rg or vrg) or self._device is not None or \
                (self._alias.__class__ is View and not self._data.flags.writeable):
            # recorded, on a device (buffers are not written in place), or through a view whose
            # storage must be copied first: the functional update, written as a whole
            self._inplace("__setitem__", indexing.setitem(self, key, value), unsafe_cast=True)
            return
        if isinstance(value, Tensor):
            if value._device is not None and value.device != self.device:
                raise DeviceError(f"__setitem__: expected both tensors on the same device, got {self.device} "
                                  f"and {value.device}")
            value = value._data
        data = self._data
        if not data.flags.writeable:
            self._data = data = np.array(data, copy=True)
        try:
            data[indexing.concrete_key(key)] = value
        except ValueError as exc:
            raise ShapeError(f"__setitem__: cannot assign a value of shape {fmt(np.shape(value))} to the selection "
                             f"{key!r} of a tensor of shape {fmt(self.shape)} ({exc})") from None
        self._vc_().bump("__setitem__")


def _move(t: Tensor, dev: device) -> Tensor:
    """A copy of `t` on `dev`; recorded when t requires grad (the gradient is moved back)."""
    from graphflow.eager.devices import download, upload

    if dev.type == "cpu":
        out = _new(download(t._data), t._dtype, None)
    else:
        require(dev)
        out = _new(upload(t._host(), dev), t._dtype, dev)
    if t._rg and GRAD.enabled:
        from graphflow.eager.transfer import record

        record(out, _node_of(t), t._device)
    return out


def _rebuild(array: np.ndarray, dtype: str, requires_grad: bool) -> Tensor:
    return Tensor(array, dtype=get_dtype(dtype), requires_grad=requires_grad)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


# in-place arithmetic that needs no tape entry writes through the reference's ufunc with
# `out=` (one pass, no temporary); NumPy handles overlapping operands (`x[1:] += x[:-1]`)
_INPLACE_UFUNCS = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.divide}


def _direct_inplace(t: Tensor, name: str, other: Any) -> bool:
    """Apply `t op= other` directly when nothing is recorded and no promotion or broadcast of t
    happens: float32/float64 CPU tensors, `other` a tensor of t's dtype whose shape broadcasts to
    t's, or a Python number. False: the caller takes the general path."""
    if _DYNAMIC or t._device is not None or t._dtype.name not in _ELIDE_DTYPES or not t._data.flags.writeable:
        return False
    if GRAD.enabled and t._alias.__class__ is View and t._alias.base._rg:
        return False  # a view of a base that requires grad: PyTorch's view rules (`check_inplace`)
    if other.__class__ is Tensor or isinstance(other, Tensor):
        if other._dtype is not t._dtype or other._device is not None or (GRAD.enabled and (t._rg or other._rg)):
            return False
        b = other._data
        if b.shape != t._data.shape and _broadcast_shape(b.shape, t._data.shape) != t._data.shape:
            return False
    elif _scalar_keeps_dtype(other, t, False):
        if GRAD.enabled and t._rg:
            return False
        b = t._dtype.np.type(other)
    else:
        return False
    quiet(_INPLACE_UFUNCS[name], t._data, b, t._data)
    t._vc_().bump(name)
    return True


def _inplace_method(name: str, fn: Any) -> Any:
    if name in _INPLACE_UFUNCS:
        def arithmetic(self: Tensor, other: Any, **kwargs: Any) -> Tensor:
            if not kwargs and _direct_inplace(self, name, other):
                return self
            return self._apply_inplace(name, fn, other, **kwargs)

        method = arithmetic
    else:
        def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
            return self._apply_inplace(name, fn, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: self = {fn.__name__}(self, *args, **kwargs), as torch.Tensor.{name}."
    return method


# the in-place forms of functional ops: one table, checked by the in-place rules in _apply_inplace
INPLACE_OPS: dict[str, Any] = {
    "add_": E.add, "sub_": E.sub, "mul_": E.mul, "div_": E.div, "pow_": E.pow, "neg_": E.neg, "abs_": E.abs,
    "exp_": E.exp, "sqrt_": E.sqrt, "sigmoid_": E.sigmoid, "tanh_": E.tanh, "clamp_": E.clamp, "relu_": E.relu,
    "lerp_": E.lerp, **SCATTER_INPLACE, **POINTWISE_INPLACE, **TRIANGULAR_INPLACE,
}
for _name, _fn in INPLACE_OPS.items():
    setattr(Tensor, _name, _inplace_method(_name, _fn))
Tensor.clip_ = Tensor.clamp_
