"""One scikit-learn estimator for every neural semi-supervised method."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.semi_supervised._base import (
    check_fit_input,
    check_predict_input,
    check_y_true_unlabeled,
)
from transfer_lab.methods.semi_supervised.neural.engine import EncoderBuilder
from transfer_lab.methods.semi_supervised.neural.registry import METHODS, train_semi_supervised
from transfer_lab.methods.training import TrainConfig, predict_proba


class NeuralSSLClassifier(ClassifierMixin, BaseEstimator):
    """A neural semi-supervised method as a scikit-learn classifier (``y = -1``: unlabelled).

    The network is ``encoder`` with a linear head, trained by the method's step on the
    shared engine (:mod:`~transfer_lab.methods.semi_supervised.neural.engine`): labelled
    rows through cross-entropy, unlabelled rows through the method's unsupervised term.

    Parameters
    ----------
    method : str, default "supervised"
        One of :data:`~transfer_lab.methods.semi_supervised.factory.NEURAL_METHODS`.
    encoder : None, mapping, callable or nn.Module, default None
        ``None``: ``build_encoder("auto", input_shape)``; a mapping: the keyword arguments of
        :func:`~transfer_lab.methods.encoders.build_encoder` (``kind`` and its sizes) for
        the input shape; a zero-argument callable returning an encoder (e.g. one that loads
        a pretrained checkpoint); an ``nn.Module``, copied at each fit.
    config : TrainConfig or None, default None
        The training settings; ``None`` is ``TrainConfig()``.
    input_shape : tuple of int or None, default None
        Shape of one row, e.g. ``(1, 8, 8)``: flat rows of ``X`` are reshaped to it, so that
        the estimator fits in a scikit-learn ``Pipeline`` of 2-d arrays. ``None`` keeps the
        shape of ``X``'s rows.
    device : str, default "cpu"
        ``"auto"`` picks CUDA when present.
    n_classes : int or None, default None
        The number of classes the data declare (``Dataset.n_classes``): the network has that
        many outputs and ``classes_`` is ``0 .. n_classes - 1``. ``None``: the labels seen
        in ``y``.
    **hyper
        The method's hyper-parameters (the keyword arguments of its ``train_<method>``);
        stored as attributes and returned by ``get_params``.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained classifier (encoder + head), on ``device``.
    classes_ : numpy.ndarray
        The labels seen in ``y`` (without ``-1``); the network's outputs follow this order.
    history_ : list of dict
        One row per epoch in the schema of :mod:`~transfer_lab.methods.semi_supervised.history`
        (``n_added``: unlabelled rows predicted with at least the method's confidence
        threshold at the epoch's end), plus the epoch's ``loss``, loss terms, ``weight``,
        ``val_accuracy``, ``mask_rate`` and ``unlabeled_accuracy`` where known.
    train_history_ : SemiSupervisedHistory
        The engine's full record (the teacher's history for distillation in ``info``).
    best_epoch_ : int
        Epoch (from 0) whose weights the model holds.
    teacher_accuracy_ : float or None
        Distillation: accuracy of the teacher's labels on the unlabelled rows (when
        ``y_true_unlabeled`` was given); None otherwise.
    n_features_in_ : int
    input_shape_ : tuple of int

    Examples
    --------
    >>> model = NeuralSSLClassifier("vat", {"kind": "cnn2d", "width": 16}, input_shape=(1, 8, 8), eps=1.0)
    """

    history_counts = "confident"  # the history's n_added: monitored, not training targets

    def __init__(
        self,
        method: str = "supervised",
        encoder: Mapping[str, Any] | EncoderBuilder | nn.Module | None = None,
        config: TrainConfig | None = None,
        *,
        input_shape: tuple[int, ...] | None = None,
        device: str = "cpu",
        n_classes: int | None = None,
        **hyper: Any,
    ) -> None:
        self.method = method
        self.encoder = encoder
        self.config = config
        self.input_shape = input_shape
        self.device = device
        self.n_classes = n_classes
        for key, value in hyper.items():
            setattr(self, key, value)
        self._hyper = tuple(hyper)

    # scikit-learn reads the parameters from __init__'s signature; **hyper adds its keys.
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update({key: getattr(self, key) for key in self._hyper})
        return params

    def set_params(self, **params: Any) -> NeuralSSLClassifier:
        known = set(super().get_params(deep=False))
        for key, value in params.items():
            setattr(self, key, value)
            if key not in known and key not in self._hyper:
                self._hyper = (*self._hyper, key)
        return self

    def _builder(self, shape: tuple[int, ...]) -> EncoderBuilder:
        if self.encoder is None or isinstance(self.encoder, Mapping):
            spec = dict(self.encoder or {})
            return functools.partial(build_encoder, spec.pop("kind", "auto"), shape, **spec)
        if isinstance(self.encoder, nn.Module):
            return functools.partial(copy.deepcopy, self.encoder)
        if callable(self.encoder):
            return self.encoder
        raise ValueError(f"encoder must be None, a mapping, a callable or an nn.Module, got {type(self.encoder).__name__}")

    def _classes(self, labels: np.ndarray) -> np.ndarray:
        """``0 .. n_classes - 1`` when the data declare their classes (a head that wide,
        whichever labels the labelled rows happen to hold), else the labels seen."""
        if self.n_classes is None:
            return np.unique(labels)
        stray = labels[(labels < 0) | (labels >= self.n_classes)]
        if len(stray):
            raise ValueError(f"label {stray[0]} is outside the declared classes 0..{self.n_classes - 1}")
        return np.arange(int(self.n_classes))

    def _rows(self, X: np.ndarray) -> np.ndarray:
        return X.reshape(len(X), *self.input_shape_)

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Class labels → output indices (-1 for a label not in ``classes_``)."""
        index = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        return np.where(self.classes_[index] == y, index, -1)

    def fit(self, X, y, *, X_val=None, y_val=None, y_true_unlabeled=None) -> NeuralSSLClassifier:
        """Train on the labelled (``y >= 0``) and unlabelled (``y == -1``) rows of ``X``.

        Parameters
        ----------
        X : array of shape (n, ...)
            Rows, flat (with ``input_shape``) or shaped.
        y : array of shape (n,)
            Class labels, ``-1`` for unlabelled rows.
        X_val, y_val : arrays, optional
            Validation rows: early stopping and the restored best epoch.
        y_true_unlabeled : array, optional
            True labels of all rows or of the unlabelled ones, for the ``precision`` of
            ``history_`` only: they never reach a loss, a target or model selection.
        """
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; allowed: {', '.join(METHODS)}")
        X = np.asarray(X)
        shape = tuple(self.input_shape) if self.input_shape is not None else tuple(X.shape[1:])
        flat, y, labeled = check_fit_input(self, X.reshape(len(X), -1), y)
        if int(np.prod(shape)) != flat.shape[1]:
            raise ValueError(f"rows of {flat.shape[1]} values do not fit input_shape {shape}")
        self.input_shape_ = shape
        self.classes_ = self._classes(y[labeled])
        rows, codes = self._rows(flat), self._encode(y)
        data = {"X_labeled": rows[labeled], "y_labeled": codes[labeled], "X_unlabeled": rows[~labeled]}
        if X_val is not None:
            data.update(X_val=self._rows(check_predict_input(self, np.asarray(X_val).reshape(len(X_val), -1))),
                        y_val=self._encode(np.asarray(y_val)))
        y_true = check_y_true_unlabeled(y_true_unlabeled, y, labeled)
        if y_true is not None:
            data["y_unlabeled"] = self._encode(y_true[~labeled])
        hyper = {key: getattr(self, key) for key in self._hyper}
        config = self.config if self.config is not None else TrainConfig()
        self.model_, self.train_history_ = train_semi_supervised(
            self.method, data, self._builder(shape), config, resolve_device(self.device),
            n_classes=len(self.classes_), **hyper,
        )
        self.best_epoch_ = int(self.train_history_.train.best_epoch)
        self.teacher_accuracy_ = self.train_history_.info.get("teacher_precision")
        self.history_ = [_history_row(r, y_true is not None) for r in self.train_history_.epochs]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Softmax class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self, "model_")
        X = check_predict_input(self, np.asarray(X).reshape(len(X), -1))
        return predict_proba(self.model_, self._rows(X)).astype(np.float64)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels."""
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[proba.argmax(axis=1)]


def _history_row(record: Mapping[str, Any], with_precision: bool) -> dict[str, Any]:
    row = {"round": int(record["epoch"]) + 1, "n_added": int(record.get("n_pseudo", 0))}
    if with_precision:
        row["precision"] = record.get("pseudo_precision", float("nan"))
    row.update({k: v for k, v in record.items() if k not in ("epoch", "n_pseudo", "pseudo_precision")})
    return row
