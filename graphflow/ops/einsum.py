"""`einsum` (torch.einsum's equation language) lowered to diagonals, sums, permutes, reshapes,
broadcast multiplies and `matmul`.

Each operand first loses its repeated subscripts (a diagonal per repeat) and the subscripts no
other operand nor the output needs (summed). Operands are then contracted left to right: the
two operands' subscripts split into batch (in both and needed later), contracted (in both, not
needed later), and kept ones of each side; with something to contract the pair becomes one
batched `matmul` of (batch, left, contracted) by (batch, contracted, right), so big einsums run
on the fast GEMM; without, a broadcast multiply. The result is summed and permuted into the
output's order. Ellipses broadcast right-aligned, as in NumPy."""

from __future__ import annotations

import string
from typing import Any

from graphflow.errors import ShapeError
from graphflow.ir.bind import bind
from graphflow.ir.shapes import fmt
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import permute, reshape
from graphflow.ops.triangular import _diagonal
from graphflow.ops.values import broadcast_to, joint_dtype

__all__ = ["einsum"]

_LETTERS = set(string.ascii_letters)


def einsum(equation: str, *operands: Any) -> Any:
    """Sums of products over the subscripts of `equation` ('ij,jk->ik', 'bij,bjk->bik', 'ii->i',
    'i,j->ij', '...ij,...jk->...ik'; without '->' the output is the subscripts that appear once,
    in alphabetical order, after the ellipsis dimensions). Operands may be given as a list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    values = joint_dtype(*operands)
    specs, out_spec = _parse(equation, values)
    terms, sizes = _label(equation, specs, values, out_spec)
    output = _output_labels(equation, terms, out_spec)
    return _contract(terms, output, sizes)


# ---- parsing ----------------------------------------------------------------------------------
def _parse(equation: str, values: list[Any]) -> tuple[list[str], str | None]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise ValueError(f"einsum: malformed equation {equation!r}")
    specs = lhs.split(",")
    if len(specs) != len(values):
        raise ValueError(f"einsum: the equation {equation!r} names {len(specs)} operand(s) but {len(values)} "
                         f"were given (shapes {', '.join(fmt(v.shape) for v in values)})")
    for s in specs + ([rhs] if arrow else []):
        rest = s.replace("...", "", 1)
        bad = [c for c in rest if c not in _LETTERS]
        if bad:
            raise ValueError(f"einsum: invalid subscript {bad[0]!r} in {equation!r} (subscripts are letters "
                             "a-z, A-Z and one '...' per term)")
    return specs, (rhs if arrow else None)


def _label(equation: str, specs: list[str], values: list[Any], out_spec: str | None):
    """Each operand as [value, labels]; ellipsis dimensions get labels (0, k) counted from the right."""
    ellipsis = 0
    for spec, v in zip(specs, values):
        letters = len(spec.replace("...", ""))
        extra = len(v.shape) - letters
        if ("..." in spec and extra < 0) or ("..." not in spec and extra != 0):
            raise ShapeError(f"einsum: the subscripts {spec!r} do not fit operand shape {fmt(v.shape)} "
                             f"in {equation!r}")
        ellipsis = max(ellipsis, extra if "..." in spec else 0)
    terms: list[list[Any]] = []
    sizes: dict[Any, Any] = {}
    for i, (spec, v) in enumerate(zip(specs, values)):
        labels: list[Any] = []
        head, dots, tail = spec.partition("...")
        labels += list(head)
        if dots:
            extra = len(v.shape) - len(head) - len(tail)
            labels += [(0, ellipsis - extra + j) for j in range(extra)]
        labels += list(tail)
        for label, size in zip(labels, v.shape):
            known = sizes.get(label)
            if known is None or known == 1:
                sizes[label] = size
            elif size != known and size != 1:  # sizes of 1 broadcast, as in torch.einsum
                name = "..." if isinstance(label, tuple) else label
                raise ShapeError(f"einsum: subscript {name!r} has size {known} in one operand and {size} in "
                                 f"operand {i} (shapes {', '.join(fmt(w.shape) for w in values)}) in {equation!r}")
        terms.append([v, labels])
    return terms, sizes


def _output_labels(equation: str, terms: list[list[Any]], out_spec: str | None) -> list[Any]:
    dims = sorted({label for _, labels in terms for label in labels if isinstance(label, tuple)})
    counts: dict[str, int] = {}
    for _, labels in terms:
        for label in labels:
            if isinstance(label, str):
                counts[label] = counts.get(label, 0) + 1
    if out_spec is None:  # implicit: ellipsis dimensions, then the subscripts used once, sorted
        return dims + sorted(c for c, n in counts.items() if n == 1)
    head, dots, tail = out_spec.partition("...")
    if dims and not dots:
        # no '...' in the output: the ellipsis dimensions are summed (torch); keep only letters
        dims = []
    letters = list(head) + list(tail)
    for c in letters:
        if c not in counts:
            raise ValueError(f"einsum: output subscript {c!r} appears in no input of {equation!r}")
    if len(set(letters)) != len(letters):
        raise ValueError(f"einsum: output subscripts repeat in {equation!r}")
    return list(head) + dims + list(tail)


# ---- lowering ---------------------------------------------------------------------------------
def _unique(value: Any, labels: list[Any]) -> tuple[Any, list[Any]]:
    """Repeated labels of one operand become one dimension (their diagonal, at the end)."""
    while True:
        seen: dict[Any, int] = {}
        pair = None
        for i, label in enumerate(labels):
            if label in seen:
                pair = (seen[label], i)
                break
            seen[label] = i
        if pair is None:
            return value, labels
        a, b = pair
        label = labels[a]
        value = _diagonal(value, 0, a, b, "einsum")
        labels = [lab for i, lab in enumerate(labels) if i not in pair] + [label]


def _sum_out(value: Any, labels: list[Any], drop: set) -> tuple[Any, list[Any]]:
    axes = tuple(i for i, label in enumerate(labels) if label in drop)
    if not axes:
        return value, labels
    return bind("reduce_sum", value, axes=axes, keepdims=False), [lab for lab in labels if lab not in drop]


def _numel(sizes: dict, labels: list[Any]) -> Any:
    n = 1
    for label in labels:
        n = n * sizes[label]
    return n


def _arrange(value: Any, labels: list[Any], order: list[Any], sizes: dict) -> Any:
    """value permuted to `order` and broadcast to the full sizes (ellipsis dimensions of size 1)."""
    value = permute(value, [labels.index(label) for label in order])
    full = tuple(sizes[label] for label in order)
    return broadcast_to(value, full) if tuple(value.shape) != full else value


def _pair(left: list[Any], right: list[Any], needed: set, sizes: dict) -> list[Any]:
    (a, la), (b, lb) = left, right
    batch = [lab for lab in la if lab in lb and lab in needed]
    inner = [lab for lab in la if lab in lb and lab not in needed]
    keep_a = [lab for lab in la if lab not in lb]
    keep_b = [lab for lab in lb if lab not in la]
    if not inner:  # an outer or elementwise product: broadcast multiply
        order = batch + keep_a + keep_b
        x = _arrange(a, la, batch + keep_a, sizes)
        y = _arrange(b, lb, batch + keep_b, sizes)
        nb, na = len(batch), len(keep_a)
        x = reshape(x, tuple(x.shape) + (1,) * len(keep_b))
        y = reshape(y, tuple(y.shape[:nb]) + (1,) * na + tuple(y.shape[nb:]))
        full = tuple(sizes[lab] for lab in order)
        return [bind("mul", broadcast_to(x, full), broadcast_to(y, full)), order]
    x = _arrange(a, la, batch + keep_a + inner, sizes)
    y = _arrange(b, lb, batch + inner + keep_b, sizes)
    bs, m, k, n = (_numel(sizes, group) for group in (batch, keep_a, inner, keep_b))
    out = matmul(reshape(x, (bs, m, k)), reshape(y, (bs, k, n)))
    return [reshape(out, tuple(sizes[lab] for lab in batch + keep_a + keep_b)), batch + keep_a + keep_b]


def _contract(terms: list[list[Any]], output: list[Any], sizes: dict) -> Any:
    terms = [list(_unique(v, labels)) for v, labels in terms]

    def needed_after(k: int) -> set:
        """Labels of the output and of the terms from k on."""
        out = set(output)
        for j in range(k, len(terms)):
            out.update(terms[j][1])
        return out

    for i in range(len(terms)):  # sum what no other operand nor the output uses
        v, labels = terms[i]
        others = set(output)
        for j, (_, lab) in enumerate(terms):
            if j != i:
                others.update(lab)
        terms[i] = list(_sum_out(v, labels, {lab for lab in labels if lab not in others}))
    acc = terms[0]
    for k in range(1, len(terms)):
        v, labels = acc  # what the rest of the operands and the output no longer use is summed first
        acc = list(_sum_out(v, labels, {lab for lab in labels if lab not in needed_after(k)}))
        acc = _pair(acc, terms[k], needed_after(k + 1), sizes)
    v, labels = acc
    v, labels = _sum_out(v, labels, {lab for lab in labels if lab not in output})
    return _arrange(v, labels, output, sizes)
