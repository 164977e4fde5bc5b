"""A user's own data: image folder, table and .npz load as the Dataset contract, and every
mistake a user can make is one line naming what to fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from transfer_lab.datasets.own_data import ImageFolderDataset, NpzDataset, OwnDataError, TableDataset
from transfer_lab.sources.splits import budget_view, label_subsets, stratified_split


def _image(path, size=(6, 5), value=128, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 0, 255)
    Image.new(mode, size, colour).save(path)


def _folder(tmp_path, sizes=None):
    root = tmp_path / "shapes"
    for c, cls in enumerate(["cat", "dog"]):
        for i in range(4):
            _image(root / cls / f"{i}.png", size=(sizes or {}).get((cls, i), (6, 5)), value=40 + 100 * c)
    _image(root / "unlabelled" / "u0.jpg", value=90)
    return root


def _one_line(error):
    text = str(error.value)
    assert "\n" not in text
    return text


def test_image_folder_loads_the_contract(tmp_path):
    data = ImageFolderDataset(str(_folder(tmp_path)), resize=[8, 8]).load()
    assert data.kind == "image" and data.name == "shapes"
    assert data.X.shape == (9, 1, 8, 8) and data.X.dtype == np.float32
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    assert data.y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, -1]  # unlabelled/ -> -1
    assert data.n_classes == 2 and data.class_names == ["cat", "dog"]
    np.testing.assert_allclose(data.X[0], 40 / 255, atol=1e-6)  # pixel values kept


def test_image_folder_keeps_rgb_and_the_size(tmp_path):
    root = tmp_path / "rgb"
    for cls in ("a", "b"):
        _image(root / cls / "x.png", mode="RGB")
    data = ImageFolderDataset(str(root), grey=False).load()
    assert data.X.shape == (2, 3, 5, 6)  # C, H, W from the files
    np.testing.assert_allclose(data.X[0, :, 0, 0], [128 / 255, 0, 1], atol=1e-6)


def test_image_folder_errors(tmp_path):
    with pytest.raises(OwnDataError, match="does not exist"):
        ImageFolderDataset(str(tmp_path / "nope")).load()
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(OwnDataError, match="is empty") as error:
        ImageFolderDataset(str(tmp_path / "empty")).load()
    _one_line(error)
    mixed = _folder(tmp_path, sizes={("dog", 2): (7, 5)})
    with pytest.raises(OwnDataError, match=r"mixes image sizes \(.*dog/2\.png is 5x7.*set resize") as error:
        ImageFolderDataset(str(mixed)).load()
    _one_line(error)
    ImageFolderDataset(str(mixed), resize=[5, 6]).load()  # resizing makes it fine
    (mixed / "cat" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(OwnDataError, match=r"unreadable image .*cat/broken\.png") as error:
        ImageFolderDataset(str(mixed), resize=[5, 6]).load()
    _one_line(error)
    single = tmp_path / "single"
    _image(single / "only" / "a.png")
    _image(single / "unlabelled" / "b.png")
    with pytest.raises(OwnDataError, match="single class.*at least 2 labelled classes") as error:
        ImageFolderDataset(str(single)).load()
    _one_line(error)


def _table(tmp_path, suffix=".csv", **columns):
    frame = pd.DataFrame(columns or {"a": [0.0, 1, 2, 3, 4, 5], "b": [10, 10, 20, 20, 30, 40],
                                     "label": ["x", "y", "x", None, "y", "x"]})
    path = tmp_path / f"t{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_loads_the_contract(tmp_path, suffix):
    data = TableDataset(str(_table(tmp_path, suffix))).load()
    assert data.kind == "signal" and data.X.shape == (6, 1, 2) and data.table  # the modality the shape cannot tell
    assert data.y.tolist() == [0, 1, 0, -1, 1, 0] and data.class_names == ["x", "y"]
    np.testing.assert_allclose(data.X[:, 0, 0], np.arange(6) / 5, atol=1e-6)  # min-max per column
    np.testing.assert_allclose(data.X[:, 0, 1], [0, 0, 1 / 3, 1 / 3, 2 / 3, 1], atol=1e-6)


def test_table_errors(tmp_path):
    path = _table(tmp_path)
    with pytest.raises(OwnDataError, match=r"has no label column 'target'; columns: \['a', 'b', 'label'\]") as error:
        TableDataset(str(path), label_column="target").load()
    _one_line(error)
    single = _table(tmp_path, a=[1.0, 2.0, 3.0], label=["x", "x", None])
    with pytest.raises(OwnDataError, match="single class"):
        TableDataset(str(single)).load()
    text = _table(tmp_path, a=["p", "q"], label=[0, 1])
    with pytest.raises(OwnDataError, match="feature column 'a' is not numeric"):
        TableDataset(str(text)).load()
    with pytest.raises(OwnDataError, match="does not exist"):
        TableDataset(str(tmp_path / "missing.csv")).load()


def test_npz_images_tables_and_unlabelled(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", X=rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8), y=np.array([0, 1, 2, -1, 1, 0]))
    data = NpzDataset(str(tmp_path / "img.npz")).load()
    assert data.kind == "image" and data.X.shape == (6, 3, 4, 4) and data.n_classes == 3 and not data.table
    np.savez(tmp_path / "tab.npz", features=rng.normal(size=(5, 7)), labels=np.array([0, 1, 0, 1, -1]))
    data = NpzDataset(str(tmp_path / "tab.npz"), x_key="features", y_key="labels").load()
    assert data.kind == "signal" and data.X.shape == (5, 1, 7) and data.y[-1] == -1 and data.table
    from transfer_lab.datasets.tree_dataset import dumps, loads

    assert loads(dumps(data)).table  # stored as base_dataset, the table flag survives
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    with pytest.raises(OwnDataError, match=r"has no array 'X'; arrays: \['features', 'labels'\]"):
        NpzDataset(str(tmp_path / "tab.npz")).load()
    np.savez(tmp_path / "one.npz", X=np.zeros((3, 2)), y=np.array([1, 1, -1]))
    with pytest.raises(OwnDataError, match="single class"):
        NpzDataset(str(tmp_path / "one.npz")).load()


def test_unlabelled_rows_are_train_rows_and_never_labelled(tmp_path):
    y = np.array([0, 1] * 10 + [-1] * 6)
    split = stratified_split(y, 0.2, 0.2, seed=0)
    assert set(split.loc[y == -1, "split"]) == {"train"}
    subsets = label_subsets(y, split, [2, "all"], [0])
    assert (y[subsets["index"]] >= 0).all()

    class D:
        X, kind, n_classes = np.zeros((len(y), 1, 3), np.float32), "signal", 2
    D.y = y
    view = budget_view(D, split, subsets, "all", 0)
    assert (view.y_unlabeled == -1).sum() == 6 and (view.y_labeled >= 0).all()
    assert (view.y_val >= 0).all() and (view.y_test >= 0).all()
