"""The semi_supervised pipeline through Kedro's runner on the ci environment."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from tests.conftest import load_config, make_project_copy, run_pipelines
from transfer_lab.contracts import DataParams, data_provenance
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.params import ParameterError, parse_params
from transfer_lab.methods.semi_supervised.factory import METHODS, NEURAL_METHODS, WRAPPERS
from transfer_lab.pipelines.semi_supervised import create_pipeline, nodes
from transfer_lab.pipelines.semi_supervised.params import SemiSupervisedParams

CI_COMBOS = {(b, s) for b in ("1", "5") for s in (0, 1)}  # `all` leaves no unlabeled row


def _read(project, name):
    return pd.read_csv(project / f"data/08_reporting/{name}.csv", dtype={"labels_per_class": str}, keep_default_na=False)


def _ci_params(project) -> SemiSupervisedParams:
    _, parameters = load_config(project, "ci")
    return parse_params(SemiSupervisedParams, parameters["semi_supervised"], "semi_supervised")


def _accuracy(results):
    return results[(results["metric"] == "accuracy") & (results["split"] == "test")]


def test_every_method_for_every_budget_and_seed(ci_run):
    project, _ = ci_run
    params = _ci_params(project)
    accuracy = _accuracy(_read(project, "semi_supervised_results"))
    expected = set(params.entries())
    assert {"label_spreading_sklearn", "vat", "fixmatch", "pi_model_kl", "distillation"} <= expected
    # the default run pretrains encoders first, so the rows on them are there too
    on_encoders = {
        f"{method}_{encoder}"
        for encoder in params.pretrained.encoders
        for method in params.pretrained.methods
    }
    assert set(accuracy["method"]) == expected | on_encoders
    for method, rows in accuracy.groupby("method"):
        assert set(zip(rows["labels_per_class"], rows["seed"])) == CI_COMBOS, method
    assert accuracy["value"].between(0.0, 1.0).all()
    assert (accuracy["pipeline"] == "semi_supervised").all() and (accuracy["dataset"] == "digits").all()


def test_graph_methods_use_the_unlabeled_rows(ci_run):
    """One label per class: label propagation beats logistic regression on the 10 labels."""
    project, _ = ci_run
    ours = _accuracy(_read(project, "semi_supervised_results"))
    baseline = _accuracy(_read(project, "evaluation_results"))
    lp = ours[(ours["method"] == "label_propagation") & (ours["labels_per_class"] == "1")]["value"].mean()
    logreg = baseline[(baseline["method"] == "logreg_pixels") & (baseline["labels_per_class"] == "1")]["value"].mean()
    assert lp >= logreg + 0.1


def test_pseudo_labels_per_round(ci_run):
    project, _ = ci_run
    params = _ci_params(project)
    rounds = _read(project, "semi_supervised_pseudo_labels")
    results = _read(project, "semi_supervised_results")
    rounds["precision"] = pd.to_numeric(rounds["precision"])
    wrappers = [n for n, method in params.entries().items() if method in WRAPPERS]
    for method in wrappers:
        table = rounds[rounds["method"] == method]
        assert set(zip(table["labels_per_class"], table["seed"])) == CI_COMBOS, method
        added = table["n_added"] > 0
        assert table.loc[added, "precision"].between(0.0, 1.0).all()
        assert table.loc[~added, "precision"].isna().all()
        # the rows' totals are the rounds' sums and pseudo-label-weighted precisions
        for (budget, seed), group in table.groupby(["labels_per_class", "seed"]):
            row = results[(results["method"] == method) & (results["labels_per_class"] == budget) & (results["seed"] == seed)]
            total = row[row["metric"] == "n_pseudo_labels"]["value"].item()
            assert total == group["n_added"].sum()
            if total:
                precision = (group["n_added"] * group["precision"].fillna(0)).sum() / total
                assert row[row["metric"] == "pseudo_label_precision"]["value"].item() == pytest.approx(precision)
    co = params.methods["co_training"]["co_training"].params
    co_rounds = rounds[rounds["method"] == "co_training"]
    assert co_rounds["round"].max() <= co["k"]
    assert (co_rounds["n_added"] <= 2 * co["p"] * 10).all()  # each view: p rows per class
    online = params.methods["online_self_training"]["online_self_training"].params
    assert rounds[rounds["method"] == "online_self_training"].groupby(["labels_per_class", "seed"]).size().eq(online["max_iter"]).all()
    # neural methods record the confident predictions of each epoch
    assert {n for n, method in params.entries().items() if method in NEURAL_METHODS} <= set(rounds["method"])


def test_figures(ci_run):
    project, _ = ci_run
    for name in ("semi_supervised_accuracy", "semi_supervised_pseudo_label_precision"):
        assert (project / f"data/08_reporting/{name}.png").stat().st_size > 3000


def test_method_nodes_are_independent():
    """Only the data inputs feed the method nodes, so a ParallelRunner can run them together."""
    pipeline = create_pipeline()
    method_nodes = [n for n in pipeline.nodes if n.name not in (
        "semi_supervised.combine_results", "semi_supervised.combine_pseudo_labels", "semi_supervised.report")]
    assert len(method_nodes) == 14
    for node in method_nodes:
        method = node.namespace.removeprefix("semi_supervised.")
        assert set(node.inputs) == {"base_dataset", "split_table", "label_subsets", "pretrained_encoders"} | {
            f"params:semi_supervised.{block}" for block in (f"methods.{method}", "runtime", "neural", "pretrained")} | {
            "params:data"}  # the data block: checkpoints are reused only on the data they were trained on


def test_report_logs_metrics_and_pseudo_label_histories(ci_run, tmp_path):
    project, _ = ci_run
    results = _read(project, "semi_supervised_results")
    rounds = _read(project, "semi_supervised_pseudo_labels")
    rounds["precision"] = pd.to_numeric(rounds["precision"])
    _, parameters = load_config(project, "ci")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            nodes.report(results, rounds, parameters["semi_supervised"]["methods"])
        client = MlflowClient()
        metrics = client.get_run(run.info.run_id).data.metrics
        # accuracies reach MLflow from the results table (TrackedRunHook), not from the report
        assert not [key for key in metrics if not key.startswith("history/")]
        # pseudo-label histories: the mean over seeds, step = round
        key = "history/semi_supervised/digits/co_training/lpc_1/pseudo_label_precision"
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
        expected = rounds.query("method == 'co_training' and labels_per_class == '1'").dropna()
        expected = expected.groupby("round")["precision"].mean()
        assert [step for step, _ in history] == expected.index.tolist()
        assert [value for _, value in history] == pytest.approx(expected.tolist())
        added = client.get_metric_history(run.info.run_id, key.replace("pseudo_label_precision", "pseudo_labels_added"))
        assert len(added) == rounds.query("method == 'co_training' and labels_per_class == '1'")["round"].nunique()
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "figures/semi_supervised")}
        assert artifacts == {"figures/semi_supervised/accuracy_vs_budget.png", "figures/semi_supervised/pseudo_label_precision.png"}
    finally:
        mlflow.set_tracking_uri(None)


def test_pretrained_encoders_give_feature_and_fine_tuned_rows(ci_run, tmp_path):
    """A checkpoint in data/06_models/encoders: estimators on its features, FixMatch from it;
    a checkpoint of other data (here: other inputs) and a listed but absent encoder are skipped."""
    ci_project, _ = ci_run
    project = make_project_copy(tmp_path / "project")
    for layer in ("03_primary", "05_model_input"):
        shutil.copytree(ci_project / "data" / layer, project / "data" / layer, dirs_exist_ok=True)
    folder = project / "data/06_models/encoders"
    kwargs = {"width": 4, "depth": 2, "out_features": 16}
    _, parameters = load_config(project, "ci")
    base = TreeDataset(str(project / "data/03_primary/base_dataset.npz")).load()
    this_data = data_provenance(base, DataParams(**parameters["data"]))
    other_data = {**this_data, "dataset": "digits_16x16"}
    checkpoints = {}
    for name, shape, provenance in (("tiny", (1, 8, 8), this_data), ("other_shape", (1, 16, 16), other_data)):
        torch.manual_seed(0)
        checkpoints[name] = encoder_checkpoint(build_encoder("cnn2d", shape, **kwargs), "cnn2d", shape, kwargs, provenance=provenance)
    # through the dataset, which writes the folder's manifest (a folder without one is an interrupted save)
    EncoderCheckpointsDataset(str(folder)).save(checkpoints)
    runtime = {"semi_supervised": {
        "runtime": {"selected": "label_propagation co_training fixmatch"},
        "pretrained": {"encoders": "tiny other_shape absent", "methods": "label_propagation co_training fixmatch"},
    }}
    run_pipelines(project, ["semi_supervised"], runtime_params=runtime)
    accuracy = _accuracy(_read(project, "semi_supervised_results"))
    assert set(accuracy["method"]) == {
        "label_propagation", "co_training", "fixmatch", "label_propagation_tiny", "co_training_tiny", "fixmatch_tiny",
    }
    for method, rows in accuracy.groupby("method"):
        assert set(zip(rows["labels_per_class"], rows["seed"])) == CI_COMBOS, method
        assert rows["value"].between(0.0, 1.0).all()
    # 16 random (untrained) conv features of 8x8 digits still carry the classes: above chance
    assert accuracy[accuracy["method"] == "label_propagation_tiny"]["value"].mean() > 0.15


def test_bad_parameters_are_one_line_errors():
    base = {"methods": {"self_training": {"st": {"base": {"kind": "logreg"}, "params": {"treshold": 0.9}}}}}
    with pytest.raises(ParameterError, match="treshold"):
        parse_params(SemiSupervisedParams, base, "semi_supervised")
    with pytest.raises(ParameterError, match="base learner"):
        parse_params(SemiSupervisedParams, {"methods": {"self_training": {"st": {}}}}, "semi_supervised")
    with pytest.raises(ParameterError, match="C_value"):
        parse_params(SemiSupervisedParams, {"methods": {"self_training": {"st": {"base": {"kind": "logreg", "params": {"C_value": 1}}}}}}, "semi_supervised")
    with pytest.raises(ParameterError, match="eps_"):
        parse_params(SemiSupervisedParams, {"methods": {"vat": {"v": {"params": {"eps_": 1.0}}}}}, "semi_supervised")
    with pytest.raises(ParameterError, match="epoch"):
        parse_params(SemiSupervisedParams, {"methods": {"vat": {"v": {"training": {"epoch": 1}}}}}, "semi_supervised")
    with pytest.raises(ParameterError, match="unknown method"):
        parse_params(SemiSupervisedParams, {"pretrained": {"methods": "fixmatch"}}, "semi_supervised")
    with pytest.raises(ParameterError, match="mixmatch"):
        parse_params(SemiSupervisedParams, {"methods": {"mixmatch": {}}}, "semi_supervised")
    params = parse_params(SemiSupervisedParams, {"runtime": {"selected": "a b"}, "methods": {
        "label_propagation": {"a": {}}, "label_spreading": {"b": {}}}}, "semi_supervised")
    assert params.runtime.selected == ["a", "b"] and params.runtime.runs("a") and np.all([params.runtime.runs("b")])


def test_ci_trains_every_neural_method_for_one_epoch(ci_run):
    """A base per-method epochs override must not make the ci run long."""
    project, _ = ci_run
    params = _ci_params(project)
    for name, method in params.entries().items():
        if method in NEURAL_METHODS:
            assert params.neural.training_for(params.methods[method][name]).to_train_config(seed=0).epochs == 1, name


def test_each_method_is_a_nested_namespace_of_one_template():
    """``semi_supervised.<method>.run`` for every method, family and kind tags on every node,
    the results table and figures under their global names."""
    pipeline = create_pipeline()
    assert {n.name for n in pipeline.nodes if n.name.endswith(".run")} == {f"semi_supervised.{m}.run" for m in METHODS}
    for node in pipeline.nodes:
        assert node.namespace.split(".")[0] == "semi_supervised"
        assert "semi_supervised" in node.tags and len(node.tags & {"train", "score", "report"}) == 1, node.name
    assert pipeline.outputs() == {"semi_supervised_accuracy_plot", "semi_supervised_pseudo_label_plot"}
    assert {"semi_supervised_results", "semi_supervised_pseudo_labels"} <= set(pipeline.all_outputs())
    data_inputs = {i for i in pipeline.inputs() if not i.startswith("params:")}
    assert data_inputs == {"base_dataset", "split_table", "label_subsets", "pretrained_encoders"}


def test_accuracy_figure_on_the_shared_budget_axis():
    from transfer_lab.reporting.figures_semi_supervised import accuracy_vs_budget

    methods = [f"m{i}" for i in range(12)]
    board = pd.DataFrame([
        {"method": m, "metric": "accuracy", "split": "test", "labels_per_class": b, "mean": 0.5, "std": 0.1}
        for m in methods for b in ("1", "5", "all")
    ])
    figure = accuracy_vs_budget(board, {"raw": methods[:6], "encoders": methods[6:]})
    for ax in figure.axes:
        assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "all"]
        # the methods' curves (the shared axis's own separator before ``all`` has no label)
        curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        styles = [(line.get_color(), line.get_marker()) for line in curves]
        assert len(styles) == 6 and len({c for c, _ in styles}) == 6 and len({m for _, m in styles}) == 6
