"""Datasets, samplers and the DataLoader."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import graphflow as gf
from graphflow.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset, default_collate, random_split


def _ds(n=10):
    return TensorDataset(gf.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)), gf.tensor(np.arange(n)))


def test_tensor_dataset():
    ds = _ds()
    assert len(ds) == 10
    x, y = ds[3]
    np.testing.assert_array_equal(x.numpy(), [6, 7])
    assert y.item() == 3
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(gf.zeros(3, 2), gf.zeros(4))


def test_batches_in_order_and_drop_last():
    loader = DataLoader(_ds(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [tuple(b[0].shape) for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10))
    assert batches[0][1].dtype is gf.int64 and batches[0][0].dtype is gf.float32
    loader = DataLoader(_ds(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and len(list(loader)) == 2


def test_shuffle_with_generator_is_reproducible_and_a_permutation():
    def epoch(gen):
        return np.concatenate([y.numpy() for _, y in DataLoader(_ds(20), batch_size=6, shuffle=True, generator=gen)])

    a = epoch(gf.Generator().manual_seed(7))
    b = epoch(gf.Generator().manual_seed(7))
    c = epoch(gf.Generator().manual_seed(8))
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(20)) and not np.array_equal(a, np.arange(20))
    assert not np.array_equal(a, c)
    gen = gf.Generator().manual_seed(7)
    loader = DataLoader(_ds(20), batch_size=6, shuffle=True, generator=gen)
    e1 = np.concatenate([y.numpy() for _, y in loader])
    e2 = np.concatenate([y.numpy() for _, y in loader])
    assert not np.array_equal(e1, e2)  # a new order each epoch
    gf.manual_seed(3)
    d1 = np.concatenate([y.numpy() for _, y in DataLoader(_ds(20), batch_size=5, shuffle=True)])
    gf.manual_seed(3)
    d2 = np.concatenate([y.numpy() for _, y in DataLoader(_ds(20), batch_size=5, shuffle=True)])
    np.testing.assert_array_equal(d1, d2)  # the default generator follows gf.manual_seed


class Records(Dataset):
    Point = namedtuple("Point", "x label")

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"id": i, "score": i / 2, "flag": i % 2 == 0, "name": f"r{i}", "vec": np.full(3, i, np.float32),
                "pair": (gf.tensor([i, i]), i), "point": self.Point(float(i), i)}


def test_collate_dicts_tuples_numbers_strings():
    (batch,) = list(DataLoader(Records(), batch_size=5))
    assert batch["id"].dtype is gf.int64 and batch["id"].tolist() == [0, 1, 2, 3, 4]
    assert batch["score"].dtype is gf.float64 and batch["score"].tolist() == [0, 0.5, 1, 1.5, 2]
    assert batch["flag"].dtype is gf.bool and batch["flag"].tolist() == [True, False, True, False, True]
    assert batch["name"] == ["r0", "r1", "r2", "r3", "r4"]
    assert tuple(batch["vec"].shape) == (5, 3) and batch["vec"].dtype is gf.float32
    pair_t, pair_n = batch["pair"]
    assert tuple(pair_t.shape) == (5, 2) and pair_n.tolist() == [0, 1, 2, 3, 4]
    assert isinstance(batch["point"], Records.Point) and batch["point"].x.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_custom_collate_and_unbatched():
    loader = DataLoader(_ds(6), batch_size=3, collate_fn=lambda samples: len(samples))
    assert list(loader) == [3, 3]
    items = list(DataLoader(_ds(3), batch_size=None))
    assert len(items) == 3 and tuple(items[0][0].shape) == (2,)


def test_fast_path_equals_sample_collation():
    ds = _ds(9)
    idx = [4, 0, 7]
    fast = ds.batch(idx)
    slow = default_collate([ds[i] for i in idx])
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.dtype is b.dtype


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)


def test_random_split():
    ds = _ds(10)
    a, b = random_split(ds, [7, 3], generator=gf.Generator().manual_seed(1))
    assert isinstance(a, Subset) and len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=gf.Generator().manual_seed(1))
    assert a.indices == a2.indices
    parts = random_split(range(10), [0.5, 0.3, 0.2], generator=gf.Generator().manual_seed(2))
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(range(11), [0.5, 0.5])
    assert [len(p) for p in parts] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 4])
    x, y = a[0]
    assert y.item() == a.indices[0]


def test_loader_argument_checks():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_ds(), sampler=[0, 1], shuffle=True)


def test_utils_data_alias():
    from graphflow.utils.data import DataLoader as D2
    from graphflow.utils.data import TensorDataset as T2

    assert D2 is DataLoader and T2 is TensorDataset
