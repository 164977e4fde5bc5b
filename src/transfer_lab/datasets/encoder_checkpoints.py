"""Kedro datasets for encoder checkpoints (``methods.encoders.encoder_checkpoint`` dicts).

Saved with ``torch.save`` and loaded with ``weights_only=True``, so loading a checkpoint
never runs code from the file. One file per encoder: ``<folder>/<name>.pt``; a folder
also holds ``manifest.json``, written last, without which it does not count as saved.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

_SUFFIX = ".pt"
MANIFEST = "manifest.json"

logger = logging.getLogger(__name__)


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which one
        raise DatasetError(f"cannot load encoder checkpoint {path}: {error}") from error


def _save(checkpoint: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(checkpoint, partial)
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    partial.replace(path)  # never leave a half-written checkpoint under the real name


def _write_manifest(folder: Path, files: dict[str, int]) -> None:
    partial = folder / f".{MANIFEST}.partial"
    partial.write_text(json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    partial.replace(folder / MANIFEST)


class EncoderCheckpointsDataset(AbstractDataset[dict, dict]):
    """A folder of encoder checkpoints, ``{name: checkpoint}``.

    ``load`` returns the checkpoints that the folder's ``manifest.json`` lists (an empty
    dict when there is no complete folder, so a pipeline can use pretrained encoders *when
    present*); ``save`` removes the manifest, writes one file per name (each atomically),
    removes checkpoints of names it was not given, so that encoders of an earlier run
    (another data set, other budgets) never mix with this run's, and writes the manifest
    last. A save that was interrupted leaves no manifest: the folder does not exist for
    ``kedro run --only-missing-outputs`` and loads as empty.

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

    def _manifest(self) -> dict[str, int] | None:
        try:
            files = json.loads((self._path / MANIFEST).read_text())["files"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"unreadable checkpoint manifest {self._path / MANIFEST}: {error}") from error
        return {str(name): int(size) for name, size in files.items()}

    def load(self) -> dict[str, dict]:
        if not self._path.is_dir():
            return {}
        manifest = self._manifest()
        if manifest is None:
            leftovers = sorted(path.name for path in self._path.glob(f"*{_SUFFIX}"))
            if leftovers:
                logger.warning(
                    "Ignoring %d checkpoint(s) in %s: the folder has no %s (an interrupted save)",
                    len(leftovers), self._path, MANIFEST,
                )
            return {}
        loaded = {}
        for name, size in sorted(manifest.items()):
            path = self._path / f"{name}{_SUFFIX}"
            if not path.is_file() or path.stat().st_size != size:
                raise DatasetError(f"checkpoint {path} is missing or changed since {self._path / MANIFEST} was written")
            loaded[name] = _load(path)
        return loaded

    def save(self, data: dict[str, dict]) -> None:
        for name in data:
            if not name or "/" in name or name.startswith("."):
                raise DatasetError(f"invalid checkpoint name {name!r}")
        self._path.mkdir(parents=True, exist_ok=True)
        (self._path / MANIFEST).unlink(missing_ok=True)  # incomplete from here on
        for name, checkpoint in data.items():
            _save(checkpoint, self._path / f"{name}{_SUFFIX}")
        for stale in self._path.glob(f"*{_SUFFIX}"):
            if stale.stem not in data:
                stale.unlink()
        _write_manifest(self._path, {name: (self._path / f"{name}{_SUFFIX}").stat().st_size for name in data})

    def _exists(self) -> bool:
        return (self._path / MANIFEST).is_file()


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
