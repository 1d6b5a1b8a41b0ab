"""`DataLoader`: batches of a dataset, with optional shuffling (`generator=`), `drop_last` and a
custom `collate_fn`. Loading happens in the calling process (num_workers is accepted, and only 0
is supported)."""

from __future__ import annotations

import collections.abc as abc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from graphflow.data.dataset import IterableDataset, TensorDataset
from graphflow.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate"]


def _tensor(array: np.ndarray) -> Any:
    from graphflow.eager.tensor import Tensor

    return Tensor(array)


def _collate_tensors(batch: list) -> Any:
    from graphflow.eager.tensor import Tensor

    if all(not t.requires_grad and t.device.type == "cpu" for t in batch):
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, got shapes {sorted(shapes)}")
        return Tensor(np.stack([t.numpy() for t in batch]))
    from graphflow.ops.shape import stack

    return stack(batch)


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, as PyTorch does: tensors and arrays are stacked,
    Python floats/ints/bools become float64/int64/bool tensors, strings stay a list, and
    dicts, tuples, lists and namedtuples are collated field by field."""
    from graphflow.eager.tensor import Tensor

    first = batch[0]
    if isinstance(first, Tensor):
        return _collate_tensors(batch)
    if isinstance(first, np.ndarray):
        if first.dtype.kind in "OUS":
            raise TypeError(f"default_collate: cannot collate arrays of dtype {first.dtype}")
        return _tensor(np.stack(batch))
    if isinstance(first, np.generic):
        return _tensor(np.asarray(batch))
    if isinstance(first, bool):
        return _tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(first, int):
        return _tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(first, float):
        return _tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(first, str | bytes):
        return list(batch)
    if isinstance(first, abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(items)) for items in zip(*batch)))
    if isinstance(first, abc.Sequence):
        if len({len(s) for s in batch}) != 1:
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(items)) for items in zip(*batch)]
        return tuple(columns) if isinstance(first, tuple) else columns
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(first).__name__}")


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` (None: samples one by one, uncollated)."""

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None, sampler: Any = None,
                 batch_sampler: Any = None, num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0, worker_init_fn: Any = None,
                 generator: Any = None, **kwargs: Any) -> None:
        if num_workers != 0:
            raise NotImplementedError("DataLoader: only num_workers=0 (loading in this process) is supported")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.generator, self.num_workers, self.pin_memory, self.timeout = generator, num_workers, pin_memory, timeout
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, sampler and batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size = None
            self.batch_size = None
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else (lambda sample: sample)
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._iter_stream()
            return
        if not self._auto_collation:
            for idx in self.sampler:
                yield self.collate_fn(self.dataset[idx])
            return
        fast = self._default_collate and isinstance(self.dataset, TensorDataset)
        for indices in self.batch_sampler:
            if fast:  # the same result as stacking the samples, in one gather per tensor
                yield self.dataset.batch(indices)
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    def _iter_stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch: list = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("an IterableDataset's DataLoader has no length")
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)
