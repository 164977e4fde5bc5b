"""The README's ``recommend`` walk-through, run end to end: an image folder a user would bring,
the three commands of the README, their times and what they wrote.

In a throwaway copy of the project:

1. the folder ``data/01_raw/my_images``: the first 300 of scikit-learn's digits of classes 0-3
   (in the data set's order), written as 12x12 grey PNGs (bilinear upscaling of the 8x8
   images) into ``class_0/`` ... ``class_3/``, every tenth of them (index 9, 19, ...) into
   ``unlabelled/`` instead;
2. its catalog entry in ``conf/local/catalog.yml`` (``ImageFolderDataset``, ``resize: [8, 8]``,
   ``grey: true``), beside the base sources;
3. the README's commands, each a ``kedro`` process timed here (wall; CPU = user + system of
   the process and its children):

       kedro run --env ci --pipelines data,pretraining --params data.dataset=digits
       kedro run --pipelines data,recommend --params "data.dataset=my_images,data.label_budgets=1 5 10 all"
       kedro run --pipelines data,recommend --params "data.dataset=my_images,data.label_budgets=1 5 10 all,recommend.verify=true"

Prints the times, the first lines of the last ``recommendation.csv``, the two verification
summaries as Markdown tables, and, as its last line, one JSON object.

    python scripts/recommend_walkthrough.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from default_run import project_copy, run_kedro  # noqa: E402  (the default-run benchmark's project copy and timed run)

BUDGETS = "1 5 10 all"
COMMANDS = {
    "pretraining": ["--env", "ci", "--pipelines", "data,pretraining", "--params", "data.dataset=digits"],
    "first `recommend`": ["--pipelines", "data,recommend", "--params", f"data.dataset=my_images,data.label_budgets={BUDGETS}"],
    "`recommend` with `verify`": ["--pipelines", "data,recommend", "--params",
                                  f"data.dataset=my_images,data.label_budgets={BUDGETS},recommend.verify=true"],
}
MY_IMAGES = {"type": "transfer_lab.datasets.own_data.ImageFolderDataset", "path": "data/01_raw/my_images",
             "resize": [8, 8], "grey": True}


def write_folder(raw: Path, n_images: int = 300, classes: tuple[int, ...] = (0, 1, 2, 3)) -> dict[str, int]:
    """The walk-through's image folder under ``raw``; returns how many images went where."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    chosen = np.flatnonzero(np.isin(digits.target, classes))[:n_images]
    counts: dict[str, int] = {}
    for i, row in enumerate(chosen):
        pixels = (digits.images[row] / 16.0 * 255).round().astype(np.uint8)
        folder = "unlabelled" if i % 10 == 9 else f"class_{digits.target[row]}"
        (raw / "my_images" / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).resize((12, 12), Image.BILINEAR).save(raw / "my_images" / folder / f"{row}.png")
        counts[folder] = counts.get(folder, 0) + 1
    return counts


def make_project(folder: Path) -> Path:
    """A copy of this checkout's project (``default_run.project_copy``: conf without ``local``,
    src, pyproject, empty data layers) with the image folder's catalog entry."""
    project_copy(folder)
    catalog = yaml.safe_load((folder / "conf" / "base" / "catalog_data.yml").read_text())
    catalog["raw_sources"]["sources"]["my_images"] = MY_IMAGES
    (folder / "conf" / "local" / "catalog.yml").write_text(yaml.safe_dump({"raw_sources": catalog["raw_sources"]}))
    return folder


def markdown(summary: pd.DataFrame) -> str:
    """A verification summary as the README shows it: mean regret (points), mean Spearman and the
    per-seed regrets where they differ from zero."""
    lines = ["| labels per class | mean regret | mean Spearman | regret per seed |", "|---|---|---|---|"]
    for budget, rows in summary.groupby("labels_per_class", sort=False):
        regrets = 100 * rows["regret"]
        per_seed = ", ".join(f"{r:.1f}".replace(".0", "") if r else "0" for r in regrets) if regrets.any() else ""
        mean = f"{regrets.mean():.1f}" if regrets.any() else "0"
        lines.append(f"| {budget} | {mean} | {rows['spearman'].mean():.2f} | {per_seed} |")
    return "\n".join(lines).replace("| -", "| −")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the project in this (new) folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(args.keep) if args.keep else Path(scratch) / "project")
        counts = write_folder(project / "data" / "01_raw")
        print("my_images:", counts, flush=True)
        times = {}
        for name, command in COMMANDS.items():
            times[name] = dict(zip(("wall", "cpu"), run_kedro(project, command)))
            print(f"{name}: {times[name]['wall']:.0f} s wall, {times[name]['cpu']:.0f} s CPU", flush=True)
        reporting = project / "data" / "08_reporting"
        recommendation = (reporting / "recommendation.csv").read_text().splitlines()
        encoders = pd.read_csv(reporting / "recommend_verification_summary.csv")
        choices = pd.read_csv(reporting / "recommend_choice_verification_summary.csv")
        scores = pd.read_csv(reporting / "recommend_scores.csv")
    print("\n| command | wall | CPU |\n|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t['wall']:.0f} s | {t['cpu']:.0f} s |")
    print(f"\ncandidates scored: {scores['encoder'].nunique()}; usable per budget and seed: at most "
          f"{int(scores.groupby(['labels_per_class', 'seed'])['encoder'].nunique().max())}")
    print("\nrecommendation.csv begins:\n" + "\n".join(recommendation[:7]))
    print("\nverification, encoders:\n" + markdown(encoders))
    print("\nverification, encoder x method choices:\n" + markdown(choices))
    print(json.dumps({
        "benchmark": "recommend_walkthrough", "images": counts,
        "seconds": {name: {k: round(v, 1) for k, v in t.items()} for name, t in times.items()},
        "encoders_mean_regret": {str(b): round(float(r), 4) for b, r in encoders.groupby("labels_per_class", sort=False)["regret"].mean().items()},
        "choices_mean_regret": {str(b): round(float(r), 4) for b, r in choices.groupby("labels_per_class", sort=False)["regret"].mean().items()},
    }))


if __name__ == "__main__":
    main()
