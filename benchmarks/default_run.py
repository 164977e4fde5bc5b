"""The default run, timed: wall and CPU seconds per pipeline (family) and per node.

    python benchmarks/default_run.py            # `kedro run` (base: digits, 5 budgets x 3 seeds)
    python benchmarks/default_run.py --quick    # `kedro run --env ci` (tiny sizes)

Each run happens in a temporary copy of the project (conf/, src/, empty data/), so the
developer's data/ and mlflow.db are untouched. Per-node times come from the MLflow run:
``transfer_lab.timing.NodeTimingHook`` logs ``timing/<node>/{wall,cpu}_seconds`` on every
run, under either runner. The total CPU is that of the ``kedro`` process and its workers
(``RUSAGE_CHILDREN``).

Ours is the runner `make run` uses (``transfer_lab.runners.CriticalPathRunner``: Kedro's
``ParallelRunner`` that starts the ready node with the longest remaining path first; its
expected node costs are a measured run's, ``--write-node-seconds`` refreshes them); the
baseline is ``SequentialRunner``
on the same code, parameters and machine in the same invocation (``--baseline none`` skips
it: a default-size sequential run is the longer one). Both runs' results tables are
compared value for value (timing metrics excepted): ``results_identical`` in the JSON.
Printed: the runner, wall and CPU per pipeline (sum over its nodes) and of the top-10 nodes,
the best mean test accuracy over seeds per label budget (overall and per family); the last
line is one JSON object (ARCHITECTURE.md, "Benchmarks").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from transfer_lab.runners.critical_path import write_node_seconds  # noqa: E402
from transfer_lab.timing import node_times  # noqa: E402

LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models",
          "07_model_output", "08_reporting")
OURS_RUNNER = "transfer_lab.runners.CriticalPathRunner"  # what `make run` uses
BASELINE_RUNNER = "SequentialRunner"


def project_copy(target: Path) -> Path:
    shutil.copytree(ROOT / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for layer in LAYERS:
        (target / "data" / layer).mkdir(parents=True)
    return target


def run_kedro(project: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the kedro process and its workers) of one ``kedro run``."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "kedro", "run", *args], cwd=project, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"kedro run {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run_node_times(project: Path) -> pd.DataFrame:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("transfer_lab").experiment_id])
    times = node_times(runs[0].data.metrics)
    frame = pd.DataFrame([{"node": n, "wall": t.get("wall_seconds", 0.0), "cpu": t.get("cpu_seconds", 0.0)}
                          for n, t in times.items()])
    frame["pipeline"] = frame["node"].str.split(".").str[0]
    return frame


def results(project: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype={"labels_per_class": str}) for p in
              sorted((project / "data/08_reporting").glob("*_results.csv"))]
    columns = ["pipeline", "dataset", "method", "labels_per_class", "seed", "metric", "value", "split"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)  # e.g. data only


def best_accuracy(table: pd.DataFrame) -> tuple[dict, dict]:
    """Best mean-over-seeds test accuracy per budget: overall and per (family, budget)."""
    acc = table[(table["metric"] == "accuracy") & (table["split"] == "test")]
    acc = acc[acc["labels_per_class"].notna() & (acc["labels_per_class"] != "")]
    means = acc.groupby(["pipeline", "dataset", "method", "labels_per_class"])["value"].mean().reset_index()
    per_family = means.groupby(["pipeline", "labels_per_class"])["value"].max()
    overall = means.groupby("labels_per_class")["value"].max()
    family = {f"{p}/{b}": round(v, 4) for (p, b), v in per_family.items()}
    return {b: round(v, 4) for b, v in overall.items()}, family


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The results without timing measurements, in a fixed order."""
    keep = table[~table["metric"].astype(str).str.contains("seconds")]
    keys = ["pipeline", "dataset", "method", "labels_per_class", "seed", "metric", "split"]
    return keep.sort_values(keys).reset_index(drop=True)


def measure(runner: str, env: str, extra: list[str], workdir: Path) -> dict:
    project = project_copy(workdir / runner)
    args = ["--env", env, "--runner", runner, *extra]
    wall, cpu = run_kedro(project, args)
    nodes = run_node_times(project)
    table = results(project)
    return {"runner": runner, "wall": wall, "cpu": cpu, "nodes": nodes, "table": table}


def report(run: dict) -> None:
    nodes = run["nodes"]
    print(f"\n== {run['runner']}: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU "
          f"(nodes: {nodes['wall'].sum():.1f} s wall, {nodes['cpu'].sum():.1f} s CPU summed)")
    by_family = nodes.groupby("pipeline")[["wall", "cpu"]].sum().sort_values("cpu", ascending=False)
    print("per pipeline (sum over its nodes):")
    for name, row in by_family.iterrows():
        print(f"  {name:<18} {row['wall']:8.1f} s wall {row['cpu']:8.1f} s CPU")
    print("top 10 nodes by CPU:")
    for row in nodes.sort_values("cpu", ascending=False).head(10).itertuples():
        print(f"  {row.node:<60} {row.wall:8.1f} s wall {row.cpu:8.1f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the ci environment (tiny sizes)")
    parser.add_argument("--baseline", choices=["sequential", "none"], default="sequential",
                        help="also run SequentialRunner on the same code (default) or not")
    parser.add_argument("--pipelines", default=None, help="passed to kedro run --pipelines")
    parser.add_argument("--params", default=None, help="passed to kedro run --params")
    parser.add_argument("--keep", type=Path, default=None,
                        help="run the copies in this (new) folder and keep them: data/08_reporting for the README")
    parser.add_argument("--write-node-seconds", action="store_true",
                        help="store this run's CPU seconds per node as the CriticalPathRunner's expected costs")
    args = parser.parse_args()
    env = "ci" if args.quick else "base"
    extra = (["--pipelines", args.pipelines] if args.pipelines else []) + (["--params", args.params] if args.params else [])
    if args.keep is not None:
        args.keep.mkdir(parents=True)  # fails when it exists: never mixes two runs' outputs
    with tempfile.TemporaryDirectory(prefix="default_run_") as scratch:
        tmp = args.keep or scratch
        ours = measure(OURS_RUNNER, env, extra, Path(tmp))
        report(ours)
        base = measure(BASELINE_RUNNER, env, extra, Path(tmp)) if args.baseline == "sequential" else None
        if base:
            report(base)
    if args.write_node_seconds:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        write_node_seconds(dict(zip(ours["nodes"]["node"], ours["nodes"]["cpu"])),
                           f"python benchmarks/default_run.py {' '.join(sys.argv[1:])} at {commit}, "
                           f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs")
    overall, family = best_accuracy(ours["table"])
    print("\nbest mean test accuracy per labels-per-class:", json.dumps(overall))
    print("best per family/budget:", json.dumps(family))
    identical = None
    if base:
        a, b = comparable(ours["table"]), comparable(base["table"])
        identical = bool(len(a) == len(b) and a.drop(columns="value").equals(b.drop(columns="value"))
                         and (a["value"].fillna(-1) == b["value"].fillna(-1)).all())
        print(f"results tables identical between runners (timing metrics excepted): {identical}")
    by_family = ours["nodes"].groupby("pipeline")[["wall", "cpu"]].sum().round(1)
    top = ours["nodes"].sort_values("cpu", ascending=False).head(10)
    record = {
        "benchmark": "default_run", "env": env, "runner": OURS_RUNNER, "pipelines": args.pipelines or "__default__",
        "ours_seconds": round(ours["wall"], 1), "ours_cpu_seconds": round(ours["cpu"], 1),
        "baseline": BASELINE_RUNNER if base else None,
        "baseline_seconds": round(base["wall"], 1) if base else None,
        "baseline_cpu_seconds": round(base["cpu"], 1) if base else None,
        "speedup": round(base["wall"] / ours["wall"], 2) if base else None,
        "results_identical": identical,
        "pipelines_seconds": {k: {"wall": v["wall"], "cpu": v["cpu"]} for k, v in by_family.iterrows()},
        "top_nodes": [{"node": r.node, "wall": round(r.wall, 1), "cpu": round(r.cpu, 1)} for r in top.itertuples()],
        "best_accuracy": overall, "best_accuracy_per_family": family,
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
