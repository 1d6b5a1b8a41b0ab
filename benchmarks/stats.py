"""Timing with warm-up and repeated samples, summarised by robust statistics.

A sample is the mean time of `inner` back-to-back calls, with `inner` chosen so that one sample
lasts well above the timer's resolution; the summary is the median of the samples and their
inter-quartile range (IQR), which a single slow outlier (a page fault, another process) cannot move."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Seconds per call: median, quartiles, extremes and the sample counts behind them."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    mean: float
    samples: int
    inner: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def rel_iqr(self) -> float:
        """The spread as a fraction of the median (0.05 = the middle half lies within 5 %)."""
        return self.iqr / self.median if self.median > 0 else float("nan")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["iqr"] = self.iqr
        return out


def summarize(samples: Sequence[float], inner: int = 1) -> Summary:
    """Summarise per-call times (seconds). Raises ValueError on an empty or negative sample set."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("summarize: no samples")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"summarize: samples must be finite and non-negative, got {arr.tolist()}")
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Summary(median=float(med), q1=float(q1), q3=float(q3), min=float(arr.min()), max=float(arr.max()),
                   mean=float(arr.mean()), samples=int(arr.size), inner=int(inner))


@dataclass(frozen=True)
class TimingPlan:
    """How long to measure: warm-up time, sample count bounds, a total time budget per entry and
    the minimum duration of one sample (calls are batched until a sample lasts this long)."""

    warmup_s: float = 0.2
    min_samples: int = 5
    max_samples: int = 25
    budget_s: float = 2.0
    min_sample_s: float = 2e-3

    @classmethod
    def quick(cls) -> TimingPlan:
        return cls(warmup_s=0.05, min_samples=3, max_samples=9, budget_s=0.5, min_sample_s=1e-3)


def measure(fn: Callable[[], object], plan: TimingPlan = TimingPlan(),
            clock: Callable[[], float] = time.perf_counter) -> Summary:
    """Time `fn()` (already called once: the first call is measured apart by the caller).

    Warm-up runs until `plan.warmup_s` has passed (at least one call); the warm-up also sizes
    `inner`, the number of calls per sample. Then samples are taken until `plan.max_samples` or
    the budget is reached, but never fewer than `plan.min_samples`."""
    start = clock()
    calls, elapsed = 0, 0.0
    while calls == 0 or elapsed < plan.warmup_s:
        t0 = clock()
        fn()
        elapsed += clock() - t0
        calls += 1
        if clock() - start > plan.warmup_s and calls >= 1:
            break
    per_call = max(elapsed / calls, 1e-9)
    inner = max(1, int(np.ceil(plan.min_sample_s / per_call)))
    samples: list[float] = []
    begin = clock()
    while len(samples) < plan.max_samples:
        t0 = clock()
        for _ in range(inner):
            fn()
        samples.append((clock() - t0) / inner)
        if len(samples) >= plan.min_samples and clock() - begin > plan.budget_s:
            break
    return summarize(samples, inner)


def first_call(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> tuple[object, float]:
    """Call `fn` once; return its result and the seconds it took (the compile/trace cost lives here)."""
    t0 = clock()
    out = fn()
    return out, clock() - t0
