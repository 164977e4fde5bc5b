"""Kedro dataset that reads IDX image/label files (MNIST, Fashion-MNIST, KMNIST)."""

from __future__ import annotations

from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import click
import fsspec
import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str, get_protocol_and_path

from transfer_lab.sources.idx import check_labels, idx_to_dataset, read_idx


class IDXInputError(DatasetError, click.ClickException):
    """A missing or invalid IDX input. A ``DatasetError``; being also a ``ClickException``,
    it reaches the user of ``kedro run`` as one line (``Error: ...``), not a traceback."""

    def __init__(self, message: str) -> None:
        click.ClickException.__init__(self, message)


class IDXDataset(AbstractDataset[None, dict]):
    """Read-only dataset of IDX image and label files, plain or gzipped.

    The train files, and optionally the official test files, are pooled into one dataset
    dict (our own splits re-split it); ``official_test`` marks the rows that came from
    the test files, for anyone who wants the official split back.

    Paths are fsspec paths or URLs (``data/01_raw/mnist/train-images-idx3-ubyte.gz``,
    ``s3://bucket/...``, ``https://...``), so the catalog can point at a local copy or at
    a mirror. Nothing is read until :meth:`load` or :meth:`load_labels` is called.

    Example catalog entry::

        mnist:
          type: transfer_lab.datasets.idx_dataset.IDXDataset
          name: mnist
          train_images: data/01_raw/mnist/train-images-idx3-ubyte.gz
          train_labels: data/01_raw/mnist/train-labels-idx1-ubyte.gz
          test_images: data/01_raw/mnist/t10k-images-idx3-ubyte.gz
          test_labels: data/01_raw/mnist/t10k-labels-idx1-ubyte.gz

    Parameters
    ----------
    train_images, train_labels : str
        Paths of the train image file (uint8, (n, H, W)) and label file ((n,)).
    test_images, test_labels : str, optional
        Paths of the test files; give both or neither.
    name : str, default "mnist"
        The dataset dict's ``name``.
    n_classes : int, default 10
        The number of classes the dataset declares: every label must lie in
        ``0 .. n_classes - 1`` (checked on load, before any training), and it is the
        dataset's ``n_classes`` (never inferred from the largest label).
    credentials : dict, optional
        Passed to the fsspec filesystem (e.g. ``{"key": ..., "secret": ...}`` for S3).
    fs_args : dict, optional
        Extra fsspec filesystem arguments; ``open_args_load`` is passed to ``open``.
    metadata : dict, optional
        Ignored by Kedro; for plugins such as Kedro-Viz.
    """

    def __init__(  # noqa: PLR0913
        self,
        train_images: str,
        train_labels: str,
        test_images: str | None = None,
        test_labels: str | None = None,
        name: str = "mnist",
        n_classes: int = 10,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if (test_images is None) != (test_labels is None):
            raise ValueError(
                f"test_images={test_images!r} with test_labels={test_labels!r} is not allowed; "
                "give both test files or neither"
            )
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r} is not allowed; expected an integer >= 2")
        self._n_classes = n_classes
        paths = {"train_images": train_images, "train_labels": train_labels}
        if test_images is not None:
            paths.update(test_images=test_images, test_labels=test_labels)
        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = {"mode": "rb", **_fs_args.pop("open_args_load", {})}
        _credentials = deepcopy(credentials) or {}

        protocols = set()
        self._paths: dict[str, PurePosixPath] = {}
        for key, path in paths.items():
            protocol, stripped = get_protocol_and_path(str(path))
            protocols.add(protocol)
            self._paths[key] = PurePosixPath(stripped)
        if len(protocols) != 1:
            # One filesystem object serves all files, so they must share a protocol.
            raise ValueError(
                f"IDX paths use several protocols {sorted(protocols)}; "
                "allowed: one protocol for all files"
            )
        self._protocol = protocols.pop()
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self._name = name
        self.metadata = metadata

    def _path(self, key: str) -> str:
        return get_filepath_str(self._paths[key], self._protocol)

    def _read(self, key: str) -> np.ndarray:
        path = self._path(key)
        try:
            with self._fs.open(path, **self._fs_open_args_load) as f:
                array = read_idx(f)
        except FileNotFoundError:
            raise IDXInputError(f"{key} {path}: no such file") from None
        except ValueError as exc:
            raise IDXInputError(f"{key} {path}: {exc}") from None
        if key.endswith("_labels"):
            try:
                check_labels(array, self._n_classes, where=f"{key} {path}")
            except ValueError as exc:
                raise IDXInputError(str(exc)) from None
        elif array.ndim != 3:
            hint = " (are the image and label files swapped?)" if array.ndim == 1 else ""
            raise IDXInputError(f"{key} {path}: images have shape {array.shape}; expected (n, H, W){hint}")
        elif array.dtype != np.uint8:
            raise IDXInputError(f"{key} {path}: images have dtype {array.dtype}; expected uint8 grey levels")
        return array

    def _parts(self) -> list[str]:
        return ["train", "test"] if "test_images" in self._paths else ["train"]

    def load(self) -> dict:
        """Read all files and return the pooled dataset dict.

        Returns
        -------
        dict
            ``{"name", "kind": "image", "X": float32 (n, 1, H, W) in [0, 1],
            "y": int64 (n,), "official_test": bool (n,)}`` with train rows first.
        """
        images, labels, from_test = [], [], []
        for part in self._parts():
            imgs = self._read(f"{part}_images")
            labs = self._read(f"{part}_labels")
            if len(imgs) != len(labs):
                raise IDXInputError(
                    f"{part} files do not match: {self._path(f'{part}_images')} holds {len(imgs)} images, "
                    f"{self._path(f'{part}_labels')} holds {len(labs)} labels; expected equal counts"
                )
            images.append(imgs)
            labels.append(labs)
            from_test.append(np.full(len(labs), part == "test"))
        if len(images) == 2 and images[0].shape[1:] != images[1].shape[1:]:
            raise IDXInputError(
                f"train image size {images[0].shape[1:]} differs from test image size "
                f"{images[1].shape[1:]}"
            )
        dataset = idx_to_dataset(np.concatenate(images), np.concatenate(labels), self._name, self._n_classes)
        dataset.official_test = np.concatenate(from_test)
        return dataset

    def load_labels(self) -> np.ndarray:
        """Read only the label files (cheap: for validation without the images).

        Returns
        -------
        numpy.ndarray of int64
            Train labels followed by test labels, as in :meth:`load`.
        """
        return np.concatenate(
            [self._read(f"{part}_labels") for part in self._parts()]
        ).astype(np.int64)

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; it cannot save data")

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "n_classes": self._n_classes,
            "protocol": self._protocol,
            **{key: str(path) for key, path in self._paths.items()},
        }

    def _exists(self) -> bool:
        return all(self._fs.exists(self._path(k)) for k in ("train_images", "train_labels"))
