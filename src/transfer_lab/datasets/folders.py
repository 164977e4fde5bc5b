"""Folder datasets that may be empty: a user's encoder checkpoints, and a store of tables.

Kedro's ``PartitionedDataset`` refuses to load a folder with no partitions; the
``recommend`` pipeline must work before a user has put any checkpoint anywhere, and before
any data set was verified, so these load an empty dict then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from transfer_lab.datasets.atomic import partial_name, replace_atomically


class CheckpointFolderDataset(AbstractDataset[None, dict]):
    """Every ``*.pt`` encoder checkpoint under ``path`` (``methods.encoders.encoder_checkpoint``
    format, loaded with ``weights_only=True``), ``{file stem: checkpoint}``; read-only.

    Example catalog entry::

        recommend.user_encoders:
          type: transfer_lab.datasets.folders.CheckpointFolderDataset
          path: data/06_models/user_encoders
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def load(self) -> dict[str, dict]:
        from transfer_lab.datasets.encoder_checkpoints import _load

        if not self._path.is_dir():
            return {}
        loaded = {path.stem: _load(path) for path in sorted(self._path.rglob("*.pt"))}
        for name, checkpoint in loaded.items():
            if not isinstance(checkpoint, dict) or "encoder" not in checkpoint or "state_dict" not in checkpoint:
                raise DatasetError(f"{self._path / name}.pt is not an encoder checkpoint (keys 'encoder', 'state_dict'); "
                                   "save it with transfer_lab.methods.encoders.encoder_checkpoint")
        return loaded

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; it cannot save data")


class CSVFolderDataset(AbstractDataset[dict, dict]):
    """A folder of CSV tables, ``{stem: DataFrame}`` for the files matching ``pattern``;
    ``save`` adds or replaces the tables it is given (each written atomically) and keeps the
    others; ``load`` of a missing or empty folder is ``{}``."""

    def __init__(self, path: str, pattern: str = "*.csv", metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self._pattern = pattern
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def load(self) -> dict[str, pd.DataFrame]:
        if not self._path.is_dir():
            return {}
        return {path.stem: pd.read_csv(path) for path in sorted(self._path.glob(self._pattern))}

    def save(self, data: dict[str, pd.DataFrame]) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        for name, frame in data.items():
            final = self._path / f"{name}.csv"
            partial = partial_name(final)
            frame.to_csv(partial, index=False)
            replace_atomically(partial, final)

    def _exists(self) -> bool:
        return self._path.is_dir()
