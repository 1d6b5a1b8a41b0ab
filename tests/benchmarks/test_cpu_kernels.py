"""The CPU benchmark: its MLP step computes the same thing in each of its graphflow forms, the peers'
row table leaves out torch / jax when they are missing (simulated: no test imports them), and the
first-step loss check flags rows that do other work."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from graphflow.backends import available

needs_llvm = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


@needs_llvm
def test_static_session_step_matches_the_compiled_graph():
    from benchmarks import cpu_kernels as ck
    from graphflow.backends import get_backend

    step = ck.gf_static("mlp")
    loss, _ = step()
    feeds = ck.mlp_feeds()
    want = get_backend("numpy").compile(ck.mlp_graph()).run(feeds)
    np.testing.assert_allclose(loss, want[0], rtol=1e-5)
    for var, b in zip(step.variables, want[1:]):  # parameters in the graph's order
        a = step.session.get_value(var)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _absent(monkeypatch, *modules):
    """Make `modules` look uninstalled (import fails, find_spec finds nothing) without importing them."""
    for mod in modules:
        monkeypatch.setitem(sys.modules, mod, None)


def test_peer_rows_leave_out_torch_and_jax_when_absent(monkeypatch):
    from benchmarks import cpu_kernels as ck

    _absent(monkeypatch, "torch", "jax")
    assert ck.skipped_peers() == ["jax", "torch"]
    assert list(ck.peer_rows("gemm")) == ["numpy"]


def test_peer_rows_with_only_one_peer_installed(monkeypatch):
    from benchmarks import cpu_kernels as ck

    built = []
    fake = tuple((row, mod, lambda name, row=row: built.append((row, name)) or (lambda: row))
                 for row, mod, _ in ck.PEER_ROWS)
    monkeypatch.setattr(ck, "PEER_ROWS", fake)
    monkeypatch.setattr(ck, "_missing", lambda mod: mod == "jax")
    assert ck.skipped_peers() == ["jax"]
    rows = ck.peer_rows("mlp")
    assert list(rows) == ["numpy", "torch eager", "torch.compile"]
    assert built == [(r, "mlp") for r in rows] and rows["torch.compile"]() == "torch.compile"
    monkeypatch.setattr(ck, "_missing", lambda mod: mod == "torch")
    assert list(ck.peer_rows("gelu")) == ["numpy", "jax.jit"]


@needs_llvm
def test_run_names_skipped_peers_and_survives_a_failing_row(monkeypatch, capsys):
    from benchmarks import cpu_kernels as ck

    def broken(name):
        def call():
            raise RuntimeError("no compiler here\nsecond line")
        return call

    _absent(monkeypatch, "torch", "jax")
    monkeypatch.setattr(ck, "PEER_ROWS", ck.PEER_ROWS + (("broken peer", "numpy", broken),))
    monkeypatch.setattr(ck, "interleaved", lambda fns, rounds: {k: (f(), 1e-3)[1] for k, f in fns.items()})
    ck.main(["--quick", "--only", "softmax"])
    out = capsys.readouterr().out
    assert "peers skipped (not installed): jax, torch" in out
    assert f"peers: numpy {np.__version__}\n" in out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ") and "  " in line[2:]}
    assert "numpy" in lines and "peer/compiled" in lines["numpy"]
    assert "failed: RuntimeError: no compiler here" in lines["broken peer"]
    assert not any(k.startswith(("torch", "jax")) for k in lines)


def test_interleaved_times_every_row_in_turns():
    from benchmarks import cpu_kernels as ck

    order = []
    fns = {k: (lambda k=k: order.append(k)) for k in "abc"}
    times = ck.interleaved(fns, rounds=4, min_time=0.0, settle_s=0.0)
    assert set(times) == set("abc") and all(t >= 0 for t in times.values())
    assert order[:3] == list("abc")  # the warm-up calls, then one call each per round, rotated
    assert order[3:] == list("abc" "bca" "cab" "abc")


def test_a_row_failing_part_way_is_reported_and_the_others_are_timed():
    from benchmarks import cpu_kernels as ck

    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 2:
            raise ValueError("ran out")
        return 1

    rows = {"good": lambda: 2, "flaky": flaky, "none": None}
    out = ck._measure({k: f and ck._guard(k, f) for k, f in rows.items()}, rounds=3)
    assert out["none"] == (None, None)
    assert out["flaky"] == (None, "failed: ValueError: ran out")
    assert out["good"][0] == 2 and isinstance(out["good"][1], float)


@needs_llvm
def test_mlp_first_step_loss_check_on_graphflow_rows():
    from benchmarks import cpu_kernels as ck

    rows = {"graphflow compiled": ck.gf_compiled("mlp"), "graphflow static": ck.gf_static("mlp"),
            "graphflow eager": ck.gf_eager("mlp"), "numpy": ck.numpy_peer("mlp")}
    first = {k: f() for k, f in rows.items()}  # a list, [loss, None], a tensor, a float
    assert ck.mlp_loss_check(first) == []
    second = {k: f() for k, f in rows.items()}  # the steps that update parameters moved on
    warned = ck.mlp_loss_check({"graphflow compiled": first["graphflow compiled"], **second})
    assert len(warned) == 3 and all("WARNING" in w for w in warned)
    assert all(k in " ".join(warned) for k in ("graphflow static", "graphflow eager", "numpy"))
    off = ck.mlp_loss_check({**first, "numpy": ck._loss(first["numpy"]) * (1 + 3e-4)})
    assert len(off) == 1 and off[0].startswith("  WARNING: numpy: first-step loss")
    assert ck.mlp_loss_check({**first, "numpy": ck._loss(first["numpy"]) * (1 + 3e-5)}) == []


@needs_llvm
def test_fma_peak_probe_measures_a_finite_rate_and_sums_its_chains():
    import ctypes

    from benchmarks import fma_peak

    fn = fma_peak._kernel()
    io = (ctypes.c_float * fma_peak.LANES)(1.0, 0.5)
    fn(2, ctypes.addressof(io))  # each chain c -> c * 1 + 0.5, 2 trips x UNROLL steps
    steps = 2 * fma_peak.UNROLL
    want = sum(c + 1 + 0.5 * steps for c in range(fma_peak.CHAINS))
    assert list(io) == [want] * fma_peak.LANES
    peak = fma_peak.measure(seconds=0.005, rounds=1)
    assert 0 < peak["one_thread"] < float("inf") and 0 < peak["all_cores"] < float("inf")


@needs_llvm
def test_gemm_report_names_the_share_of_the_peak(monkeypatch):
    from benchmarks import cpu_kernels as ck
    from benchmarks import fma_peak

    monkeypatch.setattr(fma_peak, "measure", lambda seconds, rounds: {"cores": 2, "one_thread": 100.0,
                                                                      "all_cores": 200.0})
    t = 2 * ck.GEMM ** 3 / 150e9  # 150 GFLOP/s
    line = ck._peak_line({"graphflow compiled": (None, t), "numpy": (None, "failed: x"), "jax.jit": (None, None)})
    assert "FMA peak of this machine's cores: 200 GFLOP/s" in line
    assert "the target 181 is 90% of it" in line and "graphflow compiled 75%" in line
    assert "numpy" not in line and "jax" not in line
