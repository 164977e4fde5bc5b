import matplotlib.pyplot as plt
import numpy as np

from transfer_lab.reporting.plots import image_grid_figure, label_budget_figure
from transfer_lab.reporting.results import aggregate_results, result_row, results_frame


def test_label_budget_figure_draws_one_line_per_method_on_log_x():
    rows = [
        result_row(pipeline="evaluation", dataset="digits", method=method, metric="accuracy",
                   value=v + 0.01 * seed, labels_per_class=budget, seed=seed)
        for method, base in (("logreg_pixels", 0.5), ("cnn_scratch", 0.4))
        for budget, v in ((1, base), (5, base + 0.2), ("all", base + 0.4))
        for seed in range(2)
    ]
    figure = label_budget_figure(aggregate_results([results_frame(rows)]))
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert sorted(line.get_label() for line in ax.get_lines()) == ["cnn_scratch", "logreg_pixels"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "all"]
    plt.close(figure)


def test_image_grid_mixes_image_sizes_and_signals():
    figure = image_grid_figure({"a": np.zeros((3, 1, 8, 8)), "b": np.zeros((3, 1, 4, 4)), "c": np.zeros((3, 1, 40))}, n_columns=4)
    assert len(figure.axes) == 12
    plt.close(figure)
