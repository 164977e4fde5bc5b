"""Custom Kedro datasets: IDX files and lazily loaded data sources."""

from transfer_lab.datasets.idx_dataset import IDXDataset
from transfer_lab.datasets.sources_dataset import DigitsDataset, SourcesDataset

__all__ = ["IDXDataset", "SourcesDataset", "DigitsDataset"]
