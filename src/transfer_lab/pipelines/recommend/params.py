"""Schema of ``parameters_recommend.yml`` (the ``recommend`` key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from transfer_lab.contracts import RuntimeParams, TrainingParams
from transfer_lab.params import StrictModel


class ScoringParams(StrictModel):
    """How the candidate encoders are scored on the labelled rows of each budget."""

    pca_components: int = Field(32, ge=1)  # the ``pca`` candidate, fitted on the train rows (labels unused)
    random_width: int = Field(16, ge=1)  # the ``random_cnn`` candidate's width
    max_rows: int = Field(2000, ge=10)  # labelled rows scored per budget at most (the kNN score is quadratic)
    exclude: list[str] = Field(default_factory=list)  # candidate names (or name prefixes) left out
    # a budget with fewer labelled rows than this in some class is ranked by cluster agreement
    # (labels spread over all train rows vs k-means; methods.recommend.cluster_agreement)
    transductive_below: int = Field(2, ge=1)
    # cluster agreement's label spreading: 7 neighbours (LabelSpreading's default), alpha 0.99
    # (Zhou et al. 2004's experiments): fixed a priori, never chosen on this project's data sets
    cluster_neighbors: int = Field(7, ge=1)
    cluster_alpha: float = Field(0.99, gt=0.0, lt=1.0)


class IntervalParams(StrictModel):
    """The predicted accuracy's split-conformal interval (methods.recommend.fit_calibration)."""

    coverage: float = Field(0.9, gt=0.0, lt=1.0)  # nominal coverage, 1 - alpha
    scale: Literal["binomial", "none"] = "binomial"  # residuals divided by sqrt(p(1-p)) of the prediction, or not
    # group-conditional (Mondrian): a data set's interval is calibrated only on verified data
    # sets of its input kind (image / sequence / table, from the data's shape and modality);
    # fixed before the held-out evaluation was run. false: on all data sets (sensitivity only)
    by_kind: bool = True
    # fewer verified data sets of the kind than this: no interval ("no calibration data of this kind")
    min_datasets: int = Field(2, ge=1)


class BaseLearnerParams(StrictModel):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class VerifyMethod(StrictModel):
    """A method verify can run for real on an encoder's features: ``linear_probe`` or a classic
    semi-supervised method of methods.semi_supervised (its hyper-parameters and base learner)."""

    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    base: BaseLearnerParams | None = None
    evidence: list[str] = Field(default_factory=list)  # leaderboard method names that rank it (default: its own name)

    @field_validator("method")
    @classmethod
    def _known(cls, value: str) -> str:
        from transfer_lab.methods.semi_supervised.factory import CLASSIC_METHODS

        if value not in ("linear_probe", *CLASSIC_METHODS):
            raise ValueError(f"{value!r} cannot run on frozen features; use linear_probe or one of {', '.join(CLASSIC_METHODS)}")
        return value


def _default_methods() -> dict[str, VerifyMethod]:
    return {
        "linear_probe": VerifyMethod(method="linear_probe", evidence=["linear_probe", "logreg"]),
        "label_propagation": VerifyMethod(method="label_propagation", params={"n_neighbors": 5}),
        "self_training": VerifyMethod(method="self_training", base=BaseLearnerParams(kind="logreg", params={"max_iter": 300}),
                                      params={"threshold": 0.9, "max_iter": 10}),
    }


class VerifyParams(StrictModel):
    """What ``recommend.verify=true`` runs for real (a linear probe on the labelled rows,
    test accuracy) to report regret and rank correlation."""

    top_k: int = Field(3, ge=1)  # the k best-ranked candidates are run ...
    others: int = Field(2, ge=0)  # ... and this many of the others, drawn at random
    # the methods of the encoder x method choices (the same top_k and others are run for real)
    methods: dict[str, VerifyMethod] = Field(default_factory=_default_methods, min_length=1)


class RecommendParams(StrictModel):
    runtime: RuntimeParams = RuntimeParams()
    # unused by the nodes (nothing is trained beyond probes); kept so every family has one
    training: TrainingParams = TrainingParams()
    scoring: ScoringParams = ScoringParams()
    verify: bool = False  # run the top choices for real (see verification)
    verification: VerifyParams = VerifyParams()
    interval: IntervalParams = IntervalParams()
    runners_up: int = Field(2, ge=0)  # encoders and methods listed after the best one
    seed: int = Field(0, ge=0)


SCHEMA = {"recommend": RecommendParams}
