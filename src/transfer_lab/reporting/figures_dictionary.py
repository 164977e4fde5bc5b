"""Figures of the ``dictionary`` family: learned atoms, objective curves, synthesis examples."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from transfer_lab.reporting.plots import image_grid_figure

# the synthesis methods drawn in the examples figure, from the plainest to SDL
SYNTHESIS_FIGURE_ORDER = ("interpolation_bicubic", "ridge", "coupled_identity", "sdl")


def atoms_figure(components: np.ndarray, sample_shape: tuple[int, ...], title: str, n_columns: int = 16) -> plt.Figure:
    """The first 64 atoms as images (or signals), each scaled to [0, 1] for display.

    Atoms have unit norm and any sign, so each is stretched from its own minimum to maximum.
    """
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
