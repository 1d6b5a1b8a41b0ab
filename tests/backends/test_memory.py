"""Host memory for compiled code: the data-pointer read (equal to NumPy's own answer for every
kind of array it may be given), aligned arrays, and the cache of large blocks (never hands out a
block that an array still uses)."""

import gc
import threading

import numpy as np
import pytest

from graphflow.backends import memory
from graphflow.backends.memory import BlockCache


def _arrays():
    base = np.arange(5 * 7 * 3, dtype=np.float64).reshape(5, 7, 3)
    yield base
    yield base[1:, 2:, 1:]
    yield base.transpose(2, 0, 1)
    yield base[::2, ::-1]
    yield base[4:5, 6:, 2:]
    yield np.empty((0, 3), np.float32)
    yield np.zeros((), np.int64)
    yield np.broadcast_to(np.float32(1), (4, 4))
    yield memory.aligned_empty((3, 9), np.float32)
    yield np.ma.masked_array([1.0, 2.0])  # a subclass takes the general path
    yield np.asarray(np.float32(2.5))


@pytest.mark.parametrize("arr", list(_arrays()), ids=lambda a: f"{type(a).__name__}{a.shape}")
def test_address_is_numpys_data_pointer(arr):
    assert memory.address(arr) == arr.__array_interface__["data"][0]


def test_fast_read_is_chosen_here():
    # CPython (not free-threaded) with NumPy's public array struct: the probe must pick the field read
    import sys

    if getattr(sys, "_is_gil_enabled", lambda: True)():
        assert memory.address is memory._field_address


@pytest.mark.parametrize("shape,dtype", [((3, 9), np.float32), ((0,), np.float64), ((), np.int8),
                                         ((5, 1, 3), np.complex128)])
def test_aligned_empty(shape, dtype):
    a = memory.aligned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert memory.address(a) % memory.ALIGN == 0 or a.size == 0


def _cache(max_bytes=1 << 20):
    return BlockCache(min_bytes=1024, max_bytes=max_bytes)


def test_small_arrays_are_not_cached():
    c = _cache()
    a = c.empty((10,), np.float32)
    assert a.shape == (10,) and c.held_bytes == 0


def test_free_block_is_reused_and_live_block_is_not():
    c = _cache()
    a = c.empty((64, 8), np.float32)
    addr = memory.address(a)
    assert memory.address(a) % memory.ALIGN == 0 and c.held_bytes == 64 * 8 * 4
    b = c.empty((64, 8), np.float32)  # `a` is alive: a new block
    assert memory.address(b) != addr
    del a
    gc.collect()
    d = c.empty((8, 64), np.int32)  # same size, other shape and dtype: the freed block
    assert memory.address(d) == addr and d.shape == (8, 64) and d.dtype == np.int32


@pytest.mark.parametrize("keep", [
    lambda a: a[3:],                    # a view
    lambda a: a.reshape(-1)[::2],       # a view of a view
    lambda a: memoryview(a),            # an exported buffer
    lambda a: np.frombuffer(a, np.uint8),
])
def test_block_with_any_live_user_is_not_handed_out(keep):
    c = _cache()
    a = c.empty((512,), np.float32)
    a[:] = 7.0
    held = keep(a)
    addr = memory.address(a)
    del a
    gc.collect()
    b = c.empty((512,), np.float32)
    assert memory.address(b) != addr
    b[:] = -1.0
    assert np.all(np.frombuffer(held, np.float32) == 7.0) if isinstance(held, memoryview) \
        else np.all(held.view(np.float32) == 7.0)


def test_cap_drops_free_blocks_then_stops_tracking_live_ones():
    c = _cache(max_bytes=3 * 4096)
    a = c.empty((1024,), np.float32)
    b = c.empty((1024,), np.float32)
    del b
    gc.collect()
    assert c.held_bytes == 2 * 4096
    d = c.empty((2048,), np.float32)  # needs room: the free 4 KiB block goes first
    assert c.held_bytes == 4096 + 8192
    e = c.empty((3072,), np.float32)  # bigger than what is left: live blocks are let go too
    assert c.held_bytes == 12288
    a[:], d[:], e[:] = 1, 2, 3  # every array keeps its own memory
    assert a.sum() == 1024 and d.sum() == 4096 and e.sum() == 9216
    assert c.empty((8192,), np.float32).size == 8192 and c.held_bytes == 12288  # over the cap: untracked


def test_threads_never_share_a_block():
    c = _cache(max_bytes=64 << 20)
    errors = []

    def work(value):
        for _ in range(200):
            a = c.empty((1024,), np.float64)
            a[:] = value
            if not np.all(a == value):
                errors.append(value)

    threads = [threading.Thread(target=work, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
