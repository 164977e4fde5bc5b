"""Figures of the ``transfer`` pipeline: test accuracy against the label budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import label_budget_axis
from transfer_lab.reporting.results import aggregate_results, budget_sort_key


def accuracy_vs_budget_figure(transfer_results: pd.DataFrame, protocols: Sequence[str]) -> plt.Figure:
    """Test accuracy against labels per class: one panel per protocol, one line per encoder.

    Drawn on the shared :func:`~transfer_lab.reporting.plots.label_budget_axis`. ``scratch``
    (no transfer) is drawn dashed in every panel as the reference; the band is ± one
    standard deviation over seeds.
    """
    board = aggregate_results([transfer_results])
    board = board[(board["metric"] == "accuracy") & (board["split"] == "test") & (board["labels_per_class"] != "")]
    figure, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 4.2), sharey=True, squeeze=False)
    scratch = board[board["method"] == "scratch"]
    for ax, protocol in zip(axes[0], protocols, strict=True):
        position = label_budget_axis(ax, board["labels_per_class"])
        suffix = f"_{protocol}"
        curves = board[board["method"].str.endswith(suffix)]
        for method, curve in sorted(curves.groupby("method")):
            _draw(ax, curve, position, method.removesuffix(suffix), "-")
        if len(scratch):
            _draw(ax, scratch, position, "scratch", "--", color="black")
        ax.set_title(protocol)
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (mean ± std over seeds)")
    axes[0, -1].legend(fontsize="small", loc="lower right")
    dataset = ", ".join(sorted(board["dataset"].unique()))
    figure.suptitle(f"transfer on {dataset}: accuracy vs label budget")
    figure.tight_layout()
    return figure


def _draw(ax: plt.Axes, curve: pd.DataFrame, position: Mapping[str, float], label: str, style: str, **kwargs) -> None:
    curve = curve.iloc[np.argsort([budget_sort_key(b) for b in curve["labels_per_class"]])]
    x = np.array([position[str(b)] for b in curve["labels_per_class"]])
    mean, std = curve["mean"].to_numpy(), curve["std"].to_numpy()
    (line,) = ax.plot(x, mean, style, marker="o", markersize=3, label=label, **kwargs)
    ax.fill_between(x, mean - std, mean + std, alpha=0.12, color=line.get_color())
