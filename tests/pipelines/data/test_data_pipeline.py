"""The data pipeline through Kedro's runner on the ci environment."""

import gzip

import numpy as np
import pandas as pd

from tests.conftest import run_pipelines
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.idx import write_idx


def _outputs(project):
    data = project / "data"
    base = TreeDataset(str(data / "03_primary/base_dataset.npz")).load()
    splits = pd.read_parquet(data / "03_primary/split_table.parquet")
    subsets = pd.read_parquet(data / "05_model_input/label_subsets.parquet")
    return base, splits, subsets


def test_digits_splits_subsets_and_domains(ci_run):
    project, _ = ci_run
    base, splits, subsets = _outputs(project)
    assert base.name == "digits" and base.X.shape == (1797, 1, 8, 8)
    # every row in exactly one split
    assert sorted(splits["index"]) == list(range(1797))
    train = set(splits.loc[splits["split"] == "train", "index"])
    # ci budgets [1, 5, all] x seeds [0, 1]: k labels of each of the 10 classes, from train only
    for (budget, seed), group in subsets.groupby(["labels_per_class", "seed"]):
        rows = group["index"].to_numpy()
        assert set(rows) <= train
        counts = np.bincount(base.y[rows], minlength=10)
        if budget == "all":
            assert len(rows) == len(train)
        else:
            assert (counts == int(budget)).all(), (budget, seed, counts)
    assert sorted(subsets["labels_per_class"].unique()) == ["1", "5", "all"]
    # the same seed's subsets are nested, different seeds differ
    one = set(subsets.query("labels_per_class == '1' and seed == 0")["index"])
    five = set(subsets.query("labels_per_class == '5' and seed == 0")["index"])
    assert one < five
    assert one != set(subsets.query("labels_per_class == '1' and seed == 1")["index"])

    pairs = TreeDataset(str(project / "data/04_feature/domain_pairs.npz")).load()
    assert set(pairs) == {"digits->digits_rotated", "digits->digits_inverted"}
    pair = pairs["digits->digits_rotated"]
    assert not set(pair.source_train_index) & set(pair.target_train_index)
    coupled = TreeDataset(str(project / "data/04_feature/coupled_pairs.npz")).load()
    low_res = coupled["digits_low_res->digits"]
    assert low_res.source_X.shape == (1797, 1, 4, 4) and low_res.target_X.shape == (1797, 1, 8, 8)
    assert (project / "data/08_reporting/domain_examples.png").stat().st_size > 1000
    summary = pd.read_csv(project / "data/08_reporting/data_summary.csv")
    assert {"split=train", "split=val", "split=test"} <= set(summary["part"])


def test_the_split_and_subsets_are_reproducible(ci_run, project):
    run_pipelines(project, ["data"])
    first_project, _ = ci_run
    _, splits_a, subsets_a = _outputs(first_project)
    _, splits_b, subsets_b = _outputs(project)
    pd.testing.assert_frame_equal(splits_a, splits_b)
    pd.testing.assert_frame_equal(subsets_a, subsets_b)


def test_mnist1d_is_regenerated_with_signal_domains(project):
    run_pipelines(project, ["data"], runtime_params={"data": {"dataset": "mnist1d"}})
    base, _, subsets = _outputs(project)
    assert base.kind == "signal" and base.X.shape == (1000, 1, 40)
    pairs = TreeDataset(str(project / "data/04_feature/domain_pairs.npz")).load()
    assert list(pairs) == ["mnist1d->mnist1d_noisy"]


def test_idx_files_from_the_catalog(project):
    """MNIST-family IDX files (here small ones written by the test) reach the pipeline."""
    rng = np.random.default_rng(0)
    folder = project / "data/01_raw/mnist"
    folder.mkdir(parents=True)
    for part, n in (("train", 120), ("t10k", 40)):
        images = rng.integers(0, 256, size=(n, 12, 12), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        with gzip.open(folder / f"{part}-images-idx3-ubyte.gz", "wb") as f:
            write_idx(f, images)
        with gzip.open(folder / f"{part}-labels-idx1-ubyte.gz", "wb") as f:
            write_idx(f, labels)
    run_pipelines(project, ["data"], runtime_params={"data": {"dataset": "mnist"}})
    base, _, _ = _outputs(project)
    assert base.name == "mnist" and base.X.shape == (160, 1, 12, 12)
    assert base.X.dtype == np.float32 and base.X.max() <= 1.0
