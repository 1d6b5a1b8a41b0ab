"""The NumPy references every result is checked against are themselves checked: gradients of the
training steps against central finite differences in float64."""

import numpy as np
import pytest

from benchmarks.workloads import WORKLOADS, npref
from benchmarks.workloads.training import LR


def _loss_of(step, inputs, names):
    return lambda: float(step(inputs["x"], inputs["onehot"], *(inputs[n] for n in names), lr=LR)[0])


@pytest.mark.parametrize("name, step, size", [
    ("mlp_step", npref.mlp_step, (3, 5, 4, 3, 10)),
    ("cnn_step", npref.cnn_step, (2, 5)),
])
def test_training_step_gradients_match_finite_differences(name, step, size):
    wl = WORKLOADS[name]
    inputs = {k: v.astype(np.float64) for k, v in wl.make_inputs(size, np.random.default_rng(1)).items()}
    names = [n for n in wl.output_names[1:]]
    loss = _loss_of(step, inputs, names)
    out = step(inputs["x"], inputs["onehot"], *(inputs[n] for n in names), lr=LR)
    rng = np.random.default_rng(2)
    for i, n in enumerate(names):
        analytic = (inputs[n] - out[1 + i]) / LR  # the update is p - lr * grad
        for _ in range(3):
            idx = tuple(rng.integers(0, s) for s in inputs[n].shape)
            old = inputs[n][idx]
            inputs[n][idx] = old + 1e-6
            up = loss()
            inputs[n][idx] = old - 1e-6
            down = loss()
            inputs[n][idx] = old
            assert analytic[idx] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8), (n, idx)


def test_conv2d_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    got = npref.conv2d(x, w, b, stride=2, pad=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 4, 3, 3))
    for i in range(3):
        for j in range(3):
            patch = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            want[:, :, i, j] = np.einsum("nchw,kchw->nk", patch, w) + b
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_numpy_peer_agrees_with_the_reference(name):
    wl = WORKLOADS[name]
    inputs = wl.make_inputs(wl.sizes["quick"], np.random.default_rng(0))
    run, fetch = wl.peers["numpy"](inputs)
    from benchmarks.check import compare

    res = compare(fetch(run()), wl.reference(inputs), wl.rtol, wl.atol)
    assert res.ok, res.message
