"""`bind`: the one function through which every op enters the IR.

The handler is chosen from the inputs' types (the highest `_gf_level` wins, as in JAX's
find-top-trace): plain `Node`s go to the graph builder below; eager tensors, static symbolic
tensors and tracers bring their own handlers, which convert the other inputs and decide whether
to record a node, execute it, or both."""

from __future__ import annotations

from typing import Any, Protocol

from graphflow.errors import DTypeError, GraphflowError, ShapeError
from graphflow.ir import source
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.graph import Attrs, Node
from graphflow.ir.registry import REQUIRED, OpDef, get_op


class Handler(Protocol):
    """How one kind of value (graph nodes, eager tensors, symbolic tensors, tracers) takes ops."""

    level: int

    def bind(self, op: OpDef, inputs: tuple[Any, ...], attrs: dict[str, Any]) -> Any: ...

    def constant(self, array: Any) -> Any:
        """A literal of this handler's kind of value."""
        ...


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


# attributes whose values are canonicalised when a node is built ("float32" -> graphflow.float32)
_CANONICAL = {"dtype": get_dtype}


_NO_ATTRS = Attrs()


def normalize_attrs(op: OpDef, attrs: dict[str, Any]) -> Attrs:
    """The op's attributes with defaults filled in, lists frozen to tuples and dtypes canonical;
    unknown, missing or unhashable attributes raise a TypeError naming the op."""
    if not attrs and not op.attrs:
        return _NO_ATTRS
    unknown = set(attrs) - set(op.attrs)
    if unknown:
        raise TypeError(f"{op.name}: unknown attribute(s) {sorted(unknown)}; expected {sorted(op.attrs)}")
    out = {}
    for name, default in op.attrs.items():
        if name in attrs:
            value = _freeze(attrs[name])
            if name in _CANONICAL:
                value = _CANONICAL[name](value)
        elif default is REQUIRED:
            raise TypeError(f"{op.name}: missing attribute {name!r}")
        else:
            value = default
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"{op.name}: attribute {name!r} must be hashable (immutable), got a "
                            f"{type(value).__name__}") from None
        out[name] = value
    return Attrs(out)


def infer_type(op: OpDef, inputs: tuple[Node, ...] | tuple[Any, ...], attrs: Attrs, loc: object = None):
    """Run the op's shape/dtype inference; errors name the op, the operand types and the line."""
    if op.arity is not None and len(inputs) != op.arity:
        raise TypeError(_message(op, f"expects {op.arity} input(s), got {len(inputs)}", loc))
    types = tuple([i.type for i in inputs])
    try:
        return op.infer(types, attrs)
    except (GraphflowError, ValueError, TypeError, IndexError) as exc:
        operands = ", ".join(str(t) for t in types)
        msg = str(exc)
        if not msg.startswith(op.name):
            msg = f"{op.name}: {msg}"
        if operands and "operands" not in msg:
            msg += f" [operands: {operands}]"
        kind = type(exc) if isinstance(exc, GraphflowError) else (
            ShapeError if isinstance(exc, ValueError) else DTypeError if isinstance(exc, TypeError)
            else type(exc))
        raise kind(_message(op, msg, loc, prefixed=True)) from None


def _message(op: OpDef, msg: str, loc: object, prefixed: bool = False) -> str:
    text = msg if prefixed else f"{op.name}: {msg}"
    return f"{text} (at {loc})" if loc else text


def make_node(op: OpDef, inputs: tuple[Node, ...], attrs: dict[str, Any] | Attrs,
              name: str | None = None, loc: object = None) -> Node:
    """Build one node: normalise attributes, infer the type, record the user's line."""
    if not isinstance(attrs, Attrs):
        attrs = normalize_attrs(op, attrs)
    if loc is None:
        loc = source.capture(2)
    type_ = infer_type(op, inputs, attrs, loc)
    return Node(op, tuple(inputs), attrs, type_, loc=loc, name=name)


class GraphBuilder:
    """The base handler: inputs are Nodes, the result is a new Node."""

    level = 0

    def bind(self, op: OpDef, inputs: tuple[Any, ...], attrs: dict[str, Any]) -> Node:
        for i, x in enumerate(inputs):
            if not isinstance(x, Node):
                raise TypeError(f"{op.name}: input {i} is a {type(x).__name__}, expected a graph Node")
        return make_node(op, inputs, attrs)

    def constant(self, array: Any) -> Node:
        from graphflow.ir.ops.source import ConstValue

        return make_node(get_op("constant"), (), {"value": ConstValue(array)})


GRAPH_BUILDER = GraphBuilder()


# handlers that take every op while active, whatever its inputs (gf.compile's tracer: eager
# tensors captured by a traced function must be traced too, not computed once at trace time)
DYNAMIC: list[Handler] = []


def handler_of(*values: Any) -> Handler:
    """The handler that ops over these values go to (the highest level among them)."""
    handler: Handler = DYNAMIC[-1] if DYNAMIC else GRAPH_BUILDER
    for x in values:
        h = getattr(x, "_gf_handler", None)
        if h is not None and h.level > handler.level:
            handler = h
    return handler


def bind(op: OpDef | str, *inputs: Any, **attrs: Any) -> Any:
    """Apply primitive `op` to `inputs` through the handler the inputs call for."""
    if not isinstance(op, OpDef):
        op = get_op(op)
    return handler_of(*inputs).bind(op, inputs, attrs)
