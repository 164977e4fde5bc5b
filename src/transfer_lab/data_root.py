"""The data root: where every file of a run lives (``globals.yml``: ``data_root``).

The catalogs put every dataset under ``${globals:data_root}``; the files a run writes outside
the catalog (the run lock, :mod:`transfer_lab.reliability`) and the files the hooks read back
(the report, :mod:`transfer_lab.hooks`) follow the same value, read from the same globals.
A relative root is relative to the project folder (where ``kedro run`` runs); an fsspec URL
(``s3://...``, ``gcs://...``, ``memory://...``) is opened with fsspec, never replaced by a
local folder.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

DEFAULT_DATA_ROOT = "data"
#: the run's HTML report (the evaluation pipeline's ``report`` dataset), under the data root
REPORT_NAME = "08_reporting/report.html"
LOCAL_PROTOCOLS = ("file", "local")


def configured_data_root(config_loader: Any) -> str:
    """``data_root`` from the configuration's globals (``conf/<env>/globals.yml`` over
    ``conf/base``), as the catalog's ``${globals:data_root}`` reads it; ``data`` if unset."""
    try:
        value = (config_loader["globals"] or {}).get("data_root")
    except Exception:  # no globals at all: Kedro's own default configuration
        value = None
    return str(value) if value not in (None, "") else DEFAULT_DATA_ROOT


@dataclass(frozen=True)
class DataRoot:
    """A data root as configured (``value``) and the project folder a relative one is in."""

    value: str = DEFAULT_DATA_ROOT
    project_path: Path = Path(".")

    @classmethod
    def from_config(cls, config_loader: Any, project_path: str | Path) -> DataRoot:
        return cls(configured_data_root(config_loader), Path(project_path))

    @property
    def protocol(self) -> str:
        from fsspec.core import split_protocol

        protocol, _ = split_protocol(self.value)
        return protocol or "file"

    @property
    def remote(self) -> bool:
        return self.protocol not in LOCAL_PROTOCOLS

    @property
    def local_path(self) -> Path:
        """The folder on this machine (a local root only)."""
        if self.remote:
            raise ValueError(f"data_root {self.value} is not a local folder")
        from fsspec.core import strip_protocol

        path = Path(strip_protocol(self.value) if "://" in self.value else self.value).expanduser()
        return path if path.is_absolute() else self.project_path / path

    def location(self, name: str) -> str:
        """``name`` under the root, as a user would type it: ``data/08_reporting/report.html``
        (relative to the project), an absolute path, or a URL."""
        if self.remote:
            return posixpath.join(self.value.rstrip("/"), name)
        relative = Path(self.value)
        return str((relative if not relative.is_absolute() else self.local_path) / PurePosixPath(name))

    def filesystem(self, name: str = ""):
        """``(fsspec filesystem, path)`` of ``name`` under the root."""
        from fsspec.core import url_to_fs

        target = self.location(name) if self.remote else str(self.local_path / name if name else self.local_path)
        return url_to_fs(target)

    def modified(self, name: str) -> float | None:
        """When ``name`` was last written (seconds since the epoch); None if it is absent or
        its filesystem does not say."""
        if not self.remote:
            try:
                return (self.local_path / name).stat().st_mtime
            except OSError:
                return None
        fs, path = self.filesystem(name)
        try:
            return fs.modified(path).timestamp()
        except (FileNotFoundError, NotImplementedError, AttributeError, OSError, ValueError):
            return None
