"""Shared helpers for the optimiser tests. Every pipeline run here verifies the graph after each pass."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.backends import get_backend
from graphflow.ir import Graph, bind


@pytest.fixture(autouse=True)
def _verify_after_every_pass(monkeypatch):
    monkeypatch.setenv("GRAPHFLOW_VERIFY", "1")


def inp(name: str, shape=(3, 4), dtype=gf.float64):
    return bind("input", name=name, dtype=dtype, shape=tuple(shape))


def run(graph: Graph, *arrays) -> list[np.ndarray]:
    return get_backend("numpy").compile(graph).run(list(arrays))


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-310, 1e300, -1e300,
                     3.0, 1000.0, -1000.0, 0.1])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN where NaN, and the same sign of zero."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "biu":  # (bfloat16's kind is "V": it takes the float path)
        return bool(np.array_equal(a, b))
    a, b = a.astype(np.float64), b.astype(np.float64)  # exact for every float dtype
    nan = np.isnan(a)
    # the sign of a NaN carries no meaning (negating a NaN flips it)
    return bool(np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a)[~nan], np.signbit(b)[~nan]))
