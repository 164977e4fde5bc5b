"""Schema of ``parameters_combined.yml`` (the ``combined`` key).

Sub-blocks, each read by the nodes that use it:

* ``runtime`` — device, threads, progress bars (:class:`~transfer_lab.contracts.RuntimeParams`);
* ``training`` — the students' training (:class:`~transfer_lab.contracts.TrainingParams`);
* ``labels`` — the label budgets and seeds (its own: the headline is a mean over 5 seeds,
  more than the data pipeline's default; the subsets are drawn as ``sources.splits.label_subsets``
  draws them, so a seed gives the same labelled rows as in every other family);
* ``selection`` — the teacher candidates the validation split chooses among;
* ``student`` — the student rounds and the student settings the validation split chooses among;
* ``ablation`` — the optional run that removes one ingredient at a time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from transfer_lab.contracts import (
    RuntimeParams, TrainingParams, label_budgets, split_number_words, unique_seeds,
)
from transfer_lab.params import StrictModel

Assignment = Literal["argmax", "class_mass", "balanced"]


class LabelParams(StrictModel):
    budgets: list[int | Literal["all"]] = Field(default_factory=lambda: [1, 10], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)

    @field_validator("budgets", mode="before")
    @classmethod
    def _budgets(cls, value: Any) -> Any:
        return label_budgets(value)  # the checks of data.label_budgets

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_words(cls, value: Any) -> Any:
        return split_number_words(value)  # kedro run --params "combined.labels.seeds=0 1 2"

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return unique_seeds(seeds)


class SelectionParams(StrictModel):
    """Every combination is a candidate teacher; the best mean validation accuracy over the
    seeds of a budget wins (ties: the first in this order)."""

    encoders: list[str] = Field(default_factory=lambda: ["simclr", "moco"], min_length=1)
    n_neighbors: list[int] = Field(default_factory=lambda: [5, 10, 20], min_length=1)
    assignments: list[Assignment] = Field(default_factory=lambda: ["argmax", "class_mass", "balanced"], min_length=1)

    @field_validator("encoders", "n_neighbors", "assignments", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return split_number_words(value)

    @field_validator("n_neighbors")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(k < 1 for k in values):
            raise ValueError("every n_neighbors must be >= 1")
        return values


class StudentParams(StrictModel):
    """The students. ``encoder_lr`` and ``strength`` are candidate lists (a number: one
    candidate): every combination trains a first-round student on every budget and seed,
    and the best mean validation accuracy per budget wins (the ``select_student`` node)."""

    rounds: int = Field(2, ge=0)  # teacher → student rounds; 0 = label propagation alone
    # the pretrained blocks' learning rate (the head: training.lr)
    encoder_lr: list[float] = Field(default_factory=lambda: [1e-4], min_length=1)
    strength: list[float] = Field(default_factory=lambda: [0.5], min_length=1)  # augmentation strength (methods.augment)

    @field_validator("encoder_lr", "strength", mode="before")
    @classmethod
    def _candidates(cls, value: Any) -> Any:
        value = split_number_words(value)
        return value if isinstance(value, list | tuple) else [value]

    @field_validator("encoder_lr")
    @classmethod
    def _lr_positive(cls, values: list[float]) -> list[float]:
        if any(v <= 0 for v in values):
            raise ValueError("every encoder_lr must be > 0")
        return values

    @field_validator("strength")
    @classmethod
    def _strength(cls, values: list[float]) -> list[float]:
        if any(v < 0 for v in values):
            raise ValueError("every strength must be >= 0")
        return values


class AblationParams(StrictModel):
    enabled: bool = False  # the reruns cost about twice the train node
    # each removes one ingredient; no_second_round and no_student come free from the stages;
    # no_student_selection: the first student settings of combined.student, not the chosen ones
    variants: list[Literal["no_assignment", "no_unlabeled", "no_pretraining", "no_student_selection"]] = Field(
        default_factory=lambda: ["no_assignment", "no_unlabeled", "no_pretraining", "no_student_selection"]
    )

    @field_validator("variants", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return split_number_words(value)


class CombinedParams(StrictModel):
    runtime: RuntimeParams = RuntimeParams()
    training: TrainingParams = TrainingParams()
    labels: LabelParams = LabelParams()
    selection: SelectionParams = SelectionParams()
    student: StudentParams = StudentParams()
    ablation: AblationParams = AblationParams()


SCHEMA = {"combined": CombinedParams}
