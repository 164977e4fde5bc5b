"""CPU seconds of one L2-SP view at base settings (budget `all`, seed 0) on a random-init
encoder of the base pretraining architecture (width 32, depth 3, 128 features): timing only."""
import sys, time, json
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
import torch
from tests.conftest import make_catalog, working_directory
from pathlib import Path
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.methods.runtime import thread_limits
from transfer_lab.pipelines.regularisation import nodes
project = Path("/tmp/s14measure/project")
with working_directory(project):
    catalog = make_catalog(project, "base")
    data = [catalog.load(n) for n in ("base_dataset", "split_table", "label_subsets")]
    subsets = data[2]
    data[2] = subsets[(subsets["labels_per_class"].astype(str).isin(["all", "5"])) & (subsets["seed"] == 0)]
    p = lambda k: catalog.load(f"params:regularisation.{k}")
    shared = [p(k) for k in ("runtime", "training", "network", "attack")]
    shared[0] = {**shared[0], "progress": False}
    kw = {"width": 32, "depth": 3, "out_features": 128}
    torch.manual_seed(0)
    ckpt = encoder_checkpoint(build_encoder("cnn2d", (1, 8, 8), **kw), "cnn2d", (1, 8, 8), kw, dataset="digits")
    start = time.process_time()
    with thread_limits(1):
        rows = nodes.run_method("l2_sp", *data, p("methods.l2_sp"), *shared, pretrained_encoders={"simclr": ckpt})
    print(json.dumps({"views": sorted(map(str, set(rows["labels_per_class"]))), "cpu_seconds": round(time.process_time() - start, 1)}))
    print(rows.query("metric in ('accuracy', 'seconds', 'fgsm_accuracy')").to_string())
