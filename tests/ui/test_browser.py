"""What a user sees in a browser: Kedro-Viz, the MLflow run page, the report (tests/ui/conftest.py)."""

from __future__ import annotations

import html
import re

import pytest
from mlflow.tracking import MlflowClient

from transfer_lab.pipeline_registry import available_pipelines
from transfer_lab.reporting.run_summary import REPORT_PATH

pytestmark = [pytest.mark.slow, pytest.mark.ui]

# every family package under pipelines/ is a box (nine today)
FAMILIES = set(available_pipelines()) - {"__default__"}


def _text(dom: str) -> str:
    """The visible text of a DOM: scripts, styles and tags removed, whitespace collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def _run(project):
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("transfer_lab")
    (run,) = client.search_runs([experiment.experiment_id])
    return experiment.experiment_id, run


def _family_boxes(dom: str) -> set[str]:
    return set(re.findall(r'data-node-type="modularPipeline"[^>]*data-node-fullname="([^"]+)"', dom))


def test_kedro_viz_draws_one_box_per_family(viz_url, browser):
    dom = browser.dom(viz_url)
    boxes = _family_boxes(dom)
    assert boxes == FAMILIES, sorted(boxes)
    assert "__default__" in _text(dom)  # the pipeline selector shows the default pipeline
    assert 'data-node-type="data"' in dom  # the datasets that the overview URL below hides


def test_the_overview_url_of_the_readme_hides_the_datasets_and_keeps_every_family(viz_url, browser):
    # README and `make viz`: ?types=nodes, because with its ~80 report datasets the default
    # view is fitted at about 10 % zoom and cannot be read
    overview = browser.dom(f"{viz_url.rstrip('/')}/?pid=__default__&types=nodes")
    assert 'data-node-type="data"' not in overview
    boxes = _family_boxes(overview)
    assert boxes == FAMILIES, sorted(boxes)


def test_mlflow_run_page_shows_the_run_name_tags_and_metrics(tracked_project, mlflow_url, browser):
    experiment_id, run = _run(tracked_project)
    assert run.info.run_name.startswith("data+evaluation · digits · ")
    text = _text(browser.dom(f"{mlflow_url}/#/experiments/{experiment_id}/runs/{run.info.run_id}"))
    assert run.info.run_name in text
    assert f"Metrics ({len(run.data.metrics)})" in text
    # the Tags section, one "key : value" per tag
    assert "command : kedro run --env ci --pipelines data,evaluation" in text
    assert "kedro_env : ci" in text and "runner : SequentialRunner" in text
    # the metrics table lists the history curves first, then the per-family means
    assert " history/evaluation/digits/cnn_scratch/lpc_1/train_loss " in text
    assert " evaluation/digits/logreg_pixels/lpc_all/accuracy_test " in text


def test_mlflow_artifacts_show_the_results_tables_and_the_report(tracked_project, mlflow_url, browser):
    experiment_id, run = _run(tracked_project)
    page = f"{mlflow_url}/#/experiments/{experiment_id}/runs/{run.info.run_id}/artifacts/tables/leaderboard.csv"
    text = _text(browser.dom(page))
    assert "evaluation_results.csv" in text and "leaderboard.csv" in text and "figures" in text
    # the selected table is previewed: the leaderboard's header and a baseline's row
    assert "pipeline dataset method labels_per_class metric split mean std count" in text
    assert "evaluation digits logreg_pixels" in text
    if (tracked_project / REPORT_PATH).is_file():
        assert "report.html" in text


def test_report_shows_its_tables_and_figures(tracked_project, browser):
    report = tracked_project / REPORT_PATH
    if not report.is_file():
        pytest.skip(f"this run wrote no {REPORT_PATH} (the evaluation pipeline's report)")
    dom = browser.dom(report.as_uri())
    assert "<table" in dom and re.search(r'<img[^>]+src="data:image/png;base64,', dom)
    assert "logreg_pixels" in _text(dom)
