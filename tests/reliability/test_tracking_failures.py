"""Attack 6: the tracking store fails mid-run; the science goes on, with one warning."""

import logging
import sqlite3

import pandas as pd
import pytest

from transfer_lab.reporting import tracking


class _BrokenClient:
    calls = 0

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            _BrokenClient.calls += 1
            raise sqlite3.OperationalError("disk I/O error")

        return fail


@pytest.fixture
def broken_store(monkeypatch):
    monkeypatch.setattr(tracking, "_tracked_run", lambda: (_BrokenClient(), "run-id"))
    monkeypatch.setattr(tracking, "_failed", [])
    _BrokenClient.calls = 0


def test_a_failing_tracking_store_warns_once_and_never_raises(broken_store, caplog, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with caplog.at_level(logging.WARNING, logger=tracking.__name__):
        tracking.log_metrics({"a/b": 1.0})
        tracking.log_metric_history("loss", [3.0, 2.0])
        tracking.log_table(pd.DataFrame({"x": [1]}), "tables/x.csv")
        figure = plt.figure()
        tracking.log_figure(figure, "figures/f.png")
        plt.close(figure)
        (tmp_path / "t.csv").write_text("x\n1\n")
        tracking.log_artifact_file(tmp_path / "t.csv")
    warnings = [r for r in caplog.records if "MLflow tracking failed" in r.getMessage()]
    assert len(warnings) == 1 and "disk I/O error" in warnings[0].getMessage()
    assert _BrokenClient.calls == 1  # no retry storm against a dead store
