"""Schema of ``parameters_semi_supervised.yml`` (the ``semi_supervised`` key).

Methods are named entries (the name is the ``method`` column of the results table): an
estimator entry picks one of :data:`ESTIMATOR_FAMILIES` with its base learner and
hyper-parameters, a neural entry one of
:data:`~transfer_lab.methods.semi_supervised.neural.NEURAL_METHODS` with its
hyper-parameters and training overrides. Hyper-parameter names are checked against the
estimator's constructor / the training function's signature before any work.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from transfer_lab.params import StrictModel

# Estimator families; each is one node of the pipeline (see pipeline.py).
ESTIMATOR_FAMILIES = (
    "label_propagation",
    "label_spreading",
    "self_training",
    "online_self_training",
    "co_training",
    "tri_training",
)
# Families that wrap a base learner given as ``estimator``.
WRAPPERS = ("self_training", "online_self_training", "co_training", "tri_training")
BASE_LEARNERS = ("logreg", "knn", "tree", "gaussian_nb", "sgd", "mlp", "svc")


def base_learner_class(kind: str) -> type:
    """The scikit-learn class of a base-learner kind."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "logreg": LogisticRegression, "knn": KNeighborsClassifier, "tree": DecisionTreeClassifier,
        "gaussian_nb": GaussianNB, "sgd": SGDClassifier, "mlp": MLPClassifier, "svc": SVC,
    }[kind]


def estimator_class(family: str) -> type:
    """The estimator class of an estimator family."""
    from sklearn.semi_supervised import LabelSpreading

    from transfer_lab.methods import semi_supervised as ssl

    return {
        "label_propagation": ssl.LabelPropagation, "label_spreading": LabelSpreading,
        "self_training": ssl.SelfTrainingClassifier,
        "online_self_training": ssl.OnlineSelfTrainingClassifier,
        "co_training": ssl.CoTrainingClassifier, "tri_training": ssl.TriTrainingClassifier,
    }[family]


def _check_keys(params: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {unknown}; allowed: {sorted(allowed)}")


def _words(value: Any) -> Any:
    """``"vat fixmatch"`` → ``["vat", "fixmatch"]`` (``kedro run --params`` splits on commas)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if isinstance(value, str):
        return value.strip().strip("[]").replace(";", " ").split()
    return value


class BaseLearnerParams(StrictModel):
    """A scikit-learn classifier: its kind and constructor arguments."""

    kind: Literal["logreg", "knn", "tree", "gaussian_nb", "sgd", "mlp", "svc"]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> BaseLearnerParams:
        allowed = set(base_learner_class(self.kind)().get_params(deep=False))
        _check_keys(self.params, allowed, f"{self.kind}")
        return self


class EstimatorParams(StrictModel):
    """One scikit-learn-style semi-supervised estimator (fitted on flattened inputs)."""

    method: Literal[
        "label_propagation", "label_spreading", "self_training", "online_self_training",
        "co_training", "tri_training",
    ]
    base: BaseLearnerParams | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> EstimatorParams:
        if (self.method in WRAPPERS) != (self.base is not None):
            need = "needs" if self.method in WRAPPERS else "takes no"
            raise ValueError(f"{self.method} {need} a base learner (base: {{kind: ..., params: ...}})")
        signature = inspect.signature(estimator_class(self.method).__init__)
        allowed = {name for name in signature.parameters if name not in ("self", "estimator")}
        # image_shape comes from the data (co-training's left/right views); the random
        # state from the subset seed, so that seeds are the data pipeline's.
        allowed -= {"image_shape", "random_state"}
        _check_keys(self.params, allowed, self.method)
        return self


class TrainParams(StrictModel):
    """The shared training loop's settings (``methods.training.TrainConfig``)."""

    epochs: int = Field(40, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    patience: int | None = Field(10, ge=1)


class TrainOverrides(StrictModel):
    """Per-method changes to :class:`TrainParams` (unset fields keep the shared value)."""

    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0.0)
    weight_decay: float | None = Field(None, ge=0.0)
    patience: int | None = Field(None, ge=1)


class EncoderParams(StrictModel):
    """The shared encoder the neural methods train from scratch."""

    kind: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(64, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class NeuralMethodParams(StrictModel):
    """One neural method: its library name, hyper-parameters and training overrides."""

    method: Literal[
        "supervised", "entropy_minimisation", "mutual_information", "pi_model", "vat",
        "fixmatch", "pseudo_label", "distillation",
    ]
    params: dict[str, Any] = Field(default_factory=dict)
    train: TrainOverrides = TrainOverrides()

    @model_validator(mode="after")
    def _known_params(self) -> NeuralMethodParams:
        from transfer_lab.methods.semi_supervised import neural

        function = getattr(neural, f"train_{self.method}")
        allowed = {
            name for name, p in inspect.signature(function).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        # Set by the pipeline: the class count from the data, the teacher's own encoder.
        allowed -= {"n_classes", "build_student_encoder", "teacher_config"}
        _check_keys(self.params, allowed, self.method)
        return self


class NeuralParams(StrictModel):
    encoder: EncoderParams = EncoderParams()
    train: TrainParams = TrainParams()
    methods: dict[str, NeuralMethodParams] = Field(default_factory=dict)


class PretrainedParams(StrictModel):
    """Semi-supervised learning on pretrained encoders (the ``pretrained_encoders`` input).

    Encoders listed but absent from ``data/06_models/encoders`` are skipped with a log line.
    """

    encoders: list[str] = Field(default_factory=list)
    # estimator entries run on the frozen features of each encoder (method <name>_<encoder>)
    estimators: list[str] = Field(default_factory=list)
    # neural entries whose network starts from each pretrained encoder (method <name>_<encoder>)
    neural: list[str] = Field(default_factory=list)

    @field_validator("encoders", "estimators", "neural", mode="before")
    @classmethod
    def _word_lists(cls, value: Any) -> Any:
        return _words(value)


class SemiSupervisedParams(StrictModel):
    """Every semi-supervised method on every label budget and seed of the data pipeline."""

    device: str = "auto"
    num_threads: int | None = Field(1, ge=1)
    progress: bool = True
    # Names of the entries below to run; null runs every entry.
    methods: list[str] | None = None
    estimators: dict[str, EstimatorParams] = Field(default_factory=dict)
    neural: NeuralParams = NeuralParams()
    pretrained: PretrainedParams = PretrainedParams()

    @field_validator("methods", mode="before")
    @classmethod
    def _method_words(cls, value: Any) -> Any:
        return _words(value)

    @model_validator(mode="after")
    def _names(self) -> SemiSupervisedParams:
        both = sorted(set(self.estimators) & set(self.neural.methods))
        if both:
            raise ValueError(f"method names {both} are used by an estimator and a neural method")
        known = {*self.estimators, *self.neural.methods}
        for key, names, pool in (
            ("methods", self.methods or [], known),
            ("pretrained.estimators", self.pretrained.estimators, set(self.estimators)),
            ("pretrained.neural", self.pretrained.neural, set(self.neural.methods)),
        ):
            unknown = sorted(set(names) - pool)
            if unknown:
                raise ValueError(f"{key} names unknown method(s) {unknown}; configured: {sorted(pool)}")
        return self

    def selected(self, name: str) -> bool:
        """Whether the entry ``name`` runs (``methods`` is null or lists it)."""
        return self.methods is None or name in self.methods


SCHEMA = {"semi_supervised": SemiSupervisedParams}
