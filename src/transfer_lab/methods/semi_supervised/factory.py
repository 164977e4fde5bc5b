"""Every semi-supervised method by name, and the estimator that runs it.

One API for all: :func:`make_estimator` returns a scikit-learn classifier whose
``fit(X, y)`` takes flat rows with ``y = -1`` for unlabelled ones and which exposes the
common ``history_`` (:mod:`~transfer_lab.methods.semi_supervised.history`). The classic
methods are the estimators of this package (and scikit-learn's ``LabelSpreading`` as a
reference); the neural ones are :class:`~.neural.NeuralSSLClassifier`.

This module imports neither torch nor the neural package at import time (the parameter
schemas read its names before every ``kedro`` command).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

CLASSIC_METHODS = (
    "label_propagation",
    "label_spreading",
    "self_training",
    "online_self_training",
    "co_training",
    "tri_training",
)
#: Classic methods that wrap a base learner given as ``estimator``.
WRAPPERS = ("self_training", "online_self_training", "co_training", "tri_training")
NEURAL_METHODS = (
    "supervised",
    "entropy_minimisation",
    "mutual_information",
    "pi_model",
    "vat",
    "fixmatch",
    "pseudo_label",
    "distillation",
)
METHODS = CLASSIC_METHODS + NEURAL_METHODS
BASE_LEARNERS = ("logreg", "knn", "tree", "gaussian_nb", "sgd", "mlp", "svc")
IMAGE_VIEWS = ("left_right", "top_bottom")


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


def estimator_class(method: str) -> type:
    """The estimator class of a method."""
    if method in NEURAL_METHODS:
        from transfer_lab.methods.semi_supervised.neural import NeuralSSLClassifier

        return NeuralSSLClassifier
    from sklearn.semi_supervised import LabelSpreading

    from transfer_lab.methods import semi_supervised as ssl

    return {
        "label_propagation": ssl.LabelPropagation, "label_spreading": LabelSpreading,
        "self_training": ssl.SelfTrainingClassifier,
        "online_self_training": ssl.OnlineSelfTrainingClassifier,
        "co_training": ssl.CoTrainingClassifier, "tri_training": ssl.TriTrainingClassifier,
    }[method]


def hyper_parameters(method: str) -> set[str]:
    """The hyper-parameters a parameters file may set for ``method``.

    Excluded: what comes from the data or the run (the base learner, ``image_shape``,
    ``random_state``, a neural method's class count and input shape).
    """
    if method in NEURAL_METHODS:
        from transfer_lab.methods.semi_supervised.neural import hyper_parameters as neural

        return neural(method) - {"n_classes", "build_student_encoder"}
    signature = inspect.signature(estimator_class(method).__init__)
    return set(signature.parameters) - {"self", "estimator", "image_shape", "random_state"}


def _accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


def make_estimator(
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    base: tuple[str, Mapping[str, Any]] | None = None,
    input_shape: Sequence[int] | None = None,
    encoder: Any = None,
    config: Any = None,
    device: str = "cpu",
    n_classes: int | None = None,
) -> Any:
    """The estimator of ``method`` with hyper-parameters ``params``, for flat rows.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    params : mapping, optional
        Hyper-parameters (see :func:`hyper_parameters`).
    seed : int
        ``random_state`` of the estimator and of its base learner where they take one.
    base : (kind, params), optional
        The base learner of a wrapper (:data:`WRAPPERS`), a kind of :data:`BASE_LEARNERS`.
    input_shape : sequence of int, optional
        Shape of one row before flattening (raw images or signals); ``None`` for feature
        vectors. Co-training's image views need it (on features they become the two halves).
    encoder, config, device
        A neural method's network (see :class:`~.neural.NeuralSSLClassifier`), its
        :class:`~transfer_lab.methods.training.TrainConfig` and device.
    n_classes : int, optional
        The data's declared number of classes: a neural method's head is that wide (the
        classic methods predict the labels they were given).
    """
    params = dict(params or {})
    cls = estimator_class(method)
    if method in NEURAL_METHODS:
        shape = None if input_shape is None else tuple(input_shape)
        return cls(method, encoder, config, input_shape=shape, device=device, n_classes=n_classes, **params)
    if _accepts(cls, "random_state"):
        params["random_state"] = seed
    if _accepts(cls, "image_shape"):
        if input_shape is not None:
            params["image_shape"] = tuple(input_shape)
        elif params.get("views") in IMAGE_VIEWS:
            params["views"] = None  # features have no image layout: their two halves
    if base is None:
        return cls(**params)
    kind, base_params = base
    base_cls = base_learner_class(kind)
    base_params = dict(base_params)
    if "random_state" in base_cls().get_params():
        base_params.setdefault("random_state", seed)
    return cls(base_cls(**base_params), **params)


def fits_on_features(method: str) -> bool:
    """On a pretrained encoder, whether ``method`` fits on its frozen features (the classic
    methods) rather than fine-tuning the encoder itself (the neural ones)."""
    return method not in NEURAL_METHODS


def is_neural(method: str) -> bool:
    """Whether ``method`` trains a network (:class:`~.neural.NeuralSSLClassifier`)."""
    return method in NEURAL_METHODS


def adds_pseudo_labels(method: str) -> bool:
    """Whether ``method`` gives rows pseudo-labels that enter training round by round
    (the wrappers), as its ``history_`` then records."""
    return method in WRAPPERS


def pretrained_inputs(method: str, checkpoint: Mapping[str, Any], X: Any, device: Any) -> tuple[Any, Any, Any]:
    """``(rows, input_shape, encoder)`` for :func:`make_estimator` on a pretrained encoder:
    a classic method fits on its frozen features (no input shape), a neural one on the
    raw rows, starting from the encoder (a builder that loads the checkpoint)."""
    import functools

    from transfer_lab.methods.encoders import encoder_from_checkpoint

    if fits_on_features(method):
        from transfer_lab.methods.training import extract_features

        return extract_features(encoder_from_checkpoint(checkpoint, device), X, device), None, None
    return X, tuple(X.shape[1:]), functools.partial(encoder_from_checkpoint, checkpoint)
