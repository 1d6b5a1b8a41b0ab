"""The primitive op set. Each module declares its ops once; this list is the only place that
loads them, and the registry tests check what it produces."""

from graphflow.ir.ops import (  # noqa: F401
    elementwise,
    indexing,
    linalg,
    movement,
    random,
    reduce,
    scan,
    source,
)

OP_MODULES = (source, elementwise, reduce, movement, indexing, linalg, random, scan)
