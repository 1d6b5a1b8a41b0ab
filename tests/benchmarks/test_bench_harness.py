"""The harness: outcomes of one entry (ok, skipped, wrong result, error), the runners' detection,
the JSON file (also after Ctrl-C), the command line's handling of names, and the report."""

import dataclasses
import json
import sys

import numpy as np
import pytest

from benchmarks import cli, machine, report
from benchmarks.harness import Session, run_all, run_entry
from benchmarks.runners import GraphflowRunner, JaxPeer, NumpyPeer, Runner, TorchPeer, all_runners
from benchmarks.stats import TimingPlan
from benchmarks.workloads import WORKLOADS, GraphflowSpec, Unsupported

FAST = TimingPlan(warmup_s=0.0, min_samples=2, max_samples=3, budget_s=0.01, min_sample_s=1e-4)
DISPATCH = WORKLOADS["dispatch"]


def _entry(workload, runner, availability=(True, "available")):
    inputs = workload.make_inputs(workload.sizes["quick"], np.random.default_rng(0))
    return run_entry(workload, workload.sizes["quick"], runner, inputs, workload.reference(inputs), FAST, availability)


def test_numpy_peer_entry_is_checked_then_timed():
    rec = _entry(DISPATCH, NumpyPeer())
    assert rec["status"] == "ok", rec
    assert rec["check"].startswith("matches the reference")
    assert rec["time"]["median"] > 0 and rec["time"]["q1"] <= rec["time"]["median"] <= rec["time"]["q3"]
    assert rec["first_call_s"] >= rec["first_run_s"] > 0


def test_graph_mode_on_the_reference_backend_runs_and_checks():
    rec = _entry(DISPATCH, GraphflowRunner("graph", "numpy"))
    assert rec["status"] == "ok", rec
    assert (rec["mode"], rec["backend"], rec["family"]) == ("graph", "numpy", "graphflow")


def test_a_wrong_result_is_reported_and_not_timed():
    wrong = dataclasses.replace(DISPATCH, graphflow=GraphflowSpec("forward", lambda ops, a, b: [ops.sub(a, b)],
                                                                   ("a", "b")))
    rec = _entry(wrong, GraphflowRunner("graph", "numpy"))
    assert rec["status"] == "mismatch"
    assert "time" not in rec and "wrong result" in rec["reason"]


class Broken(Runner):
    name, family = "broken", "peer"

    def __init__(self, exc):
        self.exc = exc

    def availability(self):
        return True, "available"

    def prepare(self, workload, inputs):
        raise self.exc


def test_unsupported_and_failures_become_records():
    assert _entry(DISPATCH, Broken(Unsupported("no such thing")))["reason"] == "no such thing"
    rec = _entry(DISPATCH, Broken(RuntimeError("boom\nsecond line")))
    assert rec["status"] == "error" and rec["reason"] == "RuntimeError: boom"
    rec = _entry(DISPATCH, NumpyPeer(), availability=(False, "not here"))
    assert (rec["status"], rec["reason"]) == ("skipped", "not here")


def test_missing_peers_are_skipped_with_the_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    monkeypatch.setitem(sys.modules, "jax", None)
    for peer in (TorchPeer(False), TorchPeer(True), JaxPeer()):
        ok, reason = peer.availability()
        assert not ok and "not installed" in reason


def test_unavailable_backend_is_a_reason_not_a_crash():
    ok, reason = GraphflowRunner("graph", "cuda").availability()
    if not ok:
        assert "cuda" in reason


def test_conv_workload_needs_are_checked():
    runner = GraphflowRunner("graph", "numpy")
    rec = _entry(dataclasses.replace(WORKLOADS["conv2d"], graphflow=dataclasses.replace(
        WORKLOADS["conv2d"].graphflow, needs=("F.no_such_function",))), runner)
    assert rec["status"] == "skipped" and "no_such_function" in rec["reason"]


class InterruptOnSecond(Runner):
    name, family = "interrupter", "peer"

    def __init__(self):
        self.calls = 0

    def availability(self):
        return True, "available"

    def prepare(self, workload, inputs):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return NumpyPeer().prepare(workload, inputs)


def test_ctrl_c_leaves_the_results_so_far_in_the_json(tmp_path):
    path = tmp_path / "out.json"
    session = Session(path=path, settings={}, machine={"cpu_model": "x"})
    plan = [(DISPATCH, (16,)), (WORKLOADS["dispatch_grad"], (16,))]
    with pytest.raises(KeyboardInterrupt):
        run_all(session, plan, [InterruptOnSecond()], FAST)
    data = json.loads(path.read_text())
    assert data["interrupted"] is True and data["finished"] is None
    assert [r["workload"] for r in data["results"]] == ["dispatch"]
    assert data["results"][0]["status"] == "ok"


def test_cli_ctrl_c_returns_130_and_keeps_the_file(tmp_path, monkeypatch):
    import benchmarks.cli as cli_mod

    monkeypatch.setattr(cli_mod, "all_runners", lambda *a: [InterruptOnSecond()])
    code = cli.main(["--quick", "-w", "dispatch,dispatch_grad", "--out", str(tmp_path), "--no-plots"])
    assert code == 130
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["interrupted"] and len(data["results"]) == 1


@pytest.mark.parametrize("args, fragment", [
    (["-w", "softmaxx"], "valid workloads: elementwise, softmax"),
    (["-m", "lazy"], "valid modes: eager, compile, static, graph"),
    (["-b", "tpu"], "valid backends: numpy, llvm, cuda"),
    (["-p", "tensorflow"], "valid peers: numpy, torch, torch.compile, jax.jit"),
])
def test_unknown_names_list_the_valid_ones(args, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err


def test_list_names_everything(capsys):
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in WORKLOADS:
        assert name in out
    assert "static" in out and "jax.jit" in out


def test_cli_quick_run_writes_json_table_and_plots(tmp_path, capsys, monkeypatch):
    small = dataclasses.replace(WORKLOADS["gemm"], sweep=((32, 32, 32), (64, 64, 64)))
    monkeypatch.setitem(WORKLOADS, "gemm", small)  # a short sweep keeps the test fast
    code = cli.main(["--quick", "-w", "dispatch,gemm", "-m", "graph", "-b", "numpy", "-p", "numpy,torch",
                     "--out", str(tmp_path), "--sweep"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["machine"]["usable_cores"] >= 1 and "numpy" in data["machine"]["versions"]
    assert data["finished"] and not data["interrupted"]
    statuses = {(r["runner"], r["workload"], r["size"]): r["status"] for r in data["results"]}
    assert statuses[("numpy", "gemm", "256x256x256")] == "ok"
    assert len({s for (_, w, s) in statuses if w == "gemm"}) > 1  # the sweep ran more sizes
    if data["runners"]["torch"]["available"] is False:
        assert "torch" in out and data["runners"]["torch"]["reason"]
    assert "fastest peer" in out and "vs fastest peer" in out
    assert (tmp_path / "times.png").stat().st_size > 1000
    assert (tmp_path / "scaling.png").stat().st_size > 1000


def test_ratios_are_against_the_fastest_peer():
    def rec(runner, family, median):
        return {"workload": "w", "size": "1", "runner": runner, "family": family, "status": "ok",
                "time": {"median": median, "q1": median, "q3": median}}

    results = [rec("numpy", "peer", 4.0), rec("torch", "peer", 2.0), rec("eager/llvm", "graphflow", 1.0)]
    best = report.fastest_peers(results)
    assert best[("w", "1")]["runner"] == "torch"
    assert report.ratio_to_peer(results[2], best) == 0.5
    assert report.fmt_ratio(0.5) == "2.00x faster" and report.fmt_ratio(2.0) == "2.00x slower"
    assert "0.50" in report.render_matrix(results)


def test_machine_description_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("model name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx2 fma avx512f\ncpu MHz\t: 2000.0\n")
    desc = machine.describe(info)
    assert desc["cpu_model"] == "Test CPU 9000"
    assert desc["cpu_features"] == ["sse4_2", "avx2", "fma", "avx512f"]
    assert "Test CPU 9000" in machine.one_line(desc)


def test_runner_lists_follow_the_choice():
    names = [r.name for r in all_runners(["eager", "static"], ["llvm"], ["numpy"])]
    assert names == ["eager/llvm", "static/llvm", "numpy"]


def test_busy_machine_is_warned_about():
    assert machine.busy_warning({"load_average": [3.0, 1.0, 1.0], "usable_cores": 2}).startswith("warning")
    assert machine.busy_warning({"load_average": [0.2, 1.0, 1.0], "usable_cores": 2}) is None
    assert machine.busy_warning({"load_average": None, "usable_cores": 2}) is None
