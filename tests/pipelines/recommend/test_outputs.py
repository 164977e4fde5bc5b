"""The recommend nodes' outputs: recommendation.csv and its figure show what ``verify``
measured (and nothing when it did not run), and the figure draws the measured points."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from transfer_lab.contracts import Dataset
from transfer_lab.methods import recommend as rec
from transfer_lab.pipelines.recommend import nodes
from transfer_lab.reporting.figures_recommend import ACCURACY_TITLE, MEASURED, MEASURED_CHOICE, NO_INTERVAL, PREDICTED
from transfer_lab.sources.splits import label_subsets, stratified_split

PARAMS = {"runtime": {"progress": False}, "scoring": {"pca_components": 4, "random_width": 2, "max_rows": 120},
          "verification": {"top_k": 2, "others": 1}}


@pytest.fixture(scope="module")
def data():
    digits = load_digits(n_class=3)
    X, y = (digits.images / 16.0).astype(np.float32)[:, None][:240], digits.target[:240].copy()
    split = stratified_split(y, 0.2, 0.3, 0)
    return Dataset("toy", "image", X, y, declared_classes=3), split, label_subsets(y, split, [3, "all"], [0, 1])


def _csv(frame: pd.DataFrame) -> pd.DataFrame:
    """What the next node reads: the CSV the catalog writes."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return pd.read_csv(io.StringIO(buffer.getvalue()))


def _measured_points(figure: plt.Figure, label: str) -> np.ndarray:
    axes = [ax for ax in figure.axes if ax.get_title().startswith(ACCURACY_TITLE)]
    found = [c for c in axes[0].collections if c.get_label() == label]
    return np.vstack([c.get_offsets() for c in found]) if found else np.empty((0, 2))


def _run(data, verify: bool, history=None):
    dataset, split, subsets = data
    params = {**PARAMS, "verify": verify}
    scores = nodes.score_encoders(dataset, split, subsets, {}, {}, params)
    predictions = _csv(nodes.predict(scores, history or {}, dataset, params))
    ranking = pd.DataFrame(columns=["labels_per_class", "pipeline", "method", "mean_accuracy", "std_accuracy", "datasets", "rank"])
    verification, _, calibration, choices, _ = nodes.verify(dataset, split, subsets, {}, {}, predictions, ranking, params)
    table, figure = nodes.recommend_choices(predictions, ranking, _csv(verification), _csv(choices), params)
    return table, figure, verification, choices, calibration


def test_without_verify_nothing_is_measured_and_the_figure_says_so(data):
    table, figure, verification, choices, _ = _run(data, verify=False)
    assert verification.empty and list(verification.columns) == nodes.VERIFIED  # headers: the CSV reads back
    assert list(table.columns) == list(rec.RECOMMENDATION_COLUMNS)
    assert table[list(rec.MEASURED_COLUMNS)].isna().all().all() and set(table["kind"]) == {"encoder"}
    assert len(_measured_points(figure, MEASURED)) == 0 and len(_measured_points(figure, MEASURED_CHOICE)) == 0
    assert any("recommend.verify=true" in t.get_text() for ax in figure.axes for t in ax.texts)
    plt.close(figure)


def test_with_verify_the_rows_run_are_measured_and_drawn(data):
    table, figure, verification, choices, _ = _run(data, verify=True)
    encoders = table[table["kind"] == "encoder"]
    run = set(zip(verification["labels_per_class"].astype(str), verification["encoder"]))
    was_run = np.array([(str(b), e) in run for b, e in zip(encoders["labels_per_class"], encoders["choice"])])
    assert was_run.any() and encoders.loc[was_run, "measured_accuracy"].notna().all()
    assert encoders.loc[~was_run, list(rec.MEASURED_COLUMNS)].isna().all().all()  # empty where not run
    for row in encoders[was_run].itertuples():
        rows = verification[(verification["labels_per_class"].astype(str) == str(row.labels_per_class)) & (verification["encoder"] == row.choice)]
        assert row.measured_accuracy == pytest.approx(rows["measured"].mean()) and row.measured_seeds == len(rows)
    assert encoders["in_interval"].isna().all()  # no calibration yet: no interval, never a hit
    picked = table[(table["kind"] == "choice") & (table["rank"] == 1)]
    assert len(picked) == 2 and picked["measured_accuracy"].between(0, 1).all()
    assert set(picked["choice"]) <= set(choices["choice"])
    # the figure draws every measured encoder row, at its measured accuracy, and the chosen choices
    points = _measured_points(figure, MEASURED)
    assert sorted(points[:, 1]) == pytest.approx(sorted(encoders.loc[was_run, "measured_accuracy"]))
    assert sorted(_measured_points(figure, MEASURED_CHOICE)[:, 1]) == pytest.approx(sorted(picked["measured_accuracy"]))
    # nothing was predicted (no other data set verified): the titles do not promise a prediction
    titles = [ax.get_title() for ax in figure.axes]
    assert f"{ACCURACY_TITLE}: measured, not predicted" in titles and "recommendation (measured)" in titles
    assert any("no predicted accuracy yet" in t.get_text() for ax in figure.axes for t in ax.texts)
    # each name sits below its encoder's points, the recommended choice's star included
    panel = next(ax for ax in figure.axes if ax.get_title().startswith(ACCURACY_TITLE))
    stars = _measured_points(figure, MEASURED_CHOICE)
    for name in panel.texts:
        x, y = name.xy
        under = stars[np.isclose(stars[:, 0], x), 1]
        assert (y <= under + 1e-12).all()
    plt.close(figure)


def test_predicted_points_with_and_without_interval(data):
    # calibrated by two other image data sets: an interval; by two sequence data sets only: none
    _, _, verification, _, _ = _run(data, verify=True)
    image = {name: verification.assign(dataset=name, measured=verification["measured"] - shift)
             for name, shift in (("other_a", 0.05), ("other_b", 0.1))}
    table, figure, *_ = _run(data, verify=True, history=image)
    encoders = table[table["kind"] == "encoder"]
    assert encoders["low"].notna().all() and encoders["in_interval"].notna().any()
    assert len(_measured_points(figure, NO_INTERVAL)) == 0
    bars = [c for ax in figure.axes for c in ax.containers if c.get_label() == PREDICTED]
    assert len(bars) == 1
    assert f"{ACCURACY_TITLE}: predicted vs measured" in [ax.get_title() for ax in figure.axes]
    plt.close(figure)
    sequences = {name: frame.assign(input_kind="sequence") for name, frame in image.items()}
    table, figure, *_ = _run(data, verify=True, history=sequences)
    encoders = table[table["kind"] == "encoder"]
    assert encoders["predicted_accuracy"].notna().all() and encoders["low"].isna().all() and encoders["in_interval"].isna().all()
    assert encoders["evidence"].str.contains("no calibration data of this kind (image)", regex=False).all()
    assert len(_measured_points(figure, NO_INTERVAL)) == len(encoders)
    plt.close(figure)


def test_the_rank_panel_draws_a_family_of_per_subset_encoders_as_one_curve():
    # supcon_lpc<b>_seed<s> is usable only at its own budget and seed: one curve, one point per
    # budget (the mean over seeds), as for any other encoder
    from transfer_lab.reporting.figures_recommend import _rank_panel

    predictions = pd.DataFrame({
        "encoder": ["pixels", "pixels", "supcon_lpc1_seed0", "supcon_lpc1_seed1", "supcon_lpc5_seed0"],
        "labels_per_class": ["1", "5", "1", "1", "5"], "mean_rank": [1.0, 2.0, 2.0, 4.0, 1.0],
    })
    figure, ax = plt.subplots()
    _rank_panel(ax, predictions, ["1", "5"])
    curves = {line.get_label(): line.get_ydata().tolist() for line in ax.get_lines()}
    assert curves == {"pixels": [1.0, 2.0], "supcon (own label subset)": [3.0, 1.0]}
    plt.close(figure)


def test_the_words_say_one_label_per_class_in_the_singular():
    from transfer_lab.reporting.figures_recommend import _text

    table = pd.DataFrame({"labels_per_class": ["1", "5"], "kind": ["encoder", "encoder"], "rank": [1, 1],
                          "choice": ["pixels", "cpc"], "predicted_accuracy": [np.nan, np.nan], "low": [np.nan, np.nan],
                          "high": [np.nan, np.nan]})
    assert _text(table).splitlines() == ["   1 label/class   encoder pixels", "   5 labels/class  encoder cpc"]
