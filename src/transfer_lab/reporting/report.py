"""The report of a run: one self-contained HTML page (``data/08_reporting/report.html``).

It holds the run's parameters (flattened), the git commit, per-family leaderboard tables
(method × label budget, mean ± std over seeds, the best of each budget in bold), each
family's best method side by side, the
domain-adaptation, SDL and Taskonomy summaries and every figure of the run, embedded as
base64 PNG. HTML is built from plain string templates; every value is escaped.
:func:`budget_table` is shared with the README tables (:mod:`transfer_lab.reporting.readme`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transfer_lab.reporting.results import budget_sort_key, format_budget

#: Figures shown first, in this order; the rest follow by name.
FIGURE_ORDER = ("label_budget", "leaderboard_heatmap")
BASELINES = ("logreg_pixels", "cnn_scratch")


# ----------------------------------------------------------------------------- run facts
def git_state(root: str | Path = ".") -> dict[str, str]:
    """``commit`` (full hash, or ``unknown``) and ``dirty`` (``yes``/``no``/``unknown``) of
    the git work tree at ``root``; no git, or not a repository, gives ``unknown``."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {
        "commit": commit.strip() if commit else "unknown",
        "dirty": "unknown" if status is None else ("yes" if status.strip() else "no"),
    }


def run_facts(root: str | Path = ".") -> dict[str, str]:
    """What identifies a run: date (UTC), machine, Python, command line, git commit and dirty flag."""
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node() or 'unknown'} ({platform.machine()}, {platform.system()})",
        "python": platform.python_version(),
        "command": command_line(),
        **git_state(root),
    }


def command_line(argv: list[str] | None = None) -> str:
    """The command that started this process, as a user typed it (``kedro run --env ci``)."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or not argv[0]:
        return "unknown"
    program = Path(argv[0])
    head = f"python -m {program.parent.name}" if program.name == "__main__.py" else program.name
    return " ".join([head, *argv[1:]])


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as ``{"a.b.c": "value"}``; lists as comma-separated text."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{name}.")
        elif isinstance(value, (list, tuple)):
            flat[name] = ", ".join(str(v) for v in value)
        else:
            flat[name] = str(value)
    return flat


# ----------------------------------------------------------------------------- tables
def normalise_leaderboard(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard read back from CSV with budgets as text (``"5"``, ``"all"``, ``""``)."""
    board = leaderboard.copy()
    board["labels_per_class"] = [format_budget(b) for b in board["labels_per_class"]]
    for column in ("pipeline", "dataset", "method", "metric", "split"):
        board[column] = board[column].astype(str)
    return board


@dataclass(frozen=True)
class BudgetTable:
    """One family's method × budget table on one dataset (mean and std over seeds)."""

    family: str
    dataset: str
    mean: pd.DataFrame  # rows methods (best mean first), columns budgets
    std: pd.DataFrame
    count: pd.DataFrame

    def best(self) -> dict[str, str]:
        """The best method of each budget (highest mean)."""
        return {b: str(self.mean[b].idxmax()) for b in self.mean.columns if self.mean[b].notna().any()}


def budget_table(rows: pd.DataFrame, family: str, dataset: str) -> BudgetTable:
    """Leaderboard ``rows`` (one family, one dataset, one metric and split) as a table."""

    def pivot(column: str) -> pd.DataFrame:
        table = rows.pivot_table(index="method", columns="labels_per_class", values=column, aggfunc="mean")
        return table[sorted(table.columns, key=lambda b: budget_sort_key(str(b)))]

    mean = pivot("mean")
    ranked = mean.mean(axis=1).sort_values(ascending=False, kind="stable").index
    # the family's methods best first, then the baselines it is compared with
    order = [m for m in ranked if not str(m).endswith(" (baseline)")] + [m for m in ranked if str(m).endswith(" (baseline)")]
    return BudgetTable(family, dataset, mean.loc[order], pivot("std").loc[order], pivot("count").loc[order])


def _label_budget_rows(leaderboard: pd.DataFrame, metric: str, split: str) -> pd.DataFrame:
    """The leaderboard rows of ``metric`` on ``split`` that have a label budget (as text)."""
    rows = leaderboard[(leaderboard["metric"] == metric) & (leaderboard["split"] == split)]
    rows = rows[rows["labels_per_class"].astype(str) != ""].copy()
    rows["labels_per_class"] = rows["labels_per_class"].astype(str)
    return rows


def budget_tables(
    leaderboard: pd.DataFrame, metric: str = "accuracy", split: str = "test", with_baselines: bool = True
) -> list[BudgetTable]:
    """One :class:`BudgetTable` per family and dataset with label-budget rows of ``metric``.

    With ``with_baselines``, every family's table also holds the supervised baselines of
    ``evaluation`` (marked ``(baseline)``) on the same dataset, for comparison.
    """
    rows = _label_budget_rows(leaderboard, metric, split)
    baselines = rows[(rows["pipeline"] == "evaluation") & rows["method"].isin(BASELINES)]
    baselines = baselines.assign(method=baselines["method"] + " (baseline)")
    tables = []
    for (family, dataset), part in sorted(rows.groupby(["pipeline", "dataset"]), key=lambda item: item[0]):
        if family != "evaluation" and with_baselines:
            part = pd.concat([part, baselines[baselines["dataset"] == dataset]], ignore_index=True)
        tables.append(budget_table(part, family, dataset))
    return tables


def family_best_tables(leaderboard: pd.DataFrame, metric: str = "accuracy", split: str = "test") -> list[BudgetTable]:
    """Per dataset, each family's best method (``plots.family_best_rows``) as one table:
    the comparison of the label-budget figure's "each family's best" panels."""
    from transfer_lab.reporting.plots import family_best_rows  # plots imports matplotlib

    best = family_best_rows(_label_budget_rows(leaderboard, metric, split))
    return [budget_table(part, "each family's best", dataset) for dataset, part in best.groupby("dataset", sort=True)
            if part["method"].nunique() > 1]


def _cell(mean: float, std: float) -> str:
    return "–" if not np.isfinite(mean) else f"{mean:.3f} ± {std:.3f}"


def table_html(table: BudgetTable) -> str:
    """A :class:`BudgetTable` as an HTML table; the best of each budget in bold."""
    best = table.best()
    head = "".join(f"<th>{html.escape(str(b))}</th>" for b in table.mean.columns)
    body = []
    for method in table.mean.index:
        cells = []
        for budget in table.mean.columns:
            text = html.escape(_cell(table.mean.loc[method, budget], table.std.loc[method, budget]))
            cells.append(f"<td><b>{text}</b></td>" if best.get(budget) == method else f"<td>{text}</td>")
        body.append(f"<tr><th class='method'>{html.escape(str(method))}</th>{''.join(cells)}</tr>")
    return (
        f"<table class='board'><caption>{html.escape(table.family)} on {html.escape(table.dataset)}</caption>"
        f"<thead><tr><th>method \\ labels per class</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def frame_html(frame: pd.DataFrame, caption: str) -> str:
    """A small DataFrame as an escaped HTML table (numbers to 3 decimals)."""
    if not len(frame):
        return f"<p class='empty'>{html.escape(caption)}: no rows in this run.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{v:.3f}' if isinstance(v, float) else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ----------------------------------------------------------------------------- summaries
def domain_adaptation_summary(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """Target-test accuracy of every domain-adaptation method per domain pair."""
    rows = leaderboard[
        (leaderboard["pipeline"] == "transfer") & leaderboard["dataset"].str.contains("->", regex=False)
        & (leaderboard["metric"] == "accuracy") & (leaderboard["split"] == "target_test")
    ]
    return rows[["dataset", "method", "mean", "std", "count"]].rename(columns={"dataset": "domain pair"})


def sdl_summary(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """Test PSNR (dB) of every synthesis method per coupled pair, best first per pair."""
    rows = leaderboard[(leaderboard["pipeline"] == "dictionary") & (leaderboard["metric"] == "psnr")]
    rows = rows.sort_values(["dataset", "mean"], ascending=[True, False])
    return rows[["dataset", "method", "mean", "std", "count"]].rename(columns={"dataset": "coupled pair", "mean": "PSNR mean"})


def taskonomy_summary(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """Mean agreement (Kendall τ, Spearman ρ) of each cheap score with the tournament."""
    rows = leaderboard[
        (leaderboard["pipeline"] == "taskonomy") & leaderboard["metric"].isin(["kendall_tau", "spearman_rho"])
        & ~leaderboard["method"].str.contains("__", regex=False)
    ]
    if not len(rows):
        return pd.DataFrame(columns=["estimator", "kendall_tau", "spearman_rho"])
    table = rows.pivot_table(index="method", columns="metric", values="mean").reset_index()
    table = table.rename(columns={"method": "estimator"}).rename_axis(columns=None)
    return table.sort_values(table.columns[1], ascending=False)


# ----------------------------------------------------------------------------- page
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th.method, caption { text-align: left; }
caption { font-weight: 600; padding: 4px 0; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-family: monospace; font-size: 0.85em; color: #555; }
dl.facts dt { font-weight: 600; float: left; clear: left; width: 8em; } dl.facts dd { margin-left: 9em; }
"""


def _figure_key(name: str) -> tuple[int, str]:
    stem = Path(name).stem
    return (FIGURE_ORDER.index(stem) if stem in FIGURE_ORDER else len(FIGURE_ORDER), name)


def figures_html(figures: Mapping[str, bytes]) -> str:
    """Every figure as an ``<img>`` with its PNG embedded as base64 (data URI)."""
    parts = []
    for name in sorted(figures, key=_figure_key):
        data = base64.b64encode(figures[name]).decode("ascii")
        parts.append(
            f"<figure id='{html.escape(Path(name).stem, quote=True)}'><img alt='{html.escape(name, quote=True)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{html.escape(name)}</figcaption></figure>"
        )
    return "\n".join(parts) or "<p class='empty'>No figures in data/08_reporting.</p>"


def report_html(
    leaderboard: pd.DataFrame, parameters: Mapping[str, Any], figures: Mapping[str, bytes],
    facts: Mapping[str, str], metric: str = "accuracy",
) -> str:
    """The whole report page (see the module docstring)."""
    fact_list = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
    boards = "\n".join(table_html(t) for t in budget_tables(leaderboard, metric)) or "<p>No label-budget results.</p>"
    families = "\n".join(table_html(t) for t in family_best_tables(leaderboard, metric)) or "<p>Fewer than two families.</p>"
    params = pd.DataFrame(sorted(flatten(parameters).items()), columns=["parameter", "value"])
    sections = [
        ("run", "run", f"<dl class='facts'>{fact_list}</dl>"),
        ("leaderboards", f"leaderboards (test {metric}, mean ± std over seeds; best per budget in bold)", boards),
        ("family-best", f"each family's best method (test {metric}; best of each family by its mean over budgets)", families),
        ("domain-adaptation", "domain adaptation", frame_html(domain_adaptation_summary(leaderboard), "target test accuracy per domain pair")),
        ("sdl", "semi-coupled dictionary learning (SDL)", frame_html(sdl_summary(leaderboard), "test PSNR (dB) per coupled pair")),
        ("taskonomy", "Taskonomy", frame_html(taskonomy_summary(leaderboard), "agreement of cheap scores with the tournament (mean over targets)")),
        ("figures", "figures", figures_html(figures)),
        ("parameters", "parameters", frame_html(params, "every parameter of the run, flattened")),
    ]
    body = "\n".join(
        f"<section id='{key}'><h2>{html.escape(title)}</h2>\n{content}</section>" for key, title, content in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>transfer-lab run report</title>"
        f"<style>{_STYLE}</style>\n<script type='application/json' id='run-facts'>{_facts_json(facts)}</script>\n"
        f"</head><body><h1>transfer-lab run report</h1>\n{body}\n</body></html>\n"
    )


def _facts_json(facts: Mapping[str, str]) -> str:
    # "<" escaped so that no value can close the <script> element
    return json.dumps(dict(facts), sort_keys=True).replace("<", "\\u003c")


_FACTS = re.compile(r"<script type='application/json' id='run-facts'>(.*?)</script>", re.S)


def read_run_facts(report: str) -> dict[str, str]:
    """The run facts (:func:`run_facts`) stored in a report page, ``{}`` if it has none."""
    match = _FACTS.search(report)
    return json.loads(match.group(1)) if match else {}
