"""Figure of the ``recommend`` pipeline: the encoders' mean rank per label budget; the
recommended encoders' predicted accuracy with its interval against what was measured when
``recommend.verify`` ran them; and the recommendation written out (best choice, predicted
accuracy and interval, what was measured, runners-up)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import method_style
from transfer_lab.reporting.results import budget_sort_key

#: Labels of the predicted-vs-measured panel's artists (tests look them up).
PREDICTED, NO_INTERVAL = "predicted, with interval", "predicted, no interval (no calibration data of this kind)"
MEASURED, MEASURED_CHOICE = "measured (linear probe)", "measured: recommended encoder x method"
#: The accuracy panel's title starts so (tests find the panel by it); the rest says whether
#: anything was predicted.
ACCURACY_TITLE = "recommended encoders"
#: An encoder trained on one label subset (``supcon_lpc5_seed1``): usable only at its own
#: budget and seed, so the rank panel draws a family of them as one curve.
PER_SUBSET = re.compile(r"^(?P<family>.+)_lpc[^_]+_seed\d+$")


def _finite(value) -> bool:
    return value is not None and bool(np.isfinite(float(value)))


def _measured_text(row) -> str:
    if not _finite(row.get("measured_accuracy", np.nan)):
        return ""
    text = f", measured {row['measured_accuracy']:.3f}"
    if _finite(row.get("in_interval", np.nan)):
        text += f" ({row['in_interval']:.0%} of seeds in interval)"
    return text


def _text(table: pd.DataFrame) -> str:
    lines = []
    for budget in sorted(table["labels_per_class"].astype(str).unique(), key=budget_sort_key):
        rows = table[table["labels_per_class"].astype(str) == budget]
        for kind in ("encoder", "choice", "method"):
            part = rows[rows["kind"] == kind].sort_values("rank")
            if part.empty:
                continue
            best = part.iloc[0]
            accuracy = "" if not _finite(best.predicted_accuracy) else f" {best.predicted_accuracy:.3f}"
            if _finite(best.low) and _finite(best.high):
                accuracy += f" [{best.low:.3f}, {best.high:.3f}]"
            elif _finite(best.predicted_accuracy) and kind == "encoder":
                accuracy += " [no interval]"
            others = ", ".join(part["choice"].iloc[1:])
            per_class = "label/class " if budget == "1" else "labels/class"
            lines.append(f"{budget:>4} {per_class}  {kind:7} {best.choice}{accuracy}{_measured_text(best)}"
                         + (f"  (then {others})" if others else ""))
    return "\n".join(lines) or "no recommendation: no labelled rows"


def _rank_panel(ax: plt.Axes, predictions: pd.DataFrame, budgets: list[str]) -> None:
    x = {budget: i for i, budget in enumerate(budgets)}
    # the per-subset encoders of one family (each ranked at its own budget and seed) as one curve:
    # one point per budget, the mean over the seeds, like every other encoder's
    family = predictions["encoder"].str.replace(PER_SUBSET, r"\g<family> (own label subset)", regex=True)
    means = predictions.assign(encoder=family).groupby(["encoder", "labels_per_class"], as_index=False)["mean_rank"].mean()
    for i, (encoder, curve) in enumerate(sorted(means.groupby("encoder"))):
        curve = curve.assign(x=curve["labels_per_class"].astype(str).map(x)).sort_values("x")
        ax.plot(curve["x"], curve["mean_rank"], label=encoder, **method_style(i))
    ax.set_xticks(range(len(budgets)), budgets)
    ax.invert_yaxis()
    ax.set(xlabel="labels per class", ylabel="mean rank over the scores (1 = best)", title="candidate encoders by cheap scores")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _accuracy_panel(ax: plt.Axes, table: pd.DataFrame, budgets: list[str]) -> None:
    """Per budget, the recommended encoder and its runners-up side by side (offset by rank):
    predicted accuracy with its interval as a bar, and the measured accuracy (mean over the
    seeds run) as a black cross; the recommended encoder x method choice's measurement as a star."""
    encoders = table[table["kind"] == "encoder"].assign(budget=lambda t: t["labels_per_class"].astype(str))
    ranks = max(int(encoders["rank"].max()), 1) if not encoders.empty else 1
    offset = lambda rank: (rank - (ranks + 1) / 2) * 0.8 / max(ranks, 1)  # noqa: E731
    x = {budget: i for i, budget in enumerate(budgets)}
    encoders = encoders.assign(x=encoders["budget"].map(x) + encoders["rank"].map(offset))
    interval = encoders[encoders["predicted_accuracy"].notna() & encoders["low"].notna()]
    bare = encoders[encoders["predicted_accuracy"].notna() & encoders["low"].isna()]
    measured = encoders[encoders["measured_accuracy"].notna()]
    if not interval.empty:
        errors = np.vstack([interval["predicted_accuracy"] - interval["low"], interval["high"] - interval["predicted_accuracy"]])
        ax.errorbar(interval["x"], interval["predicted_accuracy"], yerr=np.clip(errors, 0, None), fmt="o", color="tab:blue",
                    capsize=3, label=PREDICTED)
    if not bare.empty:
        ax.scatter(bare["x"], bare["predicted_accuracy"], marker="o", facecolors="none", edgecolors="tab:blue", label=NO_INTERVAL)
    if not measured.empty:
        ax.scatter(measured["x"], measured["measured_accuracy"], marker="x", color="black", zorder=3, label=MEASURED)
    best = table[(table["kind"] == "choice") & (table["rank"] == 1) & table["measured_accuracy"].notna()]
    star = {}  # (budget, encoder) -> the recommended choice's measured accuracy drawn at that encoder
    if not best.empty:  # at its encoder's place when that encoder is listed, else right of the budget's encoders
        slot = dict(zip(zip(encoders["budget"], encoders["choice"]), encoders["x"]))
        keys = [(str(b), c.split(" + ")[0]) for b, c in zip(best["labels_per_class"], best["choice"])]
        where = [slot.get(key, x[key[0]] + offset(ranks + 1)) for key in keys]
        star = dict(zip(keys, best["measured_accuracy"]))
        ax.scatter(where, best["measured_accuracy"], marker="*", s=120, color="tab:red", zorder=3, label=MEASURED_CHOICE)
    for row in encoders.itertuples():  # which encoder is which: its name under its lowest point, star included
        values = np.array([row.low, row.predicted_accuracy, row.measured_accuracy, star.get((row.budget, row.choice), np.nan)], dtype=float)
        if np.isfinite(values).any():
            low = np.nanmin(values)
            ax.annotate(row.choice, (row.x, low), xytext=(0, -8), textcoords="offset points", rotation=90, ha="center", va="top", fontsize=6)
    if measured.empty and best.empty:
        ax.text(0.5, 0.04, "not measured: run with recommend.verify=true", ha="center", transform=ax.transAxes, fontsize=8)
    ax.set_xticks(range(len(budgets)), budgets)
    ax.set_xlim(-0.6, len(budgets) - 0.4)
    lowest = np.nanmin(encoders[["low", "predicted_accuracy", "measured_accuracy"]].to_numpy(float), initial=1.0)
    ax.set_ylim(max(-0.02, lowest - 0.12), 1.02)  # room for the names
    predicted = encoders["predicted_accuracy"].notna().any()
    ax.set(xlabel=f"labels per class (the {ranks} encoders listed, best left)", ylabel="test accuracy",
           title=f"{ACCURACY_TITLE}: predicted vs measured" if predicted else f"{ACCURACY_TITLE}: measured, not predicted")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def recommendation_figure(table: pd.DataFrame, predictions: pd.DataFrame) -> plt.Figure:
    """Top left: each candidate encoder's mean rank (1 = best) against the label budget; top
    right: the listed encoders' predicted accuracy and interval, and what was measured; below:
    the recommendation table in words."""
    predicted = "predicted_accuracy" in table and bool(table["predicted_accuracy"].notna().any())
    words = _text(table)
    if not predicted and len(table):
        words += "\n(no predicted accuracy yet: too few other data sets have been verified to calibrate it)"
    lines = words.count("\n") + 1
    figure = plt.figure(figsize=(14, 5.2 + 0.16 * lines), layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[5.0, 0.3 + 0.16 * lines])
    budgets = sorted(predictions["labels_per_class"].astype(str).unique(), key=budget_sort_key)
    _rank_panel(figure.add_subplot(grid[0, 0]), predictions, budgets)
    _accuracy_panel(figure.add_subplot(grid[0, 1]), table, budgets)
    text = figure.add_subplot(grid[1, :])
    text.axis("off")
    text.text(0.0, 1.0, words, va="top", ha="left", family="monospace", fontsize=8, transform=text.transAxes)
    text.set_title("recommendation (predicted accuracy [interval], measured)" if predicted else "recommendation (measured)")
    return figure
