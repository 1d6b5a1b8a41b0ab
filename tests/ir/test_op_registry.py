"""The registry is complete: every primitive has infer, reference and a vjp (or the explicit
not-differentiable mark), and the shared case table covers every op."""

from __future__ import annotations

import inspect

import pytest

from graphflow.ir import NOT_DIFFERENTIABLE, OpDef, TensorType, all_ops, get_op
from graphflow.ir.bind import normalize_attrs
from graphflow.ir.dtypes import ALL_DTYPES, get_dtype
from graphflow.ir.ops import OP_MODULES
from graphflow.ir.registry import CATEGORIES, REQUIRED, register
from tests.op_cases import CASES, data_inputs, uncovered_ops, untested_gradients


def missing_rules(op: OpDef) -> list[str]:
    """What `op` lacks, by name ('infer', 'reference', 'vjp')."""
    missing = [name for name in ("infer", "reference") if not callable(getattr(op, name, None))]
    if op.vjp is not NOT_DIFFERENTIABLE and not callable(op.vjp):
        missing.append("vjp (or the NOT_DIFFERENTIABLE mark)")
    return missing


def test_every_op_has_infer_reference_and_vjp_or_mark():
    problems = {name: missing_rules(op) for name, op in all_ops().items()}
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "ops missing rules: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in problems.items())


def test_missing_rules_names_what_is_missing():
    # the completeness check itself must be able to fail, and say what is missing
    broken = OpDef("broken", "elementwise", None, None, None)
    assert missing_rules(broken) == ["infer", "reference", "vjp (or the NOT_DIFFERENTIABLE mark)"]
    marked = OpDef("marked", "elementwise", lambda t, a: t[0], lambda a, at: a[0], NOT_DIFFERENTIABLE)
    assert missing_rules(marked) == []


def test_registry_is_the_expected_primitive_set():
    ops = all_ops()
    assert len(ops) == 73
    for name in ("add", "where", "cast", "reduce_sum", "argmax", "reshape", "slice", "pad", "concat", "flip",
                 "gather", "scatter_add", "matmul", "random_uniform", "variable", "assign", "cumsum",
                 "cumprod", "cumarg", "argsort"):
        assert name in ops
    assert all(op.category in CATEGORIES for op in ops.values())
    assert {op.name for op in ops.values()} == set(ops)


def test_ops_come_from_the_listed_modules():
    modules = {m.__name__ for m in OP_MODULES}
    for name, op in all_ops().items():
        assert op.infer.__module__ in modules, f"{name}: infer defined outside the op modules"


def test_reference_signature_matches_needs_context():
    for name, op in all_ops().items():
        params = inspect.signature(op.reference).parameters
        assert len(params) == (3 if op.needs_context else 2), name


def test_vjp_signature():
    for name, op in all_ops().items():
        if op.differentiable:
            assert len(inspect.signature(op.vjp).parameters) == 2, name


def test_defaults_are_hashable_and_required_is_marked():
    for name, op in all_ops().items():
        for attr, default in op.attrs.items():
            if default is not REQUIRED:
                hash(default)
            assert attr.isidentifier(), (name, attr)


def test_registering_twice_or_an_unknown_category_fails():
    with pytest.raises(ValueError, match="registered twice"):
        register(get_op("add"))
    with pytest.raises(ValueError, match="unknown category"):
        register(OpDef("zz_new_op", "nonsense", None, None, None))


def test_get_op_unknown_name():
    with pytest.raises(KeyError, match="no primitive op named 'frobnicate'"):
        get_op("frobnicate")


def test_case_table_covers_every_op():
    assert uncovered_ops() == []


def test_case_table_checks_every_differentiable_op():
    assert untested_gradients() == []


@pytest.mark.parametrize("name", sorted(all_ops()))
def test_each_op_has_odd_shape_cases(name):
    cases = [c for c in CASES if c.op == name]
    sizes = {a.size for c in cases for a in c.inputs}
    dims = {d for c in cases for a in c.inputs for d in a.shape}
    if all_ops()[name].arity == 0 and name != "input":
        assert cases
        return
    assert 0 in sizes or name in ("random_uniform", "variable", "assign"), f"{name}: no empty input"
    assert dims & {17, 33, 11} or name in ("random_uniform",), f"{name}: no odd-length dimension"


def _accepted_dtypes(name: str) -> tuple[set[str], set[str]]:
    """(dtypes the op's infer accepts for its data inputs, dtypes the case table runs it on)."""
    op = all_ops()[name]
    cases = [c for c in CASES if c.op == name and c.broadcast is None]
    template = cases[0]
    idx = data_inputs(name, len(template.inputs))
    covered = {c.inputs[idx[0]].dtype.name for c in cases}
    accepted = set()
    for d in ALL_DTYPES:
        types = tuple(TensorType(d if k in idx else get_dtype(a.dtype), a.shape) for k, a in enumerate(template.inputs))
        try:
            op.infer(types, normalize_attrs(op, dict(template.attrs)))
        except (TypeError, ValueError):
            continue
        accepted.add(d.name)
    return accepted, covered


@pytest.mark.parametrize("name", sorted(n for n, op in all_ops().items()
                                        if op.category in ("elementwise", "reduce", "movement", "index", "linalg", "scan", "sort")
                                        and n != "cast"))
def test_case_table_covers_exactly_the_dtypes_each_op_accepts(name):
    accepted, covered = _accepted_dtypes(name)
    assert covered == accepted, f"{name}: accepts {sorted(accepted)}, table runs {sorted(covered)}"
