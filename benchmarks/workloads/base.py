"""What a workload is: inputs, a float64 NumPy reference, a graphflow expression written once for
every mode, and the peers' own implementations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Inputs = dict[str, np.ndarray]
# a prepared run: `run()` does one unit of work and returns a handle; `fetch(handle)` turns it into
# NumPy arrays for the reference check (kept apart so that timing never pays for conversions)
Prepared = tuple[Callable[[], Any], Callable[[Any], list[np.ndarray]]]


class Unsupported(Exception):
    """Raised while preparing a run that this mode or peer cannot do; the message is the reason."""


@dataclass(frozen=True)
class GraphflowSpec:
    """The graphflow side of a workload, written once over the functional layer `ops` (which works on
    eager tensors, static symbolic tensors, tracers and plain graph nodes alike).

    kind "forward": outputs = fn(ops, *inputs)
    kind "grad":    outputs = [fn(ops, *inputs)] + its gradients w.r.t. `wrt` (input names)
    kind "train":   one SGD step of loss fn(ops, params, *data) on `params` (input names) with rate `lr`;
                    outputs = [loss, *updated params]"""

    kind: str
    fn: Callable[..., Any]
    args: tuple[str, ...]
    wrt: tuple[str, ...] = ()
    lr: float = 0.0
    needs: tuple[str, ...] = ()  # functional-layer names this spec needs (else: skipped with the reason)


@dataclass(frozen=True)
class Workload:
    """One benchmark. `sizes` maps "quick"/"full" to a size (any hashable description); `sweep` lists
    sizes for the speed-against-size plot; `work(size)` gives (amount, unit) for a throughput figure."""

    name: str
    title: str
    description: str
    sizes: dict[str, Any]
    make_inputs: Callable[[Any, np.random.Generator], Inputs]
    reference: Callable[[Inputs], list[np.ndarray]]
    graphflow: GraphflowSpec
    peers: dict[str, Callable[..., Prepared]] = field(default_factory=dict)
    sweep: tuple[Any, ...] = ()
    work: Callable[[Any], tuple[float, str]] | None = None
    rtol: float = 1e-4
    atol: float = 1e-5
    output_names: tuple[str, ...] = ()

    def size_label(self, size: Any) -> str:
        return "x".join(map(str, size)) if isinstance(size, tuple) else str(size)


def to64(inputs: Inputs) -> Inputs:
    """Float inputs widened to float64, for the reference computation."""
    return {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in inputs.items()}
