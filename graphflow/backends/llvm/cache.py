"""The compile cache: compiled objects in memory and on disk (`~/.cache/graphflow`, or
`GRAPHFLOW_CACHE_DIR`). Entries carry a checksum, so a corrupt or truncated file is detected,
removed and rebuilt, never loaded; writes go to a temporary file renamed into place, so
concurrent processes never see half an entry."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading

MAGIC = b"GFLLVM01"
_memory: dict[str, bytes] = {}
_lock = threading.Lock()
stats = {"memory_hits": 0, "disk_hits": 0, "misses": 0, "corrupt": 0}


def cache_dir() -> str:
    root = os.environ.get("GRAPHFLOW_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "graphflow")
    return os.path.join(root, "llvm")


def _path(key: str) -> str:
    return os.path.join(cache_dir(), f"{key}.o")


def get(key: str) -> bytes | None:
    with _lock:
        if key in _memory:
            stats["memory_hits"] += 1
            return _memory[key]
    data = _read(key)
    if data is not None:
        stats["disk_hits"] += 1
        with _lock:
            _memory[key] = data
    else:
        stats["misses"] += 1
    return data


def contains(key: str) -> bool:
    """Is there an entry (in memory, or a file on disk, checked only when it is read)?"""
    with _lock:
        if key in _memory:
            return True
    return os.path.exists(_path(key))


def _read(key: str) -> bytes | None:
    path = _path(key)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = len(MAGIC) + 32
    if len(raw) < head or raw[:len(MAGIC)] != MAGIC or hashlib.sha256(raw[head:]).digest() != raw[len(MAGIC):head]:
        stats["corrupt"] += 1
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    return raw[head:]


def put(key: str, data: bytes) -> None:
    with _lock:
        _memory[key] = data
    directory = cache_dir()
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".o")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(data).digest() + data)
            os.replace(tmp, _path(key))
        except BaseException:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass  # an unwritable cache only costs a recompile next time


def clear_memory() -> None:
    with _lock:
        _memory.clear()


def entry_path(key: str) -> str:
    """Where the disk entry for `key` lives (for tests and tools)."""
    return _path(key)
