"""Pretrain one encoder on the digits training rows (conf/base encoder size), then a linear
probe at 10 labels per class (label seeds 0, 1, 2), scored on the validation or test split.

    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/pretraining_probe.py dim 30 128 '{"local_blocks": 1}' --split val

Design choices of a method (e.g. DIM's local layer, augmenting the puzzles) are compared with
``--split val``; ``--split test`` reports the chosen setting. ``--untrained`` probes the freshly
initialised encoder (same seed, same read-out) instead: what the architecture gives alone.
"""

import argparse
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

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("method")
parser.add_argument("epochs", type=int)
parser.add_argument("batch_size", type=int)
parser.add_argument("kwargs", nargs="?", default="{}", help="the method's keyword arguments, JSON")
parser.add_argument("--split", choices=("val", "test"), default="val")
parser.add_argument("--lr", type=float, default=1e-3, help="the pretraining's learning rate (Adam)")
parser.add_argument("--seed", type=int, default=0,
                    help="seed of the encoder's initialisation and the pretraining (the label seeds stay 0, 1, 2)")
parser.add_argument("--untrained", action="store_true",
                    help="no pretraining: the freshly initialised encoder (with the kwargs' readout_blocks/readout_grid; "
                    "recompute_bn: its BatchNorm statistics estimated on the training rows, as after CPC)")
args = parser.parse_args()
torch.set_num_threads(1)

base = digits_probe()
train = base.rows("train")
kwargs = json.loads(args.kwargs)
if args.method == "clip":  # CLIP scores zero-shot accuracy on the test rows while it trains
    test = base.rows("test")
    kwargs = {**kwargs, "X_test": base.X[test], "y_test": base.y[test]}
seed_everything(args.seed)
wall, cpu = time.time(), time.process_time()
fresh = build_encoder("auto", base.X.shape[1:], width=32, depth=3, out_features=128)
if args.untrained:
    if kwargs.get("recompute_bn", False):
        recompute_batchnorm(fresh, base.X[train])
    encoder = with_map_readout(fresh, kwargs.get("readout_blocks", 0), kwargs.get("readout_grid", 2))
else:
    encoder, history = pretrain(
        args.method, base.X[train], base.y[train] if args.method == "clip" else None, encoder=fresh,
        config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=1e-5, patience=None, seed=args.seed),
        **kwargs,
    )
wall, cpu = time.time() - wall, time.process_time() - cpu
features = extract_features(encoder, base.X, "cpu")
accuracies = base.accuracies(features, args.split)
print(json.dumps({
    "method": args.method + (" (untrained)" if args.untrained else ""), "kwargs": json.loads(args.kwargs), "epochs": args.epochs, "lr": args.lr, "seed": args.seed, "wall_seconds": round(wall, 1),
    "cpu_seconds": round(cpu, 1), f"{args.split}_probe_at_10": [round(a, 4) for a in accuracies],
    "mean": round(float(np.mean(accuracies)), 3),
}))
