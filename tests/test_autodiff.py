"""Symbolic reverse-mode autodiff: semantics of `grad` (unconnected inputs, integer paths, seeds,
graph inputs as leaves, total derivatives), higher orders, and very deep graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graphflow.autodiff import grad
from graphflow.backends import get_backend
from graphflow.errors import GraphError
from graphflow.ir import Graph, OpDef, bind, make_node
from graphflow.ir import builder as B
from graphflow.ir.dtypes import float32, float64, int64
from graphflow.ir.graph import TensorType
from tests.ir.gradcheck import GradientMismatch, check_grad


def inp(shape, dtype=float64, name="x"):
    return bind("input", name=name, dtype=dtype, shape=shape)


def run(outputs, inputs, arrays):
    return get_backend("numpy").compile(Graph(outputs, inputs)).run(arrays)


def test_unconnected_input_gets_none():
    x, z = inp((3,)), inp((3,), name="z")
    y = bind("reduce_sum", bind("exp", x))
    gx, gz = grad(None, [y], [x, z])
    assert gz is None and gx is not None


def test_integer_paths_carry_no_gradient():
    x = inp((4,))
    k = bind("argmax", x, axis=0)  # int64: not differentiable, and no gradient flows through ints
    as_float = bind("cast", bind("cast", x, dtype=int64), dtype=float64)
    assert grad(None, [bind("cast", k, dtype=float64)], [x]) == [None]
    assert grad(None, [bind("reduce_sum", as_float)], [x]) == [None]
    assert grad(None, [k], [x]) == [None]  # an integer output is not differentiated at all


def test_gradient_through_gather_of_argmax_reaches_the_max_only():
    x = inp((5,))
    idx = bind("reshape", bind("argmax", x, axis=0), shape=(1,))
    y = bind("reduce_sum", bind("gather", x, idx, axis=0))
    (gx,) = grad(None, [y], [x])
    (out,) = run([gx], [x], [np.array([1.0, 7.0, 3.0, 7.0, -2.0])])
    np.testing.assert_array_equal(out, [0, 1, 0, 0, 0])


def test_broadcasting_is_summed_back_to_the_input_shape():
    x = inp((3, 1))
    y = bind("reduce_sum", bind("broadcast_to", x, shape=(2, 3, 4)))
    (gx,) = grad(None, [y], [x])
    assert gx.shape == (3, 1)
    (out,) = run([gx], [x], [np.ones((3, 1))])
    np.testing.assert_array_equal(out, np.full((3, 1), 8.0))


def test_default_seed_is_ones_and_sums_non_scalar_outputs():
    x = inp((3,))
    (gx,) = grad(None, [bind("mul", x, x)], [x])
    (out,) = run([gx], [x], [np.array([1.0, 2.0, 3.0])])
    np.testing.assert_array_equal(out, [2.0, 4.0, 6.0])


def test_seeds_weight_each_output_and_contributions_add_up():
    x = inp((2,))
    y1, y2 = bind("mul", x, x), bind("sin", x)
    s1 = B.constant(np.array([1.0, 10.0]), float64)
    (gx,) = grad(None, [y1, y2], [x], seeds=[s1, None])
    xv = np.array([0.5, -1.0])
    (out,) = run([gx], [x], [xv])
    np.testing.assert_allclose(out, np.array([1.0, 10.0]) * 2 * xv + np.cos(xv))


def test_seed_must_match_the_output_type():
    x = inp((2,))
    y = bind("exp", x)
    with pytest.raises(ValueError, match="seed of type float64\\(3,\\)"):
        grad(None, [y], [x], seeds=[B.constant(np.zeros(3), float64)])
    with pytest.raises(ValueError, match="seed of type float32"):
        grad(None, [y], [x], seeds=[B.constant(np.zeros(2, np.float32), float32)])
    with pytest.raises(ValueError, match="2 seeds for 1 outputs"):
        grad(None, [y], [x], seeds=[None, None])


def test_total_derivative_when_one_x_depends_on_another():
    # y = x2 * x1 with x2 = x1 * x1: dy/dx1 = 3 x1^2 whether or not x2 is also asked for
    x1 = inp((3,))
    x2 = bind("mul", x1, x1)
    y = bind("reduce_sum", bind("mul", x2, x1))
    g_both = grad(None, [y], [x1, x2])
    (g_alone,) = grad(None, [y], [x1])
    xv = np.array([1.0, -2.0, 0.5])
    a, b, c = run([g_both[0], g_both[1], g_alone], [x1], [xv])
    np.testing.assert_allclose(a, 3 * xv**2)
    np.testing.assert_allclose(c, 3 * xv**2)
    np.testing.assert_allclose(b, xv)


def test_graph_inputs_are_leaves():
    x = inp((3,))
    h = bind("exp", x)
    y = bind("reduce_sum", bind("mul", h, h))
    # with h a graph input (a realised value), differentiation stops there
    assert grad(Graph([y], [h]), [y], [x]) == [None]
    (gh,) = grad(Graph([y], [h]), [y], [h])
    (out,) = run([gh], [h], [np.array([1.0, 2.0, 3.0])])
    np.testing.assert_array_equal(out, [2.0, 4.0, 6.0])


def test_y_that_is_x():
    x = inp((2, 2))
    (g,) = grad(None, [x], [x])
    (out,) = run([g], [x], [np.zeros((2, 2))])
    np.testing.assert_array_equal(out, np.ones((2, 2)))


def test_wrong_vjp_is_reported():
    bad = OpDef("bad_square", "elementwise", lambda types, attrs: types[0],
                lambda arrays, attrs: arrays[0] ** 2,
                lambda node, g: [bind("reduce_sum", g)])  # wrong: a scalar cotangent for a vector input
    x = inp((3,))
    y = make_node(bad, (x,), {})
    with pytest.raises(GraphError, match="vjp of bad_square gave a cotangent float64\\(\\) for an input float64\\(3,\\)"):
        grad(None, [y], [x])
    few = OpDef("bad_arity", "elementwise", lambda types, attrs: types[0], lambda arrays, attrs: arrays[0],
                lambda node, g: [])
    with pytest.raises(GraphError, match="returned 0 cotangents for 1 inputs"):
        grad(None, [make_node(few, (x,), {})], [x])


def test_checker_catches_a_wrong_gradient():
    wrong = OpDef("wrong_sin", "elementwise", lambda types, attrs: types[0],
                  lambda arrays, attrs: np.sin(arrays[0]),
                  lambda node, g: [bind("mul", g, bind("sin", node.inputs[0]))])  # should be cos
    with pytest.raises(GradientMismatch, match="differs from finite differences"):
        check_grad(lambda x: make_node(wrong, (x,), {}), [np.array([0.3, 1.2])])


def test_second_order_of_a_cube():
    x = inp((4,))
    y = bind("reduce_sum", bind("mul", x, bind("mul", x, x)))
    (g,) = grad(None, [y], [x])
    (gg,) = grad(None, [bind("reduce_sum", g)], [x])
    xv = np.array([1.0, -2.0, 0.5, 0.0])
    g_v, gg_v = run([g, gg], [x], [xv])
    np.testing.assert_allclose(g_v, 3 * xv**2)
    np.testing.assert_allclose(gg_v, 6 * xv)


def test_third_order_of_sin():
    x = inp((3,))
    y = bind("sin", x)
    for _ in range(3):
        (y,) = grad(None, [y], [x])
    xv = np.array([0.1, 1.0, -2.0])
    (out,) = run([y], [x], [xv])
    np.testing.assert_allclose(out, -np.cos(xv))


def test_second_order_of_a_composite_vs_finite_differences():
    # Hessian-vector products of a small network: grad of (grad . v) checked numerically
    rng = np.random.default_rng(0)
    w, xv = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))

    def loss_grad(x, w_):
        h = bind("tanh", bind("matmul", x, w_))
        loss = bind("reduce_sum", bind("mul", h, bind("sigmoid", h)))
        return grad(None, [loss], [x, w_])

    check_grad(loss_grad, [xv, w], rtol=1e-4, atol=1e-6)


def test_second_order_of_prod_with_zeros():
    # the rule for zeros must itself be differentiable: rows with one and with two zeros
    xv = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [0.0, 0.0, 0.0], [1.5, -2.0, 0.5]])

    def first(x):
        y = bind("reduce_prod", x, axes=(1,), keepdims=False)
        return grad(None, [y], [x])

    check_grad(first, [xv], rtol=1e-5, atol=1e-6)


def test_max_ties_share_the_gradient():
    x = inp((4,))
    (g,) = grad(None, [bind("reduce_max", x, axes=(0,), keepdims=False)], [x])
    (out,) = run([g], [x], [np.array([1.0, 3.0, 3.0, 3.0])])
    np.testing.assert_allclose(out, [0, 1 / 3, 1 / 3, 1 / 3])
    y = bind("maximum", x, inp((4,), name="z"))
    gx, gz = grad(None, [y], [x, y.inputs[1]])
    a, b = run([gx, gz], [x, y.inputs[1]], [np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 5.0, 3.0, 0.0])])
    np.testing.assert_array_equal(a, [0.5, 0, 0.5, 1])
    np.testing.assert_array_equal(b, [0.5, 1, 0.5, 0])


def test_max_of_a_group_with_nan_gives_nan_gradients_as_torch_amax():
    x = inp((2, 3))
    (g,) = grad(None, [bind("reduce_max", x, axes=(1,), keepdims=False)], [x])
    (out,) = run([g], [x], [np.array([[1.0, np.nan, 2.0], [4.0, 5.0, 3.0]])])
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(out[1], [0, 1, 0])


def test_pow_gradients_at_zero_are_finite():
    x, p = inp((3,)), inp((3,), name="p")
    gx, gp = grad(None, [bind("pow", x, p)], [x, p])
    a, b = run([gx, gp], [x, p], [np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 3.0])])
    np.testing.assert_array_equal(a, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(b, [0.0, 0.0, 8 * math.log(2.0)])


def test_ten_thousand_deep_chain_differentiates():
    depth = 10_000
    x = inp(())
    c = B.constant(np.float64(1.0001), float64)
    y = x
    for _ in range(depth):
        y = bind("mul", y, c)
    (g,) = grad(None, [y], [x])
    (out,) = run([g], [x], [np.float64(2.0)])
    np.testing.assert_allclose(out, 1.0001**depth, rtol=1e-9)


def test_deep_chain_of_transcendentals_matches_the_chain_rule():
    depth = 2_000
    x = inp(())
    y = x
    for _ in range(depth):
        y = bind("sin", y)
    (g,) = grad(None, [y], [x])
    (out,) = run([g], [x], [np.float64(0.7)])
    v, d = 0.7, 1.0
    for _ in range(depth):
        d *= math.cos(v)
        v = math.sin(v)
    np.testing.assert_allclose(out, d, rtol=1e-9)


def test_wide_fan_out_is_summed_once_per_use():
    x = inp((2,))
    terms = [bind("mul", x, B.constant(np.full(2, float(k)), float64)) for k in range(50)]
    total = terms[0]
    for t in terms[1:]:
        total = bind("add", total, t)
    (g,) = grad(None, [total], [x])
    (out,) = run([g], [x], [np.zeros(2)])
    np.testing.assert_array_equal(out, [sum(range(50))] * 2)


def test_gradient_nodes_have_the_input_types():
    for dtype in (float32, float64):
        x = inp((2, 3), dtype=dtype)
        y = bind("reduce_sum", bind("tanh", x), axes=(1,), keepdims=False)
        (g,) = grad(None, [y], [x])
        assert g.type == TensorType(dtype, (2, 3))
