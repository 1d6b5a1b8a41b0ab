"""Host memory for arrays that compiled code reads and writes: 64-byte aligned blocks, the
cheapest proven way to read an array's data pointer, and a cache that hands large blocks out
again once every array over them has died.

Why the cache: a fresh block of a few MB comes from the kernel as untouched pages, and the first
write to each page faults and zeroes it. An eager op over 4M float32 values spends as long on
that as on its arithmetic (GELU written as 12 eager ops: 28 ms, of which about 12 ms page
faults). PyTorch's CUDA allocator caches for the same reason.
"""

from __future__ import annotations

import ctypes
import math
import sys
import threading

import numpy as np

ALIGN = 64  # bytes: the widest vector loads the compiled kernels use


def _interface_address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


_read_pointer = ctypes.c_void_p.from_address
_DATA_OFFSET = 16  # NumPy's PyArrayObject_fields: the object header (refcount, type), then `data`


def _field_address(arr: np.ndarray) -> int:
    if arr.__class__ is not np.ndarray:  # subclasses and NumPy scalars: the general way
        return _interface_address(arr)
    return _read_pointer(id(arr) + _DATA_OFFSET).value or 0


def _pick_address() -> object:
    """`__array_interface__` builds a dict per call (2-4 us, a tenth of a small op); reading the
    `data` field of NumPy's public array struct costs 0.3 us. Used only where a probe of arrays,
    views and offset slices proves the layout on this interpreter and NumPy (not, say, a
    free-threaded build with a longer object header)."""
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    probes = [base, base[1:, 2:], base.T, base[::2], np.empty(0), np.zeros(()), base[2:3, 5:]]
    if all(_field_address(a) == _interface_address(a) for a in probes):
        return _field_address
    return _interface_address


address = _pick_address()
address.__doc__ = "The data pointer of an array (the cheapest way that is proven on this interpreter)."


def _view(block: np.ndarray, offset: int, nbytes: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    return block[offset:offset + nbytes].view(dtype).reshape(shape)


def aligned_empty(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ALIGN-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    block = np.empty(nbytes + ALIGN, dtype=np.uint8)
    return _view(block, (-address(block)) % ALIGN, nbytes, shape, dtype)


class BlockCache:
    """Keeps the blocks of large arrays (at least `min_bytes`, at most `max_bytes` held in all)
    and hands a block out again when it is free: when no array over it is alive any more.

    NumPy points every view of a view at the array that owns the memory, so the owner's
    reference count tells whether anything still uses the block: this cache's own reference
    and the one `sys.getrefcount` takes, and nothing else. A block still in use is never
    handed out; memory a caller keeps (a NumPy view, a memoryview) stays theirs."""

    def __init__(self, min_bytes: int, max_bytes: int):
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        self._blocks: dict[int, list[tuple[np.ndarray, int]]] = {}  # size -> (block, aligned offset)
        self._held = 0
        self._lock = threading.Lock()

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised aligned C-contiguous array, on a free cached block when there is one."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        getrefcount = sys.getrefcount
        with self._lock:
            entries = self._blocks.get(nbytes)
            if entries:
                for entry in entries:
                    if getrefcount(entry[0]) == 2:  # the entry and the argument: free
                        return _view(entry[0], entry[1], nbytes, shape, dtype)
            block = np.empty(nbytes + ALIGN, dtype=np.uint8)
            if self._make_room(nbytes):
                self._blocks.setdefault(nbytes, []).append((block, (-address(block)) % ALIGN))
                self._held += nbytes
            return _view(block, (-address(block)) % ALIGN, nbytes, shape, dtype)

    def _make_room(self, nbytes: int) -> bool:
        """Whether a new block of `nbytes` fits under max_bytes, after dropping free blocks
        (their memory goes back) and then blocks in use (their arrays keep their memory; the
        cache only stops tracking them)."""
        if nbytes > self.max_bytes:
            return False
        for in_use in (False, True):
            for size in list(self._blocks):
                if self._held + nbytes <= self.max_bytes:
                    return True
                entries = self._blocks[size]
                keep = [e for e in entries if (sys.getrefcount(e[0]) > 2) != in_use]
                self._held -= size * (len(entries) - len(keep))
                if keep:
                    self._blocks[size] = keep
                else:
                    del self._blocks[size]
        return self._held + nbytes <= self.max_bytes

    def clear(self) -> None:
        """Forgets every block: free ones go back to the allocator at once."""
        with self._lock:
            self._blocks.clear()
            self._held = 0

    @property
    def held_bytes(self) -> int:
        """Bytes of the blocks tracked now, free or in use."""
        return self._held


# eager results: arrays from 256 KiB (below that malloc reuses its heap without page faults)
# and at most 512 MiB of blocks held
eager_blocks = BlockCache(min_bytes=256 << 10, max_bytes=512 << 20)
