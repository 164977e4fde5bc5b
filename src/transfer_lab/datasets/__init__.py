"""Custom Kedro datasets: IDX files, a user's image folder / table / .npz arrays, lazily loaded data sources, encoder checkpoints."""

from transfer_lab.datasets.figure_dataset import FigureDataset
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointDataset, EncoderCheckpointsDataset
from transfer_lab.datasets.idx_dataset import IDXDataset
from transfer_lab.datasets.own_data import ImageFolderDataset, NpzDataset, TableDataset
from transfer_lab.datasets.sources_dataset import DigitsDataset, SourcesDataset

__all__ = ["IDXDataset", "ImageFolderDataset", "TableDataset", "NpzDataset", "SourcesDataset", "DigitsDataset", "EncoderCheckpointDataset", "EncoderCheckpointsDataset", "FigureDataset"]
