"""Bring your own data, end to end through the CLI: a tiny image folder, a table and an .npz
declared in the catalog (no code), each run through ``data`` + one family + ``recommend``.

The three runs share one project, in this order, as a user's would: the image folder's
evaluation results are the table's method evidence, and the first two verified data sets
calibrate the predicted accuracies of the third.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import make_project_copy
from tests.test_run import _kedro

pytestmark = pytest.mark.slow

SOURCES = """    my_images:
      type: transfer_lab.datasets.own_data.ImageFolderDataset
      path: data/01_raw/my_images
      resize: [8, 8]
      grey: true
    my_table:
      type: transfer_lab.datasets.own_data.TableDataset
      filepath: data/01_raw/my_table.csv
      label_column: species
    my_arrays:
      type: transfer_lab.datasets.own_data.NpzDataset
      filepath: data/01_raw/my_arrays.npz
"""


def _write_data(raw, rng):
    """Four classes of blobs (images of different sizes), a 3-class table, 8x8 arrays; every
    kind with a few unlabelled rows."""
    for c in range(4):
        for i in range(14):
            image = rng.uniform(0, 60, (10 + i % 3, 10)).astype(np.uint8)
            image[2 * c:2 * c + 4, 2:8] = 230  # a bar whose height position is the class
            folder = raw / "my_images" / (f"shape_{c}" if i < 12 else "unlabelled")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{c}_{i}.png")
    y = rng.integers(0, 3, 90)
    table = pd.DataFrame(rng.normal(size=(90, 6)) + y[:, None] * np.array([1.5, 0, 1, 0, 0, 0.5]), columns=list("abcdef"))
    table["species"] = np.where(np.arange(90) % 9 == 8, None, np.array(["setosa", "virginica", "versicolor"], dtype=object)[y])
    table.to_csv(raw / "my_table.csv", index=False)
    labels = rng.integers(0, 3, 80)
    X = rng.uniform(0, 0.3, (80, 8, 8))
    X[np.arange(80), 2 * labels + 1, :] = 1.0
    np.savez(raw / "my_arrays.npz", X=X.astype(np.float32), y=np.where(np.arange(80) % 10 == 9, -1, labels))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project_copy(tmp_path_factory.mktemp("own") / "project")
    _write_data(project / "data" / "01_raw", np.random.default_rng(0))
    catalog = project / "conf" / "base" / "catalog_data.yml"
    text = catalog.read_text()
    anchor = "  metadata:\n    kedro-viz:\n      layer: raw\n"
    assert anchor in text
    catalog.write_text(text.replace(anchor, SOURCES + anchor, 1))
    return project


def _run(project, pipelines, params):
    result = _kedro(project, "run", "--env", "ci", "--pipelines", pipelines, "--params", params)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _reporting(project, name):
    return pd.read_csv(project / "data" / "08_reporting" / name, keep_default_na=True)


def test_image_folder_data_evaluation_recommend_verified(project):
    _run(project, "data,evaluation,recommend", "data.dataset=my_images,data.label_budgets=2 all,recommend.verify=true")
    summary = _reporting(project, "data_summary.csv")
    assert summary.loc[summary["part"] == "split=train", "unlabelled"].item() == 8  # unlabelled/ kept, in train
    assert set(_reporting(project, "evaluation_results.csv")["dataset"]) == {"my_images"}
    recommendation = _reporting(project, "recommendation.csv")
    encoders = recommendation[recommendation["kind"] == "encoder"]
    assert set(encoders["labels_per_class"].astype(str)) == {"2", "all"}
    assert set(encoders["choice"]) <= {"pixels", "pca", "random_cnn"} and (encoders["rank"] == 1).sum() == 2
    # verify ran: the encoders run for real and the encoder x method choices show what they measured
    assert encoders.loc[encoders["rank"] == 1, "measured_accuracy"].between(0, 1).all()
    picked = recommendation[recommendation["kind"] == "choice"]
    assert (picked["rank"] == 1).sum() == 2 and picked["measured_accuracy"].between(0, 1).all()
    verified = _reporting(project, "recommend_verification_summary.csv")
    assert len(verified) == 4 and (verified["regret"] >= 0).all()  # 2 budgets x 2 seeds
    # the encoder x method choices, run for real: top 3 and 2 others per budget and seed
    choices = _reporting(project, "recommend_choice_verification.csv")
    assert choices.groupby(["labels_per_class", "seed"]).size().tolist() == [5] * 4
    assert set(choices["method"]) <= {"linear_probe", "label_propagation", "self_training"} and choices["method"].nunique() > 1
    assert choices["measured"].between(0, 1).all()
    chosen = _reporting(project, "recommend_choice_verification_summary.csv")
    assert len(chosen) == 4 and (chosen["regret"] >= 0).all() and chosen["recommended"].str.contains(" + ", regex=False).all()
    assert (project / "data" / "08_reporting" / "recommendation.png").stat().st_size > 0


def test_table_data_semi_supervised_recommend(project):
    output = _run(project, "data,semi_supervised,recommend",
                  "data.dataset=my_table,data.input_kind=signal,data.label_budgets=2 all,recommend.verify=true")
    assert "image-only methods" in output and "skipped" in output  # said once, in one line
    results = _reporting(project, "semi_supervised_results.csv")
    assert set(results["dataset"]) == {"my_table"}
    recommendation = _reporting(project, "recommendation.csv")
    methods = recommendation[recommendation["kind"] == "method"]
    # evidence from the *other* data set measured so far (the images' evaluation results)
    assert not methods.empty and methods["evidence"].str.contains("1 other data set").all()
    assert set(methods["choice"]) <= {"evaluation:logreg_pixels", "evaluation:cnn_scratch"}


def test_npz_data_recommend_predicts_from_the_verified_data_sets(project):
    _run(project, "data,recommend", "data.dataset=my_arrays,data.label_budgets=1 2 all,recommend.verify=true")
    recommendation = _reporting(project, "recommendation.csv")
    best = recommendation[(recommendation["kind"] == "encoder") & (recommendation["rank"] == 1)]
    assert best["predicted_accuracy"].between(0, 1).all()
    # budget 1 has no history of its own: the law pooled over the other budgets predicts it
    assert best["evidence"].str.contains("calibrated on my_images my_table").all()
    # the interval: one other image data set verified (the table is another kind), two needed
    assert best["low"].isna().all() and best["high"].isna().all() and best["in_interval"].isna().all()
    assert best["evidence"].str.contains("no calibration data of this kind (image): no interval", regex=False).all()
    one = best.set_index(best["labels_per_class"].astype(str))["evidence"]
    assert "by cluster agreement" in one["1"] and "over 5 scores" in one["2"]  # one label per class: transductive
    verified = _reporting(project, "recommend_verification_summary.csv")
    assert set(verified["dataset"]) == {"my_arrays"} and verified["abs_error"].notna().all()
    assert verified["in_interval"].isna().all()  # no interval: never counted as covered


def test_a_user_data_set_error_is_one_line(project):
    bad = project / "conf" / "ci" / "catalog.yml"  # an env's catalog entry replaces base's
    text = (project / "conf" / "base" / "catalog_data.yml").read_text()
    bad.write_text(text.split("\nbase_dataset:")[0].replace("label_column: species", "label_column: kind"))
    try:
        result = _kedro(project, "run", "--env", "ci", "--pipelines", "data", "--params", "data.dataset=my_table,data.input_kind=signal")
    finally:
        bad.unlink()
    assert result.returncode == 1
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "has no label column 'kind'" in errors[0], (result.stdout + result.stderr)[-3000:]
