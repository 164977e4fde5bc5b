"""The evaluation pipeline through Kedro's runner on the ci environment."""

import pandas as pd

from tests.conftest import run_pipelines
from transfer_lab.pipeline_registry import register_pipelines
from transfer_lab.reporting.results import RESULT_COLUMNS, result_row, results_frame

CI_BUDGETS = ["1", "5", "all"]
CI_SEEDS = [0, 1]


def test_baselines_cover_every_budget_and_seed(ci_run):
    project, _ = ci_run
    results = pd.read_csv(project / "data/08_reporting/evaluation_results.csv", dtype={"labels_per_class": str})
    assert tuple(results.columns) == RESULT_COLUMNS
    accuracy = results[results["metric"] == "accuracy"]
    for method in ("logreg_pixels", "cnn_scratch"):
        rows = accuracy[accuracy["method"] == method]
        assert sorted(zip(rows["labels_per_class"], rows["seed"])) == sorted(
            (b, s) for b in CI_BUDGETS for s in CI_SEEDS
        )
        assert rows["value"].between(0, 1).all()
    # logistic regression on all digits' pixels is a solid classifier; with one label per class
    # it is far weaker: a test that fails if labels leak or subsets are wrong.
    logreg = accuracy[accuracy["method"] == "logreg_pixels"].groupby("labels_per_class")["value"].mean()
    assert logreg["all"] > 0.93
    assert logreg["1"] < logreg["5"] < logreg["all"]


def test_leaderboard_aggregates_seeds_and_draws_the_budget_curve(ci_run):
    project, _ = ci_run
    board = pd.read_csv(project / "data/08_reporting/leaderboard.csv", dtype={"labels_per_class": str})
    accuracy = board[(board["metric"] == "accuracy") & (board["split"] == "test") & (board["pipeline"] == "evaluation")]
    assert len(accuracy) == 2 * len(CI_BUDGETS)
    assert (accuracy["count"] == len(CI_SEEDS)).all()
    results = pd.read_csv(project / "data/08_reporting/evaluation_results.csv", dtype={"labels_per_class": str})
    expected = results.query("metric == 'accuracy' and method == 'cnn_scratch' and labels_per_class == '5'")["value"]
    row = accuracy.query("method == 'cnn_scratch' and labels_per_class == '5'").iloc[0]
    assert abs(row["mean"] - expected.mean()) < 1e-9 and abs(row["std"] - expected.std()) < 1e-9
    assert (project / "data/08_reporting/label_budget.png").stat().st_size > 5000


def test_leaderboard_includes_results_tables_of_other_pipelines(ci_run, project):
    """Every *_results.csv on disk joins the leaderboard, whichever run wrote it."""
    source, _ = ci_run
    for name in ("03_primary/base_dataset.npz", "03_primary/split_table.parquet", "05_model_input/label_subsets.parquet"):
        (project / "data" / name).write_bytes((source / "data" / name).read_bytes())
    other = results_frame(
        result_row(pipeline="dictionary", dataset="digits", method="self_taught", metric="accuracy",
                   value=0.8 + 0.01 * seed, labels_per_class=5, seed=seed)
        for seed in CI_SEEDS
    )
    other.to_csv(project / "data/08_reporting/dictionary_results.csv", index=False)
    run_pipelines(project, ["evaluation"])
    board = pd.read_csv(project / "data/08_reporting/leaderboard.csv", dtype={"labels_per_class": str})
    row = board.query("pipeline == 'dictionary' and method == 'self_taught'")
    assert len(row) == 1 and row.iloc[0]["count"] == 2 and abs(row.iloc[0]["mean"] - 0.805) < 1e-9


def test_default_pipeline_builds_the_leaderboard_after_every_results_table():
    pipelines = register_pipelines()
    assert {"data", "evaluation", "__default__"} <= set(pipelines)
    default = pipelines["__default__"]
    (leaderboard_node,) = [node for node in default.nodes if node.name == "evaluation.build_leaderboard"]
    produced = {name for name in default.all_outputs() if name.endswith("_results")}
    assert produced <= set(leaderboard_node.inputs)
    # topological order: the report is the last node to run, after the leaderboard and every figure
    (report_node,) = [node for node in default.nodes if node.name == "evaluation.build_report"]
    assert report_node in default.grouped_nodes[-1] and len(default.grouped_nodes[-1]) == 1
    assert "leaderboard" in report_node.inputs
    figures = {name for name in default.all_outputs() if name.endswith(("_plot", "_plots", "_heatmap"))}
    assert figures - {"evaluation.leaderboard_heatmap_plot"} <= set(report_node.inputs)


def test_the_scratch_cnn_is_built_in_the_runtime_blocks_conv_layout(ci_run, monkeypatch):
    """``runtime.channels_last`` reaches the model the node trains: the encoder is built inside
    ``node_compute`` (built before it, it stayed NCHW in the first NHWC default run)."""
    import numpy as np

    from transfer_lab.datasets.tree_dataset import TreeDataset
    from transfer_lab.methods import encoders
    from transfer_lab.pipelines.evaluation.nodes import cnn_scratch_baseline

    project, _ = ci_run
    base = TreeDataset(filepath=str(project / "data/03_primary/base_dataset.npz")).load()
    split = pd.read_parquet(project / "data/03_primary/split_table.parquet")
    subsets = pd.read_parquet(project / "data/05_model_input/label_subsets.parquet")
    subsets = subsets[(subsets["labels_per_class"].astype(str) == "1") & (subsets["seed"] == 0)]
    built = []
    original = encoders.ConvEncoder2d.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self.channels_last)

    monkeypatch.setattr(encoders.ConvEncoder2d, "__init__", recording)
    cnn = {"width": 4, "depth": 2, "out_features": 8, "training": {"epochs": 1}}
    for channels_last in (True, False):
        built.clear()
        results = cnn_scratch_baseline(base, split, subsets, cnn, {"channels_last": channels_last, "progress": False})
        assert built == [channels_last]
        assert np.isfinite(results["value"]).all()
