"""The pretraining pipeline: what each method may see, and its outputs in the ci run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import PROJECT_ROOT, load_config
from transfer_lab.contracts import DataParams, supcon_checkpoint_name
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
from transfer_lab.methods.encoders import ConvEncoder2d, encoder_from_checkpoint
from transfer_lab.methods.training import TrainHistory
from transfer_lab.pipelines.pretraining import nodes
from transfer_lab.pipelines.pretraining.params import METHODS
from transfer_lab.sources.digits import load_digits
from transfer_lab.sources.pairs import make_domain_pair
from transfer_lab.sources.splits import budgets_and_seeds, label_subsets, split_indices, stratified_split, subset_indices

CI_BUDGETS = {"1", "5", "all"}
CI_SEEDS = {0, 1}


# --------------------------------------------------------------------------------------------
# What each node passes to the library (a recording stand-in for ``methods.transfer.pretrain``)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ci_inputs():
    """What the data pipeline hands over on the ci parameters, built from the sources."""
    _, params = load_config(PROJECT_ROOT, env="ci")
    data = DataParams.model_validate(params["data"])
    base = load_digits()
    table = stratified_split(base.y, data.split.val_fraction, data.split.test_fraction, data.split.seed)
    subsets = label_subsets(base.y, table, data.label_budgets, data.seeds)
    made = (
        make_domain_pair(base, table, p.source, data.domain.steps(p.source), p.target, data.domain.steps(p.target), data.split.seed)
        for p in data.domain.domain_pairs
    )
    pairs = {pair.name: pair for pair in made}
    return base, table, subsets, pairs, params


def _shared(params):
    return params["pretraining"]["encoder"], params["pretraining"]["runtime"]


@pytest.fixture
def recorded(monkeypatch):
    """Replace the pretraining call by one that records its data and returns a fresh encoder."""
    calls = []

    def fake_pretrain(method, X, y=None, **kwargs):
        calls.append({"method": method, "X": np.asarray(X), "y": None if y is None else np.asarray(y), **kwargs})
        history = TrainHistory(train_loss=[2.0, 1.0], best_epoch=1)
        return kwargs["encoder"], history

    monkeypatch.setattr(nodes, "pretrain", fake_pretrain)
    return calls


def _rows_of(X_seen: np.ndarray, X_all: np.ndarray) -> np.ndarray:
    """Dataset rows of the samples a method saw (images are unique in digits)."""
    lookup = {x.tobytes(): i for i, x in enumerate(X_all)}
    return np.sort([lookup[x.tobytes()] for x in X_seen])


@pytest.mark.parametrize("method", ["simclr", "moco", "rotation", "imputation"])
def test_self_supervised_methods_see_training_rows_without_labels(ci_inputs, recorded, method):
    base, table, _, _, params = ci_inputs
    pretraining = params["pretraining"]
    checkpoints = nodes.pretrain_unlabelled(method, base, table, pretraining[method], *_shared(params), params["data"])
    rows = nodes.score_checkpoints(checkpoints)
    figure = nodes.plot_tsne(checkpoints, base, table, pretraining["tsne"], pretraining["runtime"])
    (call,) = recorded
    assert call["method"] == method and call["y"] is None
    np.testing.assert_array_equal(_rows_of(call["X"], base.X), split_indices(table, "train"))
    assert set(checkpoints) == {method}
    meta = checkpoints[method]["meta"]
    assert meta["loss_history"] == [2.0, 1.0] and meta["dataset"] == "digits" and meta["n_samples"] == len(call["X"])
    assert set(rows["metric"]) == {"final_loss", "seconds", "epochs"}
    assert figure.axes


def test_supcon_uses_the_labels_of_each_subset_only(ci_inputs, recorded):
    base, table, subsets, _, params = ci_inputs
    checkpoints = nodes.pretrain_supcon(base, subsets, params["pretraining"]["supcon"], *_shared(params), params["data"])
    rows = nodes.score_checkpoints(checkpoints)
    combos = budgets_and_seeds(subsets)
    assert set(checkpoints) == {supcon_checkpoint_name(b, s) for b, s in combos}
    # 'all' is the same rows for every seed, so it is trained once
    distinct = {subset_indices(subsets, b, s).tobytes() for b, s in combos}
    assert len(recorded) == len(distinct) < len(combos)
    for call in recorded:
        labeled = _rows_of(call["X"], base.X)
        assert labeled.tobytes() in distinct
        np.testing.assert_array_equal(np.sort(call["y"]), np.sort(base.y[labeled]))
    for (budget, seed) in combos:
        meta = checkpoints[supcon_checkpoint_name(budget, seed)]["meta"]
        assert meta["labels_per_class"] == budget
        assert meta["n_samples"] == len(subset_indices(subsets, budget, seed))
    assert set(rows["labels_per_class"]) == CI_BUDGETS
    assert set(zip(rows["labels_per_class"], rows["seed"])) == set(combos)


def test_supervised_source_trains_on_the_shifted_source_domain(ci_inputs, recorded):
    base, table, subsets, pairs, params = ci_inputs
    checkpoints = nodes.pretrain_supervised_source(
        base, pairs, params["pretraining"]["supervised_source"], *_shared(params), params["data"]
    )
    (call,) = recorded
    pair = pairs["digits->digits_rotated"]
    np.testing.assert_array_equal(call["X"], pair.target_X[pair.target_train_index])
    np.testing.assert_array_equal(call["y"], pair.y[pair.target_train_index])
    np.testing.assert_array_equal(call["X_val"], pair.target_X[pair.val_index])
    # the source images are rotated: none of them is a clean training image
    assert not np.isin(
        [x.tobytes() for x in call["X"]], [x.tobytes() for x in base.X]
    ).any()
    assert checkpoints["supervised_source"]["meta"]["source_domain"] == "digits_rotated"


def test_collect_refuses_clashing_names():
    assert nodes.collect_encoders({"a": {}}, {"b": {}}) == {"a": {}, "b": {}}
    with pytest.raises(ValueError, match="'a'"):
        nodes.collect_encoders({"a": {}}, {"a": {}})


# --------------------------------------------------------------------------------------------
# The ci run (``__default__`` through Kedro's runner)
# --------------------------------------------------------------------------------------------


def test_every_checkpoint_reaches_the_shared_folder_and_reloads(ci_run):
    project, _ = ci_run
    checkpoints = EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).load()
    expected = {m for m in METHODS if m != "supcon"} | {
        supcon_checkpoint_name(b, s) for b in CI_BUDGETS for s in CI_SEEDS
    }
    assert set(checkpoints) == expected
    x = torch.rand(4, 1, 8, 8)
    for name, checkpoint in checkpoints.items():
        meta = checkpoint["meta"]
        assert name.startswith(meta["method"]) and meta["dataset"] == "digits"
        assert len(meta["loss_history"]) == meta["epochs"] >= 1
        assert all(math.isfinite(v) for v in meta["loss_history"])
        encoder = encoder_from_checkpoint(checkpoint)
        assert isinstance(encoder, ConvEncoder2d)
        readout = checkpoint["encoder"]["kwargs"].get("map_readout")
        # conf/base: jigsaw, relative position and CPC export an earlier block's pooled map
        assert (readout is not None) == (meta["method"] in {"cpc", "jigsaw", "relative_position"})
        assert encoder.map_readout == readout
        assert encoder.eval()(x).shape == (4, 32 if readout is None else encoder.out_features)  # ci encoder: out_features 32
    # the per-method folders hold the same weights
    simclr = EncoderCheckpointsDataset(str(project / "data/06_models/pretraining/simclr")).load()["simclr"]
    for key, value in simclr["state_dict"].items():
        assert torch.equal(value, checkpoints["simclr"]["state_dict"][key])


def test_pretraining_rows_and_tsne_figures(ci_run):
    project, _ = ci_run
    results = pd.read_csv(project / "data/08_reporting/pretraining_results.csv", dtype={"labels_per_class": str}, keep_default_na=False)
    assert set(results["method"]) == set(METHODS)
    zero_shot = results["metric"].isin(["zero_shot_accuracy", "linear_probe_accuracy"])  # CLIP's, scored on test rows
    assert set(results["pipeline"]) == {"pretraining"} and set(results[~zero_shot]["split"]) == {"train"}
    assert set(results[zero_shot]["method"]) == {"clip"}
    for method in METHODS:
        rows = results[(results["method"] == method) & ~zero_shot]
        assert set(rows["metric"]) == {"final_loss", "seconds", "epochs"}
        assert np.isfinite(rows["value"]).all() and (rows[rows["metric"] == "seconds"]["value"] > 0).all()
        assert (project / f"data/08_reporting/pretraining_tsne_{method}.png").stat().st_size > 3000
        assert (project / f"data/08_reporting/pretraining_loss_{method}.png").stat().st_size > 3000
    supcon = results[results["method"] == "supcon"]
    assert {(b, s) for b, s in zip(supcon["labels_per_class"], supcon["seed"])} == {(b, s) for b in CI_BUDGETS for s in CI_SEEDS}


def test_loss_history_checkpoint_and_figure_reach_mlflow(ci_inputs, tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    base, table, _, _, params = ci_inputs
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()  # a file store: no database migrations to wait for
    mlflow.set_tracking_uri(uri)
    pretraining = params["pretraining"]
    imputation = {**pretraining["imputation"], "training": {**pretraining["imputation"]["training"], "epochs": 3}}
    try:
        with mlflow.start_run() as run:
            checkpoints = nodes.pretrain_unlabelled("imputation", base, table, imputation, *_shared(params), params["data"])
            nodes.plot_tsne(checkpoints, base, table, pretraining["tsne"], pretraining["runtime"])
    finally:
        mlflow.set_tracking_uri(None)
    client = MlflowClient(uri)
    history = client.get_metric_history(run.info.run_id, "history/pretraining/digits/imputation/loss")
    assert [m.step for m in history] == [0, 1, 2]
    np.testing.assert_allclose([m.value for m in history], checkpoints["imputation"]["meta"]["loss_history"], rtol=1e-6)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "encoders")}
    assert artifacts == {"encoders/imputation.pt"}
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures/pretraining")}
    assert figures == {"figures/pretraining/tsne_imputation.png"}
