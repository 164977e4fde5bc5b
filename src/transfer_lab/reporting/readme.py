"""The README's result tables, generated from a run's outputs (``make readme-tables``).

Reads ``data/08_reporting/leaderboard.csv`` (and ``report.html`` for which run it was:
date, machine, command, commit) and prints markdown: one method × label-budget table per
family and dataset (test accuracy, mean over seeds, the best of each budget in bold, the
supervised baselines included), the domain-adaptation and SDL PSNR tables, and the
Taskonomy agreement. Paste the output into README.md; never type the numbers by hand::

    python -m transfer_lab.reporting.readme [--folder data/08_reporting] [--metric accuracy]
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_lab.reporting.report import (
    BudgetTable,
    budget_tables,
    domain_adaptation_summary,
    normalise_leaderboard,
    read_run_facts,
    sdl_summary,
    taskonomy_summary,
)


def _number(value: float, digits: int = 3) -> str:
    return "—" if not np.isfinite(value) else f"{value:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def budget_markdown(table: BudgetTable) -> str:
    """A :class:`~transfer_lab.reporting.report.BudgetTable` as markdown: mean over seeds,
    the best of each budget in bold."""
    best = table.best()
    rows = []
    for method in table.mean.index:
        cells = []
        for budget in table.mean.columns:
            text = _number(table.mean.loc[method, budget])
            cells.append(f"**{text}**" if best.get(budget) == method else text)
        name = str(method).replace(" (baseline)", "")
        rows.append([f"`{name}`" + (" (baseline)" if name != method else ""), *cells])
    return markdown_table(["method", *map(str, table.mean.columns)], rows)


def run_line(folder: Path) -> str:
    """Which run the tables come from (date, machine, command, commit), from ``report.html``."""
    report = folder / "report.html"
    facts = read_run_facts(report.read_text(encoding="utf-8")) if report.is_file() else {}
    if not facts:
        stamp = _dt.datetime.fromtimestamp((folder / "leaderboard.csv").stat().st_mtime, _dt.timezone.utc)
        return f"_Generated from `{folder / 'leaderboard.csv'}` written {stamp:%Y-%m-%d %H:%M UTC} (no report.html: run unknown)._"
    commit = facts.get("commit", "unknown")
    dirty = " (uncommitted changes)" if facts.get("dirty") == "yes" else ""
    return (
        f"_Run of {facts.get('date', '?')} on {facts.get('machine', '?')}: `{facts.get('command', '?')}`, "
        f"commit `{commit[:10]}`{dirty}; tables by `make readme-tables`._"
    )


def readme_tables(folder: str | Path = "data/08_reporting", metric: str = "accuracy") -> str:
    """The markdown of every table (see the module docstring)."""
    folder = Path(folder)
    board = normalise_leaderboard(pd.read_csv(folder / "leaderboard.csv", keep_default_na=False, na_values=[""]))
    parts = [run_line(folder)]
    for table in budget_tables(board, metric):
        counts = sorted({int(c) for c in table.count.to_numpy().ravel() if np.isfinite(c)})
        seeds = "/".join(map(str, counts)) or "?"
        parts.append(f"**{table.family}** on {table.dataset}: test {metric}, mean over {seeds} seeds\n\n{budget_markdown(table)}")
    adaptation = domain_adaptation_summary(board)
    if len(adaptation):
        rows = [[f"{r['domain pair']}", f"`{r['method']}`", _number(r["mean"]), _number(r["std"])] for _, r in adaptation.iterrows()]
        parts.append("**Domain adaptation**: target test accuracy\n\n" + markdown_table(["domain pair", "method", "mean", "std"], rows))
    sdl = sdl_summary(board)
    if len(sdl):
        pivot = sdl.pivot_table(index="coupled pair", columns="method", values="PSNR mean")
        rows = [[pair, *(_number(v, 2) for v in pivot.loc[pair])] for pair in pivot.index]
        parts.append("**SDL synthesis**: test PSNR (dB)\n\n" + markdown_table(["coupled pair", *(f"`{m}`" for m in pivot.columns)], rows))
    agreement = taskonomy_summary(board)
    if len(agreement):
        rows = [[f"`{r['estimator']}`", *(_number(r.get(c, np.nan), 2) for c in ("kendall_tau", "spearman_rho"))] for _, r in agreement.iterrows()]
        parts.append("**Taskonomy**: agreement with the tournament (mean over targets)\n\n" + markdown_table(["score", "Kendall τ", "Spearman ρ"], rows))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the README's result tables from a run's leaderboard.")
    parser.add_argument("--folder", default="data/08_reporting", help="the run's reporting folder (leaderboard.csv, report.html)")
    parser.add_argument("--metric", default="accuracy")
    args = parser.parse_args(argv)
    print(readme_tables(args.folder, args.metric), end="")


if __name__ == "__main__":
    main()
