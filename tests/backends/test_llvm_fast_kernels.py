"""The llvm backend's fast paths for memory-sized elementwise chains and row reductions: exp's
clamped argument (overflow to inf and underflow to 0 by the scaling itself, NaN through the
arithmetic), tanh's shorter exp, interleaved loops over long reduced rows (softmax) around their
thresholds, and outputs of big kernels reused only once the caller has dropped them."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.backends.llvm import codegen
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


def inp(name, shape, dtype="float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def compiled(fn, *shapes):
    xs = [inp(f"x{k}", s) for k, s in enumerate(shapes)]
    return get_backend("llvm").compile(Graph([fn(*xs)], xs))


def ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    spacing = np.maximum(np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64),
                         np.spacing(np.float32(0)))
    return np.abs(got.astype(np.float64) - exact) / spacing


# --- exp at the edges of its clamp ------------------------------------------------------------------
EXP_EDGES = np.array([88.0, 88.72283, 88.722832, 88.72283935546875, 88.7228394, 88.73, 88.9, 89.0, 89.5, 1e4,
                      np.inf, -87.3, -100.0, -103.2789, -103.5, -103.9, -103.97, -103.972084045410,
                      -103.9721, -104.0, -104.5, -150.0, -1e4, -np.inf, 0.0, -0.0, 1e-45, -1e-45],
                     np.float32)


def test_exp_edges_match_float64_rounding():
    x = np.concatenate([EXP_EDGES, np.nextafter(EXP_EDGES, np.float32(np.inf)),
                        np.nextafter(EXP_EDGES, np.float32(-np.inf))]).astype(np.float32)
    got = compiled(ops.exp, x.shape).run([x])[0]
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float64))
        rounded = exact.astype(np.float32)
    # overflow and underflow exactly where float32 rounding puts them
    assert np.array_equal(np.isinf(got), np.isinf(rounded)), x[np.isinf(got) != np.isinf(rounded)]
    assert np.array_equal(got == 0, rounded == 0), x[(got == 0) != (rounded == 0)]
    finite = np.isfinite(rounded) & (rounded > 0)
    # subnormal results: within one unit of the smallest subnormal; normal ones within 2 ulp
    assert ulp_error(got[finite], exact[finite]).max() <= 2


def test_exp_nan_passes_through_the_clamp():
    x = np.array([np.nan, -np.nan, 1.0, np.nan], np.float32)
    got = compiled(ops.exp, x.shape).run([x])[0]
    assert np.isnan(got[[0, 1, 3]]).all() and got[2] == np.float32(np.e)


# --- tanh ----------------------------------------------------------------------------------------------
def test_tanh_within_two_ulp_densely_around_its_branches():
    rng = np.random.default_rng(3)
    edges = [0.0, 0.625, 10.0]
    x = np.concatenate([rng.uniform(-12, 12, 200_001)] + [rng.uniform(e - 0.01, e + 0.01, 20_001) for e in edges]
                       + [np.array([0.625, -0.625, 10.0, -10.0, 9.99999, 4e-39, -4e-39], np.float32)]).astype(np.float32)
    got = compiled(ops.tanh, x.shape).run([x])[0]
    err = ulp_error(got, np.tanh(x.astype(np.float64)))
    assert err.max() <= 2, f"{err.max():.2f} ulp at x={x[err.argmax()]!r}"


def test_tanh_specials():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 30.0, -30.0, 1e-30, -1e-30], np.float32)
    got = compiled(ops.tanh, x.shape).run([x])[0]
    assert np.isnan(got[0])
    assert got[1:3].tolist() == [1.0, -1.0] and got[5:7].tolist() == [1.0, -1.0]
    assert np.signbit(got[4]) and not np.signbit(got[3])
    assert got[7] == np.float32(1e-30) and got[8] == np.float32(-1e-30)


# --- the GELU chain at sizes around the interleaving threshold ---------------------------------------
def gelu(x):
    y = ops.add(ops.mul(x, 1.5), 0.25)
    inner = ops.mul(ops.add(y, ops.mul(ops.mul(ops.mul(y, y), y), 0.044715)), 0.79788)
    return ops.mul(ops.mul(y, 0.5), ops.add(ops.tanh(inner), 1.0))


def gelu_ref(a: np.ndarray) -> np.ndarray:
    y = a.astype(np.float64) * 1.5 + 0.25
    with np.errstate(invalid="ignore"):  # inf * 0 at x = -inf, as the compiled chain gives it
        return 0.5 * y * (1 + np.tanh(0.79788 * (y + 0.044715 * y ** 3)))


@pytest.mark.parametrize("n", [0, 1, 7, 9, codegen.INTERLEAVE_MIN_ELEMENTS - 1, codegen.INTERLEAVE_MIN_ELEMENTS,
                               codegen.INTERLEAVE_MIN_ELEMENTS + 13])
def test_gelu_chain_sizes(n):
    a = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 3
    if n > 4:
        a[:4] = [np.nan, np.inf, -np.inf, -0.0]
    got = compiled(gelu, (n,)).run([a])[0]
    np.testing.assert_allclose(got, gelu_ref(a), rtol=3e-6, atol=1e-6)


# --- softmax rows around the row interleaving threshold ---------------------------------------------
def softmax_ref(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ROW = codegen.ROW_INTERLEAVE_MIN


@pytest.mark.parametrize("cols", [1, 7, ROW - 1, ROW, ROW + 1, 1000, 1031])
def test_softmax_rows(cols):
    rows = max(2, -(-codegen.INTERLEAVE_MIN_ELEMENTS // cols))  # big enough for the interleaved loops
    a = np.random.default_rng(cols).standard_normal((rows, cols)).astype(np.float32) * 4
    got = compiled(lambda x: ops.softmax(x, -1), a.shape).run([a])[0]
    np.testing.assert_allclose(got, softmax_ref(a), rtol=2e-5, atol=1e-7)


def test_softmax_rows_with_nan_inf_and_huge_values():
    cols = 2 * ROW + 3
    rows = -(-codegen.INTERLEAVE_MIN_ELEMENTS // cols)
    a = np.random.default_rng(5).standard_normal((rows, cols)).astype(np.float32)
    a[0, 17] = np.nan            # a NaN row stays NaN
    a[1, cols - 1] = np.inf      # an inf makes its row NaN (inf - inf), as in NumPy
    a[2, :] = -np.inf            # all -inf: NaN
    a[3, 5] = 1e30               # one dominant value: a one-hot row
    a[4, :] = 3e38               # equal huge values: uniform
    got = compiled(lambda x: ops.softmax(x, -1), a.shape).run([a])[0]
    with np.errstate(invalid="ignore"):
        want = softmax_ref(a)
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all() and np.isnan(got[2]).all()
    assert got[3, 5] == 1 and (np.delete(got[3], 5) == 0).all()
    np.testing.assert_allclose(got[4], np.full(cols, 1 / cols), rtol=1e-6)
    np.testing.assert_allclose(got[5:], want[5:], rtol=2e-5, atol=1e-7)


# --- outputs of a big kernel: reused only once dropped ----------------------------------------------
def test_big_outputs_never_alias_a_held_result():
    n = codegen.INTERLEAVE_MIN_ELEMENTS * 4 + 3
    ex = compiled(gelu, (n,))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    first = ex.run([a])[0]
    kept = first.copy()
    second = ex.run([b])[0]
    assert not np.shares_memory(first, second)
    assert np.array_equal(first, kept)  # the held result was not overwritten
    view = second[10:20]
    del second
    third = ex.run([a])[0]  # the view keeps the second block alive: still not reused
    assert not np.shares_memory(view, third) and not np.shares_memory(first, third)
    np.testing.assert_array_equal(third, kept)
    np.testing.assert_allclose(view, gelu_ref(b[10:20]), rtol=3e-6, atol=1e-6)
