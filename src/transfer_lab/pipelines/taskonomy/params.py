"""Schema of ``parameters_taskonomy.yml`` (the ``taskonomy`` key).

Nodes take the sub-block they use (``params:taskonomy.networks``, ``params:taskonomy.release``,
...); the parameter hook validates the whole block once, up front, with :data:`SCHEMA`, and
a node builds the model of its sub-block with :func:`transfer_lab.params.parse_params`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from transfer_lab.contracts import RuntimeParams, TrainingParams
from transfer_lab.methods.taskonomy import REFERENCE_FILES
from transfer_lab.methods.tasks import TASKS, make_task
from transfer_lab.params import StrictModel

ESTIMATORS = ("logme", "leep", "nce", "h_score", "task2vec")


class EncoderParams(StrictModel):
    """The encoder of every task-specific network, of ``random`` and of ``pixels``."""

    kind: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"
    width: int = Field(16, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(64, ge=1)


class ReadoutParams(StrictModel):
    """A transfer: the target's head trained on frozen, standardised source features."""

    steps: int = Field(200, ge=1)
    lr: float = Field(0.01, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    eval_every: int = Field(10, ge=1)


class TransferParams(StrictModel):
    size: int = Field(100, ge=2)       # transfer set: training rows the readouts (and pixels) see
    max_order: int = Field(2, ge=1)    # largest number of sources read out together
    beam: int = Field(4, ge=1)         # higher orders combine the top-`beam` first-order sources
    readout: ReadoutParams = ReadoutParams()
    # from scratch on the transfer set (the reference of the gain); early stopping on val loss
    pixels: TrainingParams = TrainingParams(epochs=60, batch_size=32, lr=2e-3, patience=10, min_batches_per_epoch=4)


class Task2VecParams(StrictModel):
    probe: str = "autoencode"          # the probe network: a task's encoder, or "random"
    samples: int = Field(200, ge=10)   # training rows embedded per task
    epochs: int = Field(100, ge=1)     # full-batch steps of the probe's classifier
    clusters: int = Field(10, ge=2)    # regression/dense targets are clustered into labels


class TransferabilityParams(StrictModel):
    """Cheap estimates for the same (source, target) pairs, on the target's transfer set."""

    estimators: list[Literal["logme", "leep", "nce", "h_score", "task2vec"]] = Field(
        default_factory=lambda: list(ESTIMATORS), min_length=1
    )
    # LEEP and NCE need a source label distribution: a Gaussian mixture on the source
    # features (N-LEEP, Li et al. 2021), the same for every source.
    gmm_components: int = Field(10, ge=2)
    pca_components: int = Field(16, ge=1)
    h_score_shrinkage: float | Literal["ledoit_wolf"] | None = "ledoit_wolf"
    task2vec: Task2VecParams = Task2VecParams()


class TaxonomyParams(StrictModel):
    """The BIP on our affinities."""

    budgets: list[float] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    max_order: int | None = Field(None, ge=1)
    sqrt: bool = False

    @field_validator("budgets")
    @classmethod
    def _positive(cls, budgets: list[float]) -> list[float]:
        if any(b < 1 for b in budgets):
            raise ValueError("budgets must be >= 1 (at least one task is trained with full supervision)")
        return budgets


class ReleaseParams(TaxonomyParams):
    """The same BIP on a file of the original Taskonomy release shipped with the package."""

    file: str = "all_affinities"
    budgets: list[float] = Field(default_factory=lambda: [3, 6, 12], min_length=1)

    @field_validator("file")
    @classmethod
    def _known(cls, file: str) -> str:
        stem = file.removesuffix(".json")
        if not stem.startswith("all_affinities") or stem not in REFERENCE_FILES:
            allowed = [name for name in REFERENCE_FILES if name.startswith("all_affinities")]
            raise ValueError(f"file must be one of {allowed}")
        return stem


class TaskonomyParams(StrictModel):
    runtime: RuntimeParams = RuntimeParams()
    seed: int = Field(0, ge=0)
    # the tasks in play (names of methods.tasks.TASKS); a list, so that an environment can
    # replace it (parameters are merged key by key, dictionaries would be merged too)
    tasks: list[str] = Field(default_factory=lambda: list(TASKS), min_length=2)
    task_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    encoder: EncoderParams = EncoderParams()
    head_hidden: int = Field(64, ge=0)  # hidden units of every head (0: linear)
    # task-specific networks (``self``), every training row; early stopping on val loss
    networks: TrainingParams = TrainingParams(epochs=30, lr=2e-3, patience=6)
    transfer: TransferParams = TransferParams()
    transferability: TransferabilityParams = TransferabilityParams()
    taxonomy: TaxonomyParams = TaxonomyParams()
    release: ReleaseParams = ReleaseParams()

    @model_validator(mode="after")
    def _tasks(self) -> TaskonomyParams:
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError("tasks lists a task twice")
        for name in [*self.tasks, *self.task_options]:
            if name not in TASKS:
                raise ValueError(f"unknown task {name!r}; the task dictionary has {sorted(TASKS)}")
        for name, options in self.task_options.items():
            make_task(name, **options)  # an unknown option or a bad value fails here
        probe = self.transferability.task2vec.probe
        if probe != "random" and probe not in self.tasks:
            raise ValueError(f"transferability.task2vec.probe {probe!r} must be 'random' or one of tasks")
        return self

    def task(self, name: str):
        """The task object of ``name`` with its options."""
        return make_task(name, **self.task_options.get(name, {}))


SCHEMA = {"taskonomy": TaskonomyParams}
