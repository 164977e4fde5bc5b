"""Figures of the ``taskonomy`` pipeline: the affinity heatmap, taxonomy graphs, and the
cheap transferability estimates against the tournament."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from transfer_lab.methods.taskonomy import PSEUDO_SOURCES

__all__ = ["affinity_heatmap", "taxonomy_figure", "taxonomy_figures", "agreement_figure", "tournament_figure", "agreement_bars_figure"]


def _ordered_sources(table: pd.DataFrame) -> list[str]:
    first = sorted({s for s in table.loc[table["order"] == 1, "sources"] if s not in PSEUDO_SOURCES})
    return [*first, "random", "self"]


def affinity_heatmap(table: pd.DataFrame, dataset: str) -> plt.Figure:
    """First-order affinities (targets × sources), with ``random`` and ``self`` on the right.

    ``table`` is the tournament's affinity table (target, sources, order, affinity, ...).
    The colour scale is logarithmic: ``self`` takes most of the mass of a target, and a
    linear scale would paint every transfer the same dark colour.
    """
    first = table[table["order"] == 1]
    matrix = first.pivot(index="target", columns="sources", values="affinity")
    columns = [c for c in _ordered_sources(table) if c in matrix.columns]
    values = matrix.reindex(columns=columns).to_numpy(dtype=float)
    figure, ax = plt.subplots(figsize=(1.5 + 0.62 * len(columns), 1.2 + 0.45 * len(matrix)))
    positive = values[np.isfinite(values) & (values > 0)]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    image = ax.imshow(values, cmap="viridis", aspect="auto", norm=norm)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
    middle = math.sqrt(positive.min() * positive.max()) if positive.size else 0.0
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=6, color="white" if value < middle else "black")
    ax.set_xlabel("source (first order)")
    ax.set_ylabel("target")
    ax.set_title(f"AHP affinity of each source for each target ({dataset}); a target's row and its\n"
                 "higher-order transfers sum to 1", fontsize=9)
    figure.colorbar(image, ax=ax, fraction=0.03)
    figure.tight_layout()
    return figure


def taxonomy_figure(taxonomy: Mapping[str, Sequence[str]], title: str) -> plt.Figure:
    """A taxonomy as a graph: supervised tasks on top, arrows to the tasks they serve."""
    supervised = sorted(t for t, sources in taxonomy.items() if not sources)
    served = sorted(t for t, sources in taxonomy.items() if sources)
    width = max(6.0, 1.15 * max(len(supervised), len(served)))
    figure, ax = plt.subplots(figsize=(width, 3.8))

    def spread(names: list[str]) -> dict[str, float]:
        return {name: (i + 0.5) / len(names) for i, name in enumerate(names)}

    top, bottom = spread(supervised), spread(served)
    position = {name: (x, 0.8) for name, x in top.items()}
    # alternate heights so that neighbouring labels of a long bottom row do not overlap
    position.update({name: (x, 0.22 if i % 2 else 0.08) for i, (name, x) in enumerate(bottom.items())})
    for target, sources in taxonomy.items():
        for source in sources:
            ax.annotate(
                "", xy=position[target], xytext=position[source],
                arrowprops={"arrowstyle": "->", "color": "tab:blue", "alpha": 0.6, "shrinkA": 12, "shrinkB": 12},
            )
    for name, (x, y) in position.items():
        colour = "tab:orange" if name in top else "lightsteelblue"
        ax.text(x, y, name, ha="center", va="center", fontsize=7, bbox={"boxstyle": "round", "facecolor": colour, "alpha": 0.9})
    ax.text(0.0, 0.95, "trained with full supervision", fontsize=8, color="tab:orange", transform=ax.transAxes)
    ax.text(0.0, -0.05, "transferred (arrows from their sources)", fontsize=8, color="tab:blue", transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, 1.0)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def taxonomy_figures(solutions: Sequence[Mapping], label: str) -> dict[str, plt.Figure]:
    """One :func:`taxonomy_figure` per budget (``methods.taskonomy.solve_budgets``' solutions),
    named ``budget_<b>.png``."""
    return {
        f"budget_{s['budget']:g}.png": taxonomy_figure(
            s["taxonomy"], f"{label}: budget {s['budget']:g}, objective {s['objective']:.3f}, cost {s['cost']:g}"
        )
        for s in solutions
    }


def agreement_figure(scores: pd.DataFrame) -> plt.Figure:
    """Each cheap score (standardised within its target) against the tournament affinity.

    ``scores`` has columns target, source, estimator, score, affinity; one panel per
    estimator, in the order they first appear.
    """
    estimators = list(dict.fromkeys(scores["estimator"]))
    figure, axes = plt.subplots(1, max(len(estimators), 1), figsize=(3.3 * max(len(estimators), 1), 3.2), squeeze=False)
    targets = sorted(scores["target"].unique())
    colours = {t: plt.get_cmap("tab20")(i % 20) for i, t in enumerate(targets)}
    for ax, estimator in zip(axes[0], estimators, strict=False):
        part = scores[scores["estimator"] == estimator]
        for target, group in part.groupby("target"):
            values = group["score"].to_numpy()
            spread = values.std()
            z = (values - values.mean()) / spread if spread > 0 else values * 0.0
            ax.scatter(z, group["affinity"], s=12, color=colours[target], label=target)
        ax.set_title(estimator, fontsize=9)
        ax.set_xlabel("score (standardised per target)", fontsize=8)
        ax.set_yscale("log")  # affinities of one target span orders of magnitude
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("tournament affinity", fontsize=8)
    figure.suptitle("cheap transferability estimates against the tournament affinity (first-order sources)", fontsize=9)
    figure.tight_layout(rect=(0, 0, 0.88, 0.95))
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(0.885, 0.5), title="target", title_fontsize=7)
    return figure


def _short_key(key: str, target: str) -> str:
    """A transfer key without its target: ``a__b__t`` → ``a+b``."""
    parts = str(key).split("__")
    return "+".join(parts[:-1] if parts[-1] == target and len(parts) > 1 else parts)


def tournament_figure(win_rates: pd.DataFrame) -> plt.Figure:
    """The tournament matrices W_T, one heatmap per target: the fraction of test samples on
    which the row's transfer beats the column's (0.5 on the diagonal).

    ``win_rates`` is the tournament's long table (target, key_i, key_j, win_rate).
    """
    targets = sorted(win_rates["target"].unique()) if len(win_rates) else ["(no tournament)"]
    n_columns = 2 if len(targets) == 4 else min(3, len(targets))
    n_rows = -(-len(targets) // n_columns)
    size = max(win_rates.groupby("target")["key_i"].nunique().max(), 2) if len(win_rates) else 2
    side = 1.6 + 0.38 * size
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(side * n_columns + 1.0, side * n_rows + 0.6), squeeze=False, layout="constrained"
    )
    image = None
    for ax, target in zip(axes.flat, targets, strict=False):
        part = win_rates[win_rates["target"] == target]
        matrix = part.pivot(index="key_i", columns="key_j", values="win_rate")
        labels = [_short_key(k, target) for k in matrix.index]
        image = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_title(f"target {target}", fontsize=9)
    for ax in axes.flat[len(targets):]:
        ax.axis("off")
    if image is not None:
        figure.colorbar(image, ax=axes, fraction=0.03, label="win rate of row over column")
    figure.suptitle("Taskonomy tournament: how often each source (row) beats another (column) on a target", fontsize=10)
    return figure


def agreement_bars_figure(agreement: pd.DataFrame) -> plt.Figure:
    """Kendall τ of each cheap score with the tournament's ranking of sources: a bar for the
    mean over targets, a dot per target. ``agreement`` is the agreement table (target,
    estimator, kendall_tau, ...; ``target == "mean"`` rows are the summary)."""
    summary = agreement[agreement["target"] == "mean"].sort_values("kendall_tau", ascending=False)
    per_target = agreement[agreement["target"] != "mean"]
    estimators = list(summary["estimator"]) or sorted(per_target["estimator"].unique())
    figure, ax = plt.subplots(figsize=(1.6 + 1.0 * max(len(estimators), 2), 4.2), layout="constrained")
    x = np.arange(len(estimators))
    ax.bar(x, summary.set_index("estimator").reindex(estimators)["kendall_tau"], color="tab:blue", alpha=0.75,
           label="mean over targets")
    for i, estimator in enumerate(estimators):
        values = per_target.loc[per_target["estimator"] == estimator, "kendall_tau"].dropna()
        jitter = np.linspace(-0.2, 0.2, len(values)) if len(values) > 1 else np.zeros(len(values))
        ax.scatter(i + jitter, values, color="black", s=10, zorder=3, label="one target" if i == 0 else None)
    ax.axhline(0.0, color="gray", linewidth=0.8)
    ax.set_xticks(x, estimators, rotation=30, ha="right")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("Kendall τ with the tournament")
    ax.set_title("agreement of cheap transferability scores with the tournament", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    if len(estimators):
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False)
    return figure
