"""The file format of `gf.save`: safetensors (an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw little-endian bytes), with
anything that is not a tensor kept as JSON in the header's `__metadata__`. Loading parses JSON
and copies bytes: it never executes code, and a damaged or foreign file raises a clear error."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import ml_dtypes
import numpy as np

__all__ = ["save_arrays", "load_arrays", "FormatError"]

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("bool"),
}
_CODES = {v: k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class FormatError(ValueError):
    """A file that is not in graphflow's format, or is damaged."""


def save_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write named arrays (and string metadata) as one safetensors file, atomically."""
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, value in arrays.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save: tensor names must be strings other than '__metadata__', got {name!r}")
        arr = np.asarray(value)  # (ascontiguousarray would turn a 0-d array into 1-d)
        code = _CODES.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype)
        if code is None:
            raise TypeError(f"save: cannot store dtype {arr.dtype} (tensor {name!r})")
        data = arr.astype(_DTYPES[code], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_arrays(path: str | os.PathLike, with_metadata: bool = False) -> Any:
    """Read a file written by `save_arrays`: {name: array} (and the metadata when asked)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise FormatError(f"{path!r} is not a graphflow file: too short")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(_MAX_HEADER, len(blob) - 8):
        raise FormatError(f"{path!r} is not a graphflow file or is damaged: header length {n} exceeds the file")
    try:
        header = json.loads(blob[8:8 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path!r} is not a graphflow file or is damaged: bad header ({exc})") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path!r} is not a graphflow file: the header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    out: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        try:
            dtype = _DTYPES[entry["dtype"]]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{path!r} is damaged: bad entry for tensor {name!r}: {entry!r}") from None
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not 0 <= begin <= end <= len(data) or end - begin != size or any(d < 0 for d in shape):
            raise FormatError(f"{path!r} is damaged: tensor {name!r} ({entry['dtype']}{list(shape)}) does not fit "
                              f"its byte range [{begin}, {end}) of {len(data)} data bytes")
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
    return (out, metadata) if with_metadata else out
