"""The main job in a tiny configuration, for whichever modes this version of graphflow has."""

import json

import numpy as np
import pytest

from benchmarks import train
from benchmarks.trainers import TRAINERS, init_params


def test_train_quick_runs_every_available_mode(tmp_path, capsys):
    code = train.main(["--quick", "--out", str(tmp_path), "--backend", "numpy"])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "train.json").read_text())
    runs = {r["mode"]: r for r in data["runs"]}
    assert set(runs) == set(TRAINERS)
    for mode, cls in TRAINERS.items():
        ok, reason = cls.availability("numpy")
        r = runs[mode]
        if not ok:
            assert r["status"] == "skipped" and r["reason"] == reason and reason in out
            continue
        assert r["status"] == "ok", r
        first, last = r["epochs"]
        assert np.isfinite(first["train_loss"]) and 0 < last["test_loss"] < 5
        assert 0 <= last["test_acc"] <= 1 and first["steps"] + last["steps"] == len(r["step_losses"])
        assert last["train_loss"] < first["train_loss"], mode  # every mode learns
        assert f"{mode:<8} epoch  2/2" in out
        assert "weights identical" in r["checkpoint"] or r["checkpoint"].startswith("not saved: gf.save")
    assert "first epoch" in out and "steady epoch" in out
    if any(r["status"] == "ok" for r in runs.values()):
        assert code == 0 and (tmp_path / "train_loss.png").stat().st_size > 1000


def test_unknown_mode_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--modes", "eager,lazy"])
    assert exc.value.code == 2
    assert "valid modes: eager, compile, static, graph" in capsys.readouterr().err


def test_initial_weights_follow_pytorch_layout_and_bounds():
    p = init_params(0)
    assert p["0.weight"].shape == (256, 64) and p["6.bias"].shape == (10,)
    assert np.abs(p["3.weight"]).max() <= 1 / np.sqrt(256)
    assert all(v.dtype == np.float32 for v in p.values())
    np.testing.assert_array_equal(init_params(0)["0.weight"], p["0.weight"])
