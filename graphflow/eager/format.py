"""`repr` of eager tensors in PyTorch's style: `tensor([1., 2.], requires_grad=True)`."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.ir.dtypes import bool_, default_float, int64

_PREFIX = "tensor("
_DEFAULT_SHOWN = {default_float, int64, bool_}  # dtypes whose name repr leaves out


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    mag = np.abs(finite)
    nonzero = mag[mag > 0]
    if np.all(finite == np.round(finite)) and (mag.max() < 1e8):
        return lambda v: _special(v) or f"{v:.0f}."
    sci = nonzero.size > 0 and (nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8 or nonzero.min() < 1e-4)
    if sci:
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v: float) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def format_values(data: np.ndarray, prefix: str = _PREFIX) -> str:
    """The bracketed values, laid out as PyTorch does (80 columns, summarised past 1000)."""
    if data.dtype.kind == "f":
        arr = data.astype(np.float64)
        fmt = _float_formatter(arr)
        shown = arr.reshape(-1)[:2000]
        finite = shown[np.isfinite(shown)]  # nan/inf do not widen the columns (as in PyTorch)
        width = max((len(fmt(float(v))) for v in (finite if finite.size else shown)), default=1)
        formatter: dict[str, Any] = {"float_kind": lambda v: fmt(float(v)).rjust(width)}
    elif data.dtype.kind == "b":
        arr = data
        formatter = {"bool": lambda v: str(bool(v)).rjust(5 if not np.all(data) else 4)}
    else:
        arr = data
        formatter = {}
    if arr.size == 0:
        return "[]"
    return np.array2string(arr, separator=", ", prefix=prefix, formatter=formatter, max_line_width=80,
                           threshold=1000, edgeitems=3)


def tensor_repr(t: Any) -> str:
    data = t._host()
    extras = []
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    if t._dtype not in _DEFAULT_SHOWN or (t._dtype is int64 and data.size == 0):
        extras.append(f"dtype={t._dtype!r}")
    dev = t.device
    if dev.type != "cpu":
        extras.append(f"device='{dev}'")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    body = format_values(data)
    return _PREFIX + body + "".join(f", {e}" for e in extras) + ")"
