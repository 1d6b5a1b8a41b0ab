"""Running a test once per CPU backend present (numpy: the reference; llvm: the default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import graphflow as gf
from graphflow.backends import available, cpu_backend_choice

CPU_BACKENDS = ["numpy", "llvm"]


@contextmanager
def on_cpu_backend(name: str) -> Iterator[str]:
    """Switch eager ops, Session and gf.compile to backend `name` (skip when it cannot run here),
    restoring the previous choice afterwards."""
    status = available().get(name)
    if status != "available":
        pytest.skip(f"{name}: {status}")
    previous = cpu_backend_choice()
    gf.set_backend(name)
    try:
        yield name
    finally:
        gf.set_backend(previous)
