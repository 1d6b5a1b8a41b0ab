"""The lowering table: every primitive op -> how CUDA C computes it.

Elementwise ops are C expression templates chosen by dtype class (`ctypes_.key`): `{0}`, `{1}`, `{2}`
are the operands, `{T}` their compute type, `{site}` an error-site number (the kernel reports a bad
value through `gf_err`). Movement, indexing, random and source ops are index maths (`Index`) that the
expression emitter applies; reductions, matmul and scatter_add are kernel patterns. Ops with no entry
must be listed in `DECOMPOSITIONS` (rewritten into ops that have one before code generation); a test
walks the registry and fails when an op has neither."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from graphflow.ir.graph import Node


@dataclass(frozen=True)
class Expr:
    """C expression templates by dtype class; `by` is the operand whose dtype selects the template."""

    templates: dict[str, str]
    by: int = 0

    def template(self, dkey: str) -> str | None:
        for k, t in self.templates.items():
            if dkey in k or k == "*":
                return t
        return None


@dataclass(frozen=True)
class Cast:
    """dtype conversion; the expression depends on the (source, target) pair (see `emit.cast_expr`)."""


@dataclass(frozen=True)
class Index:
    """Index maths: the op reads its operand(s) at a transformed index (or makes a value from the index)."""

    doc: str


@dataclass(frozen=True)
class Reduction:
    """A block reduction: `combine` is a prelude functor, `identity` its neutral element by dtype class."""

    combine: str
    identity: dict[str, str] = field(default_factory=dict)
    arg: bool = False  # arg-reduction: (value, index) pairs


@dataclass(frozen=True)
class Pattern:
    """A kernel pattern of its own (tiled matmul, atomic scatter)."""

    doc: str


@dataclass(frozen=True)
class Buffer:
    """A value that lives in device memory: given at run time, uploaded once, or read from state."""

    doc: str


Lowering = Expr | Cast | Index | Reduction | Pattern | Buffer

_F = {"f": "{f}f({0})", "d": "{f}({0})"}


def _math(name: str) -> Expr:
    return Expr({"f": f"{name}f({{0}})", "d": f"{name}({{0}})"})


_INT_WRAP = "({T})((unsigned long long){0} %s (unsigned long long){1})"  # wrapping like NumPy

TABLE: dict[str, Lowering] = {
    # unary
    "neg": Expr({"fd": "(-{0})", "iu": "({T})(0ull - (unsigned long long){0})"}),
    "abs": Expr({"f": "fabsf({0})", "d": "fabs({0})", "i": "({0} < 0 ? ({T})(0ull - (unsigned long long){0}) : {0})",
                 "u": "{0}"}),
    "sign": Expr({"fd": "({0} != {0} ? {0} : ({T})(({0} > 0) - ({0} < 0)))", "iu": "({T})(({0} > 0) - ({0} < 0))"}),
    "floor": Expr({"f": "floorf({0})", "d": "floor({0})", "iu": "{0}"}),
    "ceil": Expr({"f": "ceilf({0})", "d": "ceil({0})", "iu": "{0}"}),
    "round": Expr({"f": "rintf({0})", "d": "rint({0})", "iu": "{0}"}),  # half to even
    "trunc": Expr({"f": "truncf({0})", "d": "trunc({0})", "iu": "{0}"}),
    "exp": _math("exp"),
    "expm1": _math("expm1"),
    "log": _math("log"),
    "log1p": _math("log1p"),
    "sin": _math("sin"),
    "cos": _math("cos"),
    "tanh": _math("tanh"),
    "sqrt": _math("sqrt"),
    "rsqrt": _math("rsqrt"),
    "erf": _math("erf"),
    "sigmoid": Expr({"fd": "gf_sigmoid({0})"}),
    "reciprocal": Expr({"f": "(1.0f / {0})", "d": "(1.0 / {0})"}),
    "logical_not": Expr({"b": "(!{0})"}),
    "bitwise_not": Expr({"b": "(!{0})", "iu": "({T})(~{0})"}),
    "isnan": Expr({"fd": "({0} != {0})", "*": "false"}),
    # binary
    "add": Expr({"fd": "({0} + {1})", "iu": _INT_WRAP % "+"}),
    "sub": Expr({"fd": "({0} - {1})", "iu": _INT_WRAP % "-"}),
    "mul": Expr({"fd": "({0} * {1})", "iu": _INT_WRAP % "*"}),
    "div": Expr({"fd": "({0} / {1})"}),
    "pow": Expr({"f": "powf({0}, {1})", "d": "pow({0}, {1})", "iu": "({T})gf_ipow({0}, {1}, gf_err, {site})"}),
    "maximum": Expr({"fd": "gf_fmax({0}, {1})", "iu": "({0} > {1} ? {0} : {1})"}),
    "minimum": Expr({"fd": "gf_fmin({0}, {1})", "iu": "({0} < {1} ? {0} : {1})"}),
    "floor_div": Expr({"fd": "gf_floordiv({0}, {1})", "iu": "gf_ifloordiv<{T}>({0}, {1}, gf_err, {site})"}),
    "mod": Expr({"fd": "gf_pymod({0}, {1})", "iu": "gf_imod<{T}>({0}, {1}, gf_err, {site})"}),
    "atan2": Expr({"f": "atan2f({0}, {1})", "d": "atan2({0}, {1})"}),
    "eq": Expr({"*": "({0} == {1})"}),
    "ne": Expr({"*": "({0} != {1})"}),
    "lt": Expr({"*": "({0} < {1})"}),
    "le": Expr({"*": "({0} <= {1})"}),
    "gt": Expr({"*": "({0} > {1})"}),
    "ge": Expr({"*": "({0} >= {1})"}),
    "logical_and": Expr({"b": "({0} && {1})"}),
    "logical_or": Expr({"b": "({0} || {1})"}),
    "bitwise_and": Expr({"*": "({T})({0} & {1})"}),
    "bitwise_or": Expr({"*": "({T})({0} | {1})"}),
    "bitwise_xor": Expr({"*": "({T})({0} ^ {1})"}),
    # ternary, conversion
    "where": Expr({"*": "({0} ? {1} : {2})"}, by=1),
    "cast": Cast(),
    # movement and indexing: index maths in the expression emitter
    "reshape": Index("row-major linear index, re-split over the input's shape"),
    "broadcast_to": Index("size-1 (and missing leading) dimensions read index 0"),
    "permute": Index("in[perm[i]] = out[i]"),
    "slice": Index("in = start + out * step"),
    "pad": Index("in = out - before, the pad value outside the input"),
    "concat": Index("the piece holding the index along the axis, offset removed"),
    "gather": Index("the index tensor's value replaces the index along the axis (bounds checked)"),
    "iota": Index("the index along the axis"),
    "random_uniform": Index("splitmix64(splitmix64(key) + (linear index + 1) * golden), top bits scaled"),
    "assign": Index("its input's value; the run stores the result into the variable"),
    "constant": Index("a literal when it has one element, else an uploaded buffer"),
    # reductions
    "reduce_sum": Reduction("GfSum", {"*": "0"}),
    "reduce_prod": Reduction("GfProd", {"*": "1"}),
    "reduce_max": Reduction("GfMax", {"f": "(-INFINITY)", "d": "(-(double)INFINITY)", "i": "(-9223372036854775807LL - 1)",
                                      "u": "0", "b": "0"}),
    "reduce_min": Reduction("GfMin", {"f": "INFINITY", "d": "((double)INFINITY)", "i": "9223372036854775807LL",
                                      "u": "255", "b": "1"}),
    "argmax": Reduction("true", arg=True),
    "argmin": Reduction("false", arg=True),
    # patterns
    "matmul": Pattern("tiled shared-memory GEMM (WMMA for float16/bfloat16 behind a flag), fused epilogue"),
    "scatter_add": Pattern("copy, then atomic adds at the indexed positions"),
    "cumsum": Pattern("one thread per row, walking it in order (kernels.scan)"),
    "cumprod": Pattern("one thread per row, walking it in order (kernels.scan)"),
    "cumarg": Pattern("one thread per row, keeping the running extreme and its index (kernels.scan)"),
    "argsort": Pattern("one thread per element, counting the row's elements that sort before it (kernels.argsort)"),
    # memory
    "input": Buffer("fed at run time"),
    "variable": Buffer("read from the run's state"),
    "sym_size": Buffer("a scalar the host fills from the run's bindings"),
}


def _flip_as_slice(node: Node, inputs: list[Node]) -> Node:
    from graphflow.ir.bind import make_node
    from graphflow.ir.registry import get_op

    (x,) = inputs
    axes = set(node.attrs["axes"])
    starts = tuple(d - 1 if i in axes else 0 for i, d in enumerate(x.shape))
    stops = tuple(-1 if i in axes else d for i, d in enumerate(x.shape))
    steps = tuple(-1 if i in axes else 1 for i in range(len(x.shape)))
    return make_node(get_op("slice"), (x,), {"starts": starts, "stops": stops, "steps": steps}, loc=node.loc)


def _xor_as_ne(node: Node, inputs: list[Node]) -> Node:
    from graphflow.ir.bind import make_node
    from graphflow.ir.registry import get_op

    return make_node(get_op("ne"), tuple(inputs), {}, loc=node.loc)


# op -> rewrite(node, new inputs) into ops the table lowers
DECOMPOSITIONS: dict[str, Callable[[Node, list[Node]], Node]] = {
    "flip": _flip_as_slice,
    "logical_xor": _xor_as_ne,
}


def lowering(op_name: str) -> Lowering:
    try:
        return TABLE[op_name]
    except KeyError:
        raise NotImplementedError(f"cuda backend: no lowering for op {op_name!r}") from None
