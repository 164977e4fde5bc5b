import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from tests.reporting.canvas import outside_canvas
from transfer_lab.reporting.plots import image_grid_figure, label_budget_figure, leaderboard_heatmap
from transfer_lab.reporting.results import aggregate_results, result_row, results_frame

BUDGETS = ((1, 0.0), (5, 0.2), (10, 0.25), (50, 0.3), ("all", 0.4))


def _board(methods: dict[str, list[tuple[str, float]]]) -> pd.DataFrame:
    rows = [
        result_row(pipeline=pipeline, dataset="digits", method=method, metric="accuracy",
                   value=base + step + 0.01 * seed, labels_per_class=budget, seed=seed)
        for pipeline, entries in methods.items()
        for method, base in entries
        for budget, step in BUDGETS
        for seed in range(2)
    ]
    return aggregate_results([results_frame(rows)])


def _visible_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_label_budget_figure_draws_one_panel_per_family_with_its_best_methods_and_the_baselines():
    board = _board({
        "evaluation": [("logreg_pixels", 0.5), ("cnn_scratch", 0.4)],
        "transfer": [(f"m{i}", 0.1 * i / 2) for i in range(9)],
        "semi_supervised": [("vat", 0.3), ("fixmatch", 0.35)],
    })
    figure = label_budget_figure(board, top=4)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title().split("\n")[0] for ax in panels] == [
        "semi_supervised on digits", "transfer on digits", "each family's best on digits"]
    transfer = panels[1]
    labels = [line.get_label() for line in _visible_lines(transfer)]
    assert labels == ["m8", "m7", "m6", "m5", "logreg_pixels (baseline)", "cnn_scratch (baseline)"]
    styles = {(to_hex(line.get_color()), line.get_marker()) for line in _visible_lines(transfer)}
    assert len({c for c, _ in styles}) == len(labels) and len({m for _, m in styles}) == len(labels)
    assert transfer.get_xscale() == "log"
    assert [t.get_text() for t in transfer.get_xticklabels()] == ["1", "5", "10", "50", "all"]
    assert transfer.get_legend() is not None
    assert outside_canvas(figure) == []
    plt.close(figure)


def test_label_budget_figure_with_the_baselines_alone():
    figure = label_budget_figure(_board({"evaluation": [("logreg_pixels", 0.5), ("cnn_scratch", 0.4)]}))
    ax = figure.axes[0]
    assert sorted(line.get_label() for line in _visible_lines(ax)) == ["cnn_scratch (baseline)", "logreg_pixels (baseline)"]
    assert outside_canvas(figure) == []
    plt.close(figure)


def test_leaderboard_heatmap_has_a_row_per_method_and_a_column_per_budget():
    board = _board({"evaluation": [("logreg_pixels", 0.5)], "transfer": [("a", 0.1), ("b", 0.2)]})
    figure = leaderboard_heatmap(board)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["evaluation: logreg_pixels", "transfer: b", "transfer: a"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "10", "50", "all"]
    assert outside_canvas(figure) == []
    plt.close(figure)


def test_leaderboard_heatmap_draws_a_cell_the_same_height_in_every_panel():
    # a domain shift's panel has one row: side by side it was stretched to the other's height
    rows = [
        result_row(pipeline="transfer", dataset=dataset, method=method, metric="accuracy", value=0.5 + step,
                   labels_per_class=budget, seed=0)
        for dataset, methods in (("digits", ["a", "b", "c", "d", "e", "f"]), ("digits_thick->digits", ["a"]))
        for method in methods
        for budget, step in BUDGETS
    ]
    figure = leaderboard_heatmap(aggregate_results([results_frame(rows)]))
    figure.canvas.draw()
    panels = [ax for ax in figure.axes if ax.get_images()]
    assert [ax.get_title() for ax in panels] == ["digits", "digits_thick->digits"]
    cell = [ax.get_window_extent().height / len(ax.get_yticks()) for ax in panels]
    assert abs(cell[0] - cell[1]) / cell[0] < 0.1, cell
    assert outside_canvas(figure) == []
    plt.close(figure)


def test_image_grid_mixes_image_sizes_and_signals():
    figure = image_grid_figure({"a": np.zeros((3, 1, 8, 8)), "b": np.zeros((3, 1, 4, 4)), "c": np.zeros((3, 1, 40))}, n_columns=4)
    assert len(figure.axes) == 12
    # a (1, L) signal is a curve, not a one-pixel image
    assert len(figure.axes[8].get_lines()) == 1 and not figure.axes[8].get_images()
    plt.close(figure)


def test_the_family_best_panel_draws_the_best_method_of_every_family_and_no_other():
    board = _board({
        "evaluation": [("logreg_pixels", 0.5), ("cnn_scratch", 0.4)],
        "transfer": [("m1", 0.1), ("m2", 0.2)],
        "combined": [("combined", 0.6)],
    })
    figure = label_budget_figure(board, top=4)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.axison]
    assert panels[-1].get_title() == "each family's best on digits"
    assert [line.get_label() for line in _visible_lines(panels[-1])] == [
        "combined: combined", "evaluation: logreg_pixels", "transfer: m2"]
    assert outside_canvas(figure) == []
    plt.close(figure)
    # one family alone: no comparison panel
    figure = label_budget_figure(_board({"transfer": [("m1", 0.1)]}))
    assert [ax.get_title() for ax in figure.axes if ax.axison] == ["transfer on digits\nbest 1 of 1 methods"]
    plt.close(figure)
