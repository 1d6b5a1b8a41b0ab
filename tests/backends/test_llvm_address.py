"""The data-pointer read the llvm backend hands to native code: equal to NumPy's own answer for
every kind of array it may be given."""

import numpy as np
import pytest

from graphflow.backends.llvm import executable


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
    yield executable.aligned_empty((3, 9), np.float32)
    yield np.ma.masked_array([1.0, 2.0])  # a subclass takes the general path
    yield np.asarray(np.float32(2.5))


@pytest.mark.parametrize("arr", list(_arrays()), ids=lambda a: f"{type(a).__name__}{a.shape}")
def test_address_is_numpys_data_pointer(arr):
    assert executable.address(arr) == arr.__array_interface__["data"][0]


def test_fast_read_is_chosen_here():
    # CPython (not free-threaded) with NumPy's public array struct: the probe must pick the field read
    import sys

    if getattr(sys, "_is_gil_enabled", lambda: True)():
        assert executable.address is executable._field_address
