"""Before/expected tests for every rewrite rule (structural equality), numerical checks on special
values (NaN, +-inf, signed zeros, huge and tiny numbers) by safety class, and a check that every
rule in the tables has a case here."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.ir import Graph, bind
from graphflow.ir import builder as B
from graphflow.passes import algebraic, fold, stability
from graphflow.passes.patterns import DEFAULT_SAFETY, EXACT, FAST_MATH, FINITE, NSZ, STABLE
from graphflow.passes.rewrite import rewrite

from .conftest import SPECIALS, run, same_bits

F, INT, BOOL = gf.float64, gf.int64, gf.bool
ALL_RULES = [*algebraic.RULES, *stability.RULES, *fold.FOLD_RULES]
SAFETY = {r.name: r.safety for r in ALL_RULES}


def full(x, v, dtype=None):
    return B.full_like(x, v, dtype)


def op(name, *args, **attrs):
    return bind(name, *args, **attrs)


def T(v):
    n = v.ndim
    return op("permute", v, perm=tuple(range(n - 2)) + (n - 1, n - 2))


X, Y = ("x", (3, 4), F), ("y", (3, 4), F)
XI, YI = ("x", (3, 4), INT), ("y", (3, 4), INT)
C = ("c", (3, 4), BOOL)

# rule name -> (input specs, before(*inputs), expected(*inputs))
CASES = {
    "mul_one": ([X], lambda x: op("mul", x, full(x, 1.0)), lambda x: x),
    "div_one": ([X], lambda x: op("div", full(x, 1.0) if False else x, full(x, 1.0)), lambda x: x),
    "pow_one": ([X], lambda x: op("pow", x, full(x, 1.0)), lambda x: x),
    "pow_two": ([X], lambda x: op("pow", x, full(x, 2.0)), lambda x: op("mul", x, x)),
    "pow_three": ([X], lambda x: op("pow", x, full(x, 3.0)), lambda x: op("mul", op("mul", x, x), x)),
    "pow_three_int": ([XI], lambda x: op("pow", x, full(x, 3)), lambda x: op("mul", op("mul", x, x), x)),
    "mul_neg_one": ([X], lambda x: op("mul", full(x, -1.0), x), lambda x: op("neg", x)),
    "div_pow2": ([X], lambda x: op("div", x, full(x, 4.0)), lambda x: op("mul", x, full(x, 0.25))),
    "add_zero_int": ([XI], lambda x: op("add", x, full(x, 0)), lambda x: x),
    "add_neg_zero": ([X], lambda x: op("add", x, full(x, -0.0)), lambda x: x),
    "add_zero": ([X], lambda x: op("add", full(x, 0.0), x), lambda x: x),
    "sub_zero": ([X], lambda x: op("sub", x, full(x, 0.0)), lambda x: x),
    "sub_neg_zero": ([X], lambda x: op("sub", x, full(x, -0.0)), lambda x: x),
    "mul_zero_int": ([XI], lambda x: op("mul", x, full(x, 0)), lambda x: full(x, 0)),
    "mul_zero": ([X], lambda x: op("mul", x, full(x, 0.0)), lambda x: full(x, 0.0)),
    "sub_self_int": ([XI], lambda x: op("sub", x, x), lambda x: full(x, 0)),
    "sub_self": ([X], lambda x: op("sub", x, x), lambda x: full(x, 0.0)),
    "div_self": ([X], lambda x: op("div", x, x), lambda x: full(x, 1.0)),
    "add_neg": ([X, Y], lambda x, y: op("add", op("neg", y), x), lambda x, y: op("sub", x, y)),
    "sub_neg": ([X, Y], lambda x, y: op("sub", x, op("neg", y)), lambda x, y: op("add", x, y)),
    "neg_neg": ([X], lambda x: op("neg", op("neg", x)), lambda x: x),
    "neg_mul_const": ([X], lambda x: op("neg", op("mul", x, full(x, 3.0))), lambda x: op("mul", x, full(x, -3.0))),
    "mul_neg_neg": ([X, Y], lambda x, y: op("mul", op("neg", x), op("neg", y)), lambda x, y: op("mul", x, y)),
    "neg_sub": ([X, Y], lambda x, y: op("neg", op("sub", x, y)), lambda x, y: op("sub", y, x)),
    "abs_neg": ([X], lambda x: op("abs", op("neg", x)), lambda x: op("abs", x)),
    "abs_abs": ([X], lambda x: op("abs", op("abs", x)), lambda x: op("abs", x)),
    "max_self": ([X], lambda x: op("maximum", x, x), lambda x: x),
    "logic_self": ([C], lambda c: op("logical_or", c, c), lambda c: c),
    "not_not": ([C], lambda c: op("logical_not", op("logical_not", c)), lambda c: c),
    "bitnot_bitnot": ([XI], lambda x: op("bitwise_not", op("bitwise_not", x)), lambda x: x),
    "where_same": ([C, X], lambda c, x: op("where", c, x, x), lambda c, x: x),
    "where_true": ([X, Y], lambda x, y: op("where", full(x, True, BOOL), x, y), lambda x, y: x),
    "where_false": ([X, Y], lambda x, y: op("where", full(x, False, BOOL), x, y), lambda x, y: y),
    "where_not": ([C, X, Y], lambda c, x, y: op("where", op("logical_not", c), x, y),
                  lambda c, x, y: op("where", c, y, x)),
    "cast_same": ([X], lambda x: op("cast", x, dtype=F), lambda x: x),
    "cast_cast": ([("x", (3, 4), gf.float32)], lambda x: op("cast", op("cast", x, dtype=F), dtype=gf.float16),
                  lambda x: op("cast", x, dtype=gf.float16)),
    "reshape_same": ([X], lambda x: op("reshape", x, shape=(3, 4)), lambda x: x),
    "reshape_reshape": ([X], lambda x: op("reshape", op("reshape", x, shape=(12,)), shape=(4, 3)),
                        lambda x: op("reshape", x, shape=(4, 3))),
    "permute_identity": ([X], lambda x: op("permute", x, perm=(0, 1)), lambda x: x),
    "permute_permute": ([("x", (2, 3, 4), F)],
                        lambda x: op("permute", op("permute", x, perm=(1, 2, 0)), perm=(1, 0, 2)),
                        lambda x: op("permute", x, perm=(2, 1, 0))),
    "broadcast_same": ([X], lambda x: op("broadcast_to", x, shape=(3, 4)), lambda x: x),
    "broadcast_broadcast": ([("b", (4,), F)],
                            lambda b: op("broadcast_to", op("broadcast_to", b, shape=(3, 4)), shape=(2, 3, 4)),
                            lambda b: op("broadcast_to", b, shape=(2, 3, 4))),
    "slice_full": ([X], lambda x: op("slice", x, starts=(0, 0), stops=(3, 4), steps=(1, 1)), lambda x: x),
    "slice_slice": ([("x", (3, 10), F)],
                    lambda x: op("slice", op("slice", x, starts=(0, 1), stops=(3, 9), steps=(1, 2)),
                                 starts=(0, 3), stops=(2, -1), steps=(1, -1)),
                    lambda x: op("slice", x, starts=(0, 7), stops=(2, 0), steps=(1, -2))),
    "pad_none": ([X], lambda x: op("pad", x, widths=((0, 0), (0, 0))), lambda x: x),
    "flip_trivial": ([("x", (1, 4), F)], lambda x: op("flip", x, axes=(0,)), lambda x: x),
    "flip_flip": ([X], lambda x: op("flip", op("flip", x, axes=(0,)), axes=(0, 1)), lambda x: op("flip", x, axes=(1,))),
    "concat_one": ([X], lambda x: op("concat", x, axis=0), lambda x: x),
    "moved_splat": ([X], lambda x: op("add", op("reshape", x, shape=(12,)), op("reshape", full(x, 2.0), shape=(12,))),
                    lambda x: op("add", op("reshape", x, shape=(12,)), B.full((12,), 2.0, F))),
    "over_broadcasts": ([("b", (4,), F), ("c", (4,), F)],
                        lambda b, c: op("mul", op("broadcast_to", op("exp", b) if False else b, shape=(3, 4)),
                                        op("broadcast_to", c, shape=(3, 4))),
                        lambda b, c: op("broadcast_to", op("mul", b, c), shape=(3, 4))),
    "reduce_unit_axes": ([("x", (3, 1), F)], lambda x: op("reduce_sum", x, axes=(1,)),
                         lambda x: op("reshape", x, shape=(3,))),
    "matmul_tt": ([("a", (4, 3), F), ("b", (5, 4), F)], lambda a, b: op("matmul", T(a), T(b)),
                  lambda a, b: T(op("matmul", b, a))),
    "t_matmul_t_left": ([("a", (4, 3), F), ("b", (4, 5), F)], lambda a, b: T(op("matmul", T(a), b)),
                        lambda a, b: op("matmul", T(b), a)),
    "t_matmul_t_right": ([("a", (3, 4), F), ("b", (5, 4), F)], lambda a, b: T(op("matmul", a, T(b))),
                         lambda a, b: op("matmul", b, T(a))),
    # constant folding
    "fold_constant": ([("x", (2,), F)],
                      lambda x: op("add", x, op("add", B.constant([1.0, 2.0], F), B.constant([3.0, 4.0], F))),
                      lambda x: op("add", x, B.constant([4.0, 6.0], F))),
    "splat_fold": ([X], lambda x: op("add", x, op("mul", op("broadcast_to", B.constant([[2.0]], F), shape=(3, 4)),
                                                  full(x, 3.0))),
                   lambda x: op("add", x, full(x, 6.0))),
    # stability
    "log_exp": ([X], lambda x: op("log", op("exp", x)), lambda x: op("add", x, full(x, 0.0))),
    "exp_log": ([X], lambda x: op("exp", op("log", x)),
                lambda x: op("where", op("lt", x, full(x, 0.0)), full(x, np.nan), op("abs", x))),
    "log1p": ([X], lambda x: op("log", op("add", full(x, 1.0), x)),
              lambda x: op("add", op("log1p", x), full(x, 0.0))),
    "log1p_sub": ([X], lambda x: op("log", op("sub", full(x, 1.0), x)),
                  lambda x: op("add", op("log1p", op("neg", x)), full(x, 0.0))),
    "expm1": ([X], lambda x: op("sub", op("exp", x), full(x, 1.0)), lambda x: op("add", op("expm1", x), full(x, 0.0))),
    "log_sigmoid": ([X], lambda x: op("log", op("sigmoid", x)),
                    lambda x: op("sub", op("minimum", x, full(x, 0.0)), op("log1p", op("exp", op("neg", op("abs", x)))))),
    "log_one_minus_sigmoid": ([X], lambda x: op("log", op("sub", full(x, 1.0), op("sigmoid", x))),
                              lambda x: op("sub", op("minimum", op("neg", x), full(x, 0.0)),
                                           op("log1p", op("exp", op("neg", op("abs", x)))))),
    "softplus": ([X], lambda x: op("log1p", op("exp", x)),
                 lambda x: op("add", op("maximum", x, full(x, 0.0)), op("log1p", op("exp", op("neg", op("abs", x)))))),
    "log_softmax": ([X, Y], lambda x, y: op("log", op("div", op("exp", x), op("exp", y))),
                    lambda x, y: op("sub", x, op("add", y, full(y, 0.0)))),
    "logsumexp": ([X], lambda x: op("log", op("reduce_sum", op("exp", x), axes=(1,), keepdims=True)),
                  lambda x: _stable_lse(x)),
    "sqrt_square": ([X], lambda x: op("sqrt", op("mul", x, x)), lambda x: op("abs", x)),
}


def _stable_lse(x):
    m = op("reduce_max", x, axes=(1,), keepdims=True)
    inf = op("eq", op("abs", m), full(m, np.inf))
    m = op("where", inf, full(m, 0.0), m)  # where(!finite...) flipped by where_not
    s = op("reduce_sum", op("exp", op("sub", x, op("broadcast_to", m, shape=(3, 4)))), axes=(1,), keepdims=True)
    return op("add", op("log", s), m)


def _safety_for(name):
    return FAST_MATH if SAFETY[name] in (NSZ, FINITE) else DEFAULT_SAFETY


def _build(specs, fn):
    ins = [bind("input", name=n, dtype=d, shape=s) for n, s, d in specs]
    out = fn(*ins)
    return Graph([out], ins), ins


def _arrays(specs, seed=0):
    rng = np.random.default_rng(seed)
    pool = np.concatenate([SPECIALS, rng.normal(size=48) * 3])
    out = []
    for k, (_, shape, dt) in enumerate(specs):
        n = int(np.prod(shape))
        if dt.kind == "f":
            out.append(np.resize(np.roll(pool, 5 * k), n).reshape(shape).astype(dt.np))
        elif dt.kind == "b":
            out.append(rng.random(shape) < 0.5)
        else:
            out.append(rng.integers(-5, 6, size=shape).astype(dt.np))
    return out


def test_every_rule_has_a_case():
    assert sorted(r.name for r in ALL_RULES) == sorted(CASES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES), "rule names must be unique"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_before_expected(name):
    specs, before_fn, expected_fn = CASES[name]
    before, ins = _build(specs, before_fn)
    expected = Graph([expected_fn(*ins)], ins)
    after = rewrite(before, ALL_RULES, _safety_for(name))
    assert after.structure_key() == expected.structure_key(), f"{name}:\n{after}\nexpected\n{expected}"


@pytest.mark.parametrize("name", sorted(n for n, s in SAFETY.items() if s in (NSZ, FINITE)))
def test_unsafe_rules_are_off_by_default(name):
    specs, before_fn, _ = CASES[name]
    before, _ = _build(specs, before_fn)
    after = rewrite(before, ALL_RULES, DEFAULT_SAFETY)
    assert after.structure_key() == before.structure_key()


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_values_by_safety_class(name):
    specs, before_fn, _ = CASES[name]
    before, _ = _build(specs, before_fn)
    after = rewrite(before, ALL_RULES, _safety_for(name))
    assert after.structure_key() != before.structure_key()
    for seed in range(3):
        arrays = _arrays(specs, seed)
        if SAFETY[name] == FINITE:
            arrays = [np.where(np.isfinite(a) & (a != 0), a, 1.5) if a.dtype.kind == "f" else a for a in arrays]
        (want,), (got,) = run(before, *arrays), run(after, *arrays)
        safety = SAFETY[name]
        if safety == EXACT and "matmul" not in name:
            assert same_bits(got, want), f"{name}: {got} != {want}"
        elif safety in (EXACT, NSZ, FINITE):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)
        else:
            _check_stable(name, want, got)


def _check_stable(name, want, got):
    assert want.dtype == got.dtype and want.shape == got.shape
    assert not np.any(np.isnan(got) & ~np.isnan(want)), f"{name} introduced a NaN"
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-300)
    zeros = fin & (want == 0) & (got == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros])), \
        f"{name} changed the sign of a zero"
    both_inf = np.isinf(want) & np.isinf(got)
    assert np.array_equal(got[both_inf], want[both_inf])


def test_cast_chain_rules():
    from graphflow.passes.algebraic import cast_chain_exact

    f16, f32, f64, i8, i32, u8 = gf.float16, gf.float32, gf.float64, gf.int8, gf.int32, gf.uint8
    assert cast_chain_exact(f32, f64, f16)  # exact widening, then one rounding
    assert not cast_chain_exact(f64, f32, f64)  # the narrowing rounds
    assert not cast_chain_exact(i32, f64, i8)  # float->int8 and int32->int8 wrap differently
    assert cast_chain_exact(i8, i32, u8)  # integer conversions are modular
    assert not cast_chain_exact(f16, f32, i8)
    assert cast_chain_exact(gf.bool, i8, f32)
    x = bind("input", name="x", dtype=f64, shape=(4,))
    g = Graph([op("cast", op("cast", x, dtype=f32), dtype=f64)], [x])
    assert rewrite(g, ALL_RULES).structure_key() == g.structure_key()


def test_cast_chain_values_agree_for_all_dtype_triples():
    from graphflow.ir.dtypes import ALL_DTYPES
    from graphflow.passes.algebraic import cast_chain_exact

    rng = np.random.default_rng(1)
    for t0 in ALL_DTYPES:
        if t0.kind == "f":
            base = np.concatenate([[np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -2.5, 1e4], rng.normal(size=24) * 50])
        elif t0.kind == "b":
            base = np.array([True, False])
        else:
            info = np.iinfo(t0.np)
            base = np.concatenate([[info.min, info.max, 0, -1 if info.min < 0 else 1], rng.integers(-100, 100, 24)])
        vals = base.astype(t0.np) if t0.kind != "f" or t0.name != "bfloat16" else base.astype(np.float32).astype(t0.np)
        if t0.kind in "iu":
            vals = np.clip(base, np.iinfo(t0.np).min, np.iinfo(t0.np).max).astype(t0.np)
        for t1 in ALL_DTYPES:
            for t2 in ALL_DTYPES:
                if not cast_chain_exact(t0, t1, t2):
                    continue
                x = bind("input", name="x", dtype=t0, shape=vals.shape)
                g = Graph([op("cast", op("cast", x, dtype=t1), dtype=t2)], [x])
                (want,), (got,) = run(g, vals), run(rewrite(g, ALL_RULES), vals)
                if t2.kind == "f" and t0.kind == "f":
                    assert same_bits(got, want), (t0, t1, t2)
                elif t2.kind in "iu" and t0.kind == "f":
                    fin = np.isfinite(vals.astype(np.float64))
                    assert np.array_equal(got[fin], want[fin]), (t0, t1, t2)
                else:
                    assert np.array_equal(got, want, equal_nan=t2.kind == "f"), (t0, t1, t2)


def test_rules_reach_a_fixed_point():
    x = bind("input", name="x", dtype=F, shape=(3, 4))
    y = op("neg", op("neg", op("neg", op("neg", op("mul", x, full(x, 1.0))))))
    y = op("reshape", op("reshape", op("reshape", y, shape=(12,)), shape=(2, 6)), shape=(3, 4))
    g = rewrite(Graph([y], [x]), ALL_RULES)
    assert g.outputs[0] is x
    assert rewrite(g, ALL_RULES) is g  # nothing left to do


def test_replacements_keep_the_source_location():
    x = bind("input", name="x", dtype=F, shape=(2, 3, 4))
    inner = op("permute", x, perm=(1, 2, 0))
    outer = op("permute", inner, perm=(1, 0, 2))  # the user's line
    out = rewrite(Graph([outer], [x]), ALL_RULES).outputs[0]
    assert out is not outer and out.op.name == "permute"
    assert out.loc == outer.loc and out.loc is not None and out.loc.file == __file__


def test_stable_rules_are_documented_as_such():
    for r in stability.RULES:
        assert r.safety == STABLE and r.doc
    for r in algebraic.RULES + fold.FOLD_RULES:
        assert r.safety in (EXACT, NSZ, FINITE) and r.doc
