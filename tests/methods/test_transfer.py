"""Tests for transfer_lab.methods.transfer: the protocols and the pretraining dispatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from transfer_lab.methods.encoders import ConvEncoder2d
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import (
    TrainConfig,
    extract_features,
    load_state_dict,
    save_state_dict,
)
from transfer_lab.methods.transfer import (
    PRETRAINING_METHODS,
    PROTOCOLS,
    TransferResult,
    finetune,
    knn_probe,
    linear_probe,
    partial_freeze,
    pretrain,
    run_protocol,
    train_from_scratch,
)
from transfer_lab.sources import splits
from transfer_lab.sources.digits import load_digits



@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    table = splits.stratified_split(ds.y, 0.2, 0.2, 0)
    subsets = splits.label_subsets(ds.y, table, [1, 10], [0])
    views = {b: splits.budget_view(ds, table, subsets, b, 0) for b in (1, 10)}
    return ds, table, views


@pytest.fixture(scope="module")
def source_encoder(digits):
    """An encoder pretrained with labels on the unlabelled rows of the 10-label budget.

    (Stands in for a source domain: quick to train and certain to carry transferable features.)
    """
    _, _, views = digits
    view = views[10]
    seed_everything(0)
    enc, _ = pretrain(
        "supervised_source", view.X_unlabeled, view.y_unlabeled,
        encoder_kwargs={"width": 8, "out_features": 32},
        config=_pretext(epochs=6, batch_size=32),
    )
    return enc


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _pretext(**kw) -> TrainConfig:
    """The pipeline's pretext settings: batch 128, Adam at 1e-3, weight decay 1e-5, no early stopping."""
    return TrainConfig(**{"batch_size": 128, "lr": 1e-3, "weight_decay": 1e-5, "patience": None, "progress": False, **kw})


def _quick(**kw) -> TrainConfig:
    """Fine-tuning: batch 64, Adam at 1e-3 for the head, weight decay 1e-4; 15 epochs, no early stopping."""
    settings = {"epochs": 15, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "patience": None, "progress": False}
    return TrainConfig(**{**settings, **kw})


def test_linear_probe_is_standardised_logistic_regression(digits, source_encoder):
    view = digits[2][10]
    result = linear_probe(source_encoder, view, C=0.5)
    f = {k: extract_features(source_encoder, getattr(view, f"X_{k}")) for k in ("labeled", "test")}
    scaler = StandardScaler().fit(f["labeled"])
    clf = LogisticRegression(C=0.5, max_iter=2000)
    clf.fit(scaler.transform(f["labeled"]), view.y_labeled)
    expected = float(np.mean(clf.predict(scaler.transform(f["test"])) == view.y_test))
    assert isinstance(result, TransferResult) and result.protocol == "linear_probe"
    assert result.test_accuracy == pytest.approx(expected)
    assert 0 <= result.val_accuracy <= 1 and result.n_labeled == 100


def test_knn_is_cosine_nearest_neighbours(digits, source_encoder):
    view = digits[2][10]
    result = knn_probe(source_encoder, view, k=1)
    a = extract_features(source_encoder, view.X_labeled)
    b = extract_features(source_encoder, view.X_test)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    correct = 0
    for row, label in zip(b, view.y_test, strict=True):
        correct += view.y_labeled[np.argmax(a @ (row / np.linalg.norm(row)))] == label
    assert result.test_accuracy == pytest.approx(correct / len(b))
    # k is capped at the number of labelled rows.
    assert knn_probe(source_encoder, digits[2][1], k=50).details["k"] == 10
    with pytest.raises(ValueError, match="k must be"):
        knn_probe(source_encoder, view, k=0)


def test_a_shared_feature_cache_gives_the_same_probes_and_extracts_each_array_once(digits, source_encoder, monkeypatch):
    import transfer_lab.methods.transfer as transfer

    views = digits[2]
    alone = [(p(source_encoder, views[b]).test_accuracy, p(source_encoder, views[b]).val_accuracy)
             for b in (1, 10) for p in (linear_probe, knn_probe)]
    extracted = []
    monkeypatch.setattr(transfer, "extract_features", lambda e, X, d: extracted.append(len(X)) or extract_features(e, X, d))
    cache = transfer.FeatureCache(source_encoder)
    shared = [(r.test_accuracy, r.val_accuracy) for b in (1, 10) for p in (linear_probe, knn_probe)
              for r in [p(source_encoder, views[b], features=cache)]]
    assert shared == alone
    # val and test once for both budgets and protocols, the labelled rows once per budget
    assert sorted(extracted) == sorted([len(views[1].X_val), len(views[1].X_test), 10, 100])


def test_pretrained_features_beat_a_random_encoder_with_one_label(digits, source_encoder):
    view = digits[2][1]
    seed_everything(0)
    random_encoder = ConvEncoder2d(width=8, out_features=32)
    assert (
        linear_probe(source_encoder, view).test_accuracy
        > linear_probe(random_encoder, view).test_accuracy + 0.2
    )


def test_partial_freeze_freezes_the_first_blocks_only(digits, source_encoder):
    view = digits[2][10]
    original = _state(source_encoder)
    result = partial_freeze(source_encoder, view, k=2, config=_quick(), encoder_lr=1e-3)
    assert result.protocol == "partial_freeze" and result.details["n_frozen"] == 2
    tuned = result.model.encoder
    for i, (block, block0) in enumerate(zip(tuned.blocks, source_encoder.blocks, strict=True)):
        same = all(
            torch.equal(a, b)
            for a, b in zip(block.state_dict().values(), block0.state_dict().values(), strict=True)
        )
        assert same == (i < 2), f"block {i}"  # frozen: weights and BN statistics unchanged
    # The encoder handed in is never modified.
    assert all(torch.equal(v, original[k]) for k, v in source_encoder.state_dict().items())
    with pytest.raises(ValueError, match="k must be"):
        partial_freeze(source_encoder, view, k=0)


def test_partial_freeze_runs_the_frozen_blocks_on_the_val_rows_once_with_the_same_result(
    digits, source_encoder, monkeypatch
):
    """The cached frozen-prefix validation picks the epoch and model of the plain path."""
    import transfer_lab.methods.transfer as transfer
    from transfer_lab.methods.training import accuracy

    view = digits[2][1]
    config = _quick(epochs=12, patience=4)
    calls = []
    handle = source_encoder.blocks[0].register_forward_hook(lambda *a: calls.append(1))
    seed_everything(0)
    cached = partial_freeze(source_encoder, view, k=2, config=config, encoder_lr=1e-3)
    handle.remove()
    # the copy's first block ran once per training step (one per epoch at 10 labels), once on
    # the val rows, and for the final test and val accuracies: not once more per epoch
    assert len(calls) == cached.details["epochs_run"] + 3
    plain_val_fn = lambda model, n_frozen, X, y, device: (lambda m: accuracy(m, X, y, device))  # noqa: E731
    monkeypatch.setattr(transfer, "_frozen_prefix_val_fn", plain_val_fn)
    seed_everything(0)
    plain = partial_freeze(source_encoder, view, k=2, config=config, encoder_lr=1e-3)
    assert plain.details == cached.details
    assert (plain.test_accuracy, plain.val_accuracy) == (cached.test_accuracy, cached.val_accuracy)
    for a, b in zip(plain.model.state_dict().values(), cached.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_finetune_trains_everything_with_two_learning_rates(digits, source_encoder):
    view = digits[2][10]
    result = finetune(source_encoder, view, config=_quick(epochs=60, lr=1e-2), encoder_lr=1e-4)
    assert result.protocol == "finetune" and result.details["n_frozen"] == 0
    changed = [
        not torch.equal(a, b)
        for a, b in zip(result.model.encoder.parameters(), source_encoder.parameters(), strict=True)
    ]
    assert all(changed)
    # Fine-tuning from a good encoder stays good.
    assert result.test_accuracy > 0.8


def test_scratch_reinitialises_the_encoder(digits, source_encoder):
    view = digits[2][10]
    result = train_from_scratch(view, encoder=source_encoder, config=_quick(), augmentations=False)
    assert result.protocol == "scratch"
    first = result.model.encoder.blocks[0][0].weight
    assert not torch.equal(first, source_encoder.blocks[0][0].weight)
    result = train_from_scratch(view, encoder_kwargs={"width": 4, "out_features": 8},
                                config=_quick(epochs=3))
    assert 0 <= result.test_accuracy <= 1 and result.model.encoder.out_features == 8


def test_dispatch_and_errors(digits, source_encoder):
    view = digits[2][1]
    assert set(PROTOCOLS) == {"linear_probe", "knn", "partial_freeze", "finetune"}
    assert run_protocol("knn", source_encoder, view, k=3).details["k"] == 3
    with pytest.raises(ValueError, match="unknown protocol"):
        run_protocol("svm", source_encoder, view)
    with pytest.raises(ValueError, match="unknown pretraining method"):
        pretrain("byol", view.X_unlabeled)
    with pytest.raises(ValueError, match="needs labels"):
        pretrain("supcon", view.X_labeled)
    with pytest.raises(ValueError, match="self-supervised"):
        pretrain("simclr", view.X_labeled, view.y_labeled)
    assert set(PRETRAINING_METHODS) == {
        "simclr", "moco", "supcon", "rotation", "imputation", "supervised_source", "dim", "cpc",
        "jigsaw", "relative_position", "clip",
    }
    enc, history = pretrain(
        "imputation", view.X_unlabeled[:64], encoder_kwargs={"width": 4, "out_features": 8},
        config=_pretext(epochs=1),
    )
    assert history.epochs_run == 1 and enc.out_features == 8


def test_pretrained_encoder_round_trips_through_a_state_dict(tmp_path, digits, source_encoder):
    view = digits[2][1]
    path = save_state_dict(source_encoder, tmp_path / "encoder.pt")
    restored = load_state_dict(ConvEncoder2d(width=8, out_features=32), path)
    np.testing.assert_array_equal(
        extract_features(restored, view.X_test), extract_features(source_encoder, view.X_test)
    )
    expected = linear_probe(source_encoder, view).test_accuracy
    assert linear_probe(restored, view).test_accuracy == expected
