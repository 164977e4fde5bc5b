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
