"""End to end: `kedro run --env ci` as a user runs it, in a copy of the project."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import make_project_copy
from transfer_lab.reporting.results import PIPELINES


def _kedro(project, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK", "KEDRO_DISABLE_TELEMETRY", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")}
    env["PYTHONUNBUFFERED"] = "1"
    # Rich lays the log out for an 80-column console when not on a terminal and wraps the
    # message column at ~40 characters; a wide one keeps each logged line on one line.
    env["COLUMNS"] = "250"
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args], cwd=project, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.slow
def test_kedro_run_ci_tracks_one_mlflow_run_and_writes_the_leaderboard(tmp_path):
    project = make_project_copy(tmp_path / "project")
    start = time.perf_counter()
    result = _kedro(project, "run", "--env", "ci")
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    print(f"kedro run --env ci: {seconds:.1f} s")
    # telemetry is off by the project's own .telemetry file: no consent prompt, no send
    assert "Heap" not in output and "telemetry" not in output.lower()

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("transfer_lab")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    # named after what ran (the copy is no git checkout: no commit to name), tagged to rerun it
    assert run.info.run_name == "default · digits · nogit"
    tags = run.data.tags
    assert tags["command"] == "kedro run --env ci" and tags["kedro_env"] == "ci" and tags["runner"] == "SequentialRunner"
    assert tags["git_commit"] == "unknown" and tags["git_dirty"] == "unknown"
    # parameters once, in the validated models' JSON form
    assert run.data.params["data.dataset"] == "digits"
    assert run.data.params["data.seeds"] == "[0, 1]"
    assert run.data.params["evaluation.cnn.training.epochs"] == "4"
    # metrics: means over seeds, each seed as a step of seeds/<name>, histories per epoch
    metrics = run.data.metrics
    assert 0.9 < metrics["evaluation/digits/logreg_pixels/lpc_all/accuracy_test"] <= 1.0
    per_seed = client.get_metric_history(run.info.run_id, "seeds/evaluation/digits/logreg_pixels/lpc_all/accuracy_test")
    assert sorted(m.step for m in per_seed) == [0, 1]
    assert not [key for key in metrics if "seed_" in key]  # no seed in a metric's name
    means = [key for key in metrics if not key.startswith(("seeds/", "history/", "timing/"))]
    assert {key.split("/")[0] for key in means} == set(PIPELINES)
    assert len(means) <= 300, len(means)
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/label_budget.png" in figures
    tables = {a.path for a in client.list_artifacts(run.info.run_id, "tables")}
    assert {f"tables/{name}_results.csv" for name in PIPELINES} | {"tables/leaderboard.csv"} <= tables
    # the log: no load/save chatter, no warnings, a summary at the end
    assert "Loading data from" not in output and "Saving data to" not in output
    assert "Run summary" in output and "default · digits · nogit" in output

    board = pd.read_csv(project / "data/08_reporting/leaderboard.csv", dtype={"labels_per_class": str})
    accuracy = board.query("pipeline == 'evaluation' and metric == 'accuracy' and split == 'test'")
    assert sorted(zip(accuracy["method"], accuracy["labels_per_class"])) == sorted(
        (m, b) for m in ("cnn_scratch", "logreg_pixels") for b in ("1", "5", "all")
    )
    assert (accuracy["count"] == 2).all()
    # every registered pipeline's results reached the leaderboard
    assert {"evaluation", "dictionary"} <= set(board["pipeline"])

    # Kedro-Viz loads the project: every dataset on a layer, previews of tables and figures
    result = _kedro(project, "viz", "build", "--include-previews", timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    graph = json.loads((project / "build/api/main").read_text())
    datasets = [node for node in graph["nodes"] if node["type"] == "data"]
    assert datasets and all(node.get("layer") for node in datasets), datasets
    assert graph["layers"][0] == "raw" and graph["layers"][-1] == "reporting"
    previews = [json.loads(p.read_text()).get("preview_type") for p in (project / "build/api/nodes").iterdir()]
    assert {"TablePreview", "ImagePreview"} <= set(previews)


@pytest.mark.slow
def test_bad_parameter_on_the_command_line_is_refused_before_any_work(tmp_path):
    project = make_project_copy(tmp_path / "project")
    result = _kedro(project, "run", "--env", "ci", "--params", "data.dataset=cifar10", timeout=300)
    assert result.returncode != 0
    assert "Invalid parameter 'data.dataset'" in result.stdout + result.stderr
    assert not (project / "mlflow.db").exists()
    assert not [p for p in (project / "data").rglob("*") if p.is_file()]


@pytest.mark.slow
def test_parallel_runner_runs_every_pipeline_into_one_mlflow_run(tmp_path):
    """`make run`'s runner (CriticalPathRunner, a ParallelRunner): worker processes get no hooks
    and share no catalog-declared MemoryDataset: node outputs travel through files and MLflow
    logging finds the run through the environment."""
    project = make_project_copy(tmp_path / "project")
    result = _kedro(project, "run", "--env", "ci", "--runner", "transfer_lab.runners.CriticalPathRunner")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    written = {p.name for p in (project / "data/08_reporting").glob("*_results.csv")}
    assert written == {f"{name}_results.csv" for name in PIPELINES}
    board = pd.read_csv(project / "data/08_reporting/leaderboard.csv")
    assert set(board["pipeline"]) == set(PIPELINES)

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("transfer_lab").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    # histories logged inside worker processes reached the same run
    logged_by = {key.split("/")[1] for key in run.data.metrics if key.startswith("history/")}
    assert {"semi_supervised", "taskonomy", "evaluation"} <= logged_by, sorted(logged_by)[:20]
    # the driver logged the parameters and every results table
    assert run.data.params["data.seeds"] == "[0, 1]" and run.data.tags["runner"] == "CriticalPathRunner"
    results_metrics = [key for key in run.data.metrics if not key.startswith(("seeds/", "history/", "timing/"))]
    assert {key.split("/")[0] for key in results_metrics} == set(PIPELINES)
    # the timing hook ran in the workers: wall and CPU seconds of every node
    from transfer_lab.timing import node_times

    times = node_times(run.data.metrics)
    assert {"data.make_base_dataset", "evaluation.build_leaderboard"} <= set(times)
    assert all(set(t) == {"wall_seconds", "cpu_seconds"} for t in times.values())


@pytest.mark.slow
def test_default_run_benchmark_prints_times_and_one_json_line():
    """benchmarks/default_run.py --quick on the data pipeline: both runners, same results."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / "benchmarks/default_run.py"), "--quick", "--pipelines", "data"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["benchmark"] == "default_run" and record["runner"] == "transfer_lab.runners.CriticalPathRunner"
    assert record["baseline"] == "SequentialRunner" and record["results_identical"] is True
    assert set(record["pipelines_seconds"]) == {"data"} and record["top_nodes"]
    assert {"ours_seconds", "baseline_seconds", "speedup"} <= set(record)


@pytest.mark.slow
def test_a_mistyped_pipeline_name_gets_one_line_listing_the_valid_names(tmp_path):
    project = make_project_copy(tmp_path / "project")
    result = _kedro(project, "run", "--env", "ci", "--pipelines", "transferr", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    flat = " ".join(output.split())  # the same whether or not a console wrapped the line
    assert "Error: unknown pipeline 'transferr'; available: __default__, " in flat, output[-2000:]
    listed = flat.split("available: ", 1)[1]
    assert ", data," in listed and ", transfer" in listed, listed[:300]
    assert "Traceback" not in output and "ImportError" not in output
    assert not (project / "mlflow.db").exists()
