"""Diagnostic (issue 15, stop 26): CPC's read-outs, one pretraining and many read-outs of the same
weights, beside the untrained encoder; each with the BatchNorm statistics kept from training and
re-estimated on the whole training digits (``recompute_bn``). Digits VALIDATION rows, the linear
probe of ``scripts/pretraining_probe.py`` (10 labels per class, label seeds 0, 1, 2).

    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/cpc_hypercolumns.py --seed 0

The pretraining is the one of ``scripts/pretraining_probe.py cpc 20 256 '<kwargs>' --seed S`` with
the 2-row strips (``--kwargs`` changes them); its encoder is read afterwards, so a row equals that
script's figure for the same ``readout_blocks`` / ``readout_grid`` / ``recompute_bn``. One JSON
line per encoder (untrained / cpc), BatchNorm (kept / recomputed) and read-out.
"""

import argparse
import copy
import json
import time

import numpy as np
import torch

from transfer_lab.methods.encoders import build_encoder, with_map_readout
from transfer_lab.methods.infomax import recompute_batchnorm
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods.transfer import pretrain

from digits_probe import digits_probe

#: (readout_blocks, readout_grid)
READOUTS = ((1, 4), (2, 2), ([1, 2], 4), ([1, 2], 2), ([1, 3], 4), ([1, 2, 3], 4), ([1, 2, 3], 2))
STRIPS = {"strip_size": 0.25, "stride": 1, "steps": 2, "context_dim": 64, "strength": 0.0}

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--kwargs", default="{}", help="changes to the 2-row strips' CPC kwargs, JSON")
args = parser.parse_args()
torch.set_num_threads(1)

base = digits_probe()
train = base.rows("train")
seed_everything(args.seed)
fresh = build_encoder("auto", base.X.shape[1:], width=32, depth=3, out_features=128)
untrained = copy.deepcopy(fresh)  # no random numbers drawn: the pretraining is pretraining_probe.py's
cpu = time.process_time()
trained, _ = pretrain(
    "cpc", base.X[train], None, encoder=fresh, **{**STRIPS, **json.loads(args.kwargs)},
    config=TrainConfig(epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-5, patience=None, seed=args.seed, progress=False),
)
cpu = time.process_time() - cpu
for name, encoder in (("untrained", untrained), ("cpc", trained)):
    for bn in ("kept", "recomputed"):
        weights = recompute_batchnorm(copy.deepcopy(encoder), base.X[train]) if bn == "recomputed" else encoder
        for blocks, grid in READOUTS:
            features = extract_features(with_map_readout(copy.deepcopy(weights), blocks, grid), base.X, "cpu")
            accuracies = base.accuracies(features, "val")
            print(json.dumps({
                "encoder": name, "batchnorm": bn, "readout_blocks": blocks, "readout_grid": grid, "seed": args.seed,
                "cpu_seconds": round(cpu, 1) if name == "cpc" else 0.0,
                "val_probe_at_10": [round(a, 4) for a in accuracies], "mean": round(float(np.mean(accuracies)), 3),
            }), flush=True)
