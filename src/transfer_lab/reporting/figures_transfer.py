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
    figure, axes = plt.subplots(
        1, len(protocols), figsize=(4.2 * len(protocols), 4.8), sharey=True, squeeze=False, layout="constrained"
    )
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
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:  # every panel draws the same encoders in the same colours: one legend, below
        figure.legend(handles, labels, fontsize="small", loc="outside lower center", ncol=min(len(labels), 7), frameon=False)
    dataset = ", ".join(sorted(board["dataset"].unique()))
    figure.suptitle(f"transfer on {dataset}: accuracy vs label budget")
    return figure


def _draw(ax: plt.Axes, curve: pd.DataFrame, position: Mapping[str, float], label: str, style: str, **kwargs) -> None:
    curve = curve.iloc[np.argsort([budget_sort_key(b) for b in curve["labels_per_class"]])]
    x = np.array([position[str(b)] for b in curve["labels_per_class"]])
    mean, std = curve["mean"].to_numpy(), curve["std"].to_numpy()
    (line,) = ax.plot(x, mean, style, marker="o", markersize=3, label=label, **kwargs)
    ax.fill_between(x, mean - std, mean + std, alpha=0.12, color=line.get_color())


#: The two references of domain adaptation: no target label (floor), every target label (ceiling).
FLOOR, CEILING = "source_only", "target_supervised"


def domain_adaptation_figure(transfer_results: pd.DataFrame, split: str = "target_test") -> plt.Figure:
    """Target test accuracy of each domain-adaptation method (mean ± std over seeds), one
    panel per domain pair, with the ``source_only`` floor and ``target_supervised``
    ceiling drawn across the panel as dashed lines."""
    board = aggregate_results([transfer_results])
    board = board[(board["metric"] == "accuracy") & (board["split"] == split)]
    pairs = sorted(board["dataset"].unique()) or ["(no domain pair)"]
    figure, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.4), squeeze=False, layout="constrained")
    for ax, pair in zip(axes[0], pairs, strict=True):
        part = board[board["dataset"] == pair].set_index("method")
        methods = [m for m in (FLOOR, *sorted(set(part.index) - {FLOOR, CEILING}), CEILING) if m in part.index]
        colours = ["lightgray" if m == FLOOR else "tab:green" if m == CEILING else "tab:blue" for m in methods]
        ax.bar(range(len(methods)), part.loc[methods, "mean"], yerr=part.loc[methods, "std"], color=colours, capsize=4)
        for name, style in ((FLOOR, "gray"), (CEILING, "tab:green")):
            if name in part.index:
                ax.axhline(part.loc[name, "mean"], color=style, linestyle="--", linewidth=1,
                           label=f"{'floor' if name == FLOOR else 'ceiling'} ({name})")
        ax.set_xticks(range(len(methods)), methods, rotation=20, ha="right")
        ax.set_ylim(0.0, 1.02)
        ax.set_title(pair.replace("->", " → "), fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, fontsize="small", loc="outside lower center", ncol=2, frameon=False)
    axes[0, 0].set_ylabel(f"{split.replace('_', ' ')} accuracy\n(mean ± std over seeds)")
    figure.suptitle("domain adaptation: floor, methods, ceiling", fontsize=10)
    return figure
