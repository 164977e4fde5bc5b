"""Attack 3, the class count: labels that happen to stop short of the declared classes (or a
stray large one) never set the width of a head. Every family takes ``Dataset.n_classes``,
the source's declaration, not the largest label + 1."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from transfer_lab.contracts import Dataset
from transfer_lab.methods import transfer
from transfer_lab.methods.encoders import Classifier
from transfer_lab.methods.training import TrainConfig
from transfer_lab.sources.pairs import make_domain_pair
from transfer_lab.sources.splits import budget_view, label_subsets, stratified_split

SRC = Path(__file__).resolve().parents[2] / "src" / "transfer_lab"
DECLARED = 10


def test_no_pipeline_infers_the_class_count_from_the_labels():
    pattern = re.compile(r"\.max\(\)\)?\s*\+\s*1|np\.max\([^)]*\)\)?\s*\+\s*1")
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted((SRC / "pipelines").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


@pytest.fixture(scope="module")
def three_of_ten():
    """Labels 0..2 only, of a source that declares ten classes."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    dataset = Dataset("toy", "image", rng.random((60, 1, 4, 4), dtype=np.float32), y, declared_classes=DECLARED)
    table = stratified_split(y, 0.2, 0.2, seed=0)
    return dataset, table, label_subsets(y, table, [2], [0])


def test_views_and_pairs_carry_the_declared_count(three_of_ten):
    dataset, table, subsets = three_of_ten
    assert dataset.n_classes == DECLARED
    assert budget_view(dataset, table, subsets, 2, 0).n_classes == DECLARED
    pair = make_domain_pair(dataset, table, "clean", [], "inverted", [{"op": "invert"}], seed=0)
    assert pair.n_classes == DECLARED


def test_transfer_heads_are_as_wide_as_the_declaration(three_of_ten, monkeypatch):
    dataset, table, subsets = three_of_ten
    widths = []

    def recording(encoder, n_classes):
        widths.append(n_classes)
        return Classifier(encoder, n_classes)

    monkeypatch.setattr(transfer, "Classifier", recording)
    view = budget_view(dataset, table, subsets, 2, 0)
    from transfer_lab.methods.encoders import build_encoder

    transfer.train_from_scratch(
        view, encoder=build_encoder("mlp", (1, 4, 4), hidden=(8,), out_features=4),
        config=TrainConfig(epochs=1, batch_size=8, patience=None), augmentations=False,
    )
    assert widths == [DECLARED]


def test_neural_semi_supervised_heads_are_as_wide_as_the_declaration():
    from transfer_lab.methods.semi_supervised.factory import make_estimator

    rng = np.random.default_rng(0)
    X = rng.random((30, 16)).astype(np.float32)
    y = np.where(np.arange(30) < 9, np.arange(30) % 3, -1)  # labelled: 0..2 only
    config = TrainConfig(epochs=1, batch_size=8, patience=None)
    encoder = {"kind": "mlp", "hidden": [8], "out_features": 4}
    model = make_estimator("supervised", encoder=encoder, input_shape=(1, 16), config=config, n_classes=DECLARED)
    torch.manual_seed(0)
    model.fit(X, y)
    assert model.predict_proba(X).shape == (30, DECLARED)
    np.testing.assert_array_equal(model.classes_, np.arange(DECLARED))
    with pytest.raises(ValueError, match="label 12 is outside the declared classes 0..9"):
        make_estimator("supervised", encoder=encoder, input_shape=(1, 16), config=config, n_classes=DECLARED).fit(
            X, np.r_[12, y[1:]]
        )
