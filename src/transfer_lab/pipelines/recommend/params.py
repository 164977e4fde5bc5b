"""Schema of ``parameters_recommend.yml`` (the ``recommend`` key)."""

from __future__ import annotations

from pydantic import Field

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


class VerifyParams(StrictModel):
    """What ``recommend.verify=true`` runs for real (a linear probe on the labelled rows,
    test accuracy) to report regret and rank correlation."""

    top_k: int = Field(3, ge=1)  # the k best-ranked candidates are run ...
    others: int = Field(2, ge=0)  # ... and this many of the others, drawn at random


class RecommendParams(StrictModel):
    runtime: RuntimeParams = RuntimeParams()
    # unused by the nodes (nothing is trained beyond probes); kept so every family has one
    training: TrainingParams = TrainingParams()
    scoring: ScoringParams = ScoringParams()
    verify: bool = False  # run the top choices for real (see verification)
    verification: VerifyParams = VerifyParams()
    runners_up: int = Field(2, ge=0)  # encoders and methods listed after the best one
    seed: int = Field(0, ge=0)


SCHEMA = {"recommend": RecommendParams}
