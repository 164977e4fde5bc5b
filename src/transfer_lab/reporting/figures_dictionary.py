"""Figures of the ``dictionary`` family: learned atoms, objective curves, synthesis examples."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.reporting.plots import image_grid_figure

# the synthesis methods drawn in the examples figure, from the plainest to SDL
SYNTHESIS_FIGURE_ORDER = ("interpolation_bicubic", "ridge", "coupled_identity", "sdl")


def atoms_figure(components: np.ndarray, sample_shape: tuple[int, ...], title: str, n_columns: int = 16) -> plt.Figure:
    """The first 64 atoms as images (or signals), each scaled to [0, 1] for display.

    Atoms have unit norm and any sign, so each is stretched from its own minimum to maximum.
    """
    if len(sample_shape) == 2 and sample_shape[0] == 1:
        n_columns = min(n_columns, 8)  # signals are drawn as curves, which need wider panels
    atoms = np.asarray(components).reshape(len(components), *sample_shape)
    flat = atoms.reshape(len(atoms), -1)
    low = flat.min(axis=1).reshape(-1, *[1] * len(sample_shape))
    high = flat.max(axis=1).reshape(-1, *[1] * len(sample_shape))
    scaled = (atoms - low) / np.maximum(high - low, 1e-12)
    rows = {
        f"atoms {i}-{min(i + n_columns, len(scaled)) - 1}": scaled[i : i + n_columns]
        for i in range(0, min(len(scaled), 64), n_columns)
    }
    return image_grid_figure(rows, n_columns=n_columns, title=title)


def objective_figure(histories: Mapping[str, list[float]], title: str, xlabel: str) -> plt.Figure:
    """One objective curve per label (e.g. per source domain, or per pair and method)."""
    figure, ax = plt.subplots(figsize=(6, 4))
    for label, history in histories.items():
        ax.plot(range(1, len(history) + 1), history, marker=".", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("objective")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if histories:
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def synthesis_examples_figure(examples: Mapping[str, Mapping[str, np.ndarray]], n_examples: int) -> plt.Figure:
    """Per coupled pair: the input row, each method's prediction (in
    :data:`SYNTHESIS_FIGURE_ORDER`) and the truth, ``n_examples`` test images each.

    ``examples`` maps a pair name to its images: ``input``, ``truth`` and one entry per method.
    """
    rows: dict[str, np.ndarray] = {}
    for pair, images in examples.items():
        rows[f"{pair}: input"] = images["input"][:n_examples]
        for method in (m for m in SYNTHESIS_FIGURE_ORDER if m in images):
            rows[f"{pair}: {method}"] = images[method][:n_examples]
        rows[f"{pair}: truth"] = images["truth"][:n_examples]
    return image_grid_figure(rows, n_columns=n_examples, title="cross-domain synthesis on test images")


def psnr_figure(dictionary_results: pd.DataFrame) -> plt.Figure:
    """Test PSNR (dB, mean ± std over seeds) of every synthesis method on every coupled pair:
    grouped bars, one group per pair, methods in :data:`SYNTHESIS_FIGURE_ORDER` first."""
    rows = dictionary_results[(dictionary_results["metric"] == "psnr") & (dictionary_results["split"] == "test")]
    stats = rows.groupby(["dataset", "method"])["value"].agg(["mean", "std"]).fillna(0.0)
    pairs = sorted(rows["dataset"].unique())
    found = set(rows["method"])
    methods = [m for m in SYNTHESIS_FIGURE_ORDER if m in found] + sorted(found - set(SYNTHESIS_FIGURE_ORDER))
    figure, ax = plt.subplots(figsize=(2.0 + 1.1 * max(len(pairs), 1) * max(len(methods), 1) * 0.45, 4.4), layout="constrained")
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        values = stats.reindex([(p, method) for p in pairs])
        x = np.arange(len(pairs)) - 0.4 + width * (i + 0.5)
        ax.bar(x, values["mean"], width, yerr=values["std"], capsize=2, label=method, color=plt.get_cmap("tab10")(i % 10))
    ax.set_xticks(range(len(pairs)), [p.replace("->", " → ") for p in pairs], rotation=15, ha="right")
    ax.set_ylabel("test PSNR (dB, mean ± std over seeds)")
    ax.set_title("cross-domain synthesis: PSNR per method and coupled pair", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    if methods:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return figure
