"""Schema of ``parameters_semi_supervised.yml`` (the ``semi_supervised`` key).

Sub-blocks, each read by the nodes that use it:

* ``runtime`` — device, threads, progress bars (:class:`~transfer_lab.contracts.RuntimeParams`),
  and which entries run (``selected``);
* ``neural`` — the encoder the neural methods train from scratch and their shared
  ``training`` settings (:class:`~transfer_lab.contracts.TrainingParams`);
* ``methods.<method>`` — one block per method of
  :data:`~transfer_lab.methods.semi_supervised.factory.METHODS` (each a nested namespace of
  the pipeline): named entries, the name being the ``method`` column of the results table,
  each with its hyper-parameters (``params``), a wrapper's base learner (``base``) and a
  neural method's training overrides (``training``);
* ``pretrained`` — the pretrained encoders and the entries that also run on them.

Hyper-parameter names are checked against the estimator's constructor / the training
function's signature before any work.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from transfer_lab.contracts import RuntimeParams, TrainingParams, split_words
from transfer_lab.methods.semi_supervised.factory import (
    BASE_LEARNERS,
    METHODS,
    NEURAL_METHODS,
    WRAPPERS,
    base_learner_class,
    hyper_parameters,
)
from transfer_lab.params import StrictModel


def _check_keys(params: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {unknown}; allowed: {sorted(allowed)}")


class RunParams(RuntimeParams):
    """How the method nodes run, and which entries."""

    # Names of entries (of any method) to run; null runs every entry.
    selected: list[str] | None = None

    @field_validator("selected", mode="before")
    @classmethod
    def _selected_words(cls, value: Any) -> Any:
        return split_words(value)

    def runs(self, name: str) -> bool:
        """Whether the entry ``name`` runs (``selected`` is null or lists it)."""
        return self.selected is None or name in self.selected


class BaseLearnerParams(StrictModel):
    """A scikit-learn classifier: its kind and constructor arguments."""

    kind: Literal[BASE_LEARNERS]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> BaseLearnerParams:
        allowed = set(base_learner_class(self.kind)().get_params(deep=False))
        _check_keys(self.params, allowed, f"{self.kind}")
        return self


class EntryParams(StrictModel):
    """One configured entry of a method (checked against its method by :meth:`check`)."""

    base: BaseLearnerParams | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # neural methods: changes to neural.training for this entry (unset fields keep it)
    training: dict[str, Any] = Field(default_factory=dict)

    def check(self, method: str) -> None:
        """Raise ``ValueError`` unless this entry suits ``method``."""
        if (method in WRAPPERS) != (self.base is not None):
            need = "needs" if method in WRAPPERS else "takes no"
            raise ValueError(f"{method} {need} a base learner (base: {{kind: ..., params: ...}})")
        _check_keys(self.params, hyper_parameters(method), method)
        if self.training and method not in NEURAL_METHODS:
            raise ValueError(f"training settings apply to neural methods only, not to {method}")
        _check_keys(self.training, set(TrainingParams.model_fields), "training")
        try:
            TrainingParams.model_validate(self.training)
        except ValidationError as error:
            first = error.errors()[0]
            raise ValueError(f"training.{first['loc'][0]}: {first['msg']}") from None

    @property
    def base_learner(self) -> tuple[str, dict[str, Any]] | None:
        return None if self.base is None else (self.base.kind, self.base.params)


class EncoderParams(StrictModel):
    """The shared encoder the neural methods train from scratch."""

    kind: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(64, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class NeuralParams(StrictModel):
    encoder: EncoderParams = EncoderParams()
    training: TrainingParams = TrainingParams()

    def training_for(self, entry: EntryParams) -> TrainingParams:
        """The shared training settings with the entry's overrides."""
        return TrainingParams.model_validate({**self.training.model_dump(), **entry.training})


class PretrainedParams(StrictModel):
    """Semi-supervised learning on pretrained encoders (the ``pretrained_encoders`` input).

    Classic methods fit on each encoder's frozen features, neural methods fine-tune the
    encoder with a new head (results' method ``<name>_<encoder>``). Encoders listed but
    absent from ``data/06_models/encoders`` are skipped with a log line.
    """

    encoders: list[str] = Field(default_factory=list)
    # entry names that also run on each encoder
    methods: list[str] = Field(default_factory=list)

    @field_validator("encoders", "methods", mode="before")
    @classmethod
    def _word_lists(cls, value: Any) -> Any:
        return split_words(value)


class SemiSupervisedParams(StrictModel):
    """Every semi-supervised method on every label budget and seed of the data pipeline."""

    runtime: RunParams = RunParams()
    neural: NeuralParams = NeuralParams()
    methods: dict[Literal[METHODS], dict[str, EntryParams]] = Field(default_factory=dict)
    pretrained: PretrainedParams = PretrainedParams()

    @model_validator(mode="after")
    def _entries(self) -> SemiSupervisedParams:
        seen: dict[str, str] = {}
        for method, entries in self.methods.items():
            for name, entry in entries.items():
                if name in seen:
                    raise ValueError(f"entry name {name!r} is used by methods {seen[name]} and {method}")
                seen[name] = method
                try:
                    entry.check(method)
                except ValueError as error:
                    raise ValueError(f"methods.{method}.{name}: {error}") from None
        for key, names in (("runtime.selected", self.runtime.selected or []), ("pretrained.methods", self.pretrained.methods)):
            unknown = sorted(set(names) - set(seen))
            if unknown:
                raise ValueError(f"{key} names unknown method(s) {unknown}; configured: {sorted(seen)}")
        return self

    def entries(self) -> dict[str, str]:
        """Entry name → its method."""
        return {name: method for method, entries in self.methods.items() for name in entries}


SCHEMA = {"semi_supervised": SemiSupervisedParams}
