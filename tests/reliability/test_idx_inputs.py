"""Attack 3: bad IDX inputs are refused on load, naming the file, the fault and where it is."""

import gzip
import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from kedro.io import DatasetError

from tests.conftest import make_project_copy
from tests.reliability.cli import kedro
from transfer_lab.datasets import IDXDataset
from transfer_lab.sources.idx import read_idx, write_idx


def _write(path, array, compress=True):
    with open(path, "wb") as f:
        write_idx(f, array, gzip=compress)
    return str(path)


def _files(folder, labels, images=None, test_labels=None, compress=True):
    labels = np.asarray(labels)
    if labels.dtype == np.int64:
        labels = labels.astype(np.uint8)  # as the published label files
    n = len(labels)
    images = images if images is not None else np.random.default_rng(0).integers(0, 256, (n, 6, 6), dtype=np.uint8)
    test_labels = np.array([1, 2, 3], np.uint8) if test_labels is None else test_labels
    sfx = ".gz" if compress else ""
    return {
        "train_images": _write(folder / f"train-images{sfx}", images, compress),
        "train_labels": _write(folder / f"train-labels{sfx}", labels, compress),
        "test_images": _write(folder / f"t10k-images{sfx}", images[: len(test_labels)], compress),
        "test_labels": _write(folder / f"t10k-labels{sfx}", test_labels, compress),
    }


@pytest.mark.parametrize(
    ("labels", "index", "value", "what"),
    [
        ([0, 1, 2, 10, 4, 5], 3, 10, "outside the 10 declared classes"),
        ([0, 1, 2, 3, 255, 5], 4, 255, "outside the 10 declared classes"),
        (np.array([0, 1, -1, 3, -1, 5], np.int8), 2, -1, "negative label"),
    ],
    ids=["10", "255", "minus1"],
)
def test_labels_outside_the_declared_classes_are_refused_with_index_and_value(tmp_path, labels, index, value, what):
    paths = _files(tmp_path, labels)
    with pytest.raises(DatasetError) as error:
        IDXDataset(**paths).load()
    message = str(error.value)
    assert paths["train_labels"] in message and what in message
    assert f"at index {index}: {value}" in message
    with pytest.raises(DatasetError, match=f"at index {index}: {value}"):
        IDXDataset(**paths).load_labels()  # the cheap pre-check path too


def test_the_number_of_classes_is_the_declared_one_never_the_largest_label(tmp_path):
    paths = _files(tmp_path, [0, 1, 2, 3, 4, 0])
    assert IDXDataset(**paths).load().n_classes == 10  # default declaration, not y.max() + 1 = 5
    paths = _files(tmp_path, [0, 1, 2, 15, 4, 0])
    assert IDXDataset(**paths, n_classes=20).load().n_classes == 20  # a catalog argument


def test_swapped_image_and_label_files_and_unequal_counts_are_named(tmp_path):
    paths = _files(tmp_path, [0, 1, 2, 3, 4, 5])
    swapped = dict(paths, train_images=paths["train_labels"], train_labels=paths["train_images"])
    with pytest.raises(DatasetError, match=r"swapped"):
        IDXDataset(**swapped).load()
    short = _write(tmp_path / "short-labels.gz", np.array([0, 1, 2], np.uint8))
    with pytest.raises(DatasetError, match=r"holds 6 images, .*short-labels.gz holds 3 labels"):
        IDXDataset(**dict(paths, train_labels=short)).load()


def test_a_header_declaring_a_huge_shape_is_refused_without_overflow(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\0" * 100)
    with open(path, "rb") as f, pytest.raises(ValueError) as error:
        read_idx(f)
    message = str(error.value)
    assert str((2**32 - 1) ** 3) in message and "more than the" in message and "-" not in message.split("declares")[1]
    # within the maximum but more than a plain file holds: refused before allocating
    path.write_bytes(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10**9) + b"\0" * 100)
    with open(path, "rb") as f, pytest.raises(ValueError, match=r"truncated: .*needs 1000000000 data bytes, found 100"):
        read_idx(f)


def test_a_gzip_bomb_is_refused_after_decompressing_about_the_declared_size(tmp_path):
    # 6 declared bytes followed by 256 MB of zeros, about 250 KB gzipped
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 6) + b"\1" * 6)]
    zeros = b"\0" * 2**20
    parts += [packer.compress(zeros) for _ in range(256)]
    parts.append(packer.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="has trailing bytes"):
            read_idx(io.BytesIO(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak  # not 256 MB
    # a well-formed file of the same declared size still reads
    assert read_idx(io.BytesIO(gzip.compress(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 6) + b"\1" * 6))).tolist() == [1] * 6


@pytest.mark.slow
def test_kedro_run_on_idx_files_with_a_bad_label_stops_before_any_training(tmp_path):
    project = make_project_copy(tmp_path / "project")
    folder = project / "data/01_raw/mnist"
    folder.mkdir(parents=True)
    labels = np.arange(40) % 10
    labels[17] = 255
    paths = _files(folder, labels.astype(np.uint8), np.zeros((40, 28, 28), np.uint8))
    for key, name in [("train_images", "train-images-idx3-ubyte.gz"), ("train_labels", "train-labels-idx1-ubyte.gz"),
                      ("test_images", "t10k-images-idx3-ubyte.gz"), ("test_labels", "t10k-labels-idx1-ubyte.gz")]:
        (folder / name).write_bytes(open(paths[key], "rb").read())
    result = kedro(project, "run", "--env", "ci", "--pipelines", "data", "--params", "data.dataset=mnist")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "train-labels-idx1-ubyte.gz" in output and "at index 17: 255" in output, output[-3000:]
    assert "Traceback" not in output  # one line: "Error: train_labels ...: label outside ..."
    assert not (project / "data/03_primary/base_dataset.npz").exists()
