"""Exploration 6 for issue 18: student settings (encoder learning rate, epochs, augmentation
strength) with the teacher the validation split chose (simclr, k=20, balanced), one round.
Usage: explore6.py ENCODER_LR EPOCHS PATIENCE STRENGTH BUDGETS SEEDS"""
import sys, time
import pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig
from transfer_lab.methods import combined as cb
ROOT = "/tmp/default_run2/data"
lr, epochs, patience, strength = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
budgets, seeds = sys.argv[5].split(","), [int(s) for s in sys.argv[6].split(",")]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [int(b) for b in budgets], seeds)
enc = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/simclr/simclr.pt", weights_only=True))
for b in budgets:
    for seed in seeds:
        view = budget_view(ds, split, sub, b, seed)
        how = cb.CombinedSettings(config=TrainConfig(epochs=epochs, patience=patience, progress=False, seed=seed),
                                  encoder_lr=lr, strength=strength, rounds=1, n_classes=10)
        t = time.time()
        r = cb.run(enc, cb.without_held_out_labels(view), cb.Candidate("simclr", 20, "balanced"), how)
        m = cb.measure(r, view)
        print(sys.argv[1:5], b, seed, [(s["stage"], round(s["val_accuracy"], 4)) for s in r.stages],
              {k: round(v, 4) for k, v in m.items()}, round(time.time() - t), flush=True)
