"""Kedro datasets that hand the pipelines their data sources lazily.

``SourcesDataset`` groups several source datasets under one catalog entry and, like
Kedro's ``PartitionedDataset``, loads as ``{name: callable}``: a node calls only the
sources it needs, so a run on ``digits`` never opens (or needs) the MNIST files.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from transfer_lab.sources.digits import load_digits


class SourcesDataset(AbstractDataset[None, dict[str, Callable[[], dict]]]):
    """Named data sources, each loaded only when its callable is called.

    Example catalog entry::

        sources:
          type: transfer_lab.datasets.sources_dataset.SourcesDataset
          sources:
            digits:
              type: transfer_lab.datasets.sources_dataset.DigitsDataset
            mnist:
              type: transfer_lab.datasets.idx_dataset.IDXDataset
              train_images: data/01_raw/mnist/train-images-idx3-ubyte.gz
              train_labels: data/01_raw/mnist/train-labels-idx1-ubyte.gz

    Parameters
    ----------
    sources : dict of str to dict
        Source name -> Kedro dataset config (with ``type``).
    metadata : dict, optional
        Ignored by Kedro; for plugins such as Kedro-Viz.
    """

    def __init__(
        self, sources: dict[str, dict[str, Any]], metadata: dict[str, Any] | None = None
    ) -> None:
        if not isinstance(sources, dict):
            raise ValueError(f"sources={sources!r} is not allowed; expected a dict name -> config")
        for name, config in sources.items():
            if not isinstance(config, dict) or "type" not in config:
                raise ValueError(
                    f"sources.{name}={config!r} is not allowed; expected a dataset config "
                    "with a 'type' key"
                )
        self._sources = deepcopy(sources)
        self.metadata = metadata

    def _loader(self, name: str) -> Callable[[], dict]:
        config = deepcopy(self._sources[name])

        def load() -> dict:
            # Instantiate here, not in load(): even building a filesystem for one source
            # (an unreachable protocol, missing credentials) must not break the others.
            return AbstractDataset.from_config(name, config).load()

        load.__name__ = f"load_{name}"
        return load

    def load(self) -> dict[str, Callable[[], dict]]:
        """Return ``{source name: zero-argument function returning its dataset dict}``."""
        return {name: self._loader(name) for name in self._sources}

    def load_labels(self, name: str):
        """Only the labels of one source, as cheaply as it can give them.

        Used to check label budgets before a run starts: IDX sources read just their label
        files; the others load in full.
        """
        if name not in self._sources:
            raise DatasetError(f"source {name!r} is not configured; configured: {sorted(self._sources)}")
        source = AbstractDataset.from_config(name, deepcopy(self._sources[name]))
        if hasattr(source, "load_labels"):
            return source.load_labels()
        return source.load().y

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; it cannot save data")

    def _describe(self) -> dict[str, Any]:
        return {
            "sources": {
                name: str(config.get("type")) for name, config in self._sources.items()
            }
        }


class DigitsDataset(AbstractDataset[None, dict]):
    """scikit-learn's bundled 8x8 digits (read-only; see :func:`load_digits`).

    Parameters
    ----------
    metadata : dict, optional
        Ignored by Kedro; for plugins such as Kedro-Viz.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> dict:
        """Return the digits dataset dict."""
        return load_digits()

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; it cannot save data")

    def _describe(self) -> dict[str, Any]:
        return {"source": "sklearn.datasets.load_digits"}

    def _exists(self) -> bool:
        return True
