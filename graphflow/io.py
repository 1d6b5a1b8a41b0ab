"""`gf.save` / `gf.load`: checkpoints as safetensors files, never pickle.

Layout (safetensors): an 8-byte little-endian header length N, N bytes of JSON header, then the
raw little-endian bytes of every tensor, contiguous. The header maps each tensor name to
``{"dtype", "shape", "data_offsets"}`` and holds ``__metadata__`` (strings only). Everything that
is not a tensor — nested dicts (any JSON-able keys), lists, tuples, numbers, strings, None —
goes, as JSON, into the metadata entry ``graphflow.structure``, where each tensor appears as a
reference to its name. A flat state dict (string keys to tensors) is stored under its own keys,
so the `safetensors` package reads it directly; a plain safetensors file written elsewhere loads
as such a dict.

Loading parses JSON and copies bytes: no code from the file is ever executed. Files that are
truncated, damaged or not in this layout raise `CheckpointError` saying what is wrong."""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from graphflow.errors import GraphflowError
from graphflow.ir.dtypes import DType, get_dtype

__all__ = ["save", "load", "save_arrays", "load_arrays", "CheckpointError", "FormatError"]

FORMAT = "graphflow"
VERSION = "1"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors limit on header size

# graphflow dtype name <-> safetensors dtype code
_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
          "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
_FROM_CODE = {v: k for k, v in _CODES.items()}


class CheckpointError(GraphflowError, ValueError):
    """A file that is not a readable graphflow/safetensors checkpoint."""


FormatError = CheckpointError


# ---- encoding ---------------------------------------------------------------------------------
class _Encoder:
    """Turns a Python object into JSON-able structure plus named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def name_for(self, path: str) -> str:
        name = path or "tensor"
        k = 1
        while name in self.arrays:
            k += 1
            name = f"{path}#{k}"
        return name

    def encode(self, obj: Any, path: str) -> Any:
        from graphflow.eager.tensor import Tensor

        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, int | np.integer) and not isinstance(obj, np.bool_):
            return int(obj)
        if isinstance(obj, float | np.floating):
            value = float(obj)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, np.ndarray):
            name = self.name_for(path)
            self.arrays[name] = _check_array(obj, path)
            return {"__ndarray__": name}
        if isinstance(obj, DType):
            return {"__dtype__": obj.name}
        if isinstance(obj, dict):
            return {"__dict__": [[self.encode_key(k, path), self.encode(v, _join(path, k))] for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, _join(path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, _join(path, i)) for i, v in enumerate(obj)]
        raise TypeError(f"gf.save: cannot save a {type(obj).__name__} at {path or 'the top level'!r}; checkpoints "
                        "hold tensors, NumPy arrays, dicts, lists, tuples, numbers, strings, bools and None")

    def encode_key(self, key: Any, path: str) -> Any:
        if isinstance(key, str | bool | int | float | np.integer) or key is None:
            return self.encode(key, path)
        if isinstance(key, tuple):
            return self.encode(key, path)
        raise TypeError(f"gf.save: dict key {key!r} at {path or 'the top level'!r} is a {type(key).__name__}; keys "
                        "must be strings, numbers, bools, None or tuples of those")

    def _tensor(self, t: Any, path: str) -> dict[str, Any]:
        from graphflow.nn.parameter import Parameter

        name = self.name_for(path)
        src = t.detach()
        device = str(src.device)
        if src.device.type != "cpu":
            src = src.cpu()
        self.arrays[name] = _check_array(np.asarray(src.numpy()), path)
        ref: dict[str, Any] = {"__tensor__": name}
        if device != "cpu":
            ref["device"] = device
        if isinstance(t, Parameter):
            ref["parameter"] = True
            ref["requires_grad"] = bool(t.requires_grad)
        elif t.requires_grad:
            ref["requires_grad"] = True
        return ref


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _check_array(arr: np.ndarray, path: str) -> np.ndarray:
    try:
        dt = get_dtype(arr.dtype)
    except Exception:  # noqa: BLE001 - any unknown dtype
        raise TypeError(f"gf.save: array at {path!r} has dtype {arr.dtype}, which checkpoints cannot hold") from None
    return np.array(arr, dtype=dt.np.newbyteorder("<"), order="C", copy=True)  # keeps 0-d shapes


def _is_flat_state_dict(obj: Any) -> bool:
    from graphflow.eager.tensor import Tensor

    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, Tensor | np.ndarray) for k, v in obj.items())


def _serialise(obj: Any) -> bytes:
    enc = _Encoder()
    if _is_flat_state_dict(obj):  # tensors under their own keys, readable as-is by safetensors
        structure = {"__dict__": []}
        for k, v in obj.items():  # dict keys are unique, so each tensor is named by its key
            structure["__dict__"].append([k, enc.encode(v, k)])
    else:
        structure = enc.encode(obj, "")
    return _file_bytes(enc.arrays, {"format": FORMAT, "graphflow.version": VERSION,
                                    "graphflow.structure": json.dumps(structure, separators=(",", ":"),
                                                                      allow_nan=False)})


def _file_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None) -> bytes:
    """The safetensors bytes of named little-endian arrays plus string metadata."""
    header: dict[str, Any] = {}
    offset = 0
    chunks = []
    for name, arr in arrays.items():
        data = arr.tobytes()
        code = _CODES[get_dtype(arr.dtype).name]
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so tensor data starts 8-byte aligned (allowed by the format)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _write(data: bytes, f: str | os.PathLike | BinaryIO) -> None:
    if hasattr(f, "write"):
        f.write(data)  # type: ignore[union-attr]
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".gfsave-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike | BinaryIO,
                metadata: dict[str, str] | None = None) -> None:
    """Write named NumPy arrays (and string metadata) as one plain safetensors file, atomically
    (static mode's `Saver` format; `gf.load` reads it as a dict of tensors)."""
    named = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save_arrays: tensor names must be strings other than '__metadata__', got {name!r}")
        named[name] = _check_array(np.asarray(value), name)
    _write(_file_bytes(named, metadata), path)


def load_arrays(path: str | os.PathLike | BinaryIO, with_metadata: bool = False) -> Any:
    """Read a safetensors file as {name: array} (and its metadata when asked), validating it as
    `gf.load` does."""
    data, where = _read(path)
    header, body = _parse(data, where)
    names = sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][0])
    out = {n: _array(header, body, n) for n in names}
    return (out, dict(header.get("__metadata__", {}))) if with_metadata else out


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write `obj` (a state dict, or a nested checkpoint of dicts, lists, tuples, tensors, arrays,
    numbers and strings) to a path or a binary file object. Paths are written atomically."""
    _write(_serialise(obj), f)


# ---- decoding ---------------------------------------------------------------------------------
def _read(f: Any) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file object>")
    path = os.fspath(f)
    with open(path, "rb") as handle:
        return handle.read(), path


def _parse(data: bytes, where: str) -> tuple[dict[str, Any], memoryview]:
    def bad(reason: str) -> CheckpointError:
        return CheckpointError(f"gf.load: {where} is not a graphflow file (safetensors layout) or is damaged: {reason}")

    if len(data) < 8:
        raise bad(f"the file is {len(data)} bytes long, too short to hold a header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER:
        raise bad(f"the header length field says {n} bytes, which is implausible (a foreign or damaged file)")
    if 8 + n > len(data):
        raise bad(f"the header needs {n} bytes but only {len(data) - 8} follow (the file is truncated)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    body = memoryview(data)[8 + n:]
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise bad("__metadata__ must map strings to strings")
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r} has a malformed entry {info!r}")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _FROM_CODE:
            raise bad(f"tensor {name!r} has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise bad(f"tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise bad(f"tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        itemsize = get_dtype(_FROM_CODE[code]).itemsize
        expected = math.prod(shape) * itemsize
        if not 0 <= begin <= end or end - begin != expected:
            raise bad(f"tensor {name!r} of shape {shape} and dtype {code} needs {expected} bytes, its offsets "
                      f"{offsets} give {end - begin}")
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise bad(f"tensor {name!r} starts at byte {begin}, expected {position} (overlapping or missing data)")
        position = end
    if position != len(body):
        if position > len(body):
            raise bad(f"the tensors need {position} bytes of data but the file holds {len(body)} (it is truncated)")
        raise bad(f"{len(body) - position} unexpected bytes follow the tensor data (the file is damaged)")
    return header, body


def _array(header: dict[str, Any], body: memoryview, name: str) -> np.ndarray:
    info = header[name]
    begin, end = info["data_offsets"]
    dt = get_dtype(_FROM_CODE[info["dtype"]]).np.newbyteorder("<")
    arr = np.frombuffer(body[begin:end], dtype=dt).reshape(info["shape"])
    return arr.astype(dt.newbyteorder("="), copy=True)  # own, writable, native-order memory


class _Decoder:
    def __init__(self, header: dict[str, Any], body: memoryview, place: Callable[[Any, str], Any], where: str):
        self.header, self.body, self.place, self.where = header, body, place, where

    def bad(self, reason: str) -> CheckpointError:
        return CheckpointError(f"gf.load: {self.where} has a damaged structure: {reason}")

    def tensor_array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.header or name == "__metadata__":
            raise self.bad(f"reference to a missing tensor {name!r}")
        return _array(self.header, self.body, name)

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise self.bad(f"unexpected value {node!r}")
        if "__tensor__" in node:
            return self.make_tensor(node)
        if "__ndarray__" in node:
            return self.tensor_array(node["__ndarray__"])
        if "__dict__" in node:
            items = node["__dict__"]
            if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
                raise self.bad("a dict entry is not a list of [key, value] pairs")
            return {self.decode_key(k): self.decode(v) for k, v in items}
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__float__" in node:
            if node["__float__"] not in ("nan", "inf", "-inf"):
                raise self.bad(f"invalid float {node['__float__']!r}")
            return float(node["__float__"])
        if "__dtype__" in node:
            return get_dtype(node["__dtype__"])
        raise self.bad(f"unknown entry {sorted(node)}")

    def decode_key(self, key: Any) -> Any:
        value = self.decode(key)
        if isinstance(value, list):
            raise self.bad("a dict key cannot be a list")
        return value

    def make_tensor(self, ref: dict[str, Any]) -> Any:
        from graphflow.eager.tensor import Tensor

        t = Tensor(self.tensor_array(ref["__tensor__"]))
        t = self.place(t, str(ref.get("device", "cpu")))
        if ref.get("parameter"):
            from graphflow.nn.parameter import Parameter

            return Parameter(t, requires_grad=bool(ref.get("requires_grad", True)))
        if ref.get("requires_grad"):
            t.requires_grad_(True)
        return t


def _placer(map_location: Any) -> Callable[[Any, str], Any]:
    """How to place a loaded tensor saved on `device` (PyTorch's map_location forms)."""
    if map_location is None:
        return lambda t, device: t if device == "cpu" else t.to(device)
    if callable(map_location) and not isinstance(map_location, str):
        def call(t: Any, device: str) -> Any:
            out = map_location(t, device)
            return t if out is None else out
        return call
    if isinstance(map_location, dict):
        return lambda t, device: t if map_location.get(device, device) == "cpu" else t.to(map_location.get(device,
                                                                                                            device))
    target = str(map_location)
    return lambda t, device: t if target == "cpu" else t.to(target)


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None, weights_only: bool = True, **kwargs: Any) -> Any:
    """Read an object written by `gf.save` (or any safetensors file, as a dict of tensors).

    `map_location`: None (tensors return to the device they were saved from), a device string or
    `gf.device`, a dict mapping saved devices to devices, or a callable (tensor, saved_device) -> tensor.
    Never executes code from the file; `weights_only` is accepted for PyTorch compatibility."""
    data, where = _read(f)
    header, body = _parse(data, where)
    meta = header.get("__metadata__", {})
    place = _placer(map_location)
    decoder = _Decoder(header, body, place, where)
    structure = meta.get("graphflow.structure")
    if meta.get("format") == FORMAT and structure is not None:
        try:
            tree = json.loads(structure)
        except json.JSONDecodeError as exc:
            raise decoder.bad(f"the structure is not valid JSON ({exc})") from None
        return decoder.decode(tree)
    # a plain safetensors file: a flat dict of tensors, in file order
    names = sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][0])
    return {n: decoder.make_tensor({"__tensor__": n}) for n in names}

