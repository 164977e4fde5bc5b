"""Base-size regularisation on digits, method by method, CPU seconds per method node."""
import json, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from tests.conftest import make_project_copy, run_pipelines, make_catalog, working_directory
from transfer_lab.methods.runtime import thread_limits
from transfer_lab.pipelines.regularisation import nodes
from transfer_lab.pipelines.regularisation.params import METHODS, ENCODER_METHODS

out = Path("/tmp/s14measure")
project = out / "project"
if not project.exists():
    make_project_copy(project)
    run_pipelines(project, ["data"], env="base")
with working_directory(project):
    catalog = make_catalog(project, "base")
    data = [catalog.load(n) for n in ("base_dataset", "split_table", "label_subsets")]
    p = lambda k: catalog.load(f"params:regularisation.{k}")
    shared = [p(k) for k in ("runtime", "training", "network", "attack")]
    shared[0] = {**shared[0], "progress": False}
    for method in [m for m in METHODS if m not in ENCODER_METHODS]:
        target = out / f"{method}.csv"
        if target.exists():
            continue
        start = time.process_time()
        with thread_limits(1):
            rows = nodes.run_method(method, *data, p(f"methods.{method}"), *shared)
        seconds = time.process_time() - start
        rows.to_csv(target, index=False)
        print(json.dumps({"method": method, "cpu_seconds": round(seconds, 1)}), flush=True)
