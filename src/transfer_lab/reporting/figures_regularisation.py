"""Figures and the summary table of the ``regularisation`` pipeline.

* :func:`accuracy_vs_budget` — test accuracy against labels per class, one line per method,
  in two panels: nearest neighbours and tangent methods, and the other networks.
* :func:`clean_vs_adversarial` — clean, FGSM and PGD test accuracy at the stated epsilon
  against labels per class, for every network (the plain MLP and the adversarially trained
  one drawn first).
* :func:`summary_table` — one row per (dataset, method, budget): the measurements of the
  results table as columns (mean over seeds), e.g. ``accuracy``, ``fgsm_accuracy``,
  ``activation_sparsity``, ``gap_to_weight_scaling``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import label_budget_axis, method_style
from transfer_lab.reporting.results import budget_sort_key

TANGENT_METHODS = ("euclidean_1nn", "tangent_distance_1nn", "tangent_prop", "manifold_tangent", "mlp")
ATTACKS = {"accuracy": "clean", "fgsm_accuracy": "FGSM", "pgd_accuracy": "PGD"}


def _curves(ax: plt.Axes, rows: pd.DataFrame, methods: list[str], positions: dict[str, float]) -> None:
    for i, method in enumerate(methods):
        curve = rows[rows["method"] == method]
        curve = curve.iloc[np.argsort([budget_sort_key(str(b)) for b in curve["labels_per_class"]])]
        x = [positions[str(b)] for b in curve["labels_per_class"]]
        style = method_style(i)
        ax.plot(x, curve["mean"], label=method, markersize=5, linewidth=1.4, **style)
        ax.fill_between(x, curve["mean"] - curve["std"], curve["mean"] + curve["std"], alpha=0.12, color=style["color"])


def _panel(ax: plt.Axes, rows: pd.DataFrame, methods: list[str], title: str) -> None:
    positions = label_budget_axis(ax, rows["labels_per_class"].unique())
    _curves(ax, rows, methods, positions)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if methods:
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)


def accuracy_vs_budget(board: pd.DataFrame) -> plt.Figure:
    """Test accuracy (mean ± std over seeds) against labels per class, every method."""
    rows = board[(board["metric"] == "accuracy") & (board["split"] == "test") & (board["labels_per_class"] != "")]
    present = sorted(rows["method"].unique())
    panels = {
        "nearest neighbours, tangent methods (mlp: reference)": [m for m in TANGENT_METHODS if m in present],
        "dropout, bagging, adversarial training, sparsity, L2-SP": [m for m in present if m not in TANGENT_METHODS[:4]],
    }
    figure, axes = plt.subplots(1, 2, figsize=(11.5, 6.2), sharey=True, layout="constrained")
    for ax, (title, methods) in zip(axes, panels.items(), strict=True):
        _panel(ax, rows, methods, title)
    axes[0].set_ylabel("test accuracy (mean ± std over seeds)")
    figure.suptitle("regularisation methods: accuracy vs label budget")
    return figure


def clean_vs_adversarial(board: pd.DataFrame, epsilon: float) -> plt.Figure:
    """Clean, FGSM and PGD test accuracy (L-inf, ``epsilon``) against labels per class."""
    rows = board[(board["split"] == "test") & board["metric"].isin(list(ATTACKS))]
    attacked = set(rows.loc[rows["metric"] == "fgsm_accuracy", "method"])
    first = [m for m in ("mlp", "adversarial_training") if m in attacked]
    methods = first + sorted(attacked - set(first))
    figure, axes = plt.subplots(1, 3, figsize=(15, 6.2), sharey=True, layout="constrained")
    for ax, (metric, name) in zip(axes, ATTACKS.items(), strict=True):
        _panel(ax, rows[rows["metric"] == metric], methods, f"{name} accuracy" + ("" if metric == "accuracy" else f" (ε = {epsilon:g})"))
    axes[0].set_ylabel("test accuracy (mean ± std over seeds)")
    figure.suptitle(f"clean vs adversarial accuracy (white-box L∞ attacks, ε = {epsilon:g}, pixels in [0, 1])")
    return figure


def summary_table(board: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, method, budget), a column per measurement (mean over seeds,
    ``<metric>_std`` beside it for test accuracies), budgets in order."""
    if board.empty:
        return pd.DataFrame(columns=["dataset", "method", "labels_per_class", "seeds"])
    keys = ["dataset", "method", "labels_per_class"]
    means = board.pivot_table(index=keys, columns="metric", values="mean", aggfunc="first")
    test = board[(board["split"] == "test") & board["metric"].isin(list(ATTACKS))]
    stds = test.pivot_table(index=keys, columns="metric", values="std", aggfunc="first").add_suffix("_std")
    seeds = board[board["metric"] == "accuracy"].groupby(keys)["count"].max().rename("seeds")
    table = means.join(stds).join(seeds).reset_index()
    table["_budget"] = table["labels_per_class"].map(budget_sort_key)
    table = table.sort_values(["dataset", "method", "_budget"]).drop(columns="_budget")
    table.columns.name = None
    return table.reset_index(drop=True)
