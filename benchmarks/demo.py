"""A short demonstration of the foundation: build a graph, differentiate it symbolically (twice),
and run it on the NumPy reference backend."""

from __future__ import annotations

import numpy as np

import graphflow as gf
import graphflow.ops as O
from graphflow import autodiff
from graphflow.ir import Graph, bind


def main() -> None:
    x = bind("input", name="x", dtype=gf.float64, shape=(5,))
    y = O.sum(O.mul(O.tanh(x), x))
    (dy,) = autodiff.grad(None, [y], [x])
    (d2y,) = autodiff.grad(None, [O.sum(dy)], [x])
    graph = Graph([y, dy, d2y], [x])
    print(graph)
    exe = gf.backends.get_backend("numpy").compile(graph)
    value = np.linspace(-1, 1, 5)
    for name, out in zip(("y", "dy/dx", "d2y/dx2 (summed)"), exe.run([value])):
        print(f"{name:>18}: {np.round(out, 5)}")
    print("backends:", gf.backends.available())


if __name__ == "__main__":
    main()
