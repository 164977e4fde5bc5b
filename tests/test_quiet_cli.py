"""Every command starts without a warning the user cannot act on."""

from __future__ import annotations

from pathlib import Path

from tests.test_run import _kedro

ROOT = Path(__file__).resolve().parents[1]


def test_a_kedro_command_prints_no_warning():
    # MLflow warns at import time about kedro-mlflow's pyfunc model (no type hints on predict);
    # the project's hooks import it, so every command would show that warning.
    result = _kedro(ROOT, "registry", "list", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    assert "WARNING" not in output and "Warning" not in output, output[:2000]
    assert "- transfer" in output


def test_kedro_viz_tracking_notice_is_information_not_a_warning(caplog):
    """kedro-viz warns on every ParallelRunner or --pipelines run that it tracks full sequential
    runs only; the project logs that at INFO (a user has nothing to fix)."""
    import logging

    import transfer_lab.hooks  # noqa: F401  (installs the filter)
    from kedro_viz.integrations.kedro import run_hooks

    caplog.set_level(logging.INFO)
    run_hooks.PipelineRunStatusHook().before_pipeline_run({"runner": "ParallelRunner", "pipeline_names": None}, None)
    notices = [r for r in caplog.records if "Workflow tracking is disabled" in r.getMessage()]
    assert notices and all(r.levelno == logging.INFO for r in notices)
