"""Each pretrained encoder's linear probe against SimCLR's and scratch, per label budget (issue 15).

    python scripts/encoders_vs_simclr.py data/08_reporting     # a run's reporting folder

Reads the run's leaderboard.csv (test accuracy, mean ± std over seeds) and prints one markdown
table: a row per encoder's `<encoder>_linear_probe`, then `simclr_linear_probe` and `scratch`,
and whether the probe at 10 labels per class beats `scratch` at 10.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from transfer_lab.contracts import TRANSFERRED_ENCODERS  # noqa: E402
from transfer_lab.reporting.readme import markdown_table  # noqa: E402

BUDGETS = ["1", "5", "10", "50", "all"]


def main(folder: Path) -> None:
    board = pd.read_csv(folder / "leaderboard.csv", dtype={"labels_per_class": str}, keep_default_na=False)
    test = board[(board["pipeline"] == "transfer") & (board["metric"] == "accuracy") & (board["split"] == "test")]
    cells = test.set_index(["method", "labels_per_class"])
    methods = [f"{e}_linear_probe" for e in TRANSFERRED_ENCODERS if e != "simclr"] + ["simclr_linear_probe", "scratch"]
    scratch_at_10 = cells.loc[("scratch", "10"), "mean"]
    rows = []
    for method in methods:
        if (method, "10") not in cells.index:
            continue
        row = [f"`{method}`"] + [f"{cells.loc[(method, b), 'mean']:.3f} ± {cells.loc[(method, b), 'std']:.3f}"
                                 if (method, b) in cells.index else "—" for b in BUDGETS]
        beats = "—" if method == "scratch" else ("yes" if cells.loc[(method, "10"), "mean"] > scratch_at_10 else "no")
        rows.append(row + [beats])
    print(markdown_table(["linear probe of", *BUDGETS, "beats scratch @10"], rows))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/08_reporting"))
