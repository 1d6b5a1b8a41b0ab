"""gf.save / gf.load: safetensors layout, nested checkpoints, safety against foreign and damaged files."""

from __future__ import annotations

import io
import json
import math
import pickle
import struct

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.optim as optim
from graphflow.io import CheckpointError, load, save


def _model():
    gf.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))


def test_state_dict_roundtrip(tmp_path):
    m = _model()
    m(gf.randn(5, 4))  # move the running statistics
    path = tmp_path / "model.safetensors"
    save(m.state_dict(), path)
    sd = load(path)
    assert list(sd) == list(m.state_dict())
    for k, v in m.state_dict().items():
        assert sd[k].dtype is v.dtype and tuple(sd[k].shape) == tuple(v.shape)
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
    m2 = _model()
    m2.load_state_dict(sd)
    x = gf.randn(3, 4)
    m.eval(), m2.eval()
    np.testing.assert_array_equal(m(x).detach().numpy(), m2(x).detach().numpy())


def test_readable_by_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = _model()
    path = tmp_path / "m.safetensors"
    save(m.state_dict(), path)
    arrays = st.load_file(str(path))
    assert set(arrays) == set(m.state_dict())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.numpy())
    # and files written by the safetensors package load as dicts of tensors
    st.save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)},
                 str(tmp_path / "other.safetensors"))
    other = load(tmp_path / "other.safetensors")
    assert other["a"].dtype is gf.float32 and other["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert other["b"].dtype is gf.int64


def test_layout_is_safetensors(tmp_path):
    path = tmp_path / "x.safetensors"
    save({"w": gf.tensor([[1.0, 2.0]]), "n": gf.tensor([7], dtype=gf.int32)}, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["w"] == {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}
    assert header["n"] == {"dtype": "I32", "shape": [1], "data_offsets": [8, 12]}
    assert header["__metadata__"]["format"] == "graphflow"
    assert (8 + n) % 8 == 0
    assert np.frombuffer(raw[8 + n:8 + n + 8], "<f4").tolist() == [1.0, 2.0]


def test_training_checkpoint_roundtrip():
    m = _model()
    opt = optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.9))
    m(gf.randn(6, 4)).sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "loss": 0.25, "best": float("inf"), "name": "run-1", "tags": ["a", "b"], "none": None,
            "flags": (True, False), "model": m.state_dict(), "optim": opt.state_dict(),
            "history": [{"step": 1, "acc": 0.5}], "array": np.arange(3, dtype=np.int16), "dtype": gf.float16}
    buf = io.BytesIO()
    save(ckpt, buf)
    buf.seek(0)
    back = load(buf)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and math.isinf(back["best"]) and back["name"] == "run-1"
    assert back["tags"] == ["a", "b"] and back["none"] is None and back["flags"] == (True, False)
    assert back["history"] == [{"step": 1, "acc": 0.5}] and back["dtype"] is gf.float16
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int16
    assert sorted(back["optim"]["state"]) == [0, 1, 2, 3, 4, 5]  # integer keys survive
    assert back["optim"]["param_groups"][0]["betas"] == (0.8, 0.9)
    opt2 = optim.Adam(_model().parameters())
    opt2.load_state_dict(back["optim"])
    np.testing.assert_array_equal(opt2.state[opt2.param_groups[0]["params"][0]]["exp_avg"].numpy(),
                                  opt.state[opt.param_groups[0]["params"][0]]["exp_avg"].numpy())


def test_parameters_and_dtypes_survive(tmp_path):
    p = nn.Parameter(gf.ones(2, dtype=gf.float64))
    obj = {"p": p, "h": gf.tensor([1, 2], dtype=gf.float16), "bf": gf.tensor([1.5], dtype=gf.bfloat16),
           "b": gf.tensor([True, False]), "u": gf.tensor([255], dtype=gf.uint8), "e": gf.zeros(0, 3)}
    save(obj, tmp_path / "p.gf")
    back = load(tmp_path / "p.gf")
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad and back["p"].dtype is gf.float64
    for k in ("h", "bf", "b", "u", "e"):
        assert back[k].dtype is obj[k].dtype and tuple(back[k].shape) == tuple(obj[k].shape)
        np.testing.assert_array_equal(back[k].numpy().astype(np.float64), obj[k].numpy().astype(np.float64))


def test_unsupported_objects_raise(tmp_path):
    with pytest.raises(TypeError, match="cannot save a object"):
        save({"x": object()}, tmp_path / "bad")
    with pytest.raises(TypeError, match="dict key"):
        save({frozenset(): 1}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('executed code from a checkpoint')",))


def test_foreign_damaged_truncated_files(tmp_path):
    good = tmp_path / "good"
    save({"w": gf.ones(4, 4), "meta": {"k": 1}}, good)
    raw = good.read_bytes()
    cases = {
        "pickle": pickle.dumps(Boom()),
        "empty": b"",
        "short": b"abc",
        "truncated": raw[:-5],
        "trailing": raw + b"xx",
        "garbage": b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not json at all!",
        "huge_header": struct.pack("<Q", 1 << 60) + b"{}",
        "zip": b"PK\x03\x04" + b"\x00" * 40,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="gf.load") as info:
            load(path)
        assert str(path) in str(info.value), name
    # a header that lies about a tensor's size
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["w"]["shape"] = [4, 5]
    text = json.dumps(header).encode()
    (tmp_path / "lying").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(CheckpointError, match="needs 80 bytes"):
        load(tmp_path / "lying")
    # a damaged structure entry
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["graphflow.structure"] = '{"__dict__": [["w", {"__tensor__": "missing"}]]}'
    text = json.dumps(header).encode()
    (tmp_path / "dangling").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(CheckpointError, match="missing tensor"):
        load(tmp_path / "dangling")


def test_map_location(tmp_path):
    save({"w": gf.ones(2)}, tmp_path / "m")
    assert load(tmp_path / "m", map_location="cpu")["w"].device.type == "cpu"
    assert load(tmp_path / "m", map_location=gf.device("cpu"))["w"].device.type == "cpu"
    assert load(tmp_path / "m", map_location={"cpu": "cpu"})["w"].device.type == "cpu"
    seen = []
    out = load(tmp_path / "m", map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] and out["w"].tolist() == [2.0, 2.0]
    if not gf.cuda.is_available():
        with pytest.raises(Exception, match="(?i)cuda"):
            load(tmp_path / "m", map_location="cuda")


def test_loaded_tensors_own_their_memory(tmp_path):
    save({"w": gf.zeros(3)}, tmp_path / "w")
    w = load(tmp_path / "w")["w"]
    w.add_(1.0)
    assert w.tolist() == [1.0, 1.0, 1.0]


def test_array_files_for_static_saver(tmp_path):
    from graphflow.io import FormatError, load_arrays, save_arrays

    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int64(7)}
    save_arrays(arrays, tmp_path / "ckpt", metadata={"step": 3})
    back, meta = load_arrays(tmp_path / "ckpt", with_metadata=True)
    assert meta == {"step": "3"} and back["n"].shape == () and back["n"].dtype == np.int64
    np.testing.assert_array_equal(back["w"], arrays["w"])
    assert load(tmp_path / "ckpt")["w"].tolist() == arrays["w"].tolist()  # the same format as gf.save
    (tmp_path / "bad").write_bytes(b"\xff" * 32)
    with pytest.raises(FormatError, match="not a graphflow file"):
        load_arrays(tmp_path / "bad")
