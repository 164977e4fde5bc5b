"""Paired comparison of linear probes against `scratch` on the same label subsets (issue 15).

    python scripts/paired_vs_scratch.py data/08_reporting
    python scripts/paired_vs_scratch.py data/08_reporting --probe "cpc (new)=probe_test.json"

`scratch` and every encoder's `linear_probe` are fitted on the same label subset per seed, so
the per-seed difference (probe - scratch) is far less noisy than the spread of either over
seeds. Reads the run's transfer_results.csv (digits, test accuracy, one labels-per-class
budget) and prints one markdown table: per encoder, its difference from scratch per seed, the
mean and standard deviation (ddof 1) of the differences, and in how many seeds it is ahead.
``--probe NAME=FILE`` adds a row from a JSON line of scripts/pretraining_probe.py
``--split test`` (its per-seed accuracies at 10 labels per class on the same subsets).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from transfer_lab.reporting.readme import markdown_table  # noqa: E402

ENCODERS = ("dim", "cpc", "jigsaw", "relative_position", "simclr")


def per_seed(results: pd.DataFrame, method: str, budget: str) -> pd.Series:
    """Test accuracy on digits per seed of one method at one budget (empty if absent)."""
    rows = results[(results["pipeline"] == "transfer") & (results["dataset"] == "digits")
                   & (results["method"] == method) & (results["labels_per_class"] == budget)
                   & (results["metric"] == "accuracy") & (results["split"] == "test")]
    return rows.set_index("seed")["value"].astype(float).sort_index()


def paired_row(name: str, probe: pd.Series, scratch: pd.Series) -> list[str]:
    if list(probe.index) != list(scratch.index):
        raise ValueError(f"{name}: seeds {list(probe.index)}, scratch's {list(scratch.index)}")
    diff = probe - scratch
    cells = [f"{probe[s]:.3f} - {scratch[s]:.3f} = {diff[s]:+.3f}" for s in diff.index]
    ahead = f"{int((diff > 0).sum())}/{len(diff)}"
    return [name, *cells, f"{diff.mean():+.4f}", f"{diff.std(ddof=1):.4f}", ahead]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a run's data/08_reporting")
    parser.add_argument("--budget", default="10", help="labels per class")
    parser.add_argument("--probe", action="append", default=[], metavar="NAME=FILE",
                        help="a row from a pretraining_probe.py --split test JSON line (budget 10)")
    args = parser.parse_args()
    results = pd.read_csv(args.folder / "transfer_results.csv",
                          dtype={"labels_per_class": str}, keep_default_na=False)
    scratch = per_seed(results, "scratch", args.budget)
    probes = {e: per_seed(results, f"{e}_linear_probe", args.budget) for e in ENCODERS}
    rows = [paired_row(f"`{e}_linear_probe`", p, scratch) for e, p in probes.items() if len(p)]
    for item in args.probe:
        name, path = item.split("=", 1)
        record = json.loads(Path(path).read_text().strip().splitlines()[-1])
        if args.budget != "10" or "test_probe_at_10" not in record:
            raise ValueError(f"{path}: needs a --split test record and --budget 10")
        probe = pd.Series(record["test_probe_at_10"], index=scratch.index)
        rows.append(paired_row(name, probe, scratch))
    seeds = [f"seed {s}: probe - scratch" for s in scratch.index]
    print(f"scratch @{args.budget}: {scratch.mean():.3f} ± {scratch.std(ddof=1):.3f} "
          f"(per seed {', '.join(f'{v:.3f}' for v in scratch)}; {np.mean(scratch):.4f} to 4 places)\n")
    header = ["linear probe", *seeds, "mean difference", "std of differences", "ahead in"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
