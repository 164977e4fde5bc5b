"""Held-out evaluation of the ``recommend`` pipeline on the project's own data sets.

Each data set plays the user's "new" data set in turn: digits, MNIST-1D, every declared
image shift of digits (written as an ``.npz`` and declared as a user's would be, with
``NpzDataset``), and the MNIST family when its IDX files are in ``data/01_raw``. For each,
``kedro run --pipelines data,recommend --params data.dataset=<it>,recommend.verify=true``
runs in a throwaway copy of the project (in-process Kedro sessions, so the imports are paid
once):

* pass 1 verifies every data set, which stores its measurements (the calibration history)
  and runs its encoder x method choices for real; those choices' accuracies are then written
  as one results table (``heldout_choices_results.csv``, the results contract), the
  method evidence that pass 2 ranks methods by (each data set's own rows excluded, as
  ``recommend.rank_methods`` always does);
* pass 2 runs every data set again: its predicted accuracies are now calibrated on the
  *other* data sets only (leave one data set out; the conformal interval's residuals are
  leave-one-data-set-out within those others too), its methods ranked by the others'
  measurements, and its verification is the result.

Nothing is chosen on the held-out data set: the cluster-agreement settings are fixed a priori
(``parameters_recommend.yml``), the interval's scale (``binomial``) and its grouping by input
kind (``by_kind``: a data set's interval is calibrated only on data sets of its kind, image,
sequence or table; none when fewer than ``min_datasets`` = 2 of them) were fixed before this
evaluation; the unscaled and the ungrouped intervals are printed as sensitivity figures only.
A case without an interval (no calibration data of its kind) is counted apart, never as covered.

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


def _evidence(choices: pd.DataFrame) -> pd.DataFrame:
    """Pass 1's measured encoder x method choices as a results table (the contract's columns):
    method ``<method>_<encoder>``, as the semi-supervised family names a method on an encoder."""
    return pd.DataFrame({
        "pipeline": "recommend_heldout", "dataset": choices["dataset"], "method": choices["method"] + "_" + choices["encoder"],
        "labels_per_class": choices["labels_per_class"].astype(str), "seed": choices["seed"], "metric": "accuracy",
        "value": choices["measured"], "split": "test",
    })


def _sensitivity(verification: pd.DataFrame, history: pd.DataFrame, *, scale: str, by_kind: bool) -> dict[str, float]:
    """The recommended encoders' coverage (cases without an interval counted as not covered)
    and mean half-width with another interval (``scale``, grouped by input kind or not),
    recomputed from the same rows: a sensitivity figure, never used to choose anything."""
    from transfer_lab.methods import recommend as rec

    hits, widths = [], []
    for name, rows in verification.groupby("dataset"):
        kind = rows["input_kind"].iloc[0] if by_kind else None
        predicted = rec.predict_accuracy(rows.drop(columns=["predicted", "halfwidth"]), history, exclude=name, scale=scale, kind=kind)
        first = predicted.sort_values("position").groupby(["labels_per_class", "seed"]).head(1)
        hits += np.nan_to_num(rec.inside_interval(first["measured"], first["predicted"], first["halfwidth"]), nan=0.0).tolist()
        widths += first["halfwidth"].tolist()
    return {"coverage": float(np.mean(hits)), "halfwidth": float(np.nanmean(widths)), "without_interval": int(np.isnan(widths).sum())}


def coverage_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per input kind and overall: cases, cases without an interval (no calibration data of the
    kind), cases covered, coverage among the calibrated cases, coverage over all cases (a case
    without an interval counts as not covered), mean half-width of the calibrated cases."""
    frame = summary.assign(calibrated=summary["halfwidth"].notna() & summary["predicted"].notna(),
                           covered=summary["in_interval"].fillna(0.0) == 1.0)
    records = []
    for kind, rows in [*sorted(frame.groupby("input_kind")), ("all", frame)]:
        calibrated = rows[rows["calibrated"]]
        records.append({"input_kind": kind, "cases": len(rows), "without_interval": int((~rows["calibrated"]).sum()),
                        "covered": int(rows["covered"].sum()),
                        "coverage_calibrated": float(calibrated["covered"].mean()) if len(calibrated) else float("nan"),
                        "coverage_all": float(rows["covered"].mean()), "halfwidth": float(calibrated["halfwidth"].mean())})
    return pd.DataFrame(records).set_index("input_kind")


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
        reporting = project / "data" / "08_reporting"
        tables: dict[str, list[pd.DataFrame]] = {"summary": [], "verification": [], "choices": [], "choice_summary": [], "history": []}
        for attempt in ("calibrate", "held_out"):
            for name in datasets:
                _run(project, ["data", "recommend"], {**base, "data.dataset": name}, env="local")
                if attempt == "calibrate":
                    tables["history"].append(pd.read_csv(reporting / "recommend_verification.csv"))
                    tables["choices"].append(pd.read_csv(reporting / "recommend_choice_verification.csv"))
                else:
                    tables["summary"].append(pd.read_csv(reporting / "recommend_verification_summary.csv"))
                    tables["verification"].append(pd.read_csv(reporting / "recommend_verification.csv"))
                    tables["choice_summary"].append(pd.read_csv(reporting / "recommend_choice_verification_summary.csv"))
                print(f"{attempt}: {name} done ({time.perf_counter() - start:.0f} s)", flush=True)
            if attempt == "calibrate":
                _evidence(pd.concat(tables["choices"], ignore_index=True)).to_csv(reporting / "heldout_choices_results.csv", index=False)
    table = pd.concat(tables["summary"], ignore_index=True)
    choices = pd.concat(tables["choice_summary"], ignore_index=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False)
    choices.to_csv(out.with_name(out.stem + "_choices.csv"), index=False)
    history = pd.concat(tables["history"], ignore_index=True)
    history.to_csv(out.with_name(out.stem + "_history.csv"), index=False)
    columns = ["regret", "spearman", "abs_error", "in_interval", "halfwidth"]
    coverage = coverage_table(table)
    print("interval coverage, per input kind (a case without an interval is never covered):\n" + coverage.round(3).to_string())
    print("encoders (linear probe), per data set:\n" + table.groupby("dataset")[columns].mean().round(3).to_string())
    print("encoders (linear probe), per budget:\n" + table.groupby("labels_per_class")[columns].mean().round(3).to_string())
    print("encoder x method choices, per data set:\n" + choices.groupby("dataset")[["regret", "spearman"]].mean().round(3).to_string())
    print("encoder x method choices, per budget:\n" + choices.groupby("labels_per_class")[["regret", "spearman"]].mean().round(3).to_string())
    verification = pd.concat(tables["verification"], ignore_index=True)
    unscaled = _sensitivity(verification, history, scale="none", by_kind=True)
    ungrouped = _sensitivity(verification, history, scale="binomial", by_kind=False)
    result = {
        "benchmark": "recommend_heldout", "datasets": len(datasets), "rows": len(table),
        "mean_regret": float(table["regret"].mean()), "mean_spearman": float(table["spearman"].mean()),
        "mean_abs_error": float(table["abs_error"].mean()), "mean_interval_halfwidth": coverage.loc["all", "halfwidth"],
        "interval_coverage": coverage.loc["all", "coverage_all"], "interval_coverage_calibrated": coverage.loc["all", "coverage_calibrated"],
        "cases_without_interval": int(coverage.loc["all", "without_interval"]),
        "interval_coverage_per_kind": {k: {"calibrated": None if pd.isna(r.coverage_calibrated) else round(float(r.coverage_calibrated), 3), "cases": int(r.cases),
                                           "without_interval": int(r.without_interval), "covered": int(r.covered)}
                                       for k, r in coverage.drop(index="all").iterrows()},
        "interval_coverage_per_dataset": {k: None if pd.isna(v) else round(float(v), 3) for k, v in table.groupby("dataset")["in_interval"].mean().items()},
        "unscaled_interval_coverage": unscaled["coverage"], "unscaled_interval_halfwidth": unscaled["halfwidth"],
        "ungrouped_interval_coverage": ungrouped["coverage"], "ungrouped_interval_halfwidth": ungrouped["halfwidth"],
        "ungrouped_cases_without_interval": ungrouped["without_interval"],
        "choices_mean_regret": float(choices["regret"].mean()), "choices_mean_spearman": float(choices["spearman"].mean()),
        "choices_recommended_is_best": float((choices["regret"] == 0).mean()),
        "seconds": round(time.perf_counter() - start, 1), "quick": args.quick, "pretrained_encoders": args.pretrain,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
