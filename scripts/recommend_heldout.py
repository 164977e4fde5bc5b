"""Held-out evaluation of the ``recommend`` pipeline on the project's own data sets.

Each data set plays the user's "new" data set in turn: digits, MNIST-1D, every declared
image shift of digits (written as an ``.npz`` and declared as a user's would be, with
``NpzDataset``), and the MNIST family when its IDX files are in ``data/01_raw``. For each,
``kedro run --pipelines data,recommend --params data.dataset=<it>,recommend.verify=true``
runs in a throwaway copy of the project (in-process Kedro sessions, so the imports are paid
once):

* pass 1 verifies every data set, which stores its measurements (the calibration history);
* pass 2 runs every data set again: its predicted accuracies are now calibrated on the
  *other* data sets only (leave one data set out), and its verification is the result.

Prints one table per data set and, as its last line, one JSON object: the mean regret of the
first choice (best measured linear-probe accuracy minus the recommended encoder's), the mean
Spearman rho between the predicted order and the measured accuracies, the mean absolute
error of the predicted accuracy, the mean half-width of its interval and how often the
measured accuracy fell inside it. Writes ``recommend_heldout.csv`` (every budget x seed x
data set) next to ``--out``.

    python scripts/recommend_heldout.py [--quick] [--pretrain] [--out data/08_reporting/recommend_heldout.json]

``--pretrain`` first runs ``data,pretraining`` on digits (ci sizes) so that the project's
own pretrained encoders (self-supervised on digits) are candidates too; the supervised ones
(``supcon``, ``supervised_source``), which saw digits' labels, are left out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models", "07_model_output", "08_reporting")
MNIST_FAMILY = ("mnist", "fashion_mnist", "kmnist")


def _project(folder: Path) -> Path:
    shutil.copytree(ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, folder / name)
    mlflow = folder / "conf" / "base" / "mlflow.yml"  # no tracking: many sessions, one process
    config = yaml.safe_load(mlflow.read_text())
    config["tracking"]["disable_tracking"]["pipelines"] = ["data", "recommend", "pretraining"]
    mlflow.write_text(yaml.safe_dump(config))
    shutil.copytree(ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for layer in LAYERS:
        (folder / "data" / layer).mkdir(parents=True)
    return folder


def _shifted_digits(project: Path) -> list[str]:
    """Every declared image shift of digits as an .npz source (catalog entry, no code)."""
    from transfer_lab.sources.digits import load_digits
    from transfer_lab.sources.shifts import apply_shift

    params = yaml.safe_load((project / "conf" / "base" / "parameters_data.yml").read_text())["data"]
    digits = load_digits()
    catalog = yaml.safe_load((project / "conf" / "base" / "catalog_data.yml").read_text())
    names = []
    for shift, steps in params["domains"]["image"]["shifts"].items():
        name = f"digits_{shift}"
        X = apply_shift(digits.X, steps, seed=0)
        np.savez(project / "data" / "01_raw" / f"{name}.npz", X=X.astype(np.float32), y=digits.y)
        catalog["raw_sources"]["sources"][name] = {
            "type": "transfer_lab.datasets.own_data.NpzDataset", "filepath": f"data/01_raw/{name}.npz", "name": name,
        }
        names.append(name)
    (project / "conf" / "local" / "catalog.yml").write_text(yaml.safe_dump({"raw_sources": catalog["raw_sources"]}))
    return names


def _nested(params: dict) -> dict:
    """``{"data.seeds": "0"}`` → ``{"data": {"seeds": "0"}}`` (as ``kedro run --params`` does)."""
    nested: dict = {}
    for key, value in params.items():
        *path, last = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def _run(project: Path, pipelines: list[str], params: dict, env: str) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    here = Path.cwd()
    os.chdir(project)  # relative paths (mlflow.db, data/) are the copy's, never this checkout's
    try:
        with KedroSession.create(project_path=project, env=env, runtime_params=_nested(params)) as session:
            session.run(pipeline_names=pipelines)
    finally:
        os.chdir(here)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="budgets 1 5 all, one seed, MNIST-1D of 1000 samples")
    parser.add_argument("--pretrain", action="store_true", help="add the project's own encoders pretrained on digits")
    parser.add_argument("--out", default=str(ROOT / "data" / "08_reporting" / "recommend_heldout.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    start = time.perf_counter()
    base = {"data.label_budgets": "1 5 all" if args.quick else "1 5 10 all", "data.seeds": "0" if args.quick else "0 1 2",
            "data.mnist1d.num_samples": 1000 if args.quick else 4000, "recommend.verify": True, "recommend.runtime.progress": False,
            "recommend.scoring.exclude": ["supcon", "supervised_source"]}
    with tempfile.TemporaryDirectory() as folder:
        project = _project(Path(folder) / "project")
        datasets = ["digits", "mnist1d", *_shifted_digits(project)]
        datasets += [name for name in MNIST_FAMILY if (ROOT / "data" / "01_raw" / name).is_dir()]
        for name in MNIST_FAMILY:  # the IDX files, where present, are read from this checkout
            if (ROOT / "data" / "01_raw" / name).is_dir():
                shutil.copytree(ROOT / "data" / "01_raw" / name, project / "data" / "01_raw" / name)
        if args.pretrain:
            _run(project, ["data", "pretraining"], {"data.dataset": "digits", "pretraining.runtime.progress": False}, env="ci")
        summaries = []
        for attempt in ("calibrate", "held_out"):
            for name in datasets:
                _run(project, ["data", "recommend"], {**base, "data.dataset": name}, env="local")
                if attempt == "held_out":
                    summaries.append(pd.read_csv(project / "data" / "08_reporting" / "recommend_verification_summary.csv"))
                print(f"{attempt}: {name} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.concat(summaries, ignore_index=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False)
    per_dataset = table.groupby("dataset")[["regret", "spearman", "abs_error", "in_interval"]].mean()
    print(per_dataset.round(3).to_string())
    per_budget = table.groupby("labels_per_class")[["regret", "spearman", "abs_error", "in_interval", "halfwidth"]].mean()
    print(per_budget.round(3).to_string())
    result = {
        "benchmark": "recommend_heldout", "datasets": len(datasets), "rows": len(table),
        "mean_regret": float(table["regret"].mean()), "mean_spearman": float(table["spearman"].mean()),
        "mean_abs_error": float(table["abs_error"].mean()), "mean_interval_halfwidth": float(table["halfwidth"].mean()),
        "interval_coverage": float(table["in_interval"].mean()), "seconds": round(time.perf_counter() - start, 1),
        "quick": args.quick, "pretrained_encoders": args.pretrain,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
