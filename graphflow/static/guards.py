"""What a `gf.compile` trace assumed about the objects around the function, checked cheaply on
every call.

A trace bakes in more than its arguments: which parameter tensors the modules hold, which
optimizer state exists, the optimizers' hyper-parameters (a learning rate is a constant of the
graph), every module's train/eval flag and which `.grad`s are set. Walking modules and optimizers
on every call would cost more than a small compiled step, so `World` finds them once (after each
trace) and records flat lists of (table, key, object) triples; a call checks that each table still
holds the same object (identity, no walk), and reads the few values that select among cached
graphs (train/eval flags, `.grad is None`, hyper-parameters) from precomputed lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphflow.static.tracing import _is_eager

_SCAN_DEPTH = 2  # attributes of attributes: `self.model`, a closure's list of modules


def _is_module(o: Any) -> bool:
    return hasattr(o, "_modules") and hasattr(o, "_parameters") and callable(getattr(o, "modules", None))


def _is_optimizer(o: Any) -> bool:
    return hasattr(o, "param_groups") and hasattr(o, "state")


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


class World:
    """The modules, optimizers and tensors a compiled function can reach, and the identity
    checks that say nothing was swapped since they were collected."""

    def __init__(self, fn: Callable[..., Any], others: Iterable[Any], extra_owners: Iterable[Any] = ()):
        self.tables: list[tuple[Any, Any, Any]] = []  # table[key] is obj (a dict or a list)
        self.sizes: list[tuple[Any, int]] = []  # len(container) == n
        self.cells: list[tuple[Any, Any]] = []  # cell.cell_contents is obj
        self.modules: list[Any] = []
        self.optimizers: list[Any] = []
        owners: dict[int, Any] = {}
        seen: set[int] = set()
        roots: list[Any] = [fn, getattr(fn, "__self__", None), *others]
        code = getattr(fn, "__code__", None)
        if code is not None:
            for cell in fn.__closure__ or ():
                if _filled(cell):
                    self.cells.append((cell, cell.cell_contents))
                    roots.append(cell.cell_contents)
            g = getattr(fn, "__globals__", {})
            for name in code.co_names:
                if name in g:
                    self.tables.append((g, name, g[name]))
                    roots.append(g[name])
        for o in roots:
            self._visit(o, owners, seen, _SCAN_DEPTH)
        for t in extra_owners:
            owners.setdefault(id(t), t)
        self.owners = list(owners.values())

    def _visit(self, o: Any, owners: dict[int, Any], seen: set[int], depth: int) -> None:
        if o is None or id(o) in seen or isinstance(o, (int, float, str, bytes, bool, type)):
            return
        seen.add(id(o))
        if _is_eager(o):
            owners.setdefault(id(o), o)
        elif _is_module(o):
            for m in o.modules():
                if id(m) in seen and m is not o:
                    continue
                seen.add(id(m))
                self.modules.append(m)
                for table in (m._parameters, m._buffers, m._modules):
                    self.sizes.append((table, len(table)))
                    self.tables += [(table, k, v) for k, v in table.items()]
                for p in m._parameters.values():
                    if p is not None:
                        owners.setdefault(id(p), p)
        elif _is_optimizer(o):
            self.optimizers.append(o)
            self.sizes.append((o.param_groups, len(o.param_groups)))
            for group in o.param_groups:
                params = group["params"]
                self.tables.append((group, "params", params))
                self.sizes.append((params, len(params)))
                self.tables += [(params, i, p) for i, p in enumerate(params)]
                for p in params:
                    owners.setdefault(id(p), p)
            self.sizes.append((o.state, len(o.state)))
            for p, st in o.state.items():
                self.tables.append((o.state, p, st))
                self.sizes.append((st, len(st)))
                self.tables += [(st, k, v) for k, v in st.items()]
        elif depth > 0:
            items: Iterable[Any] = ()
            if isinstance(o, (list, tuple)):
                items = o
            elif isinstance(o, dict):
                items = o.values()
            elif hasattr(o, "__dict__") and not callable(o):
                items = vars(o).values()
                d = vars(o)
                self.tables += [(d, k, v) for k, v in d.items() if _is_module(v) or _is_optimizer(v)]
            elif hasattr(o, "__self__") and hasattr(o.__self__, "__dict__"):  # a bound method
                d = vars(o.__self__)
                self.tables += [(d, k, v) for k, v in d.items() if _is_module(v) or _is_optimizer(v)]
                items = d.values()
            for x in list(items):
                self._visit(x, owners, seen, depth - 1)

    def valid(self) -> bool:
        """True while every table still holds what it held when this world was collected."""
        for container, n in self.sizes:
            if len(container) != n:
                return False
        try:
            for table, key, obj in self.tables:
                if table[key] is not obj:
                    return False
        except (KeyError, IndexError):
            return False
        for cell, obj in self.cells:
            if cell.cell_contents is not obj:
                return False
        return True

    def key(self) -> tuple:
        """The parts of the world a trace depends on by value: train/eval flags, which `.grad`s
        are unset (backward sets or accumulates), the optimizers' hyper-parameters."""
        return (tuple([m.training for m in self.modules]), tuple([t.grad is None for t in self.owners]),
                tuple([tuple([_hashable(v) for k, v in g.items() if k != "params"]) for o in self.optimizers
                       for g in o.param_groups]))


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v
