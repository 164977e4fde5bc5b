"""Schema of ``parameters_evaluation.yml`` (the ``evaluation`` key).

Each node reads the sub-block it uses (``params:evaluation.logistic_regression``,
``params:evaluation.cnn``, ``params:evaluation.runtime``, ``params:evaluation.metric``); the
hook validates the whole block once, up front, with :data:`SCHEMA`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from transfer_lab.contracts import RuntimeParams, TrainingParams
from transfer_lab.params import StrictModel


class LogisticRegressionParams(StrictModel):
    C: float = Field(1.0, gt=0.0)
    max_iter: int = Field(2000, ge=1)


class CNNParams(StrictModel):
    """The shared encoder trained from scratch (method ``cnn_scratch``): its architecture,
    and how it is trained (:class:`~transfer_lab.contracts.TrainingParams`)."""

    encoder: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(128, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    training: TrainingParams = TrainingParams()


class EvaluationParams(StrictModel):
    """Supervised baselines on every label budget and seed, and the leaderboard."""

    runtime: RuntimeParams = RuntimeParams()
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()
    cnn: CNNParams = CNNParams()
    metric: str = "accuracy"  # the metric the label-budget figure, the heatmap and the report's tables show
    top_methods: int = Field(4, ge=1)  # methods per family in the label-budget figure


SCHEMA = {"evaluation": EvaluationParams}
