"""Checking a result against the NumPy reference before any time is reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def compare(got: Sequence[np.ndarray], want: Sequence[np.ndarray], rtol: float, atol: float,
            names: Sequence[str] | None = None) -> CheckResult:
    """Compare outputs one by one: count, shape and values (NaN must match NaN). The message names
    the first bad output with its largest error, so a failure can be acted upon."""
    got, want = list(got), list(want)
    if len(got) != len(want):
        return CheckResult(False, f"expected {len(want)} output(s), got {len(got)}")
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        label = names[i] if names and i < len(names) else f"output {i}"
        g = np.asarray(g)
        w = np.asarray(w)
        if g.shape != w.shape:
            return CheckResult(False, f"{label}: shape {g.shape}, expected {w.shape}")
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        if not np.array_equal(np.isnan(g64), np.isnan(w64)):
            return CheckResult(False, f"{label}: NaN where the reference has none (or the reverse)")
        finite = ~np.isnan(w64)
        err = np.abs(g64[finite] - w64[finite])
        bound = atol + rtol * np.abs(w64[finite])
        if err.size and np.any(err > bound):
            k = int(np.argmax(err - bound))
            return CheckResult(False, f"{label}: max abs error {err.max():.3g} (got {g64[finite][k]:.6g}, "
                                      f"expected {w64[finite][k]:.6g}; rtol={rtol:g}, atol={atol:g})")
        if err.size:
            worst = max(worst, float(err.max()))
    return CheckResult(True, f"matches the reference (max abs error {worst:.2g})")
