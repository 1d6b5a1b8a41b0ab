"""cdist, cosine_similarity, pairwise_distance, prelu and log_sigmoid with their modules
(nn.CosineSimilarity, nn.PairwiseDistance, nn.PReLU) on eager tensors (each CPU backend): values
against SciPy and NumPy formulas, both cdist paths (matrix product and differences), batches
and views, gradients by central differences in float64 (finite, 0, at a zero distance), and
errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import distance as sd

import graphflow as gf
import graphflow.nn.functional as F
from graphflow import nn
from graphflow.errors import DTypeError, ShapeError

RNG = np.random.default_rng(29)
MODES = ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"]


def _t(a):
    return gf.tensor(np.asarray(a))


def _scipy(a, b, p):
    names = {0: "hamming", 1: "cityblock", 2: "euclidean", np.inf: "chebyshev"}
    if p not in names:
        return sd.cdist(a, b, "minkowski", p=p)
    out = sd.cdist(a, b, names[p])
    return out * a.shape[1] if p == 0 else out  # hamming is a fraction


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, 0.5, float("inf")])
@pytest.mark.parametrize("rows,cols", [(5, 4), (30, 3), (1, 1), (17, 26)])
def test_cdist_matches_scipy(p, rows, cols):
    a, b = RNG.standard_normal((rows, 3)), RNG.standard_normal((cols, 3))
    b[0] = a[0]  # one zero distance
    for mode in MODES:
        got = gf.cdist(_t(a), _t(b), p=p, compute_mode=mode)
        assert got.shape == (rows, cols)
        np.testing.assert_allclose(got.numpy(), _scipy(a, b, p), rtol=1e-9, atol=1e-7)


def test_cdist_batches_views_empty_and_float32():
    a, b = RNG.standard_normal((2, 4, 3)), RNG.standard_normal((1, 5, 3))
    got = gf.cdist(_t(a), _t(b)).numpy()
    assert got.shape == (2, 4, 5)
    for k in range(2):
        np.testing.assert_allclose(got[k], sd.cdist(a[k], b[0]), rtol=1e-12)
    base = RNG.standard_normal((3, 40))
    t = gf.tensor(base).t()  # (40, 3): a transposed view, > 25 rows, so the matrix product path
    np.testing.assert_allclose(gf.cdist(t, t[::3]).numpy(), sd.cdist(base.T, base.T[::3]), rtol=1e-9, atol=1e-7)
    assert gf.cdist(gf.zeros(0, 3), gf.zeros(4, 3)).shape == (0, 4)
    np.testing.assert_array_equal(gf.cdist(gf.zeros(2, 0), gf.zeros(3, 0)).numpy(), np.zeros((2, 3)))
    f = gf.cdist(gf.tensor(a[0], dtype=gf.float32), gf.tensor(b[0], dtype=gf.float32), p=1)
    assert f.dtype is gf.float32
    np.testing.assert_allclose(f.numpy(), sd.cdist(a[0], b[0], "cityblock"), rtol=1e-5)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("mode", [MODES[1], MODES[2]])
def test_cdist_gradients(check_grad, p, mode):
    a, b = RNG.standard_normal((3, 2)), RNG.standard_normal((4, 2))
    check_grad(lambda x, y: gf.cdist(x, y, p, mode), a, b)


@pytest.mark.parametrize("mode", MODES)
def test_cdist_gradient_is_zero_at_zero_distance(mode):
    a = gf.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=gf.float64, requires_grad=True)
    b = gf.tensor([[1.0, 2.0]], dtype=gf.float64, requires_grad=True)
    gf.cdist(a, b, compute_mode=mode).sum().backward()
    d = np.array([2.0, -3.0]) / np.sqrt(13.0)  # d|a1 - b| / d a1
    np.testing.assert_allclose(a.grad.numpy(), [[0.0, 0.0], d], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), [-d], rtol=1e-12, atol=1e-12)
    a.grad = None
    gf.cdist(a, b, p=3.0).sum().backward()
    assert np.isfinite(a.grad.numpy()).all() and (a.grad.numpy()[0] == 0).all()


def test_cdist_errors():
    with pytest.raises(ShapeError, match=r"cdist: x1 and x2 must have the same number of columns, got x1 \(2, 3\) "
                                         r"and x2 \(4, 5\)"):
        gf.cdist(gf.zeros(2, 3), gf.zeros(4, 5))
    with pytest.raises(ShapeError, match=r"cdist: expects at least 2-D inputs, got x1 \(3,\)"):
        gf.cdist(gf.zeros(3), gf.zeros(4, 3))
    with pytest.raises(DTypeError, match=r"cdist: expects floating-point inputs, got int64 for x1 \(1, 2\)"):
        gf.cdist(gf.tensor([[1, 2]]), gf.zeros(1, 2))
    with pytest.raises(ValueError, match="cdist: p must be non-negative, got -1"):
        gf.cdist(gf.zeros(1, 2), gf.zeros(1, 2), p=-1)
    with pytest.raises(ValueError, match="cdist: compute_mode must be one of"):
        gf.cdist(gf.zeros(1, 2), gf.zeros(1, 2), compute_mode="fast")


# ---- cosine similarity, pairwise distance ---------------------------------------------------
def _cos(a, b, axis, eps=1e-8):
    na = np.maximum(np.linalg.norm(a, axis=axis), eps)
    nb = np.maximum(np.linalg.norm(b, axis=axis), eps)
    return (a * b).sum(axis) / (na * nb)


@pytest.mark.parametrize("sa,sb,dim", [((4, 3), (4, 3), 1), ((4, 3), (1, 3), 1), ((2, 3, 5), (2, 3, 5), -1),
                                       ((2, 3, 5), (3, 5), 0), ((17,), (17,), 0)])
def test_cosine_similarity(sa, sb, dim):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    a2, b2 = np.broadcast_arrays(a, b)
    np.testing.assert_allclose(F.cosine_similarity(_t(a), _t(b), dim).numpy(), _cos(a2, b2, dim), rtol=1e-12)
    np.testing.assert_allclose(nn.CosineSimilarity(dim)(_t(a), _t(b)).numpy(), _cos(a2, b2, dim), rtol=1e-12)
    np.testing.assert_allclose(gf.cosine_similarity(_t(a), _t(b), dim).numpy(), _cos(a2, b2, dim), rtol=1e-12)


def test_cosine_similarity_zero_vectors_views_and_gradient(check_grad):
    z = F.cosine_similarity(gf.zeros(2, 3, dtype=gf.float64), _t(RNG.standard_normal((2, 3))))
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])
    base = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(F.cosine_similarity(gf.tensor(base).t(), gf.tensor(base.T.copy()), dim=0).numpy(),
                               np.ones(3), rtol=1e-12)
    check_grad(lambda x, y: F.cosine_similarity(x, y, dim=1), RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)))
    x = gf.zeros(1, 3, dtype=gf.float64, requires_grad=True)
    F.cosine_similarity(x, _t(np.ones((1, 3)))).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    expected = np.linalg.norm(a - b + 1e-6, ord=p, axis=-1, keepdims=keepdim)
    np.testing.assert_allclose(F.pairwise_distance(_t(a), _t(b), p, keepdim=keepdim).numpy(), expected, rtol=1e-12)
    module = nn.PairwiseDistance(p=p, keepdim=keepdim)
    np.testing.assert_allclose(module(_t(a), _t(b)).numpy(), expected, rtol=1e-12)
    one = F.pairwise_distance(_t(a[0]), _t(b[:2]), p)
    np.testing.assert_allclose(one.numpy(), np.linalg.norm(a[0] - b[:2] + 1e-6, ord=p, axis=-1), rtol=1e-12)


def test_pairwise_distance_gradient_and_errors(check_grad):
    a = RNG.standard_normal((3, 4))
    check_grad(lambda x, y: F.pairwise_distance(x, y), a, RNG.standard_normal((3, 4)))
    check_grad(lambda x, y: F.pairwise_distance(x, y, p=1.0), a, a + 0.3)
    with pytest.raises(ShapeError, match=r"pairwise_distance: x1 \(3, 4\) and x2 \(2, 4\) do not broadcast"):
        F.pairwise_distance(gf.zeros(3, 4), gf.zeros(2, 4))
    with pytest.raises(ShapeError, match=r"cosine_similarity: x1 \(3, 4\) and x2 \(3, 5\) do not broadcast"):
        F.cosine_similarity(gf.zeros(3, 4), gf.zeros(3, 5))


# ---- prelu, log_sigmoid -------------------------------------------------------------------
def test_prelu_function_and_module(check_grad):
    x = RNG.standard_normal((2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    expected = np.where(x > 0, x, w.reshape(1, 3, 1) * x)
    np.testing.assert_allclose(F.prelu(_t(x), _t(w)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(F.prelu(_t(x), _t([0.5])).numpy(), np.where(x > 0, x, 0.5 * x), rtol=1e-12)
    m = nn.PReLU(3)
    assert m.weight.shape == (3,) and m.weight.tolist() == [0.25] * 3 and repr(m) == "PReLU(num_parameters=3)"
    out = m(gf.tensor(x, dtype=gf.float32))
    out.sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), np.where(x > 0, 0, x).sum((0, 2)), rtol=1e-5)
    single = nn.PReLU(init=0.1)
    np.testing.assert_allclose(single(gf.tensor(x[0, 0], dtype=gf.float32)).detach().numpy(),
                               np.where(x[0, 0] > 0, x[0, 0], 0.1 * x[0, 0]), rtol=1e-6)
    assert [n for n, _ in single.named_parameters()] == ["weight"]
    check_grad(lambda v, a: F.prelu(v, a), x[:, :, :2], w)
    with pytest.raises(ShapeError, match=r"prelu: 2 parameters for 3 channel\(s\) of input \(2, 3, 4\)"):
        F.prelu(_t(x), _t([0.1, 0.2]))
    with pytest.raises(ShapeError, match=r"prelu: weight must be a scalar or 1-D tensor, got \(1, 3\)"):
        F.prelu(_t(x), _t([[0.1, 0.2, 0.3]]))


def test_log_sigmoid_alias():
    x = np.array([-1000.0, -3.0, 0.0, 2.0, 1000.0])
    assert F.log_sigmoid is F.logsigmoid
    np.testing.assert_allclose(F.log_sigmoid(_t(x)).numpy(), -np.logaddexp(0, -x), rtol=1e-12)


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((30, 3)), RNG.standard_normal((4, 3))
    for p in (2.0, 1.0, 0.5):
        np.testing.assert_allclose(gf.cdist(_t(a), _t(b), p).numpy(),
                                   torch.cdist(torch.tensor(a), torch.tensor(b), p).numpy(), rtol=1e-9)
    np.testing.assert_allclose(F.cosine_similarity(_t(a[:4]), _t(b)).numpy(),
                               torch.nn.functional.cosine_similarity(torch.tensor(a[:4]), torch.tensor(b)).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(F.pairwise_distance(_t(a[:4]), _t(b)).numpy(),
                               torch.nn.functional.pairwise_distance(torch.tensor(a[:4]), torch.tensor(b)).numpy(),
                               rtol=1e-12)
    ta = torch.tensor(a[:4], requires_grad=True)
    torch.cdist(ta, torch.tensor(a[:1])).sum().backward()
    ga = gf.tensor(a[:4], requires_grad=True)
    gf.cdist(ga, _t(a[:1])).sum().backward()
    np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
