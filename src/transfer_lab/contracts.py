"""What the pipelines share, in one place: no pipeline imports another.

* :class:`DataParams` — the ``data`` parameters block every family reads (splits, label
  budgets, seeds, domain shifts and pairs).
* :class:`Dataset`, :class:`DomainPair`, :class:`CoupledPair` — the typed containers the
  ``data`` pipeline hands to the others (``base_dataset``, ``domain_pairs``,
  ``coupled_pairs``).
* :func:`select_domain_pair` — the pair that ``data.domains.<kind>.domain_pairs[index]``
  names, as built by the data pipeline.
* :func:`supcon_checkpoint_name` — checkpoint names that one pipeline writes and another reads.
* :class:`TrainingParams` — the one parameter model of "train with these settings";
  :meth:`TrainingParams.to_train_config` turns it into the
  :class:`~transfer_lab.methods.training.TrainConfig` every torch method takes.

This module imports neither Kedro nor torch at import time (the parameter hook imports it
before every command; torch is imported only when a ``TrainConfig`` is built).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from transfer_lab.params import StrictModel
from transfer_lab.sources.shifts import validate_shift

if TYPE_CHECKING:  # torch is heavy: imported where a config is built, not at start-up
    from transfer_lab.methods.training import TrainConfig

CLEAN = "clean"  # the identity shift: the base data as it is


class SplitParams(StrictModel):
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _leave_training_data(self) -> SplitParams:
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must be below 0.9 so that training data remain")
        return self


class PairParams(StrictModel):
    source: str
    target: str


class DomainParams(StrictModel):
    """Named shifts of one kind of data, and the pairs built from them."""

    shifts: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    domain_pairs: list[PairParams] = Field(default_factory=list)
    coupled_pairs: list[PairParams] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pairs_name_known_shifts(self) -> DomainParams:
        if CLEAN in self.shifts:
            raise ValueError(f"'{CLEAN}' is reserved for the unshifted data; choose another shift name")
        known = {CLEAN, *self.shifts}
        for pairs in ("domain_pairs", "coupled_pairs"):
            for i, pair in enumerate(getattr(self, pairs)):
                for side in ("source", "target"):
                    name = getattr(pair, side)
                    if name not in known:
                        raise ValueError(f"{pairs}[{i}].{side} names unknown shift {name!r}; known: {sorted(known)}")
        return self

    def steps(self, name: str) -> list[dict[str, Any]]:
        """The steps of a named shift (``clean`` is no step at all)."""
        return [] if name == CLEAN else list(self.shifts[name])


class DomainsByKind(StrictModel):
    """Images and signals take different shifts; the dataset's kind picks the block."""

    image: DomainParams = DomainParams()
    signal: DomainParams = DomainParams()

    @model_validator(mode="after")
    def _shifts_fit_their_kind(self) -> DomainsByKind:
        for kind in ("image", "signal"):
            for name, steps in getattr(self, kind).shifts.items():
                validate_shift(steps, key=f"data.domains.{kind}.shifts.{name}", kind=kind)
        return self


#: The data sets the project ships (``mnist1d`` is generated, the others are ``raw_sources``).
BUILTIN_DATASETS = ("digits", "mnist1d", "mnist", "fashion_mnist", "kmnist")


def split_words(value: Any) -> Any:
    """``"vat fixmatch"`` (or ``["vat fixmatch"]``) → ``["vat", "fixmatch"]``; anything else as given.

    ``kedro run --params`` splits its argument on commas, so a list of several values cannot
    be written ``[a,b]`` there; spaces or semicolons separate them instead.
    """
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if isinstance(value, str):
        return value.strip().strip("[]").replace(";", " ").split()
    return value


def split_number_words(value: Any) -> Any:
    """:func:`split_words` with numbers: ``"1 10 all"`` → ``[1, 10, "all"]``; ``3`` → ``[3]``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]  # ``data.seeds=3``: one value where a list is expected
    words = split_words(value)
    if words is value:  # not text: a list (or anything else) as given
        return value
    return [int(word) if word.lstrip("-").isdigit() else word for word in words]


def label_budgets(budgets: Any) -> Any:
    """Label budgets as a validator reads them (space-separated words allowed): positive
    integers (labels per class) and/or ``"all"``, each once; a ValueError says what is wrong."""
    budgets = split_number_words(budgets)
    if not isinstance(budgets, list):
        raise ValueError("must be a list of positive integers and/or 'all', e.g. [1, 5, 10, 50, all]")
    for budget in budgets:
        ok = budget == "all" or (isinstance(budget, int) and not isinstance(budget, bool) and budget > 0)
        if not ok:
            raise ValueError(f"each budget must be a positive integer (labels per class) or 'all' (got {budget!r})")
    if len(set(map(str, budgets))) != len(budgets):
        raise ValueError(f"budgets must be unique (got {budgets!r})")
    return budgets


def unique_seeds(seeds: list[int]) -> list[int]:
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be unique non-negative integers")
    return seeds


class DataParams(StrictModel):
    """The data every pipeline shares: the base set, splits, label budgets, domains."""

    # digits | mnist1d | mnist | fashion_mnist | kmnist, or the name of any source declared
    # under raw_sources in the catalog (a user's image folder, table or .npz file)
    dataset: str = Field("digits", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # auto: signal for mnist1d, image for the others; a user's table or 1-D arrays: signal
    input_kind: Literal["auto", "image", "signal"] = "auto"
    split: SplitParams = SplitParams()
    label_budgets: list[int | Literal["all"]] = Field(default_factory=lambda: [1, 5, 10, 50, "all"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    mnist1d: dict[str, Any] = Field(default_factory=dict)
    domains: DomainsByKind = DomainsByKind()
    preview_examples: int = Field(10, ge=1, le=50)

    @field_validator("label_budgets", mode="before")
    @classmethod
    def _budgets(cls, budgets: Any) -> Any:
        return label_budgets(budgets)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_words(cls, seeds: Any) -> Any:
        return split_number_words(seeds)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return unique_seeds(seeds)

    @field_validator("mnist1d")
    @classmethod
    def _mnist1d(cls, args: dict[str, Any]) -> dict[str, Any]:
        from transfer_lab.sources.mnist1d import MNIST1D_DEFAULTS

        unknown = sorted(set(args) - set(MNIST1D_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown MNIST-1D generator argument(s) {unknown}; allowed: {sorted(MNIST1D_DEFAULTS)}")
        return args

    def check_sources(self, sources: Any = None) -> None:
        """``dataset`` must be a built-in data set or one of the catalog's ``sources``."""
        from transfer_lab.params import ParameterError

        allowed = sorted({*BUILTIN_DATASETS, *(sources or ())})
        if self.dataset not in allowed:
            raise ParameterError(
                f"Invalid parameter 'data.dataset': allowed: {', '.join(map(repr, allowed))}, or a source "
                f"declared under raw_sources in the catalog (got {self.dataset!r})"
            )

    @property
    def kind(self) -> str:
        """``input_kind`` when set; else ``signal`` for MNIST-1D, ``image`` for the others."""
        if self.input_kind != "auto":
            return self.input_kind
        return "signal" if self.dataset == "mnist1d" else "image"

    @property
    def domain(self) -> DomainParams:
        """The shifts and pairs declared for this dataset's kind."""
        return getattr(self.domains, self.kind)

    def check_domain_pair(self, index: int, where: str) -> None:
        """Raise ``ValueError(where, message)`` unless ``index`` names a declared domain pair
        (the form other blocks' ``check_against`` report in)."""
        pairs = self.domain.domain_pairs
        if index >= len(pairs):
            raise ValueError(
                where,
                f"{index} is out of range: data.domains.{self.kind}.domain_pairs has {len(pairs)} pair(s)",
            )




# ---------------------------------------------------------------------------------------
# How nodes run, and training settings
# ---------------------------------------------------------------------------------------


class RuntimeParams(StrictModel):
    """Where and how a family's nodes run (never what they compute): each family's
    ``runtime`` sub-block."""

    device: str = "auto"  # auto = CUDA when present, else CPU
    # Threads for torch and BLAS: the small models here run fastest on one (null: library defaults).
    num_threads: int | None = Field(1, ge=1)
    progress: bool = True
    # 2-d conv encoders built in the family's nodes (trained or rebuilt from a checkpoint) keep
    # channels-last (NHWC) layout: the same function to float rounding, 1.3-1.4x cheaper steps
    # on the CPU (methods.runtime.conv_layout). Off by default, as for a library user.
    channels_last: bool = False

    @field_validator("device", mode="before")
    @classmethod
    def _device(cls, device: Any) -> Any:
        """``auto``, ``cpu``, ``cuda``, ``cuda:<index>`` or ``mps``, parsed as text: whether
        that hardware exists is checked where the device is resolved, not here."""
        if not isinstance(device, str):
            raise ValueError("must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'")
        text = device.strip().lower()
        kind, _, index = text.partition(":")
        if text in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and index.isdigit()):
            return text
        raise ValueError("unknown device; use 'auto', 'cpu', 'cuda', 'cuda:<index>' (e.g. cuda:0) or 'mps'")



class TrainingParams(StrictModel):
    """How to train a torch model: the fields of :class:`~transfer_lab.methods.training.TrainConfig`
    that belong in parameters files (``seed`` comes from the budget/seed being run,
    ``progress`` from the runner).

    Every family's parameters use this model for each ``training:`` sub-block, so the
    defaults live here and nowhere else; a block overrides only what it changes.
    """

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "sgd", "adamw"] = "adam"
    momentum: float = Field(0.9, ge=0)
    patience: int | None = Field(10, ge=1)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True
    max_grad_norm: float | None = Field(None, gt=0)
    divergence_factor: float | None = Field(1e3, gt=1)
    min_batches_per_epoch: int = Field(1, ge=1)

    def to_train_config(self, seed: int, progress: bool = False, **overrides: Any) -> TrainConfig:
        """The :class:`TrainConfig` of one run (``overrides`` win over the parameters)."""
        from transfer_lab.methods.training import TrainConfig

        return TrainConfig(**{**self.model_dump(), "seed": int(seed), "progress": progress, **overrides})


class EncoderParams(StrictModel):
    """The encoder every pretraining method trains (and ``transfer``'s scratch and DANN
    rebuild): ``pretraining.encoder``; ``methods.encoders.encoder_settings`` turns it into
    ``build_encoder``'s arguments."""

    kind: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"  # auto: cnn2d images, cnn1d signals
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(128, ge=1)


# ---------------------------------------------------------------------------------------
# Containers handed between pipelines
# ---------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """The base data set: ``X`` (n, C, H, W) images or (n, 1, L) signals in [0, 1], ``y`` (n,).

    Made by the sources (``sources.digits``, ``sources.idx``, ``sources.mnist1d``);
    ``official_test`` marks, for IDX data, the rows of the publisher's test files (our own
    splits re-split everything).
    """

    name: str
    kind: Literal["image", "signal"]
    X: np.ndarray
    y: np.ndarray
    official_test: np.ndarray | None = None
    #: The number of classes the source declares (IDX: the catalog's ``n_classes``);
    #: labels were checked to lie in ``0 .. declared_classes - 1``.
    declared_classes: int | None = None
    #: A table (``X`` of shape ``(n, 1, F)``, one feature per position, ``kind="signal"``): the
    #: modality that the shape alone cannot tell from a 1-D signal (``datasets.own_data``).
    table: bool = False

    @property
    def n_classes(self) -> int:
        """The declared number of classes; the largest label + 1 only for a dataset built
        without a declaration (every source of the project declares one)."""
        return int(self.declared_classes) if self.declared_classes is not None else int(self.y.max()) + 1


@dataclass
class CoupledPair:
    """The same images in two domains, row ``i`` of both being base row ``i``
    (``sources.pairs.make_coupled_pair``); shapes may differ, e.g. after ``downsample``."""

    name: str
    kind: str
    source_X: np.ndarray
    target_X: np.ndarray
    y: np.ndarray
    source_shift: list[dict[str, Any]] = field(default_factory=list)
    target_shift: list[dict[str, Any]] = field(default_factory=list)
    #: The base dataset's declared number of classes (``Dataset.n_classes``).
    declared_classes: int | None = None

    @property
    def n_classes(self) -> int:
        """The declared number of classes; the largest label + 1 only for a pair built
        without a declaration."""
        return int(self.declared_classes) if self.declared_classes is not None else int(self.y.max()) + 1


@dataclass
class DomainPair(CoupledPair):
    """A source/target pair for domain adaptation (``sources.pairs.make_domain_pair``).

    Models train on ``source_X[source_train_index]`` (labelled) and
    ``target_X[target_train_index]`` (unlabelled) and are scored on ``target_X[test_index]``.
    """

    source_train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    target_train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    val_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    test_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def select_domain_pair(
    domain_pairs: Mapping[str, DomainPair], dataset_name: str, data: DataParams, index: int
) -> DomainPair:
    """The pair ``data.domains.<kind>.domain_pairs[index]`` as built by the data pipeline."""
    from transfer_lab.sources.pairs import domain_name

    declared = data.domain.domain_pairs[index]
    name = f"{domain_name(dataset_name, declared.source)}->{domain_name(dataset_name, declared.target)}"
    if name not in domain_pairs:
        raise ValueError(
            f"domain pair {name!r} is missing from domain_pairs (have {sorted(domain_pairs)}); rerun the data pipeline"
        )
    return domain_pairs[name]


# ---------------------------------------------------------------------------------------
# Names one pipeline writes and another reads
# ---------------------------------------------------------------------------------------


#: The pretraining methods: ``pretraining.<method>`` writes the checkpoint folder
#: ``pretraining.<method>.encoders`` that ``transfer.<method>`` reads.
PRETRAINING_METHODS = (
    "simclr", "moco", "supcon", "rotation", "imputation", "supervised_source",
    "dim", "cpc", "jigsaw", "relative_position", "clip",
)
#: The encoders that transfer (and the methods on pretrained features) take. CLIP is left
#: out: its captions carry the label of every training row, so its encoder under a budget
#: of 1 label per class would break the label-budget contract (every labelled row a method
#: sees comes from the budget's subset). It is scored in pretraining instead: zero-shot
#: accuracies and a linear probe with all labels.
TRANSFERRED_ENCODERS = tuple(method for method in PRETRAINING_METHODS if method != "clip")


def supcon_checkpoint_name(labels_per_class: str, seed: int) -> str:
    """Checkpoint name of the supervised-contrastive encoder of one label subset."""
    return f"supcon_lpc{labels_per_class}_seed{seed}"


# ---------------------------------------------------------------------------------------
# What a checkpoint was trained on
# ---------------------------------------------------------------------------------------


def data_fingerprint(dataset: Dataset, split: SplitParams, domains: DomainsByKind | None = None) -> str:
    """A hash of the data a model trained on: the dataset's arrays (dtype, shape, bytes),
    the split settings that choose its training rows and, when given, the declared domain
    shifts (``supervised_source`` trains on a shifted domain made from them)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=12)
    for array in (dataset.X, dataset.y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array)
    digest.update(split.model_dump_json().encode())
    if domains is not None:
        digest.update(domains.model_dump_json().encode())
    return digest.hexdigest()


def data_provenance(dataset: Dataset, data: DataParams) -> dict[str, Any]:
    """What a checkpoint records of its training data (``meta["provenance"]``): the
    dataset's name, the split seed and :func:`data_fingerprint`."""
    return {"dataset": dataset.name, "split_seed": int(data.split.seed), "data_fingerprint": data_fingerprint(dataset, data.split, data.domains)}


def stale_reason(meta: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """Why a checkpoint (its ``meta``) may not be reused on the data of ``expected``
    (:func:`data_provenance`), or ``None`` when it was trained on that very data."""
    recorded = meta.get("provenance")
    if not isinstance(recorded, Mapping):
        return f"it records no training data (dataset {meta.get('dataset')!r}, written before checkpoints recorded their data)"
    if recorded.get("dataset") != expected["dataset"]:
        return f"it was trained on dataset {recorded.get('dataset')!r}, this run uses {expected['dataset']!r}"
    if recorded.get("split_seed") != expected["split_seed"]:
        return f"it was trained with split seed {recorded.get('split_seed')}, this run uses {expected['split_seed']}"
    if recorded.get("data_fingerprint") != expected["data_fingerprint"]:
        return (
            f"it was trained on other data, splits or domain shifts of {expected['dataset']!r} (fingerprint "
            f"{recorded.get('data_fingerprint')}, this run's {expected['data_fingerprint']})"
        )
    return None
