"""Datasets and loading, PyTorch's ``torch.utils.data`` subset (single process)."""

from convkit.utils.data.dataloader import DataLoader, default_collate
from convkit.utils.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from convkit.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler"]
