"""Running workloads on runners: check first, then time; every outcome becomes a JSON-ready record."""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.check import compare
from benchmarks.progress import Progress
from benchmarks.runners import Runner
from benchmarks.stats import TimingPlan, first_call, measure
from benchmarks.workloads import Unsupported, Workload


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def run_entry(workload: Workload, size: Any, runner: Runner, inputs: dict, reference: list, plan: TimingPlan,
              availability: tuple[bool, str]) -> dict:
    """One (workload, size, runner) measurement. Status is "ok", "skipped" (with the reason),
    "mismatch" (the check failed: nothing is timed) or "error" (an exception, with its text)."""
    rec: dict[str, Any] = {"workload": workload.name, "size": workload.size_label(size),
                           "size_value": list(size) if isinstance(size, tuple) else size,
                           "runner": runner.name, "family": runner.family,
                           "mode": getattr(runner, "mode", None), "backend": getattr(runner, "backend", None)}
    ok, why = availability
    if not ok:
        return {**rec, "status": "skipped", "reason": why}
    fresh = {k: v.copy() for k, v in inputs.items()}  # no runner sees another's (possibly mutated) data
    try:
        t0 = time.perf_counter()
        run, fetch = runner.prepare(workload, fresh)
        rec["prepare_s"] = time.perf_counter() - t0
        out, rec["first_run_s"] = first_call(run)
        rec["first_call_s"] = rec["prepare_s"] + rec["first_run_s"]
        got = fetch(out)
    except Unsupported as exc:
        return {**rec, "status": "skipped", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing runner is reported, the run goes on
        return {**rec, "status": "error", "reason": _error_text(exc), "traceback": traceback.format_exc(limit=8)}
    check = compare(got, reference, workload.rtol, workload.atol, workload.output_names or None)
    rec["check"] = check.message
    if not check.ok:
        return {**rec, "status": "mismatch", "reason": f"wrong result, not timed: {check.message}"}
    try:
        summary = measure(run, plan)
    except Exception as exc:  # noqa: BLE001
        return {**rec, "status": "error", "reason": "while timing: " + _error_text(exc)}
    rec.update(status="ok", time=summary.as_dict())
    if workload.work is not None:
        amount, unit = workload.work(size)
        scale = 1e9  # GB/s and GFLOP/s
        rec["throughput"] = {"value": amount / summary.median / scale, "unit": unit}
    return rec


@dataclass
class Session:
    """A whole benchmark run: its settings, machine, runner availability and the records so far.
    `save()` writes the JSON atomically, so an interrupted run leaves a valid file behind."""

    path: Path | None
    settings: dict
    machine: dict
    runners: dict[str, dict] = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    interrupted: bool = False
    finished: str | None = None

    def as_dict(self) -> dict:
        return {"format": "graphflow-bench/1", "started": self.started, "finished": self.finished,
                "interrupted": self.interrupted, "settings": self.settings, "machine": self.machine,
                "runners": self.runners, "results": self.results}

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.as_dict(), indent=1, default=_jsonable))
        os.replace(tmp, self.path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def run_all(session: Session, plan: Sequence[tuple[Workload, Any]], runners: Sequence[Runner], timing: TimingPlan,
            seed: int = 0, progress: Progress | None = None) -> None:
    """Run every (workload, size) of `plan` on every runner, appending to `session.results` and
    saving after each record. KeyboardInterrupt marks the session interrupted, saves, and re-raises."""
    avail = {}
    for r in runners:
        try:
            avail[r.name] = r.availability()
        except Exception as exc:  # noqa: BLE001
            avail[r.name] = (False, "availability check failed: " + _error_text(exc))
        session.runners[r.name] = {"family": r.family, "available": avail[r.name][0], "reason": avail[r.name][1]}
    session.save()
    try:
        for workload, size in plan:
            rng = np.random.default_rng(seed)
            inputs = workload.make_inputs(size, rng)
            reference = workload.reference(inputs)
            for runner in runners:
                label = f"{workload.name} {workload.size_label(size)} on {runner.name}"
                if progress is not None:
                    progress.show(label)
                session.results.append(run_entry(workload, size, runner, inputs, reference, timing, avail[runner.name]))
                session.save()
                if progress is not None:
                    progress.step(label)
    except KeyboardInterrupt:
        session.interrupted = True
        session.save()
        raise
    session.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    session.save()
