"""Shared test setup: the checkout's root on sys.path (so `tests.op_cases` and
`tests.ir.gradcheck` import as modules) and a few fixtures."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: tests are reproducible."""
    return np.random.default_rng(1234)


@pytest.fixture
def numpy_backend():
    from graphflow.backends import get_backend

    return get_backend("numpy")

