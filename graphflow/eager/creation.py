"""Creation functions: tensor, from_numpy, zeros, ones, full, empty, rand, randn, randint,
arange, linspace, eye and the *_like family."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow import random as R
from graphflow.backends.memory import aligned_empty
from graphflow.eager.device import as_device, require
from graphflow.eager.tensor import HANDLER, Tensor, _new
from graphflow.errors import DTypeError
from graphflow.ir.dtypes import DType, bool_, default_float, get_dtype, int64


def _aligned_copy(arr: np.ndarray) -> np.ndarray:
    out = aligned_empty(arr.shape, arr.dtype)
    np.copyto(out, arr)
    return out


def _infer_dtype(data: Any) -> DType:
    """The dtype torch.tensor gives: bools stay bool, ints int64, floats the default float."""
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64 if not isinstance(data, np.ndarray) else get_dtype(arr.dtype)
    if kind == "f":
        return default_float if not isinstance(data, np.ndarray) else get_dtype(arr.dtype)
    if kind == "O" or kind == "V" and arr.dtype.name != "bfloat16":
        raise DTypeError(f"tensor: cannot build a tensor from {type(data).__name__} data")
    return get_dtype(arr.dtype)


def _unwrap(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(d) for d in data]
    return data


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    data = _unwrap(data)
    dt = get_dtype(dtype) if dtype is not None else _infer_dtype(data)
    try:
        arr = np.asarray(data, dtype=dt.np) if dt.kind != "b" or np.asarray(data).dtype.kind == "b" else \
            np.asarray(data) != 0
    except (ValueError, TypeError) as exc:
        raise ValueError(f"tensor: cannot build a tensor from the given data ({exc})") from None
    return _aligned_copy(arr)


def _finish(arr: np.ndarray, dtype: DType, device: Any, requires_grad: bool) -> Tensor:
    dev = as_device(device)
    if dev.type != "cpu":
        require(dev)
        from graphflow.eager.devices import upload

        t = _new(upload(arr, dev), dtype, dev)
    else:
        t = _new(arr, dtype, None)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors)."""
    arr = _to_array(data, dtype)
    return _finish(arr, get_dtype(arr.dtype), device, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or get_dtype(dtype) is data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or get_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array`'s memory: writes through either are seen by both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    t = _new(array, get_dtype(array.dtype), None)
    t._alias = True
    return t


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for d in size:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) and not hasattr(d, "__index__"):
            raise TypeError(f"size must be a sequence of ints, got {tuple(size)!r}")
        d = int(d)
        if d < 0:
            raise ValueError(f"negative dimension {d} in size {tuple(size)!r}")
        out.append(d)
    return tuple(out)


def _dt(dtype: Any, default: DType = default_float) -> DType:
    return get_dtype(dtype) if dtype is not None else default


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = bool_ if isinstance(fill_value, bool) else int64 if isinstance(fill_value, int) else default_float
    dt = get_dtype(dtype)
    shape = _size((size,) if isinstance(size, int) else tuple(size))
    arr = aligned_empty(shape, dt.np)
    arr.fill(fill_value)
    return _finish(arr, dt, device, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(_size(size), 0, dtype=_dt(dtype), device=device, requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(_size(size), 1, dtype=_dt(dtype), device=device, requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    dt = _dt(dtype)
    return _finish(aligned_empty(_size(size), dt.np), dt, device, requires_grad)


def _random(draw, size: tuple, dtype: DType, generator: Any, device: Any, requires_grad: bool) -> Tensor:
    key = HANDLER.constant(np.asarray((generator or R.default_generator).next_key(), dtype=np.int64))
    out = draw(size, dtype, key=key)
    return _finish(out._data, dtype, device, requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform numbers in [0, 1)."""
    return _random(R.uniform, _size(size), _dt(dtype), generator, device, requires_grad)


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal numbers."""
    return _random(R.normal, _size(size), _dt(dtype), generator, device, requires_grad)


def randint(low: int, high: int | None = None, size: Any = None, generator: Any = None, dtype: Any = None,
            device: Any = None) -> Tensor:
    """Integers in [low, high) (`randint(high, size)` starts at 0)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: missing the size argument")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    shape = _size((size,) if isinstance(size, int) else tuple(size))
    out = R.randint(int(low), int(high), shape, _dt(dtype, int64), generator, like=HANDLER.constant(np.zeros(())))
    return _finish(out._data, out.dtype, device, False)


def randperm(n: int, generator: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    """A random permutation of 0..n-1 (argsort of uniform keys)."""
    u = rand(n, generator=generator, dtype="float64")
    return _finish(np.argsort(u._data, kind="stable").astype(_dt(dtype, int64).np), _dt(dtype, int64), device,
                   False)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    vals = (start, end, step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals)
    dt = _dt(dtype, int64 if is_int else default_float)
    n = max(int(math.ceil((end - start) / step)), 0)
    arr = (np.arange(n, dtype=np.float64) * step + start) if not is_int else np.arange(start, end, step)
    return _finish(_aligned_copy(arr.astype(dt.np)), dt, device, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    dt = _dt(dtype)
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(_aligned_copy(np.linspace(start, end, steps).astype(dt.np)), dt, device, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    dt = _dt(dtype)
    return _finish(_aligned_copy(np.eye(n, m if m is not None else n, dtype=dt.np)), dt, device, requires_grad)


def _like(x: Tensor, dtype: Any) -> tuple[tuple, DType, Any]:
    return tuple(x.shape), (get_dtype(dtype) if dtype is not None else x.dtype), x.device


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return full(shape, 0, dtype=dt, device=device or dev, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return full(shape, 1, dtype=dt, device=device or dev, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return full(shape, fill_value, dtype=dt, device=device or dev, requires_grad=requires_grad)


def empty_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return empty(shape, dtype=dt, device=device or dev, requires_grad=requires_grad)


def rand_like(x: Tensor, dtype: Any = None, generator: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return rand(shape, dtype=dt, generator=generator, device=device or dev, requires_grad=requires_grad)


def randn_like(x: Tensor, dtype: Any = None, generator: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(x, dtype)
    return randn(shape, dtype=dt, generator=generator, device=device or dev, requires_grad=requires_grad)


def randint_like(x: Tensor, low: int, high: int | None = None, dtype: Any = None, generator: Any = None) -> Tensor:
    return randint(low, high, tuple(x.shape), generator=generator, dtype=dtype or x.dtype)
