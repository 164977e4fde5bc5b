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
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
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
