"""Property tests: random graphs compute the same values before and after the whole pipeline (and
kernel by kernel after fusion), NaN and inf included."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphflow as gf
import graphflow.ops as O
from graphflow.ir import Graph, bind
from graphflow.ir import builder as B
from graphflow.passes import algebraic, fold
from graphflow.passes.cse import cse
from graphflow.passes.dce import dce
from graphflow.passes.fusion import partition
from graphflow.passes.patterns import EXACT
from graphflow.passes.pipeline import run_pipeline
from graphflow.passes.rewrite import rewrite

from .conftest import SPECIALS, run, same_bits
from .partition_exec import check_memory_plan, run_partitioned

SHAPE = (3, 4)
UNARY = ["neg", "abs", "exp", "log", "tanh", "sigmoid", "sqrt", "log1p", "expm1", "sin"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]


def _apply(kind, arg, a, b):
    """One step of a random program; patterns the rewrites look for are over-represented."""
    F = a.dtype
    table = {
        "unary": lambda: bind(UNARY[arg % len(UNARY)], a),
        "binary": lambda: bind(BINARY[arg % len(BINARY)], a, b),
        "mul_one": lambda: O.mul(a, 1.0),
        "add_zero": lambda: O.add(a, [0.0, -0.0][arg % 2]),
        "sub_self": lambda: O.sub(a, a),
        "neg_neg": lambda: O.neg(O.neg(a)),
        "log1p": lambda: O.log(O.add(1.0, a)),
        "log_sigmoid": lambda: O.log(O.sigmoid(a)),
        "log_exp": lambda: O.log(O.exp(a)),
        "exp_log": lambda: O.exp(O.log(a)),
        "softmax": lambda: O.log(O.softmax(a, dim=arg % 2)),
        "row_sum": lambda: O.broadcast_to(O.sum(a, arg % 2, keepdim=True), SHAPE),
        "reshape": lambda: O.reshape(O.reshape(a, (12,)), SHAPE),
        "permute": lambda: O.permute(O.permute(a, (1, 0)), (1, 0)),
        "splat": lambda: O.mul(a, O.add(B.full_like(a, 2.0), B.full_like(a, 0.5))),
        "where": lambda: O.where(O.gt(a, b), a, O.neg(b)),
        "cast": lambda: O.cast(O.cast(a, gf.float32 if arg % 2 else F), F),
        "matmul": lambda: O.matmul(O.t(O.matmul(b, O.t(a))), a),
    }
    return table[kind]()


KINDS = ["unary", "binary", "mul_one", "add_zero", "sub_self", "neg_neg", "log1p", "log_sigmoid", "log_exp",
         "exp_log", "softmax", "row_sum", "reshape", "permute", "splat", "where", "cast"]


# the stability rewrites change rounding, and a comparison can flip on a rounding difference, so
# the full pipeline is checked on continuous programs (comparisons are in the bit-exact test)
CONTINUOUS = (*(k for k in KINDS if k != "where"), "matmul")


@st.composite
def programs(draw, kinds=CONTINUOUS):
    steps = draw(st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 50), st.integers(0, 50),
                                    st.integers(0, 50)), min_size=1, max_size=12))
    n_out = draw(st.integers(1, 3))
    return steps, n_out


def _build(program):
    steps, n_out = program
    x, y = bind("input", name="x", dtype=gf.float64, shape=SHAPE), bind("input", name="y", dtype=gf.float64, shape=SHAPE)
    pool = [x, y]
    for kind, arg, i, j in steps:
        pool.append(_apply(kind, arg, pool[i % len(pool)], pool[j % len(pool)]))
    return Graph(pool[-n_out:], [x, y])


def _overflows(g, arrays) -> bool:
    """Does some value inside the original graph overflow? Then a stability rewrite that avoids
    the overflow (log(exp(x)) -> x) may give finite results where the original's inf turned into
    NaN further on (sin(inf))."""
    inner = Graph([n for n in g.nodes if n.op.name != "input"], list(g.inputs))
    return any(np.isinf(v).any() for v in run(inner, *arrays))


def _inputs(seed, specials):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(2, 12)) * 2
    if specials:
        for row in base:
            pick = rng.choice(len(SPECIALS), size=4)
            row[rng.choice(12, size=4, replace=False)] = SPECIALS[pick]
    return [base[0].reshape(SHAPE), base[1].reshape(SHAPE)]


EXACT_PASSES = [("dce", dce), ("cse", cse), ("fold", fold.fold_constants),
                ("simplify", lambda g: rewrite(g, [*algebraic.RULES, *fold.FOLD_RULES], frozenset({EXACT}))),
                ("cse", cse), ("dce", dce)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(kinds=tuple(KINDS)), st.integers(0, 2**31 - 1))  # (matmul sums may reassociate)
def test_exact_passes_give_bit_identical_results(program, seed):
    g = _build(program)
    opt = run_pipeline(g, EXACT_PASSES, verify=True)
    arrays = _inputs(seed, specials=True)
    for want, got in zip(run(g, *arrays), run(opt, *arrays)):
        assert same_bits(got, want), f"{g}\n->\n{opt}\n{want}\n{got}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31 - 1), st.booleans())
def test_full_pipeline_and_fusion_preserve_values(program, seed, specials):
    g = _build(program)
    opt = run_pipeline(g, verify=True)
    arrays = _inputs(seed, specials)
    want = run(g, *arrays)
    got = run(opt, *arrays)
    for w, o in zip(want, got):
        # stability rewrites may turn an overflow (inf, or NaN from inf - inf) into the finite
        # answer; everywhere the original is finite the values agree, and no NaN is introduced
        fin = np.isfinite(w)
        np.testing.assert_allclose(o[fin], w[fin], rtol=1e-7, atol=1e-9)
        assert not np.any(np.isnan(o) & ~np.isnan(w))
        inf = np.isinf(w) & np.isinf(o)
        assert np.array_equal(o[inf], w[inf])
        if not specials and not _overflows(g, arrays):
            assert np.array_equal(np.isnan(o), np.isnan(w))
    pg = partition(opt)
    check_memory_plan(pg)
    for a, b in zip(got, run_partitioned(pg, arrays)):
        assert same_bits(b, a)
