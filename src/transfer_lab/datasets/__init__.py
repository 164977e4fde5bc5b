"""Custom Kedro datasets: IDX files and lazily loaded data sources."""

from transfer_lab.datasets.idx_dataset import IDXDataset
from transfer_lab.datasets.sources_dataset import DigitsDataset, MNIST1DDataset, SourcesDataset

__all__ = ["IDXDataset", "SourcesDataset", "DigitsDataset", "MNIST1DDataset"]
