"""Statistics, timing and the reference check of the benchmark harness."""

import numpy as np
import pytest

from benchmarks.check import compare
from benchmarks.stats import TimingPlan, first_call, measure, summarize


def test_summary_median_and_quartiles():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s.median == 3.0 and s.q1 == 2.0 and s.q3 == 4.0
    assert s.iqr == 2.0 and s.min == 1.0 and s.max == 5.0 and s.samples == 5
    assert s.rel_iqr == pytest.approx(2 / 3)
    assert s.as_dict()["iqr"] == 2.0


def test_summary_is_robust_to_one_outlier():
    s = summarize([1.0] * 9 + [1000.0])
    assert s.median == 1.0 and s.mean > 100


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [float("nan")]])
def test_summary_rejects_bad_samples(bad):
    with pytest.raises(ValueError):
        summarize(bad)


class FakeClock:
    """A clock that advances only when the measured function runs."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_measure_batches_tiny_calls_and_reports_per_call_time():
    clock = FakeClock()

    def fn():
        clock.now += 1e-6  # 1 µs per call: far below the 2 ms a sample must last

    plan = TimingPlan(warmup_s=1e-4, min_samples=4, max_samples=6, budget_s=1.0, min_sample_s=2e-3)
    s = measure(fn, plan, clock=clock)
    assert s.median == pytest.approx(1e-6)
    assert s.inner >= 2000  # calls were batched into samples of >= 2 ms
    assert s.samples == 6


def test_measure_stops_at_budget_but_keeps_min_samples():
    clock = FakeClock()

    def fn():
        clock.now += 0.5

    plan = TimingPlan(warmup_s=0.0, min_samples=3, max_samples=50, budget_s=0.1, min_sample_s=1e-3)
    s = measure(fn, plan, clock=clock)
    assert s.samples == 3 and s.inner == 1 and s.median == pytest.approx(0.5)


def test_first_call_times_one_call():
    clock = FakeClock()

    def fn():
        clock.now += 2.0
        return "result"

    assert first_call(fn, clock=clock) == ("result", 2.0)


def test_compare_accepts_within_tolerance():
    want = [np.array([1.0, 2.0, np.nan])]
    assert compare([np.array([1.0 + 1e-7, 2.0, np.nan], np.float32)], want, 1e-5, 1e-6).ok


@pytest.mark.parametrize("got, fragment", [
    ([np.array([1.0, 2.5, np.nan])], "max abs error 0.5"),
    ([np.array([1.0, 2.0])], "shape"),
    ([np.array([1.0, 2.0, 3.0])], "NaN"),
    ([np.array([1.0, 2.0, np.nan])] * 2, "expected 1 output"),
])
def test_compare_reports_what_is_wrong(got, fragment):
    res = compare(got, [np.array([1.0, 2.0, np.nan])], 1e-5, 1e-6, names=["y"])
    assert not res.ok and fragment in res.message
