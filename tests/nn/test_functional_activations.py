"""Activations: values against NumPy formulas, gradients against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

import graphflow.nn.functional as F

X = np.array([[-3.0, -1.5, -0.2, 0.3], [0.9, 1.7, 2.5, -0.7], [25.0, -30.0, 0.05, 4.0]])


def _sig(x):
    return 1 / (1 + np.exp(-x))


CASES = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    "selu": (F.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    "silu": (F.silu, lambda x: x * _sig(x)),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "sigmoid": (F.sigmoid, _sig),
    "tanh": (F.tanh, np.tanh),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1, 1)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "softplus": (F.softplus, lambda x: np.where(x > 20, x, np.log1p(np.exp(x)))),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x)),
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: np.exp(x - x.max(1, keepdims=True))
                / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
    "softmin": (lambda x: F.softmin(x, dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    "glu": (F.glu, lambda x: x[:, :2] * _sig(x[:, 2:])),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_values(graph_run, name):
    fn, ref = CASES[name]
    np.testing.assert_allclose(graph_run(fn, X), ref(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_gradients(gradcheck, name):
    fn, _ = CASES[name]
    # avoid the kinks (0 for relu-likes, +-1 / 0 / 6 / +-3 for the hard ones) where differences are one-sided
    x = np.array([[-2.3, -0.6, 0.4, 1.3], [2.2, -1.1, 0.8, 7.2]])
    gradcheck(fn, x)


def test_activation_float32(graph_run):
    x = X.astype(np.float32)
    for name, (fn, ref) in CASES.items():
        out = graph_run(fn, x)
        assert out.dtype == np.float32, name
        np.testing.assert_allclose(out, ref(X), rtol=2e-6, atol=2e-6, err_msg=name)


def test_empty_and_scalar_inputs(graph_run):
    assert graph_run(F.gelu, np.zeros((0, 3))).shape == (0, 3)
    np.testing.assert_allclose(graph_run(F.silu, np.array(2.0)), 2 * _sig(2.0))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.zeros(2), approximate="fast")


def test_softmax_implicit_dim_warns(graph_run):
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = graph_run(lambda x: F.softmax(x), X)
    np.testing.assert_allclose(out.sum(1), 1.0)
