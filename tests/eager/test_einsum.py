"""gf.einsum on eager tensors (each CPU backend): explicit and implicit outputs, diagonals,
sums, outer products, batches and ellipses against np.einsum; awkward shapes, views, integer
operands, gradients by central differences in float64, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import ShapeError

RNG = np.random.default_rng(17)

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("i,i->", [(5,), (5,)]), ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(3, 4), (2, 4, 5)]),
    ("iij->ij", [(3, 3, 2)]), ("iji->j", [(2, 3, 2)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]), ("ji", [(2, 3)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]), ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 5)]),
    ("abc,abc->ab", [(2, 3, 4), (2, 3, 4)]), (",ij->ij", [(), (2, 3)]), ("i,i,i->i", [(4,), (4,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,kl->ijkl", [(2, 3), (4, 5)]), ("ii->", [(0, 0)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]), ("ab,ac,d->d", [(2, 3), (2, 4), (5,)]), ("i...,i...->...", [(3, 2, 1), (3, 1, 4)]),
    ("Ab,bC->AC", [(2, 3), (3, 2)]), (" i j , j k -> i k ", [(1, 17), (17, 1)]), ("i,j,k->", [(2,), (3,), (4,)]),
    ("ij,ij,jk->ik", [(2, 3), (2, 3), (3, 4)]), ("ij->j", [(1, 17)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_numpy(eq, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    got = gf.einsum(eq, *[gf.tensor(a) for a in arrays])
    expected = np.einsum(eq, *arrays)
    assert got.shape == expected.shape and got.dtype is gf.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_einsum_operand_list_views_and_dtypes():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((6, 5))
    ta, tb = gf.tensor(a).t(), gf.tensor(b)[::2, 1:]  # (3, 4) transposed, (3, 4) strided
    np.testing.assert_allclose(gf.einsum("ij,ij->i", [ta, tb]).numpy(), np.einsum("ij,ij->i", a.T, b[::2, 1:]),
                               rtol=1e-12)
    i = np.arange(6, dtype=np.int64).reshape(2, 3)
    out = gf.einsum("ij,kj->ik", gf.tensor(i), gf.tensor(i))
    assert out.dtype is gf.int64
    np.testing.assert_array_equal(out.numpy(), i @ i.T)
    mixed = gf.einsum("i,i->", gf.tensor([1, 2], dtype=gf.int32), gf.tensor([0.5, 0.25], dtype=gf.float32))
    assert mixed.dtype is gf.float32 and mixed.item() == 1.0
    f32 = gf.einsum("bij,bjk->bik", gf.randn(2, 3, 4), gf.randn(2, 4, 5))
    assert f32.dtype is gf.float32 and f32.shape == (2, 3, 5)


def test_einsum_broadcasts_sizes_of_one():
    a, b = RNG.standard_normal((2, 1)), RNG.standard_normal((3, 4))
    # as torch.einsum: j has size 1 in a and 3 in b, so a's column is repeated over j
    np.testing.assert_allclose(gf.einsum("ij,jk->ik", gf.tensor(a), gf.tensor(b)).numpy(),
                               a * b.sum(0, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("i,j->ij", [(3,), (2,)]), ("...ij,...jk", [(2, 2, 3), (3, 2)]), ("iji->j", [(2, 3, 2)]),
    ("ab,bc,cd->ad", [(2, 3), (3, 2), (2, 2)]), ("ij->", [(2, 3)]),
])
def test_einsum_gradients(check_grad, eq, shapes):
    check_grad(lambda *ts: gf.einsum(eq, *ts) * 1.5, *[RNG.standard_normal(s) for s in shapes])


def test_einsum_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"einsum: the equation 'ij,jk' names 2 operand\(s\) but 1 were given"):
        gf.einsum("ij,jk", gf.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"einsum: subscript 'j' has size 3 in one operand and 4 in operand 1 "
                                         r"\(shapes \(2, 3\), \(4, 5\)\)"):
        gf.einsum("ij,jk->ik", gf.zeros(2, 3), gf.zeros(4, 5))
    with pytest.raises(ShapeError, match=r"einsum: the subscripts 'ij' do not fit operand shape \(2, 3, 4\)"):
        gf.einsum("ij->i", gf.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="einsum: output subscript 'k' appears in no input"):
        gf.einsum("ij->k", gf.zeros(2, 3))
    with pytest.raises(ValueError, match="einsum: output subscripts repeat"):
        gf.einsum("ij->ii", gf.zeros(2, 3))
    with pytest.raises(ValueError, match=r"einsum: invalid subscript '1'"):
        gf.einsum("i1->i", gf.zeros(2, 3))
    with pytest.raises(ValueError, match="einsum: needs at least one operand"):
        gf.einsum("ij")


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    a, b, d = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5)), RNG.standard_normal((2, 3, 3))
    for eq, ops in (("bij,bjk->bik", (a, b)), ("bij,bjk", (a, b)), ("bii->bi", (d,)), ("bij->", (a,)),
                    ("...ij,...jk->...ik", (a, b)), ("bij,bkj->bik", (a, a))):
        np.testing.assert_allclose(gf.einsum(eq, *map(gf.tensor, ops)).numpy(),
                                   torch.einsum(eq, *map(torch.tensor, ops)).numpy(), rtol=1e-12)
