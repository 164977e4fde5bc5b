"""Figures of the ``semi_supervised`` pipeline: accuracy vs label budget, pseudo-labels per round."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import label_budget_axis, method_style
from transfer_lab.reporting.results import budget_sort_key

def accuracy_vs_budget(board: pd.DataFrame, panels: dict[str, list[str]]) -> plt.Figure:
    """Test accuracy (mean ± std over seeds) against labels per class, one panel per group
    of methods (``panels``: title → methods), on the shared label-budget axis."""
    rows = board[(board["metric"] == "accuracy") & (board["split"] == "test")]
    panels = {title: methods for title, methods in panels.items() if methods} or {"(no results)": []}
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 6.2), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, (title, methods) in zip(axes[0], panels.items(), strict=True):
        positions = label_budget_axis(ax, rows["labels_per_class"].unique()) if methods else {}
        for i, method in enumerate(methods):
            curve = rows[rows["method"] == method]
            curve = curve.iloc[np.argsort([budget_sort_key(b) for b in curve["labels_per_class"]])]
            x = [positions[str(b)] for b in curve["labels_per_class"]]
            style = method_style(i)
            ax.plot(x, curve["mean"], label=method, **style)
            ax.fill_between(x, curve["mean"] - curve["std"], curve["mean"] + curve["std"], alpha=0.12, color=style["color"])
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if methods:
            ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    axes[0][0].set_ylabel("test accuracy (mean ± std over seeds)")
    figure.suptitle("semi-supervised methods: accuracy vs label budget")
    return figure


def pseudo_label_precision(rounds: pd.DataFrame, methods: list[str]) -> plt.Figure:
    """Pseudo-label precision (top) and pseudo-labels added (bottom) per round, per budget."""
    methods = methods or ["(no pseudo-labelling method)"]
    figure, axes = plt.subplots(2, len(methods), figsize=(4.2 * len(methods), 6.5), squeeze=False, sharex="col")
    for column, method in enumerate(methods):
        table = rounds[rounds["method"] == method]
        for i, budget in enumerate(sorted(table["labels_per_class"].unique(), key=budget_sort_key)):
            mean = table[table["labels_per_class"] == budget].groupby("round")[["precision", "n_added"]].mean()
            style = {**method_style(i), "markersize": 4}
            axes[0][column].plot(mean.index, mean["precision"], label=f"{budget} labels/class", **style)
            axes[1][column].plot(mean.index, mean["n_added"], label=f"{budget} labels/class", **style)
        axes[0][column].set_title(method)
        axes[0][column].set_ylim(0.0, 1.02)
        axes[1][column].set_xlabel("round (epoch for online self-training)")
        for ax in axes[:, column]:
            ax.grid(True, alpha=0.3)
        if len(table):
            axes[0][column].legend(fontsize="x-small", loc="lower left")
    axes[0][0].set_ylabel("precision of the round's pseudo-labels")
    axes[1][0].set_ylabel("pseudo-labels added")
    figure.suptitle("pseudo-labels per round (mean over seeds; true labels used for monitoring only)")
    figure.tight_layout()
    return figure
