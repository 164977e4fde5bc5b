"""What a run was and what it found: git state, run name, and the summary printed at its end.

Used by the project hooks (``transfer_lab.hooks``): the MLflow run is named and tagged from
:func:`git_state` and :func:`run_name`, and :func:`summary_lines` is the block that ends
the log of every ``kedro run``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from transfer_lab.data_root import DEFAULT_DATA_ROOT, REPORT_NAME
from transfer_lab.reporting.results import aggregate_results, budget_sort_key

#: the report under the default data root; a run's own is ``DataRoot.location(REPORT_NAME)``
REPORT_PATH = Path(DEFAULT_DATA_ROOT) / REPORT_NAME
# The measurements a summary ranks methods by: (metric, splits); higher is better for each.
HEADLINES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accuracy", ("test", "target_test")),
    ("psnr", ("test",)),
    ("kendall_tau", ("test",)),
)


@dataclass(frozen=True)
class GitState:
    commit: str  # full hash, or "unknown" outside a git checkout
    dirty: bool | None  # None when unknown

    @property
    def short(self) -> str:
        return self.commit[:7] if self.commit != "unknown" else "nogit"


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(folder: Path) -> GitState:
    """The commit checked out in ``folder`` and whether tracked files differ from it."""
    commit = _git(folder, "rev-parse", "HEAD")
    if not commit:
        return GitState("unknown", None)
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return GitState(commit, None if status is None else bool(status))


def run_name(pipelines: Sequence[str] | None, dataset: str | None, git: GitState) -> str:
    """``default · digits · 77e41f1`` (``+dirty`` when tracked files differ from the commit).

    Several pipelines are named in sorted order (``data+evaluation``): Kedro does not keep
    the order of ``--pipelines``.
    """
    names = sorted(name for name in (pipelines or []) if name) or ["__default__"]
    what = "+".join("default" if name == "__default__" else name for name in names)
    commit = git.short + ("+dirty" if git.dirty else "")
    return " · ".join(part for part in (what, dataset, commit) if part)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, from ``sys.argv`` (``python -m kedro`` shows as ``kedro``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and (argv[0].endswith("kedro") or argv[0].endswith("kedro/__main__.py")):
        return shlex.join(["kedro", *argv[1:]])
    return shlex.join(argv)


def runner_name(runner: object) -> str:
    """``SequentialRunner`` from a runner, its class, or the repr Kedro puts in ``run_params``."""
    text = runner if isinstance(runner, str) else getattr(runner, "__name__", type(runner).__name__)
    match = re.search(r"(\w+Runner)\b", str(text))
    return match.group(1) if match else str(text)


def best_methods(table: pd.DataFrame) -> list[str]:
    """Per dataset, headline metric and budget: the best method by its mean over seeds.

    Rows like ``digits accuracy_test: lpc 1 cnn_scratch 0.712 · lpc 5 logreg_pixels 0.905``.
    Per-target rows of an estimator (``logme__edge2d``) are left out: their mean row ranks.
    """
    board = aggregate_results([table])
    lines = []
    for metric, splits in HEADLINES:
        rows = board[(board["metric"] == metric) & board["split"].isin(splits) & ~board["method"].str.contains("__")]
        for (dataset, split), group in rows.groupby(["dataset", "split"], sort=True):
            parts = []
            for budget in sorted(group["labels_per_class"].unique(), key=budget_sort_key):
                at = group[group["labels_per_class"] == budget]
                top = at.loc[at["mean"].idxmax()]
                label = f"lpc {budget} " if budget else ""
                parts.append(f"{label}{top['method']} {top['mean']:.3f}")
            lines.append(f"{dataset} {metric}_{split}: " + " · ".join(parts))
    return lines


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def summary_lines(
    results: Mapping[str, pd.DataFrame],
    family_seconds: Mapping[str, float],
    total_seconds: float,
    report: Path | str | None,
    mlflow_run: str | None,
) -> list[str]:
    """The end-of-run summary: per family the best method per budget and its wall time,
    then where the report and the MLflow run are."""
    lines = [f"Run summary ({_duration(total_seconds)} in all)"]
    families = sorted(set(results) | set(family_seconds))
    for family in families:
        seconds = family_seconds.get(family)
        timing = f" ({_duration(seconds)})" if seconds is not None else ""
        best = best_methods(results[family]) if family in results and len(results[family]) else []
        lines.append(f"  {family}{timing}" + (":" if best else ""))
        lines += [f"    {line}" for line in best]
    if not family_seconds:
        lines.append("  (wall time per pipeline is measured by node hooks, which ParallelRunner does not run)")
    lines.append(f"  Report: {report}" if report else "  Report: none written by this run")
    if mlflow_run:
        lines.append(f"  MLflow: {mlflow_run} (make mlflow-ui, then http://127.0.0.1:5000)")
    return lines
