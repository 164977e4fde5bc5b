"""Markdown table of each family's best method against the label budget, from a run's
leaderboard (the report's "each family's best" table, ``reporting.report.family_best_tables``):

    python scripts/few_labels/family_best.py /path/to/project/data

Test accuracy, mean ± std over each family's seeds; the best of each budget in bold.
"""
import sys

import numpy as np
import pandas as pd

from transfer_lab.reporting.readme import markdown_table
from transfer_lab.reporting.report import family_best_tables, normalise_leaderboard

board = normalise_leaderboard(pd.read_csv(f"{sys.argv[1]}/08_reporting/leaderboard.csv", keep_default_na=False,
                                          na_values={"mean": [""], "std": [""]}))
for table in family_best_tables(board):
    best = table.best()
    seeds = ", ".join(f"{str(m).split(':')[0]} {int(c)}" for m, c in table.count.max(axis=1).items())
    print(f"**{table.family}** on {table.dataset}: test accuracy, mean ± std over seeds (seeds: {seeds})\n")
    rows = []
    for method in table.mean.index:
        cells = []
        for b in table.mean.columns:
            m, s = table.mean.loc[method, b], table.std.loc[method, b]
            text = "—" if not np.isfinite(m) else f"{m:.4f} ± {s:.4f}"
            cells.append(f"**{text}**" if best.get(b) == method else text)
        rows.append([f"`{method}`", *cells])
    print(markdown_table(["family: best method", *map(str, table.mean.columns)], rows) + "\n")
