"""The combined family's nodes: the selection is a val-only choice, and neither the selection
nor the training reads the test split (shuffled test labels change only test accuracies)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

from transfer_lab.contracts import DataParams, Dataset, data_provenance
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.pipelines.combined import nodes
from transfer_lab.sources.splits import split_indices, stratified_split

KWARGS = {"width": 4, "depth": 2, "out_features": 16}
LABELS = {"budgets": [1], "seeds": [0, 1]}
SELECTION = {"encoders": ["tiny", "absent"], "n_neighbors": [5, 10], "assignments": ["argmax", "balanced"]}
RUNTIME = {"device": "cpu", "progress": False}
STUDENT, TRAINING = {"rounds": 1, "encoder_lr": "1e-4 1e-2"}, {"epochs": 2, "batch_size": 128}


def _data(shuffle_test: bool) -> tuple[Dataset, pd.DataFrame, dict]:
    digits = load_digits(n_class=3)
    X, y = (digits.images / 16.0).astype(np.float32)[:, None], digits.target.copy()
    split = stratified_split(y, 0.2, 0.2, 0)
    if shuffle_test:
        test = split_indices(split, "test")
        y[test] = np.random.default_rng(3).permutation(y[test])
    dataset = Dataset("digits", "image", X, y, declared_classes=3)
    torch.manual_seed(0)
    encoder = build_encoder("auto", (1, 8, 8), **KWARGS)
    # the same weights, recorded as trained on this data (the fingerprint hashes every label)
    checkpoint = encoder_checkpoint(encoder, "auto", (1, 8, 8), KWARGS, provenance=data_provenance(dataset, DataParams()))
    return dataset, split, {"tiny": checkpoint}


def _run(shuffle_test: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    dataset, split, encoders = _data(shuffle_test)
    selection = nodes.select_teacher(dataset, split, encoders, LABELS, SELECTION, RUNTIME, {})
    students, trained = nodes.select_student(dataset, split, encoders, selection, LABELS, STUDENT, TRAINING, RUNTIME, {})
    results, stages = nodes.train(dataset, split, encoders, selection, students, trained, LABELS, STUDENT, TRAINING, RUNTIME, {})
    return selection, students, results, stages


def test_the_selections_and_the_training_do_not_read_the_test_labels():
    selection, students, results, stages = _run(shuffle_test=False)
    selection_s, students_s, results_s, stages_s = _run(shuffle_test=True)
    pd.testing.assert_frame_equal(selection, selection_s)
    assert selection["selected"].sum() == 2  # one candidate per budget, on both seeds
    pd.testing.assert_frame_equal(students, students_s)  # the student settings: both trained, the same val scores
    assert len(students) == 4 and students["val_accuracy"].notna().all() and students["selected"].sum() == 2
    pd.testing.assert_series_equal(stages["val_accuracy"], stages_s["val_accuracy"])
    pd.testing.assert_series_equal(stages["precision"], stages_s["precision"])
    val = results[results["split"] == "val"].reset_index(drop=True)
    pd.testing.assert_frame_equal(val, results_s[results_s["split"] == "val"].reset_index(drop=True))
    # the test accuracies are measured on the (shuffled) test labels
    assert not np.allclose(stages["accuracy"], stages_s["accuracy"])
    assert set(results["method"]) == {"combined"} and set(results["pipeline"]) == {"combined"}


def test_choose_marks_the_best_mean_validation_accuracy_per_budget():
    records = [
        {"labels_per_class": b, "seed": s, "encoder": "e", "n_neighbors": k, "assignment": "argmax", "val_accuracy": v}
        for b, s, k, v in [("1", 0, 5, 0.9), ("1", 1, 5, 0.5), ("1", 0, 10, 0.7), ("1", 1, 10, 0.8),
                           ("10", 0, 5, 0.9), ("10", 1, 5, 0.9), ("10", 0, 10, 0.7), ("10", 1, 10, 0.95)]
    ]
    table = nodes._choose(records)
    chosen = table[table["selected"]].groupby("labels_per_class")["n_neighbors"].unique()
    assert chosen.to_dict() == {"1": [10], "10": [5]}


def test_the_final_stage_is_chosen_on_fair_val_and_the_ablation_table_lists_every_stage():
    # student_1 has the best plain val (0.85), but its cross-fitted val is 0.75: teacher_2 (0.825) wins
    stages = pd.DataFrame({
        "dataset": "digits", "variant": "combined", "labels_per_class": "1", "seed": [0, 0, 0, 1, 1, 1],
        "stage": ["teacher_1", "student_1", "teacher_2"] * 2, "val_accuracy": [0.8, 0.9, 0.95, 0.7, 0.8, 0.7],
        "fair_val_accuracy": [0.8, 0.8, 0.95, 0.7, 0.7, 0.7],
        "accuracy": [0.8, 0.9, 0.9, 0.6, 0.8, 0.8], "precision": [0.9, np.nan, 0.95, 0.8, np.nan, 0.85], "seconds": 1.0,
    })
    chosen = nodes.choose_stage(stages)
    assert chosen.loc[chosen["selected"], "stage"].tolist() == ["teacher_2", "teacher_2"]  # 0.825 > 0.75 = 0.75
    rows = pd.DataFrame(nodes._result_rows(chosen))
    test = rows[rows["metric"] == "accuracy"]["value"].tolist()
    assert test == [0.9, 0.8]
    precision = rows[rows["metric"] == "pseudo_label_precision"]["value"].tolist()
    assert precision == [0.95, 0.85]  # the chosen teacher's own pseudo-labels
    table = nodes.combined_ablation_table(chosen, pd.DataFrame(columns=nodes.STAGE_COLUMNS)).set_index("variant")
    assert np.isclose(table.loc["combined", "test_mean"], 0.85) and np.isclose(table.loc["only_teacher_1", "test_mean"], 0.7)
    assert table.loc["only_teacher_2", "n_seeds"] == 2
    # where the fair scores agree with the plain ones, the plain rule's choice stands (ties: the earlier stage)
    plain = nodes.choose_stage(stages.assign(fair_val_accuracy=stages["val_accuracy"]))
    assert plain.loc[plain["selected"], "stage"].tolist() == ["student_1", "student_1"]  # mean 0.85 > 0.825 > 0.75


def test_the_student_settings_are_chosen_on_mean_validation_accuracy_and_one_candidate_trains_nothing():
    dataset, split, encoders = _data(False)
    selection = nodes.select_teacher(dataset, split, encoders, LABELS, SELECTION, RUNTIME, {})
    one, trained = nodes.select_student(dataset, split, encoders, selection, LABELS, {"rounds": 1}, TRAINING, RUNTIME, {})
    assert one["val_accuracy"].isna().all() and one["selected"].all() and set(one["encoder_lr"]) == {1e-4}
    assert trained == {}  # nothing trained, nothing for train to reuse
    table = pd.DataFrame({"labels_per_class": "1", "seed": [0, 1, 0, 1], "encoder_lr": [1e-4, 1e-4, 1e-3, 1e-3],
                          "strength": 0.5, "val_accuracy": [0.9, 0.7, 0.85, 0.8]})
    marked = nodes._mark_best(table, ["labels_per_class"], ["encoder_lr", "strength"])
    assert nodes._chosen_students(marked) == {"1": (1e-3, 0.5)}  # mean 0.825 > 0.8


def test_the_ablation_without_the_student_selection_is_the_run_itself_where_the_first_settings_won():
    dataset, split, encoders = _data(False)
    selection = nodes.select_teacher(dataset, split, encoders, LABELS, SELECTION, RUNTIME, {})
    students = pd.DataFrame({"labels_per_class": "1", "seed": [0, 1], "encoder_lr": 1e-4, "strength": 0.5,
                             "val_accuracy": np.nan, "selected": True})  # the first candidate of STUDENT chosen
    _, stages = nodes.train(dataset, split, encoders, selection, students, {}, LABELS, STUDENT, TRAINING, RUNTIME, {})
    plan = {"enabled": True, "variants": ["no_student_selection", "no_unlabeled"]}
    table = nodes.ablate(dataset, split, encoders, selection, students, stages, LABELS, STUDENT, TRAINING, plan, RUNTIME, {})
    table = table.set_index("variant")
    assert {"combined", "only_teacher_1", "only_student_1", "no_student_selection", "no_unlabeled"} <= set(table.index)
    for column in ("test_mean", "val_mean", "n_seeds"):
        assert table.loc["no_student_selection", column] == table.loc["combined", column]


def test_train_reuses_the_chosen_first_round_students_of_the_student_selection():
    """train's first-round student is select_student's for the chosen setting (the same val
    accuracy, the same weights), and reusing it gives the stages of training it again."""
    dataset, split, encoders = _data(False)
    selection = nodes.select_teacher(dataset, split, encoders, LABELS, SELECTION, RUNTIME, {})
    student = {**STUDENT, "rounds": 2}
    students, trained = nodes.select_student(dataset, split, encoders, selection, LABELS, student, TRAINING, RUNTIME, {})
    assert sorted(trained) == ["lpc1_seed0", "lpc1_seed1"]
    chosen = students[students["selected"]].set_index("seed")
    for seed in (0, 1):
        meta = trained[f"lpc1_seed{seed}"]["meta"]
        assert (meta["encoder_lr"], meta["strength"]) == (chosen.loc[seed, "encoder_lr"], chosen.loc[seed, "strength"])
    _, reused = nodes.train(dataset, split, encoders, selection, students, trained, LABELS, student, TRAINING, RUNTIME, {})
    _, again = nodes.train(dataset, split, encoders, selection, students, {}, LABELS, student, TRAINING, RUNTIME, {})
    first = reused[reused["stage"] == "student_1"].set_index("seed")
    assert np.allclose(first["val_accuracy"], chosen.loc[first.index, "val_accuracy"])
    assert np.allclose(first["seconds"], [trained[f"lpc1_seed{s}"]["meta"]["seconds"] for s in first.index], atol=1.0)
    columns = ["stage", "val_accuracy", "accuracy", "precision"]  # every stage, the second round included
    pd.testing.assert_frame_equal(reused[columns], again[columns])
    # trained under other settings (here another training config): not reused, trained again
    other = {**TRAINING, "epochs": 1}
    _, retrained = nodes.train(dataset, split, encoders, selection, students, trained, LABELS, student, other, RUNTIME, {})
    _, fresh = nodes.train(dataset, split, encoders, selection, students, {}, LABELS, student, other, RUNTIME, {})
    pd.testing.assert_frame_equal(retrained[columns], fresh[columns])


def test_the_reused_student_has_the_weights_select_student_trained(tmp_path):
    dataset, split, encoders = _data(False)
    selection = nodes.select_teacher(dataset, split, encoders, LABELS, SELECTION, RUNTIME, {})
    students, trained = nodes.select_student(dataset, split, encoders, selection, LABELS, STUDENT, TRAINING, RUNTIME, {})
    fit = nodes.parse_params(nodes.TrainingParams, TRAINING, "t")
    settings = nodes.parse_params(nodes.RuntimeParams, RUNTIME, "r")
    candidate = nodes._chosen(selection)["1"]
    lr_strength = nodes._chosen_students(students)["1"]
    view = nodes._views(dataset, split, LABELS)[0]
    how = nodes._settings(nodes.parse_params(nodes.StudentParams, STUDENT, "s"), fit, settings, view.seed, 3, lr_strength)
    folder = EncoderCheckpointsDataset(str(tmp_path / "students"))  # the catalog's dataset: through the disk
    folder.save(trained)
    trained = folder.load()
    model, seconds, fair = nodes._stored_student(trained, view, candidate, how, encoders["tiny"], "cpu")
    stored = trained[f"lpc1_seed{view.seed}"]["state_dict"]
    assert seconds > 0 and all(torch.equal(v, stored[k]) for k, v in model.state_dict().items())
    assert fair == trained[f"lpc1_seed{view.seed}"]["meta"]["fair_val_accuracy"] and 0.0 <= fair <= 1.0
    # a student stored before students carried their cross-fitted accuracy is trained again
    older = {key: {**entry, "meta": {k: v for k, v in entry["meta"].items() if k != "fair_val_accuracy"}}
             for key, entry in trained.items()}
    assert nodes._stored_student(older, view, candidate, how, encoders["tiny"], "cpu") is None
    assert nodes._stored_student(trained, view, candidate, dataclasses.replace(how, strength=0.9), encoders["tiny"], "cpu") is None
