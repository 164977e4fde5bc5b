"""Figures shared by the pipelines: the label-budget curve and image grids."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.results import budget_sort_key


def budget_positions(budgets: Iterable[str]) -> dict[str, float]:
    """Where each label budget sits on the shared label-budget axis.

    Numeric budgets sit at their value on a log axis; ``all`` (every training label) sits
    one octave (×2) right of the largest numeric budget, so it reads as "more than that".
    """
    budgets = sorted({str(b) for b in budgets}, key=budget_sort_key)
    numeric = [float(b) for b in budgets if b != "all"]
    all_position = max(numeric) * 2.0 if numeric else 1.0
    return {b: all_position if b == "all" else float(b) for b in budgets}


def label_budget_axis(ax: plt.Axes, budgets: Iterable[str]) -> dict[str, float]:
    """Set up ``ax``'s x axis for label budgets (log scale, one tick per budget, ``all``
    labelled as such) and return :func:`budget_positions` for plotting on it.

    Every label-budget figure of the project draws on this axis, so they all read alike.
    """
    positions = budget_positions(budgets)
    if positions:
        ax.set_xscale("log")
        ax.set_xticks(list(positions.values()))
        ax.set_xticklabels([b if b == "all" else f"{float(b):g}" for b in positions])
        ax.minorticks_off()
    ax.set_xlabel("labels per class")
    return positions


def label_budget_figure(leaderboard: pd.DataFrame, metric: str = "accuracy", split: str = "test") -> plt.Figure:
    """Accuracy against labels per class, one line per method, one panel per dataset.

    Drawn on :func:`label_budget_axis`. The band is ± one standard deviation over seeds.
    """
    rows = leaderboard[(leaderboard["metric"] == metric) & (leaderboard["split"] == split)]
    rows = rows[rows["labels_per_class"] != ""]
    datasets = sorted(rows["dataset"].unique()) or ["(no results)"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        subset = rows[rows["dataset"] == dataset]
        position = label_budget_axis(ax, subset["labels_per_class"])
        for (pipeline, method), curve in subset.groupby(["pipeline", "method"], sort=True):
            curve = curve.iloc[np.argsort([budget_sort_key(b) for b in curve["labels_per_class"]])]
            x = np.array([position[str(b)] for b in curve["labels_per_class"]])
            mean, std = curve["mean"].to_numpy(), curve["std"].to_numpy()
            label = method if pipeline == "evaluation" else f"{pipeline}: {method}"
            (line,) = ax.plot(x, mean, marker="o", label=label)
            ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=line.get_color())
        ax.set_title(dataset)
        ax.set_ylabel(f"{split} {metric} (mean ± std over seeds)")
        ax.grid(True, alpha=0.3)
        if len(subset):
            ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return fig


def image_grid_figure(
    rows: dict[str, np.ndarray], n_columns: int = 10, title: str | None = None, cmap: str = "gray"
) -> plt.Figure:
    """A grid of images: one row per named batch, ``n_columns`` images each.

    Parameters
    ----------
    rows : dict of str to ndarray
        Row label → images of shape (n, 1, H, W) or (n, H, W); signals (n, 1, L) are drawn as curves.
    """
    names = list(rows)
    fig, axes = plt.subplots(
        len(names), n_columns, figsize=(1.1 * n_columns, 1.2 * len(names) + 0.4), squeeze=False
    )
    for r, name in enumerate(names):
        batch = np.asarray(rows[name])
        for c in range(n_columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(batch):
                ax.axis("off")
                continue
            item = batch[c]
            if item.ndim == 3 or (item.ndim == 2 and item.shape[0] == 1):
                item = item[0]  # one channel: (1, H, W) → (H, W), a (1, L) signal → (L,)
            if item.ndim == 1:
                ax.plot(item, linewidth=0.8)
            else:
                ax.imshow(item, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
