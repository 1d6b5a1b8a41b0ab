"""`graphflow.data` (also `graphflow.utils.data`): datasets, samplers and the DataLoader."""

from graphflow.data.dataloader import DataLoader, default_collate
from graphflow.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from graphflow.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["DataLoader", "default_collate", "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]
