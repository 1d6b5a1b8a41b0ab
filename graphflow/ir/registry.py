"""The op registry: every primitive declared once, as an `OpDef`.

An OpDef carries the op's attributes (with defaults), `infer` (output type from input types),
`reference` (its meaning, in NumPy) and `vjp` (its gradient, emitted as graph nodes) or the
explicit `NOT_DIFFERENTIABLE` mark. Op modules are listed in `graphflow.ir.ops.OP_MODULES`; a
test checks every op is complete and every backend covers it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class _Mark:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_DIFFERENTIABLE = _Mark("NOT_DIFFERENTIABLE")
REQUIRED = _Mark("REQUIRED")

CATEGORIES = ("source", "state", "elementwise", "reduce", "movement", "index", "linalg", "random", "scan", "sort")


@dataclass(frozen=True, eq=False)
class OpDef:
    """One primitive op.

    infer(types, attrs) -> TensorType; raise ShapeError/DTypeError with a message (the op name and
    the user's line are added by `bind`).
    reference(arrays, attrs) -> ndarray (or reference(arrays, attrs, ctx) when `needs_context`).
    vjp(node, g) -> one cotangent node (or None) per input, built through `bind`.
    """

    name: str
    category: str
    infer: Callable[..., Any]
    reference: Callable[..., np.ndarray]
    vjp: Callable[..., Sequence[Any]] | _Mark
    attrs: Mapping[str, Any] = field(default_factory=dict)
    arity: int | None = 1  # None: any number of inputs
    needs_context: bool = False  # reference reads run-time state (inputs, variables, symbols)
    doc: str = ""

    @property
    def differentiable(self) -> bool:
        return self.vjp is not NOT_DIFFERENTIABLE

    def __call__(self, *inputs: Any, **attrs: Any) -> Any:
        from graphflow.ir.bind import bind

        return bind(self, *inputs, **attrs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


_REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in _REGISTRY:
        raise ValueError(f"op {op.name!r} is registered twice")
    if op.category not in CATEGORIES:
        raise ValueError(f"op {op.name!r}: unknown category {op.category!r}")
    _REGISTRY[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    op = _REGISTRY.get(name)
    if op is not None:  # the hot path of every bind by name
        return op
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no primitive op named {name!r}") from None


def all_ops() -> dict[str, OpDef]:
    _ensure_loaded()
    return dict(_REGISTRY)


def _ensure_loaded() -> None:
    import graphflow.ir.ops  # noqa: F401  (the explicit list of op modules)
