"""One pipeline on three runners: SequentialRunner, ParallelRunner and the Dask runner.

    python benchmarks/runners.py                      # data,taskonomy on the ci environment
    python benchmarks/runners.py --pipelines data,semi_supervised --workers 2
    python benchmarks/runners.py --quick              # data,dictionary (ci): under a minute on a quiet machine

Each `kedro run` happens in a fresh copy of the project (as benchmarks/default_run.py does),
one after another in this invocation, on the same code, parameters and machine:
``SequentialRunner`` (the baseline), ``ParallelRunner`` with ``max_workers`` = ``--workers``,
and ``transfer_lab.runners.DaskRunner`` on a ``LocalCluster`` of ``--workers`` worker
processes of one thread each (its start-up and shutdown are inside the measured wall time).
Results tables are compared with the sequential run's (timing rows excepted).

The **critical path** bounds what any number of machines can give: from the sequential
run's per-node wall times (``timing/<node>/wall_seconds``, NodeTimingHook) and the pipeline's
dependencies, the longest chain of nodes. ``total_node_seconds / critical_path_seconds`` is
the speed-up of infinitely many workers with free start-up and data transfer; N workers give
at most ``min(N, that bound)``. The last line is one JSON object (ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from default_run import comparable, project_copy, results, run_kedro, run_node_times  # noqa: E402

DASK = "transfer_lab.runners.DaskRunner"


def measure(runner: str, runner_params: str | None, env: str, pipelines: str, workdir: Path) -> dict:
    project = project_copy(workdir / runner.rsplit(".", 1)[-1])
    args = ["--env", env, "--pipelines", pipelines, "--runner", runner]
    if runner_params:
        args += ["--runner-params", runner_params]
    wall, cpu = run_kedro(project, args)
    return {"project": project, "wall": wall, "cpu": cpu, "nodes": run_node_times(project),
            "table": comparable(results(project))}


def critical_path(project: Path, pipelines: str, wall: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain of dependent nodes, weighted by each node's wall seconds."""
    from kedro.framework.project import pipelines as registry
    from kedro.framework.startup import bootstrap_project

    from transfer_lab.reporting.tracking import metric_key

    bootstrap_project(project)
    from kedro.pipeline import Pipeline

    pipeline = sum((registry[name] for name in pipelines.split(",")), Pipeline([]))
    finish: dict = {}
    before: dict = {}
    for node in pipeline.nodes:  # topological order
        parents = pipeline.node_dependencies[node]
        last = max(parents, key=lambda p: finish[p], default=None)
        finish[node] = wall.get(metric_key(node.name), 0.0) + (finish[last] if last is not None else 0.0)
        before[node] = last
    end = max(finish, key=finish.get)
    chain = []
    while end is not None:
        chain.append(end.name)
        end = before[end]
    return max(finish.values()), chain[::-1]


def same(a, b) -> bool:
    return bool(len(a) == len(b) and a.drop(columns="value").equals(b.drop(columns="value"))
                and (a["value"].fillna(-1) == b["value"].fillna(-1)).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default="data,taskonomy")
    parser.add_argument("--env", default="ci")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="data,dictionary on ci")
    args = parser.parse_args()
    pipelines = "data,dictionary" if args.quick else args.pipelines
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per process under every runner
    with tempfile.TemporaryDirectory(prefix="runners_") as tmp:
        runs = {
            "SequentialRunner": measure("SequentialRunner", None, args.env, pipelines, Path(tmp)),
            "ParallelRunner": measure("ParallelRunner", f"max_workers={args.workers}", args.env, pipelines, Path(tmp)),
            "DaskRunner": measure(DASK, f"n_workers={args.workers}", args.env, pipelines, Path(tmp)),
        }
        seq = runs["SequentialRunner"]
        wall = dict(zip(seq["nodes"]["node"], seq["nodes"]["wall"]))
        path_seconds, chain = critical_path(seq["project"], pipelines, wall)
    total = float(seq["nodes"]["wall"].sum())
    for name, run in runs.items():
        print(f"{name:<17} {run['wall']:7.1f} s wall {run['cpu']:7.1f} s CPU")
    print(f"nodes: {len(wall)}, {total:.1f} s summed; critical path {path_seconds:.1f} s "
          f"({len(chain)} nodes): {' -> '.join(chain)}")
    bound = total / path_seconds if path_seconds else None
    record = {
        "benchmark": "runners", "env": args.env, "pipelines": pipelines, "workers": args.workers,
        "ours": "DaskRunner", "ours_seconds": round(runs["DaskRunner"]["wall"], 1),
        "baseline": "SequentialRunner", "baseline_seconds": round(seq["wall"], 1),
        "speedup": round(seq["wall"] / runs["DaskRunner"]["wall"], 2),
        "parallel_seconds": round(runs["ParallelRunner"]["wall"], 1),
        "parallel_speedup": round(seq["wall"] / runs["ParallelRunner"]["wall"], 2),
        "results_identical": {name: same(run["table"], seq["table"]) for name, run in runs.items() if run is not seq},
        "node_seconds_total": round(total, 1), "critical_path_seconds": round(path_seconds, 1),
        "speedup_bound_infinite_workers": round(bound, 2) if bound else None,
        "critical_path": chain, "nodes": len(wall),
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
