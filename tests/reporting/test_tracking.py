import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from transfer_lab.reporting import tracking


@pytest.fixture
def sqlite_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # artifacts of the default experiment land in tmp_path
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    # An earlier in-process kedro run (kedro-mlflow) leaves its experiment active; that id does
    # not exist in this fresh database, so make its default experiment the active one.
    mlflow.set_experiment("Default")
    yield uri
    mlflow.set_tracking_uri(previous)


def test_no_run_means_no_logging(monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert mlflow.active_run() is None
    assert not tracking.is_tracking()
    tracking.log_metrics({"a": 1.0})  # must not raise nor create a run
    assert mlflow.active_run() is None


def test_metrics_history_figures_and_tables_reach_the_active_run(sqlite_uri):
    with mlflow.start_run() as run:
        tracking.log_metrics({"digits->digits_rotated/acc": 0.5})
        tracking.log_metric_history("loss", [3.0, 2.0, 1.0])
        figure = plt.figure()
        tracking.log_figure(figure, "figures/f.png")
        plt.close(figure)
        tracking.log_table(pd.DataFrame({"a": [1]}), "tables/t.csv")
    client = MlflowClient(sqlite_uri)
    data = client.get_run(run.info.run_id).data
    assert data.metrics["digits_to_digits_rotated/acc"] == 0.5  # '>' is not allowed in MLflow keys
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [3.0, 2.0, 1.0]
    paths = {a.path for folder in ("figures", "tables") for a in client.list_artifacts(run.info.run_id, folder)}
    assert paths == {"figures/f.png", "tables/t.csv"}


def test_worker_process_reaches_the_run_through_the_environment(sqlite_uri, monkeypatch):
    client = MlflowClient(sqlite_uri)
    experiment = client.create_experiment("e")
    run_id = client.create_run(experiment).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri)
    tracking.log_metrics({"m": 2.0})
    assert client.get_run(run_id).data.metrics == {"m": 2.0}


def _results(seeds=(0, 1)):
    from transfer_lab.reporting.results import result_row, results_frame

    rows = []
    for seed in seeds:
        for budget, value in ((1, 0.5), ("all", 0.9)):
            rows.append(result_row(pipeline="evaluation", dataset="digits", method="cnn_scratch", metric="accuracy",
                                   value=value + seed / 100, labels_per_class=budget, seed=seed))
            rows.append(result_row(pipeline="evaluation", dataset="digits", method="cnn_scratch", metric="seconds",
                                   value=3.0, split="train", labels_per_class=budget, seed=seed))
        rows.append(result_row(pipeline="evaluation", dataset="digits->digits_rotated", method="dann", metric="accuracy",
                               value=0.7, split="target_test", seed=seed))
    return results_frame(rows)


def test_results_metrics_are_means_at_step_zero_and_seeds_as_steps():
    steps = tracking.results_metric_steps(_results())
    means = {key: value for key, value, step in steps if not key.startswith("seeds/")}
    assert means == pytest.approx({
        "evaluation/digits/cnn_scratch/lpc_1/accuracy_test": 0.505,
        "evaluation/digits/cnn_scratch/lpc_all/accuracy_test": 0.905,
        "evaluation/digits_to_digits_rotated/dann/accuracy_target_test": 0.7,  # no budget, no lpc part
    })
    per_seed = sorted((step, value) for key, value, step in steps if key == "seeds/evaluation/digits/cnn_scratch/lpc_1/accuracy_test")
    assert [step for step, _ in per_seed] == [0, 1]
    assert [value for _, value in per_seed] == pytest.approx([0.5, 0.51])
    assert not [key for key, _, _ in steps if "seconds" in key]  # timings stay in the table


def test_runs_with_other_seeds_share_every_metric_name():
    names = {key for key, _, _ in tracking.results_metric_steps(_results((0, 1)))}
    assert names == {key for key, _, _ in tracking.results_metric_steps(_results((2, 3)))}


def test_a_single_seed_logs_no_per_seed_metrics():
    assert not [key for key, _, _ in tracking.results_metric_steps(_results((0,))) if key.startswith("seeds/")]


def test_agreement_per_target_and_affinities_are_left_out_the_mean_agreement_kept():
    from transfer_lab.reporting.results import result_row, results_frame

    table = results_frame([
        result_row(pipeline="taskonomy", dataset="digits", method=method, metric="kendall_tau", value=0.5)
        for method in ("logme", "logme__edge2d")
    ] + [result_row(pipeline="taskonomy", dataset="digits", method="denoise__class", metric="affinity", value=0.2)])
    assert {key for key, _, _ in tracking.results_metric_steps(table)} == {"taskonomy/digits/logme/kendall_tau_test"}


def test_mean_curve_averages_over_seeds_while_any_runs():
    assert tracking.mean_curve([[3.0, 2.0, 1.0], [5.0, 4.0]]) == [4.0, 3.0, 1.0]
    assert tracking.mean_curve([]) == []


def test_canonical_params_read_the_same_however_given():
    from transfer_lab.contracts import DataParams

    from_file = {"data": {"dataset": "digits", "seeds": [3], "label_budgets": [5]}}
    from_cli = {"data": {"dataset": "digits", "seeds": 3, "label_budgets": "5"}}
    canonical = [
        tracking.canonical_params(p, {"data": DataParams.model_validate(p["data"])}) for p in (from_file, from_cli)
    ]
    assert canonical[0] == canonical[1]
    assert canonical[0]["data.seeds"] == "[3]" and canonical[0]["data.dataset"] == "digits"
    assert tracking.canonical_params({"x": {"flag": True, "none": None, "rate": 0.5}}) == {
        "x.flag": "true", "x.none": "null", "x.rate": "0.5"}


def test_log_results_logs_metrics_and_the_table(sqlite_uri):
    with mlflow.start_run() as run:
        logged = tracking.log_results(_results(), "evaluation_results")
    client = MlflowClient(sqlite_uri)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert logged == 9 and metrics["evaluation/digits/cnn_scratch/lpc_all/accuracy_test"] == pytest.approx(0.905)
    history = client.get_metric_history(run.info.run_id, "seeds/evaluation/digits/cnn_scratch/lpc_all/accuracy_test")
    assert sorted(m.step for m in history) == [0, 1]
    assert {a.path for a in client.list_artifacts(run.info.run_id, "tables")} == {"tables/evaluation_results.csv"}
