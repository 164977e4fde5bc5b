import numpy as np
import pytest
from kedro.io import DataCatalog, DatasetError

from transfer_lab.datasets import IDXDataset
from transfer_lab.sources.idx import write_idx


def _write(path, array, compress):
    with open(path, "wb") as f:
        write_idx(f, array, gzip=compress)
    return str(path)


@pytest.fixture(params=[False, True], ids=["plain", "gz"])
def files(tmp_path, request):
    compress = request.param
    suffix = ".gz" if compress else ""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (12, 5, 4), dtype=np.uint8),
        "train_labels": (np.arange(12) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (3, 5, 4), dtype=np.uint8),
        "test_labels": np.array([7, 8, 9], np.uint8),
    }
    paths = {k: _write(tmp_path / f"{k}-idx{suffix}", v, compress) for k, v in arrays.items()}
    return paths, arrays


def _catalog(config):
    return DataCatalog.from_config({"mnist_raw": config})


def test_load_through_catalog(files):
    paths, arrays = files
    catalog = _catalog(
        {"type": "transfer_lab.datasets.idx_dataset.IDXDataset", "name": "fashion", **paths}
    )
    ds = catalog.load("mnist_raw")
    assert ds.name == "fashion" and ds.kind == "image"
    assert ds.X.shape == (15, 1, 5, 4) and ds.X.dtype == np.float32
    expected = np.concatenate([arrays["train_images"], arrays["test_images"]]) / 255.0
    np.testing.assert_allclose(ds.X[:, 0], expected, rtol=1e-6)
    assert ds.y.dtype == np.int64
    assert ds.y.tolist() == list(range(10)) + [0, 1, 7, 8, 9]
    assert ds.official_test.tolist() == [False] * 12 + [True] * 3
    assert catalog.exists("mnist_raw")


def test_train_only(files):
    paths, _ = files
    ds = IDXDataset(train_images=paths["train_images"], train_labels=paths["train_labels"])
    out = ds.load()
    assert out.name == "mnist" and len(out.y) == 12 and not out.official_test.any()


def test_load_labels_reads_only_labels(files, tmp_path):
    paths, _ = files
    # Corrupt image files would fail load(); load_labels must not open them.
    bad = tmp_path / "garbage"
    bad.write_bytes(b"not idx")
    ds = IDXDataset(**{**paths, "train_images": str(bad), "test_images": str(bad)})
    labels = ds.load_labels()
    assert labels.dtype == np.int64 and labels.tolist() == list(range(10)) + [0, 1, 7, 8, 9]
    with pytest.raises(DatasetError, match="bad magic"):
        ds.load()


def test_save_raises(files):
    paths, _ = files
    with pytest.raises(DatasetError, match="read-only"):
        IDXDataset(**paths).save({"X": np.zeros(1)})


def test_describe_and_exists(files, tmp_path):
    paths, _ = files
    ds = IDXDataset(**paths)
    described = ds._describe()
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        assert described[key].endswith(paths[key].rsplit("/", 1)[-1])
    assert ds.exists()
    missing = IDXDataset(train_images=str(tmp_path / "no"), train_labels=paths["train_labels"])
    assert not missing.exists()


def test_truncated_file_fails_clearly(files, tmp_path):
    paths, arrays = files
    short = tmp_path / "short-idx"
    raw = tmp_path / "tmp"
    _write(raw, arrays["train_images"], False)
    short.write_bytes(raw.read_bytes()[:-7])
    ds = IDXDataset(train_images=str(short), train_labels=paths["train_labels"])
    with pytest.raises(DatasetError, match="truncated"):
        ds.load()


def test_label_count_mismatch(files):
    paths, _ = files
    ds = IDXDataset(train_images=paths["train_images"], train_labels=paths["test_labels"])
    with pytest.raises(DatasetError, match="do not match"):
        ds.load()


def test_half_test_config_is_refused(files):
    paths, _ = files
    with pytest.raises(ValueError, match="give both test files or neither"):
        IDXDataset(paths["train_images"], paths["train_labels"], test_images=paths["test_images"])


def test_file_protocol_url(files):
    paths, _ = files
    urls = {k: "file://" + v for k, v in paths.items()}
    assert len(IDXDataset(**urls).load().y) == 15
