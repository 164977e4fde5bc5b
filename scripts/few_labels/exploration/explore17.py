"""Exploration 17 (issues 12 and 18): how much the few-label results depend on the SimCLR
pretraining draw. Pretrains SimCLR as the pipeline does (conf/base: 300 epochs, batch 256,
lr 1e-3, weight decay 1e-5, temperature 1, strength 1, projection 64, hidden 128; width 32,
depth 3, 128 features) at pretraining seed SEED with the conv weights in NCHW or NHWC layout,
then scores the label-propagation teacher of `combined` (balanced, k in 5/10/20) on those
features at 1 and 10 labels per class, label seeds 0-4: val and test accuracy. Describes the
spread of a pipeline input; nothing is chosen with it.
Usage: explore17.py ROOT SEED nchw|nhwc OUT (OUT.pt checkpoint, OUT.csv)"""
import sys, time
import pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view, split_indices
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods.transfer import pretrain
from transfer_lab.methods import combined as cb
ROOT, seed, layout, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
X = ds.X[split_indices(split, "train")]
seed_everything(seed)
kwargs = dict(width=32, depth=3, out_features=128)
t = time.process_time()
encoder, history = pretrain("simclr", X, encoder=build_encoder("cnn2d", X.shape[1:], channels_last=layout == "nhwc", **kwargs),
                            device="cpu", config=TrainConfig(epochs=300, batch_size=256, lr=1e-3, weight_decay=1e-5, patience=None, seed=seed, progress=False),
                            temperature=1.0, strength=1.0, projection_dim=64, hidden_dim=128)
cpu = time.process_time() - t
torch.save(encoder_checkpoint(encoder, "cnn2d", X.shape[1:], kwargs), f"{out}.pt")
sub = make_subsets(ds.y, split, [1, 10], [0, 1, 2, 3, 4])
rows = []
for budget in (1, 10):
    for s in range(5):
        view = budget_view(ds, split, sub, budget, s)
        hidden = cb.without_held_out_labels(view)
        F = lambda A: extract_features(encoder, A)
        F_l, F_u, F_v, F_t = F(hidden.X_labeled), F(hidden.X_unlabeled), F(hidden.X_val), F(view.X_test)
        for k in (5, 10, 20):
            _, on_features = cb.teacher(F_l, hidden.y_labeled, F_u, k, "balanced", 10)
            rows.append(dict(seed=seed, layout=layout, labels_per_class=budget, label_seed=s, k=k,
                             val=float((on_features(F_v) == hidden.y_val).mean()), test=float((on_features(F_t) == view.y_test).mean()),
                             final_loss=float(history.train_loss[-1]), pretrain_cpu_s=cpu))
pd.DataFrame(rows).to_csv(f"{out}.csv", index=False)
d = pd.DataFrame(rows).groupby(["labels_per_class", "k"])[["val", "test"]].mean().round(4)
print(layout, seed, f"cpu {cpu:.0f} s, final loss {history.train_loss[-1]:.4f}"); print(d.to_string())
