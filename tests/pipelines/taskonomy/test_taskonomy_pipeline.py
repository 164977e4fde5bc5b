"""The taskonomy pipeline: its graph, its parameters, and its outputs in the ci run of the default pipeline."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from transfer_lab.methods.taskonomy import (
    PSEUDO_SOURCES,
    ahp_affinity,
    load_reference_affinities,
    parse_transfer_key,
    taxonomy_objective,
    win_rate,
)
from transfer_lab.methods.tasks import TASKS
from transfer_lab.params import ParameterError, parse_params
from transfer_lab.pipelines.taskonomy.params import TaskonomyParams
from transfer_lab.pipelines.taskonomy.pipeline import create_pipeline

CONF = Path(__file__).resolve().parents[3] / "conf"


def _ci_params() -> TaskonomyParams:
    base = yaml.safe_load((CONF / "base/parameters_taskonomy.yml").read_text())["taskonomy"]
    ci = yaml.safe_load((CONF / "ci/parameters_taskonomy.yml").read_text())["taskonomy"]

    def merge(a, b):
        return {**a, **{k: merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v for k, v in b.items()}}

    return parse_params(TaskonomyParams, merge(base, ci), "taskonomy")


def _reporting(project: Path, name: str) -> Path:
    return project / "data/08_reporting" / name


def _pickle(project: Path, layer: str, name: str):
    """An intermediate output (a .npz tree, loaded without pickle)."""
    from transfer_lab.datasets.tree_dataset import TreeDataset

    return TreeDataset(str(project / "data" / layer / "taskonomy" / name)).load()


# ----------------------------------------------------------------------------- graph and parameters
def test_graph_has_independent_nodes_per_task_that_pickle():
    from kedro.runner import ParallelRunner

    pipeline = create_pipeline()
    names = {node.name for node in pipeline.nodes}
    for task in TASKS:
        assert {f"taskonomy.{task}.train", f"taskonomy.{task}.transfer_to", f"taskonomy.{task}.transferability"} <= names
    ParallelRunner._validate_nodes(pipeline.nodes)  # raises when a node function does not pickle
    # transfers to different targets do not depend on each other: they can run side by side
    for a, b in itertools.combinations([f"taskonomy.{t}.transfer_to" for t in TASKS], 2):
        upstream_of_b = pipeline.to_nodes(b).nodes
        assert a not in {node.name for node in upstream_of_b}
    # each source's features come from one node and feed every target
    features = {f"taskonomy.{t}.features" for t in [*TASKS, "random"]}
    producers = [node for node in pipeline.nodes if set(node.outputs) & features]
    assert len(producers) == len(features)
    assert {node.name for node in pipeline.nodes if "taskonomy.class.features" in node.inputs} >= {
        f"taskonomy.{t}.transfer_to" for t in TASKS
    }


def test_namespaces_tags_and_parameter_sub_blocks():
    """One nested namespace per task (and random) from one template; tags per kind of node;
    each node reads the parameter sub-blocks it uses, never the whole taskonomy block."""
    pipeline = create_pipeline()
    assert {node.namespace for node in pipeline.nodes} == {
        "taskonomy", *(f"taskonomy.{s}" for s in [*TASKS, "random"])
    }
    for node in pipeline.nodes:
        assert "taskonomy" in node.tags and len(node.tags & {"train", "score", "report"}) == 1, node.name
        assert "params:taskonomy" not in node.inputs, node.name
    assert pipeline.outputs() & {"taskonomy_results"} and pipeline.inputs() >= {"base_dataset", "split_table"}
    by_name = {node.name: node for node in pipeline.nodes}
    assert by_name["taskonomy.solve_release_taxonomy"].inputs == ["params:taskonomy.release"]
    train = by_name["taskonomy.class.train"].inputs
    assert "params:taskonomy.networks" in train and not any("release" in name for name in train)
    # every dataset of the family is declared in the catalog (factories for the namespaces)
    # (the data root is a Kedro global, conf/base/globals.yml, resolved here as the config loader would)
    catalog = yaml.safe_load((CONF / "base/catalog_taskonomy.yml").read_text().replace("${globals:data_root}", "data"))
    from kedro.io import DataCatalog

    resolved = DataCatalog.from_config(catalog)
    for name in pipeline.datasets() - pipeline.inputs():
        assert name in resolved, name


def test_default_parameters_declare_every_task_and_bad_values_are_refused():
    base = yaml.safe_load((CONF / "base/parameters_taskonomy.yml").read_text())["taskonomy"]
    params = parse_params(TaskonomyParams, base, "taskonomy")
    assert set(params.tasks) == set(TASKS) and len(params.tasks) >= 10
    assert params.transfer.max_order == 2
    for bad, message in (
        ({"tasks": ["class", "depth"]}, "unknown task 'depth'"),
        ({"tasks": ["class"]}, "at least 2"),
        ({"task_options": {"denoise": {"sigma": 1}}}, "no option"),
        ({"tasks": ["class", "parity"], "transferability": {"task2vec": {"probe": "edges"}}}, "probe"),
        ({"taxonomy": {"budgets": [0]}}, "budgets"),
        ({"release": {"file": "wins_vs_task"}}, "file"),
    ):
        with pytest.raises(ParameterError, match=message) as error:
            parse_params(TaskonomyParams, {**base, **bad}, "taskonomy")
        assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------- outputs of the ci run
@pytest.fixture(scope="module")
def outputs(ci_run):
    project, _ = ci_run
    params = _ci_params()
    affinities = json.loads(_reporting(project, "taskonomy_affinities.json").read_text())
    table = pd.read_csv(_reporting(project, "taskonomy_affinities.csv"))
    return project, params, affinities, table


def test_features_are_written_once_per_source_for_every_view(outputs):
    project, params, _, _ = outputs
    task_data = _pickle(project, "05_model_input", "task_data.npz")
    assert set(task_data["tasks"]) == set(params.tasks)
    views = set(task_data["views"])
    assert views == {params.task(t).view for t in params.tasks}
    n = len(task_data["targets"][params.tasks[0]])
    for source in [*TASKS, "random"]:
        item = _pickle(project, "07_model_output", f"features_{source}.npz")
        if source in params.tasks or source == "random":
            assert item["source"] == source and set(item["features"]) == views
            for F in item["features"].values():
                assert F.shape == (n, params.encoder.out_features) and np.isfinite(F).all()
        else:
            assert item == {}
    assert len(task_data["rows"]["transfer"]) == params.transfer.size
    assert set(task_data["rows"]["transfer"]) <= set(task_data["rows"]["train"])


def test_every_transfer_and_the_beam_of_higher_orders(outputs):
    project, params, affinities, table = outputs
    tasks = params.tasks
    for target in tasks:
        keys = {k for k in affinities if parse_transfer_key(k)[1] == target}
        first = {parse_transfer_key(k)[0][0] for k in keys if len(parse_transfer_key(k)[0]) == 1}
        assert first == {*(set(tasks) - {target}), "random", "self"}
        higher = [parse_transfer_key(k)[0] for k in keys if len(parse_transfer_key(k)[0]) > 1]
        beam = min(params.transfer.beam, len(tasks) - 1)
        assert len(higher) == sum(math.comb(beam, k) for k in range(2, min(params.transfer.max_order, beam) + 1))
        assert all(set(sources) <= set(tasks) - {target} for sources in higher)
        # AHP affinities of one target sum to 1
        assert math.isclose(sum(affinities[k] for k in keys), 1.0, rel_tol=1e-9)
        # per-sample test losses kept for the tournament, with pixels and self
        transfers = _pickle(project, "07_model_output", f"transfers_{target}.npz")
        n_test = len(_pickle(project, "05_model_input", "task_data.npz")["rows"]["test"])
        assert set(transfers["test_losses"]) == keys | {f"pixels__{target}"}
        assert all(v.shape == (n_test,) and np.isfinite(v).all() for v in transfers["test_losses"].values())
    assert set(table["target"]) == set(tasks)


def test_tournament_ahp_gain_and_quality_recomputed_from_losses(outputs):
    project, params, affinities, table = outputs
    win_rates = pd.read_csv(_reporting(project, "taskonomy_win_rates.csv"))
    for target in params.tasks:
        part = win_rates[win_rates["target"] == target]
        keys = sorted(set(part["key_i"]))
        W = part.pivot(index="key_i", columns="key_j", values="win_rate").loc[keys, keys].to_numpy()
        np.testing.assert_allclose(np.diag(W), 0.5)
        np.testing.assert_allclose(W + W.T, 1.0, atol=1e-12)
        np.testing.assert_allclose(ahp_affinity(W), [affinities[k] for k in keys], rtol=1e-9)
        losses = _pickle(project, "07_model_output", f"transfers_{target}.npz")["test_losses"]
        for row in table[table["target"] == target].itertuples():
            assert math.isclose(row.gain, win_rate(losses[row.key], losses[f"pixels__{target}"]))
            assert math.isclose(row.quality, win_rate(losses[row.key], losses[f"self__{target}"]))
    # the task network, trained on every training row, beats training from scratch on the transfer set
    own = table[table["sources"] == "self"]
    assert (own["gain"] > 0.5).all()


def _check_taxonomy(taxonomy: dict, affinities: dict, budget: float, max_order=None):
    targets = {parse_transfer_key(k)[1] for k in affinities}
    assert targets <= set(taxonomy)  # every target covered
    supervised = {t for t, sources in taxonomy.items() if not sources}
    assert len(supervised) <= budget + 1e-9
    for target, sources in taxonomy.items():
        if sources:
            assert target not in sources and not set(sources) & PSEUDO_SOURCES
            assert set(sources) <= supervised  # a transfer needs its sources supervised
            assert "__".join([*sources, target]) in affinities
            assert max_order is None or len(sources) <= max_order
        else:
            assert target in targets or target in {s for v in taxonomy.values() for s in v}


def test_our_taxonomy_per_budget(outputs):
    project, params, affinities, _ = outputs
    result = json.loads(_reporting(project, "taskonomy_taxonomy.json").read_text())
    solutions = result["solutions"]
    assert [s["budget"] for s in solutions] == params.taxonomy.budgets
    objectives = []
    for solution in solutions:
        taxonomy = {t: tuple(s) for t, s in solution["taxonomy"].items()}
        _check_taxonomy(taxonomy, affinities, solution["budget"])
        assert math.isclose(solution["objective"], taxonomy_objective(affinities, taxonomy, targets=params.tasks))
        objectives.append(solution["objective"])
        assert _reporting(project, f"taskonomy_taxonomy/budget_{solution['budget']:g}.png").stat().st_size > 5000
    assert all(b >= a - 1e-9 for a, b in zip(objectives, objectives[1:]))


def test_release_taxonomy_respects_every_constraint_and_is_monotone(outputs):
    project, params, _, _ = outputs
    result = json.loads(_reporting(project, "taskonomy_release_taxonomy.json").read_text())
    release = load_reference_affinities(result["file"])
    assert result["file"] == params.release.file
    objectives = []
    for solution in result["solutions"]:
        taxonomy = {t: tuple(s) for t, s in solution["taxonomy"].items()}
        _check_taxonomy(taxonomy, release, solution["budget"], params.release.max_order)
        assert math.isclose(solution["objective"], taxonomy_objective(release, taxonomy, targets=sorted({parse_transfer_key(k)[1] for k in release})))
        objectives.append(solution["objective"])
        assert _reporting(project, f"taskonomy_release_taxonomy/budget_{solution['budget']:g}.png").exists()
    assert len(objectives) >= 2 and all(b >= a - 1e-9 for a, b in zip(objectives, objectives[1:]))


def test_cheap_transferability_and_its_agreement_with_the_tournament(outputs):
    project, params, affinities, _ = outputs
    scores = pd.read_csv(_reporting(project, "taskonomy_transferability.csv"))
    agreement = pd.read_csv(_reporting(project, "taskonomy_agreement.csv"))
    classification = {t for t in params.tasks if params.task(t).is_classification}
    for estimator in ("leep", "nce", "h_score"):
        assert set(scores.loc[scores["estimator"] == estimator, "target"]) == classification
    assert set(scores.loc[scores["estimator"] == "logme", "target"]) == set(params.tasks)
    assert set(scores.loc[scores["estimator"] == "task2vec", "target"]) == set(params.tasks)
    assert (scores.loc[scores["estimator"].isin(["leep", "nce"]), "score"] <= 1e-9).all()
    per_target = agreement[agreement["target"] != "mean"]
    for row in per_target.itertuples():
        part = scores[(scores["target"] == row.target) & (scores["estimator"] == row.estimator)].sort_values("source")
        truth = [affinities[f"{s}__{row.target}"] for s in part["source"]]
        assert math.isclose(row.kendall_tau, stats.kendalltau(part["score"], truth).statistic, abs_tol=1e-9)
        assert math.isclose(row.spearman_rho, stats.spearmanr(part["score"], truth).statistic, abs_tol=1e-9)
    summary = agreement[agreement["target"] == "mean"].sort_values("rank")
    assert set(summary["estimator"]) == set(params.transferability.estimators)
    assert list(summary["kendall_tau"]) == sorted(summary["kendall_tau"], reverse=True)


def test_results_rows_and_figures(outputs):
    project, params, affinities, _ = outputs
    results = pd.read_csv(_reporting(project, "taskonomy_results.csv"), dtype={"labels_per_class": str}, keep_default_na=False)
    assert (results["pipeline"] == "taskonomy").all() and (results["labels_per_class"] == "").all()
    assert {"affinity", "gain", "quality", "kendall_tau", "spearman_rho", "objective"} <= set(results["metric"])
    rows = results[results["metric"] == "affinity"]
    assert dict(zip(rows["method"], rows["value"])) == pytest.approx(affinities)
    assert set(results.loc[results["metric"] == "objective", "dataset"]) == {"digits", "taskonomy_release"}
    for name in ("taskonomy_affinity_heatmap.png", "taskonomy_scores_vs_affinity.png"):
        assert _reporting(project, name).stat().st_size > 10000
    board = pd.read_csv(_reporting(project, "leaderboard.csv"))
    assert "taskonomy" in set(board["pipeline"])
