"""The figure of explore32/33 (issue 18, stop 31): per SimCLR pretraining draw, the test
accuracy of `combined`'s val-chosen stage at 1 and 10 labels per class beside the same network
trained on every train label, with the issue's targets. Mean ± std over label seeds 0-4.

Inputs: DATA (the run's data folder, for the test labels), E32_DIR (explore32 `run` outputs,
one NAME.npz per draw), ALL_CSV (explore13's output on the budget `all` with --test, one
`student` per draw name), NAMES (comma-separated, the first the default run's draw).
Usage: explore32_figure.py DATA E32_DIR ALL_CSV NAMES OUT.png"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from explore32 import ensemble_table  # noqa: E402

root, e32, all_csv, names, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5]
single = ensemble_table(root, e32, names).query("size == 1").set_index(["labels_per_class", "members"])
every_label = pd.read_csv(all_csv).groupby("student")["test"].agg(["mean", "std"])

fig, ax = plt.subplots(figsize=(8, 4.8))
x = range(len(names))
series = [("every train label (the same network)", every_label["mean"], every_label["std"], "black", "s"),
          ("combined, 10 labels per class", single.loc[10]["test"], single.loc[10]["test_std"], "tab:blue", "o"),
          ("combined, 1 label per class", single.loc[1]["test"], single.loc[1]["test_std"], "tab:orange", "^")]
for offset, (label, mean, std, colour, marker) in zip((-0.15, 0, 0.15), series):
    ax.errorbar([i + offset for i in x], [mean[n] for n in names], yerr=[std[n] for n in names], fmt=marker, color=colour,
                capsize=3, label=label)
for target, colour in ((0.99, "tab:blue"), (0.98, "tab:orange")):
    ax.axhline(target, color=colour, linestyle="--", linewidth=1)
    ax.text(1.01, target, f"target\n{target:.2f}", transform=ax.get_yaxis_transform(), color=colour, va="center",
            ha="left", fontsize=9)
ax.set_xticks(list(x), [f"{n}\n(default run)" if i == 0 else n for i, n in enumerate(names)])
ax.set_xlabel("SimCLR pretraining draw (conf/base recipe, pretraining seed 0-4)")
ax.set_ylabel("test accuracy (mean ± std over 5 label seeds)")
ax.set_title("digits: the 10-label target is met on the default draw only;\n"
             "with every label the same network reaches 0.99 on 2 of 5 draws", fontsize=11)
ax.legend(loc="lower right", fontsize=9)
fig.tight_layout()
fig.subplots_adjust(right=0.88)  # room for the target labels beside the axes
fig.savefig(out, dpi=120)
print(f"wrote {out}")
