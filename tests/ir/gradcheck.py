"""A numerical gradient checker through the real `graphflow.autodiff.grad` path.

`check_grad(fn, inputs)` builds `fn` over graph `input` nodes, differentiates a random projection
sum(u * fn(x)) symbolically, runs the gradient graph on a backend, and compares it with central
finite differences of the same projection. Differentiating a function that itself returns
gradients checks second-order derivatives the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from graphflow.autodiff import grad
from graphflow.backends import get_backend
from graphflow.ir import Graph, Node, bind, verify
from graphflow.ir import builder as B
from graphflow.ir.dtypes import get_dtype


class GradientMismatch(AssertionError):
    pass


def _as_list(out: Node | Sequence[Node]) -> list[Node]:
    return [out] if isinstance(out, Node) else list(out)


def check_grad(fn: Callable[..., Node | Sequence[Node]], inputs: Sequence[np.ndarray],
               wrt: Sequence[int] | None = None, *, eps: float = 1e-6, rtol: float = 1e-5,
               atol: float = 1e-6, seed: int = 0, backend: str = "numpy") -> list[np.ndarray]:
    """Assert that grad(fn) matches central finite differences; returns the analytic gradients.

    fn takes one graph Node per input and returns a Node or a list of Nodes. Inputs listed in
    `wrt` (default: every floating-point input) are differentiated; use float64 for them. An
    input whose symbolic gradient is None must have a zero finite-difference gradient."""
    arrays = [np.asarray(a) for a in inputs]
    xs = [bind("input", name=f"x{i}", dtype=get_dtype(a.dtype), shape=tuple(a.shape))
          for i, a in enumerate(arrays)]
    outs = _as_list(fn(*xs))
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    wrt = list(wrt)
    rng = np.random.default_rng(seed)
    projections = [rng.standard_normal(tuple(o.shape)).astype(o.dtype.np) for o in outs]
    seeds = [B.constant(p, o.dtype) for p, o in zip(projections, outs)]
    grads = grad(Graph(outs, xs), outs, [xs[i] for i in wrt], seeds=seeds)

    be = get_backend(backend)
    forward = be.compile(Graph(outs, xs))
    present = [g for g in grads if g is not None]
    if present:
        verify(Graph(present, xs), after="grad")  # gradient rules must build well-formed IR
    analytic_values = be.compile(Graph(present, xs)).run(arrays) if present else []
    it = iter(analytic_values)
    analytic = []
    for k, g in zip(wrt, grads):
        if g is None:
            analytic.append(np.zeros(arrays[k].shape, dtype=np.float64))
            continue
        value = next(it)
        if value.shape != arrays[k].shape or g.dtype is not xs[k].dtype:
            raise GradientMismatch(f"gradient of input {k} has type {g.type}, the input {xs[k].type}")
        analytic.append(value.astype(np.float64))

    def objective(values: list[np.ndarray]) -> float:
        results = forward.run(values)
        return float(sum(np.sum(r.astype(np.float64) * p.astype(np.float64))
                         for r, p in zip(results, projections)))

    for k, a_grad in zip(wrt, analytic):
        base = np.array(arrays[k], copy=True)
        numeric = np.zeros(base.shape, dtype=np.float64)
        for idx in np.ndindex(*base.shape):
            values = list(arrays)
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            values[k] = plus
            f_plus = objective(values)
            values[k] = minus
            numeric[idx] = (f_plus - objective(values)) / (2 * eps)
        if not np.allclose(a_grad, numeric, rtol=rtol, atol=atol):
            worst = np.unravel_index(np.argmax(np.abs(a_grad - numeric)), numeric.shape) if numeric.size else ()
            raise GradientMismatch(
                f"gradient of input {k} (shape {base.shape}) differs from finite differences\n"
                f"symbolic:\n{a_grad}\nnumeric:\n{numeric}\nworst at {worst}")
    return analytic
