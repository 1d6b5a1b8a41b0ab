"""Small real data sets for tests, from packages that ship them (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest


def digits_split(n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits (shipped with the package), scaled to [0, 1] and shuffled with a fixed
    seed: (train images, train labels, test images, test labels). Skips where scikit-learn is absent."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[:n_train]], y[order[:n_train]], X[order[n_train:]], y[order[n_train:]]
