"""The regularisation pipeline through Kedro's runner on the ci environment (data +
regularisation, with a small encoder checkpoint standing in for the pretraining pipeline's)."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest
import torch

from tests.conftest import load_config, make_project_copy, run_pipelines
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.params import ParameterError, parse_params, validate_parameters
from transfer_lab.pipelines.regularisation import create_pipeline
from transfer_lab.pipelines.regularisation.params import ENCODER_METHODS, METHODS, RegularisationParams

CI_COMBOS = {(b, s) for b in ("1", "5", "all") for s in (0, 1)}
ROWS = {  # method node -> the method names of its rows
    **{m: {m} for m in METHODS if m not in ("dropout", *ENCODER_METHODS)},
    "dropout": {"dropout_weight_scaling", "dropout_mc"},
    "l2_sp": {"l2_sp_simclr"},
    "weight_decay": {"weight_decay_simclr"},
}


def _read(project, name):
    return pd.read_csv(project / f"data/08_reporting/{name}.csv", dtype={"labels_per_class": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def regularisation_run(tmp_path_factory):
    project = make_project_copy(tmp_path_factory.mktemp("regularisation") / "project")
    kwargs = {"width": 4, "depth": 2, "out_features": 16}
    torch.manual_seed(0)
    checkpoint = encoder_checkpoint(build_encoder("cnn2d", (1, 8, 8), **kwargs), "cnn2d", (1, 8, 8), kwargs, dataset="digits")
    EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).save({"simclr": checkpoint})
    start = time.process_time()
    run_pipelines(project, ["data", "regularisation"])
    return project, time.process_time() - start


def test_every_method_for_every_budget_and_seed(regularisation_run):
    project, seconds = regularisation_run
    print(f"data + regularisation on ci: {seconds:.1f} s CPU")
    results = _read(project, "regularisation_results")
    assert (results["pipeline"] == "regularisation").all() and (results["dataset"] == "digits").all()
    accuracy = results[(results["metric"] == "accuracy") & (results["split"] == "test")]
    assert set(accuracy["method"]) == set().union(*ROWS.values())
    for method, rows in accuracy.groupby("method"):
        assert set(zip(rows["labels_per_class"], rows["seed"])) == CI_COMBOS, method
    assert accuracy["value"].between(0.0, 1.0).all()
    networks = results[results["metric"] == "fgsm_accuracy"]["method"].unique()
    assert {"mlp", "adversarial_training", "tangent_prop", "l2_sp_simclr", "dropout_weight_scaling"} <= set(networks)
    assert set(results[results["metric"] == "activation_sparsity"]["method"]) >= {"mlp", "l1_activation"}
    assert set(results[results["metric"] == "gap_to_weight_scaling"]["method"]) == {"dropout_mc"}


def test_summary_table_and_figures(regularisation_run):
    project, _ = regularisation_run
    summary = pd.read_csv(project / "data/08_reporting/regularisation_summary.csv", dtype={"labels_per_class": str})
    assert {"method", "labels_per_class", "accuracy", "fgsm_accuracy", "pgd_accuracy", "activation_sparsity", "seeds"} <= set(summary.columns)
    assert len(summary) == len(set().union(*ROWS.values())) * 3
    mlp = summary[(summary["method"] == "mlp") & (summary["labels_per_class"] == "all")]
    results = _read(project, "regularisation_results")
    want = results.query("method == 'mlp' and labels_per_class == 'all' and metric == 'fgsm_accuracy'")["value"].mean()
    assert mlp["fgsm_accuracy"].item() == pytest.approx(want)
    for name in ("regularisation_accuracy", "regularisation_adversarial"):
        assert (project / f"data/08_reporting/{name}.png").stat().st_size > 3000


def test_a_missing_encoder_skips_the_encoder_methods_only(tmp_path, regularisation_run):
    ci_project, _ = regularisation_run
    project = make_project_copy(tmp_path / "project")
    for layer in ("03_primary", "05_model_input"):
        shutil.copytree(ci_project / "data" / layer, project / "data" / layer, dirs_exist_ok=True)
    runtime = {"regularisation": {"runtime": {"selected": "euclidean_1nn l2_sp"}, "methods": {"l2_sp": {"encoder": "absent"}}}}
    run_pipelines(project, ["regularisation"], runtime_params=runtime)
    accuracy = _read(project, "regularisation_results").query("metric == 'accuracy'")
    assert set(accuracy["method"]) == {"euclidean_1nn"}


def test_method_nodes_are_independent_nested_namespaces_of_one_template():
    pipeline = create_pipeline()
    runs = [n for n in pipeline.nodes if n.name.endswith(".run")]
    assert {n.name for n in runs} == {f"regularisation.{m}.run" for m in METHODS}
    for node in runs:
        method = node.namespace.removeprefix("regularisation.")
        shared = {f"params:regularisation.{b}" for b in (f"methods.{method}", "runtime", "training", "network", "attack")}
        encoders = {"pretrained_encoders"} if method in ENCODER_METHODS else set()
        assert set(node.inputs) == {"base_dataset", "split_table", "label_subsets"} | shared | encoders
        assert node.outputs == [f"regularisation.{method}.rows"]
    for node in pipeline.nodes:
        assert "regularisation" in node.tags and len(node.tags & {"train", "score", "report"}) == 1, node.name
    assert {"regularisation_accuracy_plot", "regularisation_adversarial_plot", "regularisation_summary"} <= pipeline.outputs()


def test_parameters_are_validated_before_any_work():
    _, parameters = load_config(make_project_copy.__globals__["PROJECT_ROOT"], "base")
    assert "regularisation" in validate_parameters(parameters)
    for bad, match in (
        ({"attack": {"epsilon": 0}}, "epsilon"),
        ({"methods": {"dropout": {"p": 1.0}}}, "p"),
        ({"methods": {"tangent_distance_1nn": {"kinds": ["shear"]}}}, "kinds"),
        ({"runtime": {"selected": "mlp tangent_props"}}, "selected"),
        ({"methods": {"bagging": {"k": 1}}}, "k"),
        ({"methods": {"l2_sp": {"alhpa": 1}}}, "alpha"),
    ):
        with pytest.raises(ParameterError, match=match):
            parse_params(RegularisationParams, bad, "regularisation")
    params = parse_params(RegularisationParams, {"runtime": {"selected": "mlp dropout"}}, "regularisation")
    assert params.runtime.runs("dropout") and not params.runtime.runs("bagging")


def test_figures_lie_on_their_canvas_with_one_colour_per_method(regularisation_run):
    import matplotlib.pyplot as plt

    from tests.reporting.canvas import outside_canvas
    from tests.reporting.test_figures_on_ci_run import repeated_colours
    from transfer_lab.pipelines.regularisation import nodes

    project, _ = regularisation_run
    results = pd.read_csv(project / "data/08_reporting/regularisation_results.csv", dtype={"labels_per_class": str}, keep_default_na=False)
    accuracy_figure, adversarial_figure, _ = nodes.report(results, {"epsilon": 0.1})
    for figure in (accuracy_figure, adversarial_figure):
        assert outside_canvas(figure) == [] and repeated_colours(figure) == []
        plt.close(figure)
