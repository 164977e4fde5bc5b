"""Every figure of the ci run, drawn again from the run's outputs, lies on its canvas.

``MatplotlibDataset`` closes a figure once it is saved, and the PNG alone cannot say what
was cut off, so every node that draws a figure is run again on the ci run's outputs
(loaded through the catalog) and the figure objects it returns are checked: no legend,
title, label or tick label outside the canvas (``tests.reporting.canvas``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from tests.conftest import make_catalog, working_directory
from tests.reporting.canvas import outside_canvas
from transfer_lab.pipeline_registry import FIGURE_SUFFIXES, register_pipelines

NEW_FIGURES = {
    "label_budget_plot", "evaluation.leaderboard_heatmap_plot", "transfer.domain_adaptation_plot",
    "dictionary.psnr_plot", "taskonomy.tournament_plot", "taskonomy.agreement_plot",
}


# figures with one line per method: no colour twice in a panel
ONE_COLOUR_PER_METHOD = {"label_budget_plot", "semi_supervised_accuracy_plot", "transfer.accuracy_vs_budget_plot"}


def repeated_colours(figure: plt.Figure) -> list[str]:
    """Panels of ``figure`` where two labelled lines share a colour."""
    found = []
    for ax in figure.axes:
        colours = [to_hex(line.get_color()) for line in ax.get_lines() if not line.get_label().startswith("_")]
        if len(set(colours)) < len(colours):
            found.append(ax.get_title())
    return found


def figure_nodes():
    default = register_pipelines()["__default__"]
    return [node for node in default.nodes if any(name.endswith(FIGURE_SUFFIXES) for name in node.outputs)]


def _figures(value) -> dict[str, plt.Figure]:
    if isinstance(value, plt.Figure):
        return {"": value}
    if isinstance(value, dict):
        return {f"/{k}": v for k, v in value.items() if isinstance(v, plt.Figure)}
    return {}


def test_every_figure_of_the_ci_run_lies_on_its_canvas(ci_run):
    project, _ = ci_run
    nodes = figure_nodes()
    assert NEW_FIGURES <= {name for node in nodes for name in node.outputs}
    problems, drawn = {}, []
    with working_directory(project):
        catalog = make_catalog(project, pipelines=register_pipelines())
        for node in nodes:
            outputs = node.run({name: catalog.load(name) for name in node.inputs})
            for name, value in outputs.items():
                for key, figure in _figures(value).items():
                    drawn.append(name + key)
                    if found := outside_canvas(figure):
                        problems[name + key] = found
                    if name in ONE_COLOUR_PER_METHOD and (panels := repeated_colours(figure)):
                        problems[name + key] = [f"colour used twice in panel {panel!r}" for panel in panels]
                    plt.close(figure)
    assert NEW_FIGURES <= set(drawn)
    assert problems == {}, problems


@pytest.mark.parametrize("name", sorted(NEW_FIGURES))
def test_the_new_figures_are_written_by_the_ci_run(ci_run, name):
    project, _ = ci_run
    with working_directory(project):
        catalog = make_catalog(project)
        assert catalog.exists(name)
        assert len(catalog.load(name)) > 5000  # PNG bytes (FigureDataset)
