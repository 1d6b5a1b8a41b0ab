"""Big graphs compile as several modules at once (`split.py`, `jit.compile_all`): the same values
as one module, loaded into one engine, cached as one entry; a failing or impossible child leaves
its module to the parent."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif("llvm" not in available(), reason="llvm backend unavailable")


def _inp(name, shape):
    return bind("input", name=name, dtype=get_dtype("float32"), shape=shape)


def _graph(scale: float):
    """Several units (products, a row softmax, elementwise math): a module worth splitting."""
    x, w, v = _inp("x", (13, 37)), _inp("w", (37, 21)), _inp("v", (21, 5))
    h = ops.tanh(ops.add(ops.matmul(x, w), scale))
    s = ops.softmax(ops.matmul(h, v), dim=1)
    e = ops.exp(ops.mul(ops.sum(h, 0, keepdim=True), 0.01))
    return Graph([s, ops.log1p(ops.abs(e)), ops.sigmoid(ops.mul(x, scale))], [x, w, v])


def _feeds():
    rng = np.random.default_rng(5)
    return [rng.standard_normal(s).astype(np.float32) for s in ((13, 37), (37, 21), (21, 5))]


def _fresh(monkeypatch, tmp_path, **env):
    from graphflow.backends.llvm import cache, executable

    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(executable, "SPLIT_MIN_LINES", 0)
    cache.clear_memory()
    executable._loaded.clear()


def test_split_keeps_every_function_once_and_declares_moved_bodies():
    from graphflow.backends.llvm import executable, split
    from graphflow.backends.llvm.codegen import ModuleBuilder

    plan, _ = executable.build_plan(executable.optimise(_graph(0.25)))
    text = ModuleBuilder(plan).build()
    parts = split.split(text, 3)
    assert len(parts) >= 2
    bodies = [line for line in text.splitlines() if line.startswith("define") and '_body"(' in line]
    for line in bodies:
        name = line.split('@"')[1].split('"')[0]
        defined = [k for k, p in enumerate(parts) if f'define void @"{name}"' in p or f'define internal void @"{name}"' in p]
        assert len(defined) == 1, name
        if defined[0]:  # moved: exported there, declared in the main part
            assert f'declare void @"{name}"(' in parts[0]
    assert split.split(text, 1) == [text]


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_split_module_gives_the_same_values(jobs, monkeypatch, tmp_path):
    from graphflow.backends.llvm import jit

    _fresh(monkeypatch, tmp_path / jobs, GRAPHFLOW_COMPILE_JOBS=jobs)
    ex = _matches_reference(_graph(0.5))
    from graphflow.backends.llvm import cache

    blob = cache.get(ex.key)
    assert len(jit.unpack(blob)) == (1 if jobs == "1" else int(jobs))


def _children_do(monkeypatch, tmp_path, in_child) -> None:
    """Two compile jobs, where a forked child runs `in_child()` before compiling its module."""
    from graphflow.backends.llvm import jit

    _fresh(monkeypatch, tmp_path, GRAPHFLOW_COMPILE_JOBS="2")
    parent = os.getpid()
    real = jit._compile

    def compile_(*args):
        if os.getpid() != parent:
            in_child()
        return real(*args)

    monkeypatch.setattr(jit, "_compile", compile_)


def _matches_reference(g):
    """The llvm executable of `g`, after checking its values against the NumPy reference."""
    ex = get_backend("llvm").compile(g)
    got = ex.run(_feeds())
    want = get_backend("numpy").compile(g).run(_feeds())
    for w, o in zip(want, got):
        np.testing.assert_allclose(o, w, rtol=2e-5, atol=1e-6)
    return ex


def test_failing_child_leaves_its_module_to_the_parent(monkeypatch, tmp_path):
    def fail():
        raise RuntimeError("a child that fails")

    _children_do(monkeypatch, tmp_path, fail)
    _matches_reference(_graph(0.75))


def test_stuck_child_is_killed_and_its_module_compiled_here(monkeypatch, tmp_path):
    import time

    from graphflow.backends.llvm import jit

    _children_do(monkeypatch, tmp_path, lambda: time.sleep(60))  # as a child that inherited a held lock
    monkeypatch.setattr(jit, "CHILD_TIMEOUT_S", 1.0)
    start = time.monotonic()
    _matches_reference(_graph(1.5))
    assert time.monotonic() - start < 30


def test_without_fork_the_parts_compile_here(monkeypatch, tmp_path):
    from graphflow.backends.llvm import jit

    _fresh(monkeypatch, tmp_path, GRAPHFLOW_COMPILE_JOBS="2")
    monkeypatch.setattr(jit, "_can_fork", lambda: False)
    _matches_reference(_graph(1.25))


def test_pack_round_trip_and_plain_objects():
    from graphflow.backends.llvm import jit

    objs = [b"first", b"", b"third object" * 100]
    assert jit.unpack(jit.pack(objs)) == objs
    assert jit.unpack(b"\x7fELF plain") == [b"\x7fELF plain"]
