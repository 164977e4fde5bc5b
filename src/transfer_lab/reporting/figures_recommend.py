"""Figure of the ``recommend`` pipeline: the encoders' mean rank per label budget, and the
recommendation written out (best choice, predicted accuracy and interval, runners-up)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import method_style


def _budget_key(label: str) -> float:
    return float("inf") if str(label) == "all" else float(label)


def _text(table: pd.DataFrame) -> str:
    lines = []
    for budget in sorted(table["labels_per_class"].astype(str).unique(), key=_budget_key):
        rows = table[table["labels_per_class"].astype(str) == budget]
        for kind in ("encoder", "method"):
            part = rows[rows["kind"] == kind].sort_values("rank")
            if part.empty:
                continue
            best = part.iloc[0]
            accuracy = "" if not np.isfinite(best.predicted_accuracy) else f" {best.predicted_accuracy:.3f}"
            if np.isfinite(best.low) and np.isfinite(best.high):
                accuracy += f" [{best.low:.3f}, {best.high:.3f}]"
            others = ", ".join(part["choice"].iloc[1:])
            lines.append(f"{budget:>4} labels/class  {kind:7} {best.choice}{accuracy}" + (f"  (then {others})" if others else ""))
    return "\n".join(lines) or "no recommendation: no labelled rows"


def recommendation_figure(table: pd.DataFrame, predictions: pd.DataFrame) -> plt.Figure:
    """Left: each candidate encoder's mean rank (1 = best) against the label budget; right:
    the recommendation table in words."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 4.6), layout="constrained", width_ratios=[1, 1.1])
    budgets = sorted(predictions["labels_per_class"].astype(str).unique(), key=_budget_key)
    x = {budget: i for i, budget in enumerate(budgets)}
    means = predictions.groupby(["encoder", "labels_per_class"], as_index=False)["mean_rank"].mean()
    for i, (encoder, curve) in enumerate(sorted(means.groupby("encoder"))):
        curve = curve.assign(x=curve["labels_per_class"].astype(str).map(x)).sort_values("x")
        left.plot(curve["x"], curve["mean_rank"], label=encoder, **method_style(i))
    left.set_xticks(range(len(budgets)), budgets)
    left.invert_yaxis()
    left.set(xlabel="labels per class", ylabel="mean rank over LogME, LEEP, NCE, H-score, kNN (1 = best)",
             title="candidate encoders by cheap scores")
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    right.axis("off")
    right.text(0.0, 1.0, _text(table), va="top", ha="left", family="monospace", fontsize=8, transform=right.transAxes)
    right.set_title("recommendation (predicted accuracy [interval])")
    return figure
