import numpy as np
import pandas as pd
import pytest

from transfer_lab.contracts import Dataset
from transfer_lab.sources.splits import (
    BudgetView,
    budget_view,
    budgets_and_seeds,
    label_subsets,
    smallest_train_class,
    split_indices,
    stratified_split,
    subset_indices,
)


@pytest.fixture(scope="module")
def y():
    # Unbalanced classes: 100, 60 and 40 rows, shuffled.
    labels = np.repeat([0, 1, 2], [100, 60, 40]).astype(np.int64)
    return np.random.default_rng(0).permutation(labels)


@pytest.fixture(scope="module")
def table(y):
    return stratified_split(y, val_fraction=0.2, test_fraction=0.25, seed=0)


def test_split_is_disjoint_and_complete(y, table):
    assert list(table.columns) == ["index", "split"]
    assert table["index"].dtype == np.int64
    assert set(table["split"]) == {"train", "val", "test"}
    parts = [split_indices(table, s) for s in ("train", "val", "test")]
    together = np.concatenate(parts)
    assert len(together) == len(y) == len(np.unique(together))
    assert sorted(together.tolist()) == list(range(len(y)))
    assert [len(p) for p in parts] == [110, 40, 50]
    for p in parts:
        assert np.all(np.diff(p) > 0)


def test_split_is_stratified(y, table):
    overall = np.bincount(y) / len(y)
    for s in ("train", "val", "test"):
        idx = split_indices(table, s)
        np.testing.assert_allclose(np.bincount(y[idx], minlength=3) / len(idx), overall, atol=0.03)


def test_split_is_deterministic(y, table):
    pd.testing.assert_frame_equal(table, stratified_split(y, 0.2, 0.25, seed=0))
    other = stratified_split(y, 0.2, 0.25, seed=1)
    assert not table["split"].equals(other["split"])


def test_zero_val_fraction(y):
    t = stratified_split(y, 0.0, 0.3, seed=0)
    assert set(t["split"]) == {"train", "test"}
    assert len(split_indices(t, "val")) == 0


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"val_fraction": 1.2, "test_fraction": 0.1}, "val_fraction=1.2"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "sum below 1"),
        ({"val_fraction": 0.1, "test_fraction": -0.1}, "test_fraction=-0.1"),
    ],
)
def test_bad_fractions(y, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        stratified_split(y, seed=0, **kwargs)


def test_unknown_split_name(table):
    with pytest.raises(ValueError, match="split='dev'"):
        split_indices(table, "dev")


def test_smallest_train_class(y, table):
    train = split_indices(table, "train")
    assert smallest_train_class(y, table) == np.bincount(y[train]).min() == 22


@pytest.fixture(scope="module")
def subsets(y, table):
    return label_subsets(y, table, budgets=[10, 1, "all", 5], seeds=[3, 1])


def test_subset_columns_and_order(subsets):
    assert list(subsets.columns) == ["labels_per_class", "seed", "index"]
    assert subsets["seed"].dtype == np.int64 and subsets["index"].dtype == np.int64
    assert budgets_and_seeds(subsets) == [
        ("1", 1), ("1", 3), ("5", 1), ("5", 3), ("10", 1), ("10", 3), ("all", 1), ("all", 3)
    ]
    assert all(isinstance(v, str) for v in subsets["labels_per_class"])


@pytest.mark.parametrize("k", [1, 5, 10])
@pytest.mark.parametrize("seed", [1, 3])
def test_exact_k_per_class_from_train(y, table, subsets, k, seed):
    idx = subset_indices(subsets, k, seed)
    assert np.bincount(y[idx], minlength=3).tolist() == [k, k, k]
    assert np.isin(idx, split_indices(table, "train")).all()
    np.testing.assert_array_equal(idx, subset_indices(subsets, str(k), seed))


@pytest.mark.parametrize("seed", [1, 3])
def test_subsets_are_nested(subsets, seed):
    chain = [set(subset_indices(subsets, b, seed)) for b in (1, 5, 10, "all")]
    for small, big in zip(chain, chain[1:]):
        assert small < big


def test_all_is_the_train_split(table, subsets):
    np.testing.assert_array_equal(subset_indices(subsets, "all", 1), split_indices(table, "train"))


def test_seeds_differ_and_draws_are_deterministic(y, table, subsets):
    assert set(subset_indices(subsets, 5, 1)) != set(subset_indices(subsets, 5, 3))
    # A seed's draw does not depend on which other budgets or seeds were requested.
    alone = label_subsets(y, table, budgets=[5], seeds=[3])
    np.testing.assert_array_equal(subset_indices(alone, 5, 3), subset_indices(subsets, 5, 3))


def test_budget_too_large(y, table):
    with pytest.raises(ValueError, match="labels_per_class=23 .*largest allowed: 22"):
        label_subsets(y, table, budgets=[1, 23], seeds=[0])
    label_subsets(y, table, budgets=[22], seeds=[0])


@pytest.mark.parametrize("bad", [0, -1, "some", 2.5, True])
def test_bad_budget(y, table, bad):
    with pytest.raises(ValueError, match="labels_per_class="):
        label_subsets(y, table, budgets=[bad], seeds=[0])


def test_missing_budget_seed_lists_available(subsets):
    with pytest.raises(ValueError, match=r"\(labels_per_class, seed\)=\(5, 2\) is not in subsets"):
        subset_indices(subsets, 5, 2)


def test_subsets_survive_a_csv_round_trip(tmp_path, subsets):
    path = tmp_path / "s.csv"
    subsets.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert budgets_and_seeds(back) == budgets_and_seeds(subsets)
    np.testing.assert_array_equal(subset_indices(back, 5, 3), subset_indices(subsets, 5, 3))


def test_budget_view(y, table, subsets):
    X = np.arange(len(y), dtype=np.float32).reshape(-1, 1, 1, 1)
    ds = Dataset(name="toy", kind="image", X=X, y=y)
    view = budget_view(ds, table, subsets, 5, 3)
    assert isinstance(view, BudgetView)
    assert view.labels_per_class == "5" and view.seed == 3
    labeled = subset_indices(subsets, 5, 3)
    np.testing.assert_array_equal(view.X_labeled.ravel(), labeled)
    np.testing.assert_array_equal(view.y_labeled, y[labeled])
    train = set(split_indices(table, "train"))
    unl = set(view.X_unlabeled.ravel().astype(int))
    assert unl == train - set(labeled) and len(unl) == len(train) - 15
    np.testing.assert_array_equal(view.y_unlabeled, y[view.X_unlabeled.ravel().astype(int)])
    np.testing.assert_array_equal(view.X_test.ravel(), split_indices(table, "test"))
    np.testing.assert_array_equal(view.y_val, y[split_indices(table, "val")])
    with pytest.raises(AttributeError):
        view.seed = 4


def test_budget_view_all_has_no_unlabeled(y, table, subsets):
    X = np.zeros((len(y), 1, 2, 2), np.float32)
    view = budget_view(Dataset(name="toy", kind="image", X=X, y=y), table, subsets, "all", 1)
    assert view.X_unlabeled.shape == (0, 1, 2, 2) and view.y_unlabeled.shape == (0,)
