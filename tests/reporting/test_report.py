"""The run report (reporting/report.py) and the README tables (reporting/readme.py)."""

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import transfer_lab
from transfer_lab.reporting.readme import readme_tables
from transfer_lab.reporting.report import (
    budget_tables, command_line, family_best_tables, flatten, git_state, read_run_facts, report_html,
)
from transfer_lab.reporting.results import aggregate_results, result_row, results_frame

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
FACTS = {"date": "2026-01-01 00:00 UTC", "machine": "box", "command": "kedro run --env ci", "commit": "abc123", "dirty": "no"}


def _board():
    rows = [
        result_row(pipeline=pipeline, dataset="digits", method=method, metric="accuracy",
                   value=base + 0.1 * i + 0.02 * seed, labels_per_class=budget, seed=seed)
        for pipeline, method, base in (
            ("evaluation", "logreg_pixels", 0.5), ("evaluation", "cnn_scratch", 0.45),
            ("transfer", "simclr_knn", 0.6), ("transfer", "<b>odd</b>", 0.3),
        )
        for i, budget in enumerate((1, 5, "all"))
        for seed in range(2)
    ]
    rows += [result_row(pipeline="dictionary", dataset="a->b", method="sdl", metric="psnr", value=20.0 + s, seed=s) for s in range(2)]
    rows += [result_row(pipeline="transfer", dataset="a->b", method=m, metric="accuracy", value=v, split="target_test")
             for m, v in (("source_only", 0.4), ("dann", 0.6), ("target_supervised", 0.9))]
    rows += [result_row(pipeline="taskonomy", dataset="digits", method="leep", metric="kendall_tau", value=0.6)]
    return aggregate_results([results_frame(rows)])


def test_budget_tables_put_the_family_first_and_the_baselines_below():
    (evaluation, transfer) = budget_tables(_board())
    assert (evaluation.family, transfer.family) == ("evaluation", "transfer")
    assert list(transfer.mean.index) == ["simclr_knn", "<b>odd</b>", "logreg_pixels (baseline)", "cnn_scratch (baseline)"]
    assert list(transfer.mean.columns) == ["1", "5", "all"]
    assert transfer.best() == {"1": "simclr_knn", "5": "simclr_knn", "all": "simclr_knn"}
    assert abs(transfer.mean.loc["simclr_knn", "5"] - 0.71) < 1e-9


def test_the_family_best_table_holds_the_best_method_of_each_family():
    (table,) = family_best_tables(_board())
    assert (table.family, table.dataset) == ("each family's best", "digits")
    assert list(table.mean.index) == ["transfer: simclr_knn", "evaluation: logreg_pixels"]
    assert abs(table.mean.loc["transfer: simclr_knn", "5"] - 0.71) < 1e-9


def test_report_is_self_contained_escaped_and_holds_tables_summaries_and_figures():
    page = report_html(_board(), {"data": {"seeds": [0, 1], "dataset": "digits"}}, {"label_budget.png": PNG}, FACTS)
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;b&gt;odd&lt;/b&gt;" in page and "<b>odd</b>" not in page  # method names are escaped
    assert "<td><b>0.710 ± 0.014</b></td>" in page  # mean ± std, best of the budget in bold
    assert f"src='data:image/png;base64,{base64.b64encode(PNG).decode()}'" in page
    for section in ("run", "leaderboards", "family-best", "domain-adaptation", "sdl", "taskonomy", "figures", "parameters"):
        assert f"<section id='{section}'>" in page
    assert "<td>data.seeds</td><td>0, 1</td>" in page
    assert read_run_facts(page) == FACTS
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing loaded from elsewhere


def test_flatten_joins_nested_keys_and_lists():
    assert flatten({"a": {"b": [1, 2], "c": {"d": None}}, "e": 3}) == {"a.b": "1, 2", "a.c.d": "None", "e": "3"}


def test_git_state_tolerates_a_folder_outside_git(tmp_path):
    assert git_state(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


def test_git_state_reads_commit_and_dirty_flag(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("commit", "-qm", "one")
    state = git_state(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", state["commit"]) and state["dirty"] == "no"
    (tmp_path / "f").write_text("y")
    assert git_state(tmp_path)["dirty"] == "yes"


def test_command_line_reads_as_typed():
    assert command_line(["/x/.venv/bin/kedro", "run", "--env", "ci"]) == "kedro run --env ci"
    assert command_line(["/x/site-packages/kedro/__main__.py", "run"]) == "python -m kedro run"


def test_readme_tables_from_a_leaderboard_and_its_report(tmp_path):
    _board().to_csv(tmp_path / "leaderboard.csv", index=False)
    (tmp_path / "report.html").write_text(report_html(_board(), {}, {}, FACTS))
    text = readme_tables(tmp_path)
    assert text.splitlines()[0] == "_Run of 2026-01-01 00:00 UTC on box: `kedro run --env ci`, commit `abc123`; tables by `make readme-tables`._"
    assert "| method | 1 | 5 | all |" in text
    assert "| `simclr_knn` | **0.610** | **0.710** | **0.810** |" in text
    assert "| `logreg_pixels` (baseline) | 0.510 | 0.610 | 0.710 |" in text
    assert "| a->b | `dann` | 0.600 | 0.000 |" in text
    assert "| `leep` | 0.60 | — |" in text


def test_readme_tables_command_line(tmp_path):
    _board().to_csv(tmp_path / "leaderboard.csv", index=False)
    env = {**os.environ, "PYTHONPATH": str(Path(transfer_lab.__file__).parents[1])}  # this checkout's src
    done = subprocess.run([sys.executable, "-m", "transfer_lab.reporting.readme", "--folder", str(tmp_path)],
                          capture_output=True, text=True, check=True, env=env)
    assert "no report.html: run unknown" in done.stdout.splitlines()[0]
    assert "**transfer** on digits" in done.stdout


def test_the_report_node_embeds_the_stored_figures_and_logs_the_page_to_mlflow(monkeypatch, tmp_path):
    from transfer_lab.pipelines.evaluation import nodes

    logged = []
    monkeypatch.setattr(nodes.tracking, "log_artifact_file", lambda path, folder=None: logged.append((Path(path).read_text(), folder)))
    board = _board()
    board["labels_per_class"] = board["labels_per_class"].replace("", float("nan"))  # as read back from CSV
    page = nodes.build_report(board, {"evaluation": {"metric": "accuracy"}}, {"label_budget": lambda: PNG}, "accuracy", PNG)
    assert "<img alt='label_budget.png'" in page and "<caption>transfer on digits</caption>" in page
    assert logged == [(page, "report")]
