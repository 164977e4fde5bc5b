import subprocess
from pathlib import Path

from transfer_lab.reporting import run_summary
from transfer_lab.reporting.results import result_row, results_frame


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


def test_git_state_reads_the_commit_and_whether_tracked_files_changed(tmp_path):
    assert run_summary.git_state(tmp_path) == run_summary.GitState("unknown", None)
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    clean = run_summary.git_state(tmp_path)
    assert len(clean.commit) == 40 and clean.dirty is False
    (tmp_path / "a.txt").write_text("2")
    assert run_summary.git_state(tmp_path).dirty is True


def test_run_name_says_what_ran_on_which_data_at_which_commit():
    git = run_summary.GitState("0123456789abcdef", False)
    assert run_summary.run_name(None, "digits", git) == "default · digits · 0123456"
    assert run_summary.run_name(["data", "transfer"], "mnist1d", run_summary.GitState("0123456789", True)) == (
        "data+transfer · mnist1d · 0123456+dirty")
    assert run_summary.run_name(["data"], "digits", run_summary.GitState("unknown", None)) == "data · digits · nogit"


def test_command_line_and_runner_name():
    assert run_summary.command_line(["/venv/bin/kedro", "run", "--params", "data.seeds=0 1"]) == "kedro run --params 'data.seeds=0 1'"
    assert run_summary.command_line(["python -m kedro", "run"]) == "kedro run"
    assert run_summary.runner_name("<kedro.runner.parallel_runner.ParallelRunner object at 0x7f>") == "ParallelRunner"


def test_summary_names_the_best_method_per_budget_and_the_report():
    table = results_frame([
        result_row(pipeline="evaluation", dataset="digits", method=method, metric="accuracy", value=value,
                   labels_per_class=budget, seed=seed)
        for method, budget, value in (("logreg", 1, 0.6), ("cnn", 1, 0.7), ("logreg", "all", 0.95), ("cnn", "all", 0.9))
        for seed in (0, 1)
    ])
    lines = run_summary.summary_lines({"evaluation": table}, {"evaluation": 12.0, "data": 3.0}, 200.0,
                                      Path("data/08_reporting/report.html"), "run 'default · digits · 0123456' (abc)")
    text = "\n".join(lines)
    assert lines[0] == "Run summary (3.3 min in all)"
    assert "  evaluation (12 s):" in lines and "  data (3 s)" in lines
    assert "digits accuracy_test: lpc 1 cnn 0.700 · lpc all logreg 0.950" in text
    assert "Report: data/08_reporting/report.html" in text and "default · digits · 0123456" in text
