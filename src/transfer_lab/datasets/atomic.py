"""Catalog datasets whose files appear whole or not at all.

kedro-datasets write straight to the final path, so a run killed mid-write leaves a
truncated pickle or parquet file that ``kedro run --only-missing-outputs`` takes for a
finished output. The classes here are those datasets with one change: the file is written
under a hidden temporary name in the same folder (``.<name>.<pid>.partial``), flushed to
disk, and renamed over the final name (``os.replace``, atomic on a POSIX file system). A
failed or killed save leaves the previous file, if any, untouched.

Use them by type name in the catalog, e.g. ``type: transfer_lab.datasets.atomic.ParquetDataset``;
every argument is the kedro-datasets class's own. Remote filesystems (``s3://``, ...) and
versioned datasets are written as kedro-datasets writes them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.pickle import PickleDataset as _PickleDataset
from kedro_datasets.text import TextDataset as _TextDataset

__all__ = ["AtomicWriteMixin", "CSVDataset", "JSONDataset", "MatplotlibDataset", "ParquetDataset", "PickleDataset",
           "TextDataset", "partial_name", "replace_atomically"]


def partial_name(final: Path) -> Path:
    """The temporary name a save writes to before the rename: hidden, same folder, and
    ending in ``.partial`` so that no pattern for the real files (``*_results.csv``) matches."""
    return final.with_name(f".{final.name}.{os.getpid()}.partial")


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    try:  # the rename itself: sync the folder (not possible everywhere)
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(partial: Path, final: Path) -> None:
    """Move a finished ``partial`` file (or folder) to ``final``."""
    _fsync(partial)
    if partial.is_dir() and final.exists():
        # folders cannot be renamed over a non-empty folder: swap through an aside name
        aside = final.with_name(f".{final.name}.{os.getpid()}.old")
        os.replace(final, aside)
        os.replace(partial, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(partial, final)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class AtomicWriteMixin:
    """Makes a kedro-datasets file dataset save through a temporary name and a rename.

    The dataset's own ``save`` runs unchanged, with ``_get_save_path`` answering the
    temporary path; the rename follows only when it returns.
    """

    _atomic_target: PurePosixPath | None = None

    def _get_save_path(self) -> PurePosixPath:
        if self._atomic_target is not None:
            return self._atomic_target
        return super()._get_save_path()  # type: ignore[misc]

    def save(self, data: Any) -> None:
        if getattr(self, "_protocol", "file") != "file" or getattr(self, "_version", None) is not None:
            super().save(data)  # type: ignore[misc]
            return
        final = Path(str(super()._get_save_path()))  # type: ignore[misc]
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_name(final)
        _remove(partial)
        self._atomic_target = PurePosixPath(partial.as_posix())
        try:
            super().save(data)  # type: ignore[misc]
            replace_atomically(partial, final)
        except BaseException:
            _remove(partial)
            raise
        finally:
            self._atomic_target = None


class CSVDataset(AtomicWriteMixin, _CSVDataset):
    """``pandas.CSVDataset`` that writes atomically (see the module docstring)."""


class ParquetDataset(AtomicWriteMixin, _ParquetDataset):
    """``pandas.ParquetDataset`` that writes atomically (see the module docstring)."""


class PickleDataset(AtomicWriteMixin, _PickleDataset):
    """``pickle.PickleDataset`` that writes atomically (see the module docstring)."""


class JSONDataset(AtomicWriteMixin, _JSONDataset):
    """``json.JSONDataset`` that writes atomically (see the module docstring)."""


class MatplotlibDataset(AtomicWriteMixin, _MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` that writes atomically (see the module docstring)."""


class TextDataset(AtomicWriteMixin, _TextDataset):
    """``text.TextDataset`` that writes atomically (see the module docstring)."""
