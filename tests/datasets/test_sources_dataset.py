import numpy as np
import pytest
from kedro.io import DataCatalog, DatasetError

from transfer_lab.datasets import DigitsDataset, SourcesDataset
from transfer_lab.sources.idx import write_idx

IDX = "transfer_lab.datasets.idx_dataset.IDXDataset"
DIGITS = "transfer_lab.datasets.sources_dataset.DigitsDataset"


def _catalog(sources):
    return DataCatalog.from_config(
        {
            "sources": {
                "type": "transfer_lab.datasets.sources_dataset.SourcesDataset",
                "sources": sources,
            }
        }
    )


def test_lazy_bad_idx_source_does_not_block_digits(tmp_path):
    catalog = _catalog(
        {
            "digits": {"type": DIGITS},
            "mnist": {
                "type": IDX,
                "train_images": str(tmp_path / "missing-images.gz"),
                "train_labels": str(tmp_path / "missing-labels.gz"),
            },
            "broken": {"type": "transfer_lab.datasets.nothing.NoSuchDataset"},
        }
    )
    loaders = catalog.load("sources")
    assert set(loaders) == {"digits", "mnist", "broken"}
    assert all(callable(f) for f in loaders.values())
    digits = loaders["digits"]()
    assert digits.name == "digits" and digits.X.shape == (1797, 1, 8, 8)
    with pytest.raises(DatasetError):
        loaders["mnist"]()
    with pytest.raises(DatasetError):
        loaders["broken"]()


def test_idx_source_loads_when_called(tmp_path):
    images = np.zeros((4, 3, 3), np.uint8)
    labels = np.array([0, 1, 0, 1], np.uint8)
    for name, arr in (("img", images), ("lab", labels)):
        with open(tmp_path / name, "wb") as f:
            write_idx(f, arr)
    loaders = _catalog(
        {
            "kmnist": {
                "type": IDX,
                "name": "kmnist",
                "train_images": str(tmp_path / "img"),
                "train_labels": str(tmp_path / "lab"),
            }
        }
    ).load("sources")
    ds = loaders["kmnist"]()
    assert ds.name == "kmnist" and ds.y.tolist() == [0, 1, 0, 1]


def test_config_without_type_is_refused():
    with pytest.raises(ValueError, match="sources.digits=.*'type'"):
        SourcesDataset({"digits": {"name": "digits"}})


def test_read_only():
    with pytest.raises(DatasetError, match="read-only"):
        SourcesDataset({"digits": {"type": DIGITS}}).save({"x": 1})
    with pytest.raises(DatasetError, match="read-only"):
        DigitsDataset().save({"x": 1})


def test_digits_dataset():
    ds = DigitsDataset().load()
    assert ds.y.dtype == np.int64 and len(ds.y) == 1797


def test_load_labels_reads_one_source_only(tmp_path):
    import gzip

    import numpy as np

    from transfer_lab.sources.idx import write_idx

    labels = np.arange(30, dtype=np.uint8) % 10
    with gzip.open(tmp_path / "labels.gz", "wb") as f:
        write_idx(f, labels)
    dataset = SourcesDataset(
        sources={
            "digits": {"type": "transfer_lab.datasets.sources_dataset.DigitsDataset"},
            # the images file does not exist: load_labels must not need it
            "mnist": {
                "type": "transfer_lab.datasets.idx_dataset.IDXDataset",
                "train_images": str(tmp_path / "missing.gz"),
                "train_labels": str(tmp_path / "labels.gz"),
            },
        }
    )
    assert (dataset.load_labels("mnist") == labels).all()
    assert len(dataset.load_labels("digits")) == 1797
    with pytest.raises(DatasetError, match="kmnist"):
        dataset.load_labels("kmnist")
