"""Final CPC training loss of some settings on the digits training rows (conf/base encoder, batch 256,
20 epochs, seed 0, block-1 read-out): how well the pretext task is learnt, beside the probe.

    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/cpc_final_loss.py '[{"grid": true, "upsample": 2, "patch_stride": 4, "steps": 2}]'
"""

import json
import sys

import torch

from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig
from transfer_lab.methods.infomax import pretrain_cpc

from digits_probe import digits_probe

torch.set_num_threads(1)
base = digits_probe(); train = base.rows("train")
for kw in json.loads(sys.argv[1]):
    seed_everything(0)
    enc = build_encoder("auto", base.X.shape[1:], width=32, depth=3, out_features=128)
    _, h = pretrain_cpc(base.X[train], encoder=enc, config=TrainConfig(epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-5, patience=None, seed=0), readout_blocks=1, readout_grid=4, **kw)
    print(json.dumps({"kwargs": kw, "n_train": len(train), "loss_first": round(h.train_loss[0], 3), "loss_last": round(h.train_loss[-1], 3)}), flush=True)
