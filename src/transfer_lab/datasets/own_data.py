"""Bring your own data: Kedro datasets for an image folder, a table and ``.npz`` arrays.

Each loads as the project's :class:`~transfer_lab.contracts.Dataset` (``X`` float32 in
[0, 1]: images ``(n, C, H, W)``, tables ``(n, 1, F)``; ``y`` int64 with ``-1`` for an
unlabelled row; ``declared_classes`` the number of labelled classes), so a user's data set
is declared in the catalog, under ``raw_sources``, with no code, and chosen with
``data.dataset=<its name>``::

    raw_sources:
      type: transfer_lab.datasets.sources_dataset.SourcesDataset
      sources:
        digits: {type: transfer_lab.datasets.sources_dataset.DigitsDataset}
        my_images:
          type: transfer_lab.datasets.own_data.ImageFolderDataset
          path: data/01_raw/my_images     # one sub-folder per class (+ unlabelled/)
          resize: [28, 28]                # null: keep the size (all images must share it)
          grey: true                      # false: keep RGB (C = 3)

Every problem a user can make is one line (a :class:`OwnDataError`, which ``kedro run``
prints as ``Error: ...``): a missing folder or file, an empty folder, an unreadable image
(its file named), mixed image sizes when ``resize`` is off, a missing label column, fewer
than two labelled classes, non-numeric or non-finite features.

A table is handled as 1-D inputs (``kind="signal"``, one feature per position): the
methods and shifts that exist only for images (rotation, thickening, 2-D augmentations)
do not apply to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import numpy as np
from kedro.io import AbstractDataset, DatasetError

from transfer_lab.contracts import Dataset

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
UNLABELLED = -1

__all__ = ["ImageFolderDataset", "NpzDataset", "OwnDataError", "TableDataset", "labelled_classes"]


class OwnDataError(DatasetError, click.ClickException):
    """A user data set that cannot be used, said in one line (``Error: ...`` on the CLI)."""

    def __init__(self, message: str) -> None:
        click.ClickException.__init__(self, " ".join(str(message).split()))


def labelled_classes(y: np.ndarray, where: str) -> int:
    """The number of classes of the labelled rows (labels ``0 .. k-1``); at least two."""
    labelled = np.unique(y[y >= 0])
    if len(labelled) < 2:
        found = "no labelled row" if len(labelled) == 0 else f"a single class ({len(y[y >= 0])} labelled rows)"
        raise OwnDataError(f"{where}: {found}; a classification needs at least 2 labelled classes")
    return int(labelled.max()) + 1


def _encode_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels → ``0 .. k-1`` in sorted order of their text; missing (None/NaN/"") → ``-1``."""
    import pandas as pd

    missing = pd.isna(values) | np.array([str(v).strip() == "" for v in values], dtype=bool)
    names = sorted({_label_text(v) for v, gone in zip(values, missing) if not gone}, key=_natural)
    index = {name: i for i, name in enumerate(names)}
    y = np.array([UNLABELLED if gone else index[_label_text(v)] for v, gone in zip(values, missing)], dtype=np.int64)
    labelled_classes(y, where)
    return y, names


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _natural(text: str) -> tuple[int, float | str]:
    """Numbers in numeric order, then text."""
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _unit_range(X: np.ndarray, where: str) -> np.ndarray:
    """Features scaled column-wise to [0, 1] (min-max over all rows; labels not used)."""
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise OwnDataError(f"{where}: non-finite value at row {bad[0]}, feature {bad[1]}; fill or drop it first")
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return ((X - low) / span).astype(np.float32)


class _ReadOnly(AbstractDataset[None, Dataset]):
    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; it cannot save data")


class ImageFolderDataset(_ReadOnly):
    """A folder of images, one sub-folder per class (its name is the class name).

    Images in the sub-folder named ``unlabelled`` (or ``unlabelled_folder``) are kept with
    label ``-1``: the self- and semi-supervised families use them; no accuracy counts them.

    Parameters
    ----------
    path : str
        The folder.
    resize : [height, width], optional
        Resize every image (bilinear); ``None`` keeps the sizes, which must then all agree.
    grey : bool, default True
        Convert to one grey channel; ``False`` keeps RGB (``C = 3``).
    name : str, optional
        The data set's name in results (default: the folder's name).
    unlabelled_folder : str, default "unlabelled"
    """

    def __init__(  # noqa: PLR0913
        self, path: str, resize: list[int] | None = None, grey: bool = True, name: str | None = None,
        unlabelled_folder: str = "unlabelled", metadata: dict[str, Any] | None = None,
    ) -> None:
        if resize is not None and (len(resize) != 2 or any(int(s) < 1 for s in resize)):
            raise OwnDataError(f"resize={resize!r} is not allowed; expected [height, width] of positive integers or null")
        self._path = Path(path)
        self._resize = None if resize is None else (int(resize[0]), int(resize[1]))
        self._grey = bool(grey)
        self._name = name or self._path.name
        self._unlabelled = unlabelled_folder
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "resize": self._resize, "grey": self._grey}

    def _files(self) -> tuple[list[Path], list[str]]:
        if not self._path.is_dir():
            raise OwnDataError(f"image folder {self._path} does not exist")
        folders = sorted(p for p in self._path.iterdir() if p.is_dir() and not p.name.startswith("."))
        classes = [p.name for p in folders if p.name != self._unlabelled]
        files = [f for p in folders for f in sorted(p.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise OwnDataError(
                f"image folder {self._path} is empty: expected one sub-folder per class holding "
                f"{'/'.join(s[1:] for s in IMAGE_SUFFIXES[:3])} images"
            )
        return files, classes

    def _read(self, file: Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(file) as image:
                image = image.convert("L" if self._grey else "RGB")
                if self._resize is not None:
                    image = image.resize((self._resize[1], self._resize[0]), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise OwnDataError(f"unreadable image {file}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
        return pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)

    def load(self) -> Dataset:
        files, classes = self._files()
        index = {name: i for i, name in enumerate(classes)}
        images = [self._read(file) for file in files]
        first = images[0].shape[1:]
        odd = next((i for i, image in enumerate(images) if image.shape[1:] != first), None)
        if odd is not None:
            h, w = images[odd].shape[1:]
            raise OwnDataError(
                f"image folder {self._path} mixes image sizes ({files[odd]} is {h}x{w}, {files[0]} is "
                f"{first[0]}x{first[1]}); set resize: [height, width] in its catalog entry"
            )
        y = np.array([index.get(f.parent.name, UNLABELLED) for f in files], dtype=np.int64)
        n_classes = labelled_classes(y, f"image folder {self._path}")
        dataset = Dataset(name=self._name, kind="image", X=np.stack(images), y=y, declared_classes=n_classes)
        dataset.class_names = classes  # type: ignore[attr-defined]
        return dataset

    def _exists(self) -> bool:
        return self._path.is_dir()


class TableDataset(_ReadOnly):
    """A CSV or Parquet table: the feature columns are the inputs, one column the label.

    Rows whose label is empty / missing are unlabelled (``-1``). Labels are mapped to
    ``0 .. k-1`` in sorted order (numbers numerically); features are scaled to [0, 1]
    column by column (min-max over all rows). The data set is ``kind="signal"``, ``X`` of
    shape ``(n, 1, n_features)``.

    Parameters
    ----------
    filepath : str
        ``.csv`` or ``.parquet`` (``.pq``).
    label_column : str, default "label"
    feature_columns : list of str, optional
        Default: every other column (all must be numeric).
    name : str, optional
        Default: the file's stem.
    load_args : dict, optional
        Passed to ``pandas.read_csv`` / ``pandas.read_parquet``.
    """

    def __init__(  # noqa: PLR0913
        self, filepath: str, label_column: str = "label", feature_columns: list[str] | None = None,
        name: str | None = None, load_args: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._label = label_column
        self._features = feature_columns
        self._name = name or self._filepath.stem
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "label_column": self._label}

    def _frame(self):
        import pandas as pd

        if not self._filepath.is_file():
            raise OwnDataError(f"table {self._filepath} does not exist")
        suffix = self._filepath.suffix.lower()
        try:
            if suffix in (".parquet", ".pq"):
                return pd.read_parquet(self._filepath, **self._load_args)
            if suffix in (".csv", ".txt", ".tsv"):
                return pd.read_csv(self._filepath, **({"sep": "\t"} if suffix == ".tsv" else {}) | self._load_args)
        except Exception as error:  # a corrupt file: one line naming it
            raise OwnDataError(f"unreadable table {self._filepath}: {str(error).splitlines()[0]}") from None
        raise OwnDataError(f"table {self._filepath}: unknown suffix {suffix!r}; use .csv or .parquet")

    def load(self) -> Dataset:
        import pandas as pd

        where = f"table {self._filepath}"
        frame = self._frame()
        if self._label not in frame.columns:
            raise OwnDataError(f"{where} has no label column {self._label!r}; columns: {list(frame.columns)[:12]}")
        features = self._features or [c for c in frame.columns if c != self._label]
        missing = [c for c in features if c not in frame.columns]
        if missing or not features:
            raise OwnDataError(f"{where}: feature column(s) {missing or '[]'} not found; columns: {list(frame.columns)[:12]}")
        text = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
        if text:
            raise OwnDataError(f"{where}: feature column {text[0]!r} is not numeric; encode it or leave it out (feature_columns)")
        if len(frame) == 0:
            raise OwnDataError(f"{where} has no rows")
        y, names = _encode_labels(frame[self._label].to_numpy(dtype=object), where)
        X = _unit_range(frame[features].to_numpy(), where)[:, None, :]
        dataset = Dataset(name=self._name, kind="signal", X=X, y=y, declared_classes=len(names), table=True)
        dataset.class_names = names  # type: ignore[attr-defined]
        return dataset

    def _exists(self) -> bool:
        return self._filepath.is_file()


class NpzDataset(_ReadOnly):
    """NumPy arrays in an ``.npz`` file: inputs under ``x_key``, labels under ``y_key``.

    ``X`` of shape ``(n, F)`` is a table (scaled to [0, 1] per column, ``kind="signal"``);
    ``(n, L)`` with ``kind: signal`` or ``(n, 1, L)`` a signal; ``(n, H, W)``, ``(n, C, H, W)``
    or ``(n, H, W, C)`` (C of 1 or 3) images (uint8 divided by 255, other types scaled to
    [0, 1] by their overall min and max). Labels ``-1`` (or a missing ``y_key``: every row)
    are unlabelled; the others must be integers ``0 .. k-1``.
    """

    def __init__(  # noqa: PLR0913
        self, filepath: str, x_key: str = "X", y_key: str = "y", name: str | None = None,
        kind: str = "auto", metadata: dict[str, Any] | None = None,
    ) -> None:
        if kind not in ("auto", "image", "signal"):
            raise OwnDataError(f"kind={kind!r} is not allowed; use auto, image or signal")
        self._filepath = Path(filepath)
        self._x, self._y, self._kind = x_key, y_key, kind
        self._name = name or self._filepath.stem
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "x_key": self._x, "y_key": self._y}

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        where = f"npz file {self._filepath}"
        if not self._filepath.is_file():
            raise OwnDataError(f"{where} does not exist")
        try:
            with np.load(self._filepath, allow_pickle=False) as arrays:
                if self._x not in arrays:
                    raise OwnDataError(f"{where} has no array {self._x!r}; arrays: {sorted(arrays.files)}")
                X = arrays[self._x]
                y = arrays[self._y] if self._y in arrays else np.full(len(X), UNLABELLED)
        except OwnDataError:
            raise
        except Exception as error:
            raise OwnDataError(f"unreadable npz file {self._filepath}: {str(error).splitlines()[0]}") from None
        if y.ndim != 1 or len(y) != len(X) or (y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.mod(y[np.isfinite(y)], 1) == 0))):
            raise OwnDataError(f"{where}: {self._y!r} must be {len(X)} integer labels (-1 = unlabelled); got shape {y.shape} dtype {y.dtype}")
        y = np.where(np.isfinite(y.astype(np.float64)), y, UNLABELLED).astype(np.int64)
        if (y < UNLABELLED).any():
            raise OwnDataError(f"{where}: label {int(y.min())} is not allowed; labels are 0 .. k-1, or -1 for unlabelled")
        return X, y

    def load(self) -> Dataset:
        where = f"npz file {self._filepath}"
        X, y = self._arrays()
        if X.dtype.kind not in "iufb" or len(X) == 0:
            raise OwnDataError(f"{where}: {self._x!r} must be a non-empty numeric array; got shape {X.shape} dtype {X.dtype}")
        n_classes = labelled_classes(y, where)
        if X.ndim == 2 and self._kind != "signal":
            return Dataset(name=self._name, kind="signal", X=_unit_range(X, where)[:, None, :], y=y, declared_classes=n_classes, table=True)
        if X.ndim == 4 and X.shape[-1] in (1, 3) and X.shape[1] not in (1, 3):
            X = np.moveaxis(X, -1, 1)  # (n, H, W, C) → (n, C, H, W)
        shape = {2: lambda a: a[:, None], 3: lambda a: a[:, None] if self._kind != "signal" else a, 4: lambda a: a}
        if X.ndim not in shape:
            raise OwnDataError(f"{where}: {self._x!r} of shape {X.shape} is not allowed; expected (n, F), (n, H, W) or (n, C, H, W)")
        X = shape[X.ndim](X)
        kind = "signal" if X.ndim == 3 else "image"
        return Dataset(name=self._name, kind=kind, X=_scaled(X, where), y=y, declared_classes=n_classes)

    def _exists(self) -> bool:
        return self._filepath.is_file()


def _scaled(X: np.ndarray, where: str) -> np.ndarray:
    """uint8 / 255; other types into [0, 1] by the overall min and max (if outside it)."""
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)
    X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise OwnDataError(f"{where}: the inputs hold non-finite values; fill or drop them first")
    low, high = float(X.min()), float(X.max())
    if low < 0.0 or high > 1.0:
        X = (X - low) / (high - low if high > low else 1.0)
    return X
