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


#: Distinct styles for the lines of one panel: colour i of :data:`PALETTE` (tab10, then
#: Dark2: 18 colours) with marker i, so up to 18 methods differ in colour and neighbours in
#: marker too; the supervised baselines have black and grey styles of their own.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")
PALETTE = tuple(plt.get_cmap("tab10").colors) + tuple(plt.get_cmap("Dark2").colors)
BASELINES: dict[str, dict[str, object]] = {
    "logreg_pixels": {"color": "black", "marker": "x", "linestyle": "--"},
    "cnn_scratch": {"color": "dimgray", "marker": "+", "linestyle": ":"},
}


def method_style(i: int) -> dict[str, object]:
    """Colour and marker of the ``i``-th method of a panel (:data:`PALETTE`, :data:`MARKERS`);
    past 18 methods colours come round again, dashed."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)], "linestyle": "-" if i < len(PALETTE) else "--"}


def label_budget_axis(ax: plt.Axes, budgets: Iterable[str]) -> dict[str, float]:
    """Set up ``ax``'s x axis for label budgets (log scale, one tick per budget, ``all``
    labelled as such) and return :func:`budget_positions` for plotting on it.

    ``all`` sits one octave right of the largest numeric budget, set apart by a dotted
    line and a bold tick label, so it does not read as a number on the scale.
    Every label-budget figure of the project draws on this axis, so they all read alike.
    """
    positions = budget_positions(budgets)
    if positions:
        ax.set_xscale("log")
        ax.set_xticks(list(positions.values()))
        ax.set_xticklabels([b if b == "all" else f"{float(b):g}" for b in positions])
        ax.minorticks_off()
        numeric = [x for b, x in positions.items() if b != "all"]
        if "all" in positions and numeric:
            ax.axvline(np.sqrt(max(numeric) * positions["all"]), color="gray", linestyle=":", linewidth=0.8)
            for tick in ax.get_xticklabels():
                if tick.get_text() == "all":
                    tick.set_fontweight("bold")
    ax.set_xlabel("labels per class")
    return positions


def _budget_rows(leaderboard: pd.DataFrame, metric: str, split: str) -> pd.DataFrame:
    rows = leaderboard[(leaderboard["metric"] == metric) & (leaderboard["split"] == split)]
    return rows[rows["labels_per_class"].astype(str) != ""]


def best_methods(rows: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` methods of ``rows`` by their mean over budgets, best first."""
    ranking = rows.groupby("method")["mean"].mean().sort_values(ascending=False, kind="stable")
    return list(ranking.index[:top])


def _draw_curve(ax: plt.Axes, curve: pd.DataFrame, position: dict[str, float], label: str, style: dict) -> None:
    curve = curve.iloc[np.argsort([budget_sort_key(str(b)) for b in curve["labels_per_class"]])]
    x = np.array([position[str(b)] for b in curve["labels_per_class"]])
    mean, std = curve["mean"].to_numpy(), curve["std"].to_numpy()
    ax.plot(x, mean, label=label, markersize=5, linewidth=1.4, **style)
    ax.fill_between(x, mean - std, mean + std, alpha=0.12, color=style["color"])


def label_budget_panels(leaderboard: pd.DataFrame, metric: str) -> list[tuple[str, str]]:
    """The (family, dataset) panels of :func:`label_budget_figure`: every family but
    ``evaluation`` with rows on a label budget, per dataset."""
    rows = _budget_rows(leaderboard, metric, "test")
    pairs = rows.loc[rows["pipeline"] != "evaluation", ["pipeline", "dataset"]].drop_duplicates()
    return sorted(map(tuple, pairs.to_numpy())) or sorted(
        ("evaluation", d) for d in rows["dataset"].unique()
    )


#: The pseudo-family of :func:`label_budget_figure`'s comparison panels (one per dataset).
FAMILY_BEST = "each family's best"


def family_best_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Leaderboard ``rows`` (one metric and split) of each family's best method per dataset
    (:func:`best_methods` within the family: highest mean over its budgets), the method
    renamed ``family: method`` and the pipeline :data:`FAMILY_BEST`; families best first."""
    parts = []
    for (family, dataset), own in rows.groupby(["pipeline", "dataset"], sort=True):
        best = best_methods(own, 1)
        parts += [own[own["method"] == m].assign(method=f"{family}: {m}", pipeline=FAMILY_BEST) for m in best]
    if not parts:
        return rows.iloc[:0]
    table = pd.concat(parts, ignore_index=True)
    order = table.groupby("method")["mean"].mean().sort_values(ascending=False, kind="stable").index
    return table.set_index("method").loc[order].reset_index()


def label_budget_figure(
    leaderboard: pd.DataFrame, metric: str = "accuracy", split: str = "test", top: int = 4
) -> plt.Figure:
    """Accuracy against labels per class: one panel per family (and dataset), each with the
    family's ``top`` methods by mean over budgets and the two supervised baselines of
    ``evaluation`` (``logreg_pixels``, ``cnn_scratch``) drawn dashed in black and grey; then,
    per dataset with two families or more, one panel of each family's best method
    (:func:`family_best_rows`: e.g. ``combined`` against the best of every other family).

    Drawn on :func:`label_budget_axis`; the band is ± one standard deviation over seeds;
    each panel's legend sits below it, outside the axes.
    """
    rows = _budget_rows(leaderboard, metric, split)
    best = family_best_rows(rows)
    compared = [(FAMILY_BEST, d) for d in sorted(best["dataset"].unique()) if best[best["dataset"] == d]["method"].nunique() > 1]
    rows = pd.concat([rows, best], ignore_index=True)
    panels = (label_budget_panels(leaderboard, metric) or [("(no results)", "")]) + compared
    n_columns = 2 if len(panels) == 4 else min(3, len(panels))
    n_rows = -(-len(panels) // n_columns)
    fig, axes = plt.subplots(
        n_rows, n_columns, figsize=(5.2 * n_columns, 5.0 * n_rows), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, (family, dataset) in zip(axes.flat, panels, strict=False):
        subset = rows[rows["dataset"] == dataset]
        position = label_budget_axis(ax, subset["labels_per_class"])
        own = subset[subset["pipeline"] == family]
        chosen = best_methods(own, top) if family != "evaluation" else []
        chosen = list(own["method"].unique()) if family == FAMILY_BEST else chosen
        for i, method in enumerate(chosen):
            _draw_curve(ax, own[own["method"] == method], position, method, method_style(i))
        for method, style in BASELINES.items() if family != FAMILY_BEST else ():
            curve = subset[(subset["pipeline"] == "evaluation") & (subset["method"] == method)]
            if len(curve):
                _draw_curve(ax, curve, position, f"{method} (baseline)", style)
        n_methods = own["method"].nunique()
        note = f"\nbest {len(chosen)} of {n_methods} methods" if chosen and family != FAMILY_BEST else ""
        ax.set_title(f"{family} on {dataset}{note}", fontsize=10)
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{split} {metric} (mean ± std over seeds)")
    fig.suptitle(f"{split} {metric} against the label budget")
    return fig


def leaderboard_heatmap(leaderboard: pd.DataFrame, metric: str = "accuracy", split: str = "test") -> plt.Figure:
    """The leaderboard as a method × budget heatmap of the mean over seeds, one panel per
    dataset; rows are ``family: method``, grouped by family, best first within a family.

    Panels are stacked, each as tall as its rows, so a cell is the same size in every panel
    (side by side, a one-row panel such as a domain shift's was stretched to the height of
    the ninety-row one); one colour scale for every panel.
    """
    rows = _budget_rows(leaderboard, metric, split)
    datasets = sorted(rows["dataset"].unique()) or ["(no results)"]
    tables = {d: _method_budget_table(rows[rows["dataset"] == d]) for d in datasets}
    heights = [max(len(tables[d]), 1) for d in datasets]
    n_budgets = max([t.shape[1] for t in tables.values()] + [1])
    fig, axes = plt.subplots(
        len(datasets), 1, figsize=(4.0 + 0.8 * n_budgets, 0.8 + 0.9 * len(datasets) + 0.22 * sum(heights)),
        squeeze=False, layout="constrained", gridspec_kw={"height_ratios": heights},
    )
    low, high = (rows["mean"].min(), rows["mean"].max()) if len(rows) else (0.0, 1.0)
    image = None
    for ax, dataset in zip(axes[:, 0], datasets, strict=True):
        values = tables[dataset].to_numpy(dtype=float)
        ax.set_title(dataset, fontsize=10)
        if not values.size:
            ax.axis("off")
            continue
        image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=low, vmax=high)
        ax.set_xticks(range(values.shape[1]), tables[dataset].columns)
        ax.set_yticks(range(len(values)), tables[dataset].index, fontsize=7)
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="black" if value > middle else "white")
        ax.set_xlabel("labels per class")
    if image is not None:
        # one bar for every panel, no longer than about 40 rows, so it stays readable beside a tall panel
        fig.colorbar(image, ax=axes[:, 0].tolist(), label=f"mean {split} {metric}", fraction=0.08,
                     shrink=min(1.0, 40 / sum(heights) + 0.1))
    fig.suptitle(f"leaderboard: {split} {metric}")
    return fig


def _method_budget_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows ``family: method`` (grouped by family, best mean first), columns the budgets."""
    if not len(rows):
        return pd.DataFrame()
    table = rows.assign(row=rows["pipeline"] + ": " + rows["method"]).pivot_table(
        index=["pipeline", "row"], columns="labels_per_class", values="mean", aggfunc="mean"
    )
    table = table[sorted(table.columns, key=lambda b: budget_sort_key(str(b)))]
    table["_mean"] = table.mean(axis=1)
    table = table.reset_index().sort_values(["pipeline", "_mean"], ascending=[True, False])
    return table.set_index("row").drop(columns=["pipeline", "_mean"])


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
    # signals need wider panels than images; the row labels get the room their text needs
    signals = any(np.asarray(batch).ndim == 3 and np.asarray(batch).shape[1] == 1 for batch in rows.values())
    label_width = 0.075 * max((len(name) for name in names), default=0)
    fig, axes = plt.subplots(
        len(names), n_columns, figsize=(label_width + (1.9 if signals else 1.1) * n_columns, 1.2 * len(names) + 0.4),
        squeeze=False,
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
