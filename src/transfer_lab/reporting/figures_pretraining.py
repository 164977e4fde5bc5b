"""Figures of the ``pretraining`` pipeline: t-SNE of an encoder's features, loss curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are written to files and MLflow, never shown

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.manifold import TSNE

from transfer_lab.reporting.plots import method_style


def sample_rows(n: int, max_points: int, seed: int) -> np.ndarray:
    """At most ``max_points`` of ``n`` rows, drawn at random with ``seed``, in row order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n)[:max_points])


def tsne_figure(features: np.ndarray, y: np.ndarray, title: str, perplexity: float, seed: int) -> plt.Figure:
    """Features ``(n, d)`` embedded in 2-d by t-SNE, coloured by class ``y``.

    The perplexity is capped at ``(n - 1) / 3``, the most t-SNE accepts for ``n`` points.
    """
    perplexity = min(perplexity, (len(features) - 1) / 3)
    embedded = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    figure, ax = plt.subplots(figsize=(5.5, 5))
    points = ax.scatter(embedded[:, 0], embedded[:, 1], c=y, cmap="tab10", s=9, vmin=-0.5, vmax=9.5)
    figure.colorbar(points, ax=ax, ticks=range(int(np.max(y)) + 1), label="class")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize="medium")
    figure.tight_layout()
    return figure


def loss_figure(histories: Mapping[str, Sequence[float]], title: str) -> plt.Figure:
    """Training loss per epoch, one line per checkpoint (identical histories drawn once)."""
    figure, ax = plt.subplots(figsize=(7.0, 4), layout="constrained")
    drawn: set[tuple[float, ...]] = set()
    for name, history in sorted(histories.items()):
        if tuple(history) in drawn:
            continue
        style = method_style(len(drawn))  # a colour of its own for each of up to 18 curves
        drawn.add(tuple(history))
        if len(history) >= 20:
            style["marker"] = None
        ax.plot(np.arange(1, len(history) + 1), history, markersize=3, label=name, **style)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    if 1 < len(drawn) <= 18:
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return figure
