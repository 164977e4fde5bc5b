"""Kedro datasets for encoder checkpoints (``methods.encoders.encoder_checkpoint`` dicts).

Saved with ``torch.save`` and loaded with ``weights_only=True``, so loading a checkpoint
never runs code from the file. One file per encoder: ``<folder>/<name>.pt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

_SUFFIX = ".pt"


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which one
        raise DatasetError(f"cannot load encoder checkpoint {path}: {error}") from error


def _save(checkpoint: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(path)  # never leave a half-written checkpoint under the real name


class EncoderCheckpointsDataset(AbstractDataset[dict, dict]):
    """A folder of encoder checkpoints, ``{name: checkpoint}``.

    ``load`` returns every ``*.pt`` in the folder (an empty dict when there are none, so a
    pipeline can use pretrained encoders *when present*); ``save`` writes one file per
    name and removes checkpoints of names it was not given, so that encoders of an earlier
    run (another data set, other budgets) never mix with this run's.

    Example catalog entry::

        pretrained_encoders:
          type: transfer_lab.datasets.encoder_checkpoints.EncoderCheckpointsDataset
          path: data/06_models/encoders
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def load(self) -> dict[str, dict]:
        if not self._path.is_dir():
            return {}
        return {path.stem: _load(path) for path in sorted(self._path.glob(f"*{_SUFFIX}"))}

    def save(self, data: dict[str, dict]) -> None:
        for name, checkpoint in data.items():
            if not name or "/" in name or name.startswith("."):
                raise DatasetError(f"invalid checkpoint name {name!r}")
            _save(checkpoint, self._path / f"{name}{_SUFFIX}")
        for stale in self._path.glob(f"*{_SUFFIX}"):
            if stale.stem not in data:
                stale.unlink()

    def _exists(self) -> bool:
        return self._path.is_dir() and any(self._path.glob(f"*{_SUFFIX}"))


class EncoderCheckpointDataset(AbstractDataset[dict, dict]):
    """One encoder checkpoint file (``torch.save``; loaded with ``weights_only=True``)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def load(self) -> dict:
        if not self._filepath.is_file():
            raise DatasetError(f"no encoder checkpoint at {self._filepath}")
        return _load(self._filepath)

    def save(self, data: dict) -> None:
        _save(data, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()
