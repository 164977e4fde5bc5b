"""Diagnostic (issue 15): which representation of a tile- or strip-trained encoder probes best,
on the digits VALIDATION rows (linear probe at 10 labels per class, label seeds 0-2, as
scripts/pretraining_probe.py). One pretraining, then many read-outs of the same weights:

    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/pretraining_readouts.py jigsaw 30 128 '{"strength": 1.0}'
    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/pretraining_readouts.py random 0 0     # untrained encoder

Printed (JSON, mean of the three seeds): ``whole`` the encoder's output on whole images;
``whole_trunk`` its globally pooled last conv map; ``block<k>_flat`` / ``block<k>_pool`` block k's
map flattened / globally pooled; ``multi_pool`` every block's pooled map; ``pixels``. Jigsaw and
relative position: ``tiles_*`` the context-free view (the encoder on each quadrant's tile alone
on the canvas, as in training: ``off0`` the top-left crop, ``offmean`` the mean over the jitter
offsets, ``cells_full`` the whole 4x4 quadrant; ``concat`` / ``mean`` over the four tiles;
``trunk`` the tiles' pooled conv maps). CPC: ``z_*`` the strips' latents, ``c_*`` the GRU
context (last step, mean, all steps), ``zc_concat`` both. Not used by the pipelines.
"""
import json, sys, time, itertools
import numpy as np, torch
from transfer_lab.methods import infomax, puzzles
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig
from transfer_lab.methods.transfer import pretrain
from digits_probe import digits_probe
torch.set_num_threads(1)
method, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kwargs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
base = digits_probe(); train = base.rows("train")
models = []
orig = infomax.CPC
class Rec(orig):
    def __init__(s, *a, **k):
        super().__init__(*a, **k); models.append(s)
infomax.CPC = Rec
seed_everything(0); cpu = time.process_time()
enc, hist = (build_encoder("auto", base.X.shape[1:], width=32, depth=3, out_features=128), None) if method == "random" else pretrain(method, base.X[train], encoder=build_encoder("auto", base.X.shape[1:], width=32, depth=3, out_features=128),
    config=TrainConfig(epochs=epochs, batch_size=batch, weight_decay=1e-5, patience=None, seed=0), **kwargs)
cpu = time.process_time() - cpu
enc.eval(); X = torch.as_tensor(base.X, dtype=torch.float32)
def probe(F):  # the shared probe; max_iter 3000 as this script's figures were made with
    return round(float(np.mean(base.accuracies(F, "val", max_iter=3000))), 3)
def trunk(x):  # pooled last conv map
    return enc.blocks[:-1](x).mean((2, 3))
def place(x, src, size, tgt):  # one tile per sample onto blank canvas
    out = torch.zeros_like(x); out[:, :, tgt[0]:tgt[0]+size, tgt[1]:tgt[1]+size] = x[:, :, src[0]:src[0]+size, src[1]:src[1]+size]; return out
res = {"method": method, "kwargs": kwargs, "cpu": round(cpu, 1)}
with torch.no_grad():
    res["whole"] = probe(enc(X).numpy()); res["whole_trunk"] = probe(trunk(X).numpy())
    h, maps = X, []
    for b in enc.blocks[:-1]:
        h = b(h); maps.append(h)
    for i, mp in enumerate(maps):
        res[f"block{i+1}_flat"] = probe(mp.flatten(1).numpy()); res[f"block{i+1}_pool"] = probe(mp.mean((2, 3)).numpy())
    res["multi_pool"] = probe(torch.cat([mp.mean((2, 3)) for mp in maps], 1).numpy())
    res["multi_pool_head"] = probe(torch.cat([mp.mean((2, 3)) for mp in maps] + [enc(X)], 1).numpy())
    res["pixels"] = probe(X.flatten(1).numpy())
    if method == "random": pass
    elif method in ("jigsaw", "relative_position"):
        crop = puzzles._crop_of(base.X, kwargs.get("crop", 0.75)); c0 = (8 - crop) // 2
        cells = list(itertools.product(range(2), range(2)))
        for name, offs in {"off0": [(0, 0)], "offmean": list(itertools.product(range(4 - crop + 1), repeat=2))}.items():
            feats, tfeats = [], []
            for (r, c) in cells:
                f = [enc(place(X, (4*r+a, 4*c+b), crop, (c0, c0))) for a, b in offs]
                t = [trunk(place(X, (4*r+a, 4*c+b), crop, (c0, c0))) for a, b in offs]
                feats.append(torch.stack(f).mean(0)); tfeats.append(torch.stack(t).mean(0))
            res[f"tiles_{name}_concat"] = probe(torch.cat(feats, 1).numpy())
            res[f"tiles_{name}_mean"] = probe(torch.stack(feats).mean(0).numpy())
            res[f"tiles_{name}_trunk_concat"] = probe(torch.cat(tfeats, 1).numpy())
        feats = [enc(place(X, (4*r, 4*c), 4, (2, 2))) for r, c in cells]
        res["cells_full_concat"] = probe(torch.cat(feats, 1).numpy())
        res["tiles_off_concat_plus_whole"] = probe(torch.cat(feats + [enc(X)], 1).numpy())
    else:
        m = models[0]; m.eval()
        size = max(1, round(kwargs.get("strip_size", 0.375) * 8)); stride = kwargs.get("stride", 1)
        seq = infomax.strips(X, size, stride)
        n, T = seq.shape[:2]
        z = m.encode(seq); c, _ = m.grus[0](z)
        zt = trunk(seq.flatten(0, 1)).view(n, T, -1)
        res.update(z_concat=probe(z.flatten(1).numpy()), z_mean=probe(z.mean(1).numpy()), c_last=probe(c[:, -1].numpy()),
                   c_concat=probe(c.flatten(1).numpy()), c_mean=probe(c.mean(1).numpy()),
                   zc_concat=probe(torch.cat([z.flatten(1), c[:, -1]], 1).numpy()),
                   z_trunk_concat=probe(zt.flatten(1).numpy()), z_trunk_mean=probe(zt.mean(1).numpy()))
print(json.dumps(res), flush=True)
