"""Nodes of the ``combined`` pipeline: select the teacher and the students' settings on
validation, train, ablate.

The method lives in ``methods.combined``, the figure in ``reporting.figures_combined``.
Every node builds its budget views from ``combined.labels`` (the draw of
``sources.splits.label_subsets``, so seed ``s`` labels the same rows as in every family) and
hands ``methods.combined`` only views without the unlabelled and test rows' labels
(``without_held_out_labels``); those labels are read afterwards, to measure.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from transfer_lab.contracts import DataParams, Dataset, TrainingParams, data_provenance, stale_reason
from transfer_lab.methods import combined
from transfer_lab.methods.encoders import Classifier, build_encoder, encoder_from_checkpoint
from transfer_lab.methods.runtime import node_compute, resolve_device
from transfer_lab.methods.training import extract_features
from transfer_lab.params import parse_params
from transfer_lab.pipelines.combined.params import (
    AblationParams, LabelParams, RuntimeParams, SelectionParams, StudentParams,
)
from transfer_lab.reporting import figures_combined as figures
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds, label_subsets

logger = logging.getLogger(__name__)

METHOD = "combined"
SELECTION_COLUMNS = ["labels_per_class", "seed", "encoder", "n_neighbors", "assignment", "val_accuracy", "selected"]
STUDENT_COLUMNS = ["labels_per_class", "seed", "encoder_lr", "strength", "val_accuracy", "selected"]
STAGE_COLUMNS = ["dataset", "variant", "labels_per_class", "seed", "stage", "val_accuracy", "fair_val_accuracy", "accuracy",
                 "precision", "seconds"]
# every stage's table also says which stage the validation split chose (``choose_stage``)


def _views(dataset: Dataset, split_table: pd.DataFrame, labels: Mapping[str, Any]) -> list[BudgetView]:
    """Every (budget, seed) of ``combined.labels`` with its own subsets; budgets run in order."""
    chosen = parse_params(LabelParams, labels, "combined.labels")
    subsets = label_subsets(dataset.y, split_table, chosen.budgets, chosen.seeds)
    return [budget_view(dataset, split_table, subsets, b, s) for b, s in budgets_and_seeds(subsets)]


def _checkpoints(
    pretrained_encoders: Mapping[str, dict], names: list[str], dataset: Dataset, data: Mapping[str, Any]
) -> dict[str, dict]:
    """The listed checkpoints that exist and were trained on this run's data (one line per skip)."""
    expected = data_provenance(dataset, parse_params(DataParams, data, "data"))
    found = {}
    for name in names:
        checkpoint = pretrained_encoders.get(name)
        reason = "not in pretrained_encoders" if checkpoint is None else stale_reason(checkpoint.get("meta", {}), expected)
        if reason is None:
            found[name] = checkpoint
        else:
            logger.warning("combined: encoder %r skipped: %s", name, reason)
    return found


def _mark_best(table: pd.DataFrame, by: list[str], keys: list[str], score: str = "val_accuracy") -> pd.DataFrame:
    """``table`` with ``selected`` marking, per ``by`` group, the ``keys`` of best mean
    ``score`` over seeds (ties, and a group without any score: the first in order)."""
    if table.empty:
        return table.assign(selected=pd.Series(dtype=bool))
    means = table.groupby([*by, *keys], sort=False)[score].mean().fillna(-np.inf).reset_index()
    best = means.loc[means.groupby(by, sort=False)[score].idxmax(), [*by, *keys]]
    marked = table.merge(best.assign(selected=True), on=[*by, *keys], how="left")
    return marked.assign(selected=marked["selected"].fillna(False).astype(bool))


def _choose(records: list[dict]) -> pd.DataFrame:
    """Mark, per budget, the candidate with the best mean validation accuracy over seeds (ties:
    the first candidate in the parameters' order)."""
    table = pd.DataFrame(records, columns=SELECTION_COLUMNS[:-1])
    table["labels_per_class"] = table["labels_per_class"].astype(str)
    return _mark_best(table, ["labels_per_class"], ["encoder", "n_neighbors", "assignment"])[SELECTION_COLUMNS]


def select_teacher(
    base_dataset: Dataset, split_table: pd.DataFrame, pretrained_encoders: Mapping[str, dict],
    labels: Mapping[str, Any], selection: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> pd.DataFrame:
    """Validation accuracy of every candidate teacher (encoder × k × assignment) on every
    budget and seed, and the chosen one per budget (``selected``): the selection, as a table."""
    choice = parse_params(SelectionParams, selection, "combined.selection")
    settings = parse_params(RuntimeParams, runtime, "combined.runtime")
    with node_compute(settings):
        checkpoints = _checkpoints(pretrained_encoders, choice.encoders, base_dataset, data)
        device = resolve_device(settings.device)
        features = {n: functools.partial(extract_features, encoder_from_checkpoint(c, device)) for n, c in checkpoints.items()}
        candidates = [combined.Candidate(e, k, a) for e in features for k in choice.n_neighbors for a in choice.assignments]
        views = [combined.without_held_out_labels(v) for v in _views(base_dataset, split_table, labels)]
        records = combined.select(features, views, candidates, base_dataset.n_classes)
    if not records:
        logger.warning("combined: no usable encoder of %s: nothing selected (run the pretraining pipeline)", choice.encoders)
    return _choose(records)


def _chosen(selection: pd.DataFrame) -> dict[str, combined.Candidate]:
    rows = selection[selection["selected"]].drop_duplicates("labels_per_class")
    return {str(r.labels_per_class): combined.Candidate(r.encoder, int(r.n_neighbors), r.assignment) for r in rows.itertuples()}


def _settings(student: StudentParams, training: TrainingParams, runtime: RuntimeParams, seed: int, n_classes: int,
              chosen: tuple[float, float]):
    """The run's settings with the (encoder_lr, strength) ``chosen`` on validation."""
    return combined.CombinedSettings(
        config=training.to_train_config(seed, progress=runtime.progress), encoder_lr=chosen[0],
        strength=chosen[1], rounds=student.rounds, n_classes=n_classes, device=str(resolve_device(runtime.device)),
    )


def _student_meta(view: BudgetView, candidate: combined.Candidate, how: Any, checkpoint: dict) -> dict:
    """What a first-round student was trained from (budget, seed, teacher, settings, the
    encoder's data): ``train`` reuses a stored student only when all of it matches."""
    config = {k: v for k, v in dataclasses.asdict(how.config).items() if k != "progress"}
    return {"labels_per_class": str(view.labels_per_class), "seed": int(view.seed), "teacher": dataclasses.asdict(candidate),
            "encoder_lr": float(how.encoder_lr), "strength": float(how.strength), "n_classes": how.n_classes,
            "config": config, "encoder_meta": repr(checkpoint.get("meta", {}).get("provenance"))}


def _student_records(checkpoint: dict, view: BudgetView, candidate: combined.Candidate, how: Any,
                     students: list[tuple[float, float]], device: Any) -> tuple[list[dict], dict]:
    """Val accuracy of one first-round student per (encoder_lr, strength) on ``view`` (none
    trained when there is one candidate: nothing to choose), and those students
    (``{(encoder_lr, strength): {"state_dict", "meta"}}``, for ``train`` to reuse)."""
    records, trained = [], {}
    for lr, strength in students:
        val = float("nan")
        if len(students) > 1:
            encoder = encoder_from_checkpoint(checkpoint, device)
            settings = dataclasses.replace(how, encoder_lr=lr, strength=strength, rounds=1)
            run = combined.run(encoder, combined.without_held_out_labels(view), candidate, settings)
            stage = next(s for s in run.stages if s["stage"] == "student_1")
            val, meta = stage["val_accuracy"], _student_meta(view, candidate, settings, checkpoint)
            trained[lr, strength] = {"state_dict": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
                                     "meta": {**meta, "seconds": float(stage["seconds"]),
                                              "fair_val_accuracy": float(stage["fair_val_accuracy"])}}
        records.append({"labels_per_class": view.labels_per_class, "seed": view.seed, "encoder_lr": lr,
                        "strength": strength, "val_accuracy": val})
    return records, trained


def select_student(
    base_dataset: Dataset, split_table: pd.DataFrame, pretrained_encoders: Mapping[str, dict], selection: pd.DataFrame,
    labels: Mapping[str, Any], student: Mapping[str, Any], training: Mapping[str, Any], runtime: Mapping[str, Any],
    data: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The student settings (``combined.student``: encoder_lr × strength) chosen per budget
    on validation: a first-round student of each on the chosen teacher, every budget and seed
    (``selected``: best mean val accuracy; one candidate is chosen without training), and the
    chosen setting's first-round students (``students``: ``lpc<budget>_seed<seed>``), which
    ``train`` uses instead of training them again."""
    rounds = parse_params(StudentParams, student, "combined.student")
    fit, settings = parse_params(TrainingParams, training, "combined.training"), parse_params(RuntimeParams, runtime, "combined.runtime")
    students = [(lr, s) for lr in rounds.encoder_lr for s in rounds.strength]
    chosen, records, trained = _chosen(selection), [], {}
    with node_compute(settings):
        checkpoints = _checkpoints(pretrained_encoders, sorted({c.encoder for c in chosen.values()}), base_dataset, data)
        for view in (v for v in _views(base_dataset, split_table, labels) if v.labels_per_class in chosen):
            how = _settings(rounds, fit, settings, view.seed, base_dataset.n_classes, students[0])
            c = chosen[view.labels_per_class]
            found, models = _student_records(checkpoints[c.encoder], view, c, how, students, resolve_device(settings.device))
            records += found
            trained[str(view.labels_per_class), view.seed] = models
    table = pd.DataFrame(records, columns=STUDENT_COLUMNS[:-1]).astype({"labels_per_class": str})
    table = _mark_best(table, ["labels_per_class"], ["encoder_lr", "strength"])[STUDENT_COLUMNS]
    best = _chosen_students(table)
    return table, {_student_key(b, seed): models[best[b]] for (b, seed), models in trained.items() if models}


def _student_key(budget: Any, seed: int) -> str:
    return f"lpc{budget}_seed{int(seed)}"


def _stored_student(students: Mapping[str, dict], view: BudgetView, candidate: combined.Candidate, how: Any,
                    checkpoint: dict, device: Any) -> tuple[Any, float, float] | None:
    """``(model, seconds, fair_val_accuracy)`` of the first-round student that ``select_student``
    trained with exactly these settings, or None (none stored, or trained from something else,
    or stored before students carried their cross-fitted accuracy: retrain)."""
    stored = students.get(_student_key(view.labels_per_class, view.seed))
    if stored is None:
        return None
    meta = {k: v for k, v in stored.get("meta", {}).items() if k not in ("seconds", "fair_val_accuracy")}
    if meta != _student_meta(view, candidate, how, checkpoint) or "fair_val_accuracy" not in stored.get("meta", {}):
        logger.warning("combined: the stored student %s was trained with other settings; training it again",
                       _student_key(view.labels_per_class, view.seed))
        return None
    model = Classifier(encoder_from_checkpoint(checkpoint, device), how.n_classes)
    model.load_state_dict(stored["state_dict"])
    return model.to(device), float(stored["meta"]["seconds"]), float(stored["meta"]["fair_val_accuracy"])


def _chosen_students(student_selection: pd.DataFrame) -> dict[str, tuple[float, float]]:
    rows = student_selection[student_selection["selected"]].drop_duplicates("labels_per_class")
    return {str(r.labels_per_class): (float(r.encoder_lr), float(r.strength)) for r in rows.itertuples()}


def _stage_records(dataset: str, variant: str, view: BudgetView, result: combined.CombinedResult) -> list[dict]:
    """One record per stage: val accuracy, test accuracy and pseudo-label precision (measured here)."""
    measured = combined.measure(result, view)
    return [
        {"dataset": dataset, "variant": variant, "labels_per_class": view.labels_per_class, "seed": view.seed,
         "stage": s["stage"], "val_accuracy": s["val_accuracy"], "fair_val_accuracy": s["fair_val_accuracy"],
         "accuracy": measured[f"{s['stage']}_accuracy"],
         "precision": measured.get(f"{s['stage']}_precision", float("nan")), "seconds": s["seconds"]}
        for s in result.stages
    ]


def choose_stage(stages: pd.DataFrame) -> pd.DataFrame:
    """The stages with ``selected`` marking, per variant and budget, the stage of best mean
    *fair* validation accuracy over seeds (ties: the earlier, cheaper stage): the final
    classifier. Fair: a student's is cross-fitted (:func:`~transfer_lab.methods.combined.
    crossfit_accuracy`), since its own val accuracy is that of the epoch the same rows chose."""
    return _mark_best(stages, ["variant", "labels_per_class"], ["stage"], score="fair_val_accuracy")


def _result_rows(stages: pd.DataFrame) -> list[dict]:
    """``combined_results`` rows of the chosen stage (its pseudo-labels: the last teacher's before it)."""
    rows = []
    for (budget, seed), runs in stages.groupby(["labels_per_class", "seed"], sort=False):
        final = runs[runs["selected"]].iloc[0]
        teachers = runs.loc[: final.name][runs.loc[: final.name, "stage"].str.startswith("teacher")]
        measured = [("accuracy", "test", final["accuracy"]), ("val_accuracy", "val", final["val_accuracy"]),
                    ("seconds", "train", runs["seconds"].sum()), ("pseudo_label_precision", "unlabeled", teachers["precision"].iloc[-1])]
        rows += [result_row(pipeline="combined", dataset=final["dataset"], method=METHOD, metric=m, value=v, split=split,
                            labels_per_class=budget, seed=int(seed)) for m, split, v in measured if pd.notna(v)]
    return rows


def train(
    base_dataset: Dataset, split_table: pd.DataFrame, pretrained_encoders: Mapping[str, dict], selection: pd.DataFrame,
    student_selection: pd.DataFrame, trained: Mapping[str, dict], labels: Mapping[str, Any], student: Mapping[str, Any],
    training: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chosen teacher and its students (the chosen settings) on every budget and seed: every stage's accuracies
    (``stages``, the val-chosen final stage ``selected``) and its rows (``combined_results``). The first-round
    students that ``select_student`` trained with the chosen settings (``trained``) are reused, not trained again."""
    rounds = parse_params(StudentParams, student, "combined.student")
    fit = parse_params(TrainingParams, training, "combined.training")
    settings = parse_params(RuntimeParams, runtime, "combined.runtime")
    chosen, students, stages = _chosen(selection), _chosen_students(student_selection), []
    with node_compute(settings):
        checkpoints = _checkpoints(pretrained_encoders, sorted({c.encoder for c in chosen.values()}), base_dataset, data)
        for view in (v for v in _views(base_dataset, split_table, labels) if v.labels_per_class in chosen):
            candidate = chosen[view.labels_per_class]
            encoder = encoder_from_checkpoint(checkpoints[candidate.encoder], resolve_device(settings.device))
            how = _settings(rounds, fit, settings, view.seed, base_dataset.n_classes, students[view.labels_per_class])
            first = _stored_student(trained, view, candidate, how, checkpoints[candidate.encoder], resolve_device(settings.device))
            result = combined.run(encoder, combined.without_held_out_labels(view), candidate, how, first)
            stages += _stage_records(base_dataset.name, METHOD, view, result)
            logger.info("combined: %s labels/class, seed %s: %s", view.labels_per_class, view.seed, candidate)
    stages = choose_stage(pd.DataFrame(stages, columns=STAGE_COLUMNS))
    return results_frame(_result_rows(stages)), stages


def _variant(name: str, checkpoint: dict, view: BudgetView, candidate: combined.Candidate, how: Any, device: Any):
    """(encoder, view, candidate, settings) of the run without one ingredient."""
    encoder = encoder_from_checkpoint(checkpoint, device)
    if name == "no_student_selection":  # the settings as given (``_ablation_records``)
        return encoder, view, candidate, how
    if name == "no_assignment":  # the teacher's argmax: no class mass normalisation, no balancing
        return encoder, view, dataclasses.replace(candidate, assignment="argmax"), how
    if name == "no_unlabeled":  # the student learns the labelled rows only
        return encoder, dataclasses.replace(view, X_unlabeled=view.X_unlabeled[:0], y_unlabeled=view.y_unlabeled[:0]), \
            candidate, dataclasses.replace(how, rounds=min(how.rounds, 1))
    torch.manual_seed(view.seed)  # no_pretraining: the same network, randomly initialised
    spec = checkpoint["encoder"]
    return build_encoder(spec["kind"], spec["input_shape"], **spec.get("kwargs", {})).to(device), view, candidate, how


def _ablation_records(name: str, view: BudgetView, checkpoint: dict, candidate: combined.Candidate, how: Any,
                      default: tuple[float, float], stages: pd.DataFrame, dataset: str, device: Any) -> list[dict]:
    """The stages of ``view`` without ingredient ``name``; ``no_student_selection`` trains
    with the first student settings (``default``), and where those are the chosen ones the
    run's own stages are that run."""
    if name == "no_student_selection":
        if (how.encoder_lr, how.strength) == default:
            own = stages[(stages["labels_per_class"].astype(str) == str(view.labels_per_class)) & (stages["seed"] == view.seed)]
            return own[STAGE_COLUMNS].assign(variant=name).to_dict("records")
        how = dataclasses.replace(how, encoder_lr=default[0], strength=default[1])
    encoder, seen, candidate, how = _variant(name, checkpoint, view, candidate, how, device)
    result = combined.run(encoder, combined.without_held_out_labels(seen), candidate, how)
    return _stage_records(dataset, name, seen, result)


def ablate(
    base_dataset: Dataset, split_table: pd.DataFrame, pretrained_encoders: Mapping[str, dict], selection: pd.DataFrame,
    student_selection: pd.DataFrame, stages: pd.DataFrame, labels: Mapping[str, Any], student: Mapping[str, Any], training: Mapping[str, Any],
    ablation: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> pd.DataFrame:
    """Remove one ingredient at a time: the stages of ``train`` give the runs without the
    second round and without a student (``only_<stage>``); ``combined.ablation.enabled``
    reruns the others, each with its own val-chosen stage."""
    plan = parse_params(AblationParams, ablation, "combined.ablation")
    rounds = parse_params(StudentParams, student, "combined.student")
    fit, settings = parse_params(TrainingParams, training, "combined.training"), parse_params(RuntimeParams, runtime, "combined.runtime")
    chosen, students, records = _chosen(selection), _chosen_students(student_selection), []
    default = (rounds.encoder_lr[0], rounds.strength[0])
    with node_compute(settings):
        checkpoints = _checkpoints(pretrained_encoders, sorted({c.encoder for c in chosen.values()}), base_dataset, data)
        views = [v for v in _views(base_dataset, split_table, labels) if v.labels_per_class in chosen] if plan.enabled else []
        for name in plan.variants if plan.enabled else []:
            for view in views:
                c = chosen[view.labels_per_class]
                how = _settings(rounds, fit, settings, view.seed, base_dataset.n_classes, students[view.labels_per_class])
                records += _ablation_records(name, view, checkpoints[c.encoder], c, how, default, stages, base_dataset.name,
                                             resolve_device(settings.device))
    return combined_ablation_table(stages, pd.DataFrame(records, columns=STAGE_COLUMNS))


def combined_ablation_table(stages: pd.DataFrame, reruns: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the test and val accuracy per variant and budget: each
    variant's val-chosen stage (``choose_stage``), and every stage of the full run alone
    (``only_teacher_1`` = label propagation alone, ``only_student_1`` = one round, ...)."""
    runs = [stages[stages["selected"]].assign(variant="combined")] if len(stages) else []
    runs += [stages[stages["stage"] == stage].assign(variant=f"only_{stage}") for stage in stages["stage"].unique()]
    if len(reruns):
        chosen = choose_stage(reruns)
        runs.append(chosen[chosen["selected"]])
    table = pd.concat(runs, ignore_index=True) if runs else pd.DataFrame(columns=STAGE_COLUMNS)
    grouped = table.groupby(["variant", "labels_per_class"], sort=False)
    return grouped.agg(test_mean=("accuracy", "mean"), test_std=("accuracy", "std"), val_mean=("val_accuracy", "mean"),
                       val_std=("val_accuracy", "std"), n_seeds=("seed", "nunique")).reset_index()


def report(results: pd.DataFrame, ablation: pd.DataFrame) -> Any:
    """The ablation figure: test accuracy per variant and budget."""
    return figures.ablation_figure(ablation)
