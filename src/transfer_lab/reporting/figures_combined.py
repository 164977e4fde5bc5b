"""Figure of the ``combined`` pipeline: test accuracy of the full method and of each run
without one ingredient, per label budget (mean ± std over seeds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.results import budget_sort_key


def ablation_figure(ablation: pd.DataFrame) -> plt.Figure:
    """One group of bars per label budget, one bar per variant (``combined`` first)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if ablation.empty:
        ax.text(0.5, 0.5, "no combined run (no usable pretrained encoder)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    budgets = sorted(ablation["labels_per_class"].astype(str).unique(), key=budget_sort_key)
    variants = list(dict.fromkeys(["combined", *ablation["variant"]]))
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        part = ablation[ablation["variant"] == variant]
        part = part.set_index(part["labels_per_class"].astype(str))
        means = [part["test_mean"].get(b, np.nan) for b in budgets]
        stds = [part["test_std"].get(b, np.nan) for b in budgets]
        ax.bar(np.arange(len(budgets)) + i * width, means, width, yerr=np.nan_to_num(stds), label=variant, capsize=2)
    ax.set_xticks(np.arange(len(budgets)) + 0.4 - width / 2, budgets)
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    low = np.nanmin(ablation["test_mean"].to_numpy(dtype=float))
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("combined: without one ingredient at a time")
    fig.tight_layout()
    return fig
