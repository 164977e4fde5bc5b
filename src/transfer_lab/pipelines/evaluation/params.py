"""Schema of ``parameters_evaluation.yml`` (the ``evaluation`` key)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from transfer_lab.params import StrictModel


class LogisticRegressionParams(StrictModel):
    C: float = Field(1.0, gt=0.0)
    max_iter: int = Field(2000, ge=1)


class CNNParams(StrictModel):
    encoder: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(128, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(5e-4, ge=0.0)
    patience: int | None = Field(15, ge=1)
    min_batches_per_epoch: int = Field(10, ge=1)


class EvaluationParams(StrictModel):
    """Supervised baselines on every label budget and seed, and the leaderboard."""

    device: str = "auto"
    # Threads for torch and BLAS: small models run fastest on one (null: library defaults).
    num_threads: int | None = Field(1, ge=1)
    progress: bool = True
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()
    cnn: CNNParams = CNNParams()
    metric: str = "accuracy"  # the metric the label-budget figure draws


SCHEMA = {"evaluation": EvaluationParams}
