"""Splitting a graph's module so that its parts compile at the same time on different cores.

LLVM's optimisation and code generation are most of a cold compile, and one module compiles on
one core. The units of a graph are separate (`noinline`) functions, so their bodies can move to
other modules: each part keeps the bodies it was given, the internal helpers they call and every
declaration and metadata line; the main part declares the moved bodies instead. The parts'
objects are loaded into one engine, which resolves the calls between them (`jit.LoadedObject`).

This works on the module text `codegen.ModuleBuilder.build` prints (llvmlite's regular layout: a
function from its `define` line to the closing `}` line), so the code generator knows nothing of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYMBOL = re.compile(r'@"([^"]+)"|@([\w.$-]+)')
_DEFINE = re.compile(r'^define\s+(?:internal\s+)?(.*?)@"([^"]+)"\(')
BODY_SUFFIX = "_body"


@dataclass
class _Function:
    name: str
    lines: list[str]
    refs: set[str]


def _parse(text: str) -> tuple[list[str], dict[str, _Function], list[object]]:
    """(top-level lines that are not functions, functions by name, the module's items in order:
    a line or a function name)."""
    lines = text.splitlines()
    others: list[str] = []
    functions: dict[str, _Function] = {}
    order: list[object] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _DEFINE.match(line)
        if m is None:
            others.append(line)
            order.append(line)
            i += 1
            continue
        j = i
        while lines[j] != "}":
            j += 1
        body = lines[i:j + 1]
        refs = {a or b for text_line in body[1:] for a, b in _SYMBOL.findall(text_line)}
        functions[m[2]] = _Function(m[2], body, refs - {m[2]})
        order.append(m[2])
        i = j + 1
    return others, functions, order


def _closure(names: list[str], functions: dict[str, _Function], keep: set[str]) -> list[str]:
    """The functions `names` need, defined in the module and not moved elsewhere (`keep` holds
    what this part defines): internal helpers such as the vectorised exp."""
    out: list[str] = []
    seen: set[str] = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        out.append(n)
        stack.extend(r for r in functions[n].refs if r in functions and r in keep)
    return out


def _declaration(fn: _Function) -> str:
    """`declare <return type> @name(<parameters>)` of a definition (its attributes dropped)."""
    head = fn.lines[0]
    start = head.index(f'@"{fn.name}"(') + len(fn.name) + 4
    depth, end = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(head[end], 0)
        end += 1
    return f'declare {_DEFINE.match(head)[1]}@"{fn.name}"({head[start:end - 1]})'


def _exported(fn: _Function) -> list[str]:
    return [fn.lines[0].replace("define internal ", "define ", 1)] + fn.lines[1:]


def split(text: str, parts: int) -> list[str]:
    """The module as up to `parts` modules (the first holds the entry point); the unit bodies are
    spread so that each part has about the same number of lines. One text when there is nothing
    worth moving."""
    others, functions, order = _parse(text)
    bodies = [n for n in functions if n.endswith(BODY_SUFFIX)]
    if parts < 2 or len(bodies) < 2:
        return [text]
    size = {n: sum(len(functions[h].lines) for h in _closure([n], functions, set(functions))) for n in bodies}
    rest = sum(len(f.lines) for n, f in functions.items() if n not in size)
    loads = [rest] + [0] * (parts - 1)
    given: list[list[str]] = [[] for _ in range(parts)]
    for n in sorted(bodies, key=lambda n: -size[n]):
        k = loads.index(min(loads))
        loads[k] += size[n]
        given[k].append(n)
    moved = {n for k in range(1, parts) for n in given[k]}
    if not moved:
        return [text]
    helpers = set(functions) - set(bodies)
    main: list[str] = []
    for item in order:
        if item in functions:
            fn = functions[item]
            main.extend([_declaration(fn)] if item in moved else fn.lines)
        else:
            main.append(item)
    texts = ["\n".join(main) + "\n"]
    shared = [line for line in others if line.strip()]
    for k in range(1, parts):
        if not given[k]:
            continue
        need = _closure(given[k], functions, helpers | set(given[k]))
        out = list(shared)
        for n in need:
            out.extend(_exported(functions[n]) if n in moved else functions[n].lines)
        # bodies this part calls but does not define (none today) stay declared
        called = {r for n in need for r in functions[n].refs if r in functions and r not in need}
        out.extend(_declaration(functions[n]) for n in sorted(called))
        texts.append("\n".join(out) + "\n")
    return texts
