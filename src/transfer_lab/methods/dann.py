r"""Domain-adversarial neural networks (DANN, Ganin et al. 2016) and their two references.

A feature extractor ``f`` feeds a label classifier and, through a *gradient-reversal layer*,
a domain classifier that tells source from target features. The reversal makes ``f`` climb
the domain classifier's loss while the classifier descends it, so the features become
domain-invariant while staying discriminative for the labelled source:

.. math::

    \min_{f, h} \max_{d}\; \mathcal{L}_y(h(f(x_s)), y_s)
        - \lambda_p \, \mathcal{L}_d(d(f(x)), \text{domain}(x)).

Schedules of the paper, with training progress :math:`p \in [0, 1]`:
:math:`\lambda_p = 2 / (1 + e^{-\gamma p}) - 1` (:func:`dann_lambda`, :math:`\gamma = 10`)
and :math:`\mu_p = \mu_0 / (1 + \alpha p)^{\beta}` (:func:`dann_lr`, :math:`\alpha = 10`,
:math:`\beta = 0.75`).

The functions work on a domain pair (a :class:`transfer_lab.contracts.DomainPair`, or any
object with its attributes): they train on ``pair.source_X[pair.source_train_index]`` with
labels and on ``pair.target_X[pair.target_train_index]`` without, and report accuracy on
``pair.target_X[pair.test_index]``.

* :func:`train_dann`: the adaptation;
* :func:`train_source_only`: the same network without the domain classifier (the floor);
* :func:`train_target_supervised`: trained on the labelled target half (the ceiling).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.encoders import Classifier, build_encoder
from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.training import (
    ArrayLoader,
    TrainConfig,
    TrainHistory,
    accuracy,
    fit,
    fit_classifier,
    make_optimizer,
)

if TYPE_CHECKING:  # methods stand alone: the container is only named in annotations
    from transfer_lab.contracts import DomainPair

__all__ = [
    "GradientReversal",
    "grad_reverse",
    "GradientReversalLayer",
    "dann_lambda",
    "dann_lr",
    "DomainClassifier",
    "DANN",
    "DomainAdaptationResult",
    "ADAPTATION_METHODS",
    "train_dann",
    "train_source_only",
    "train_target_supervised",
]

PAIR_ATTRIBUTES = (
    "source_X", "target_X", "y", "source_train_index", "target_train_index", "val_index",
    "test_index",
)


# --------------------------------------------------------------------------------------------
# Gradient reversal and schedules
# --------------------------------------------------------------------------------------------


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by ``-lambda_`` backward (Ganin 2016)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lambda_: float) -> torch.Tensor:  # noqa: D102
        ctx.lambda_ = float(lambda_)
        # view_as: a new tensor node, so autograd calls our backward for it.
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return -ctx.lambda_ * grad_output, None


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Apply :class:`GradientReversal` with strength ``lambda_``."""
    return GradientReversal.apply(x, lambda_)


class GradientReversalLayer(nn.Module):
    """Module form of :func:`grad_reverse`; set ``lambda_`` between steps."""

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = float(lambda_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:  # noqa: D102
        return f"lambda_={self.lambda_}"


def _check_progress(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"training progress p must be in [0, 1], got {p}")
    return float(p)


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    r"""Adaptation factor :math:`\lambda_p = 2 / (1 + \exp(-\gamma p)) - 1` (Ganin et al. 2016).

    Rises from 0 at the start, when the domain classifier's signal is noise, to about 1.
    """
    return 2.0 / (1.0 + math.exp(-gamma * _check_progress(p))) - 1.0


def dann_lr(p: float, lr0: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    r"""Annealed learning rate :math:`\mu_p = \mu_0 / (1 + \alpha p)^\beta` (Ganin et al. 2016)."""
    return lr0 / (1.0 + alpha * _check_progress(p)) ** beta


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


class DomainClassifier(nn.Module):
    """MLP that outputs one logit: target (1) versus source (0).

    Parameters
    ----------
    in_features : int
    hidden : int, default 128
    depth : int, default 2
        Hidden layers (the paper uses 2 hidden layers of 1024 for large images).
    """

    def __init__(self, in_features: int, hidden: int = 128, depth: int = 2) -> None:
        super().__init__()
        if min(in_features, hidden, depth) < 1:
            raise ValueError("DomainClassifier sizes must be >= 1")
        layers: list[nn.Module] = []
        size = in_features
        for _ in range(depth):
            layers += [nn.Linear(size, hidden), nn.ReLU(inplace=True)]
            size = hidden
        layers.append(nn.Linear(size, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Domain logits ``(n,)``."""
        return self.net(h).squeeze(1)


class DANN(nn.Module):
    """Feature extractor + label head + (gradient reversal -> domain classifier).

    ``forward`` returns class logits, so :func:`~transfer_lab.methods.training.accuracy` and
    friends work on it; :meth:`domain_logits` is the adversarial branch.
    """

    def __init__(self, encoder: nn.Module, n_classes: int, domain_hidden: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_features, n_classes)
        self.grl = GradientReversalLayer(0.0)
        self.domain = DomainClassifier(encoder.out_features, domain_hidden)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.head(self.encoder(x))

    def domain_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Domain logits of features ``h`` through the gradient reversal."""
        return self.domain(self.grl(h))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@dataclass
class DomainAdaptationResult:
    """What one source -> target run measured.

    Attributes
    ----------
    method : str
        ``"dann"``, ``"source_only"`` or ``"target_supervised"``.
    target_test_accuracy : float
        The headline number: accuracy on ``target_X[test_index]``.
    target_val_accuracy : float
    source_test_accuracy : float
    source_val_accuracy : float
    seconds : float
    history : TrainHistory
    schedule : list of dict
        DANN only: per step ``p``, ``lambda`` and ``lr`` as used.
    model : nn.Module
        The trained classifier (logits out).
    """

    method: str
    target_test_accuracy: float
    target_val_accuracy: float
    source_test_accuracy: float
    source_val_accuracy: float
    seconds: float
    history: TrainHistory
    schedule: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False)


def _check_pair(pair: DomainPair) -> None:
    missing = [k for k in PAIR_ATTRIBUTES if not hasattr(pair, k)]
    if missing:
        raise ValueError(f"domain pair is missing attribute(s) {missing}; expected a contracts.DomainPair")
    if len(pair.source_train_index) == 0 or len(pair.target_train_index) == 0:
        raise ValueError("domain pair has an empty source or target train half")
    if len(pair.test_index) == 0:
        raise ValueError("domain pair has no test rows")


def _n_classes(pair: DomainPair) -> int:
    """The pair's declared number of classes (``DomainPair.n_classes``)."""
    return pair.n_classes


def _build_encoder(pair, encoder, encoder_kwargs) -> nn.Module:
    if encoder is not None:
        if encoder_kwargs:
            raise ValueError("pass encoder or encoder_kwargs, not both")
        return encoder
    return build_encoder("auto", tuple(pair.source_X.shape[1:]), **dict(encoder_kwargs or {}))


def _result(method, model, pair, history, start, device, schedule=()) -> DomainAdaptationResult:
    y = pair.y
    src, tgt = pair.source_X, pair.target_X
    val, test = pair.val_index, pair.test_index

    def acc(X: np.ndarray, idx: np.ndarray) -> float:
        return accuracy(model, X[idx], y[idx], device) if len(idx) else float("nan")

    return DomainAdaptationResult(
        method=method,
        target_test_accuracy=acc(tgt, test),
        target_val_accuracy=acc(tgt, val),
        source_test_accuracy=acc(src, test),
        source_val_accuracy=acc(src, val),
        seconds=time.perf_counter() - start,
        history=history,
        schedule=list(schedule),
        model=model,
    )


def train_dann(
    pair: DomainPair,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    config: TrainConfig,
    gamma: float = 10.0,
    alpha: float = 10.0,
    beta: float = 0.75,
    domain_hidden: int = 128,
    domain_weight: float = 1.0,
    device: Any = "cpu",
) -> DomainAdaptationResult:
    r"""Adapt from the labelled source to the unlabelled target with DANN.

    Each step takes a source batch (with labels) and a target batch of the same size (labels
    never read), and minimises
    :math:`\mathrm{CE}(h(f(x_s)), y_s)
    + w \, \mathrm{BCE}(d(R_{\lambda_p}(f([x_s; x_t]))), [0; 1])`
    where :math:`R_\lambda` is the gradient reversal; :math:`\lambda_p` and the learning rate
    follow :func:`dann_lambda` and :func:`dann_lr` with :math:`p` = step / total steps.

    Parameters
    ----------
    pair : DomainPair
        A :class:`~transfer_lab.contracts.DomainPair` (attributes ``source_X``, ``target_X``,
        ``y``, ``source_train_index``, ``target_train_index``, ``val_index``, ``test_index``).
    encoder : nn.Module, optional
        Feature extractor; by default ``build_encoder("auto", ...)`` with ``encoder_kwargs``.
    encoder_kwargs : dict, optional
    config : TrainConfig
        Keyword-only, required; ``config.lr`` is :math:`\mu_0`. The paper's setting is SGD
        with momentum 0.9 at :math:`\mu_0 = 0.01` and no early stopping (unsupervised
        adaptation has no target labels to select with): set ``patience=None``, since
        nothing is validated here anyway and all epochs run.
    gamma : float, default 10
    alpha, beta : float, default 10, 0.75
    domain_hidden : int, default 128
    domain_weight : float, default 1.0
        ``w``, the weight of the domain loss.
    device : str or torch.device, default "cpu"

    Returns
    -------
    DomainAdaptationResult
        ``schedule`` lists ``{"p", "lambda", "lr"}`` for every step.
    """
    _check_pair(pair)
    start = time.perf_counter()
    device = resolve_device(device)
    encoder = _build_encoder(pair, encoder, encoder_kwargs)
    model = DANN(encoder, _n_classes(pair), domain_hidden).to(device)
    src_idx, tgt_idx = pair.source_train_index, pair.target_train_index
    source = ArrayLoader(
        pair.source_X[src_idx], pair.y[src_idx], batch_size=config.batch_size,
        seed=config.seed, device=device,
    )
    target = ArrayLoader(
        pair.target_X[tgt_idx], batch_size=config.batch_size, seed=config.seed + 1,
        device=device,
    )
    # The target half is cycled independently of the source epochs.
    target_batches = itertools.chain.from_iterable(itertools.repeat(target))
    total_steps = config.epochs * len(source)
    optimizer = make_optimizer(model.parameters(), config)
    schedule: list[dict[str, float]] = []

    def step(m: DANN, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if not m.training:
            raise RuntimeError("train_dann's step is for training only")
        x_s, y_s = batch
        (x_t,) = next(target_batches)
        p = min(len(schedule) / max(total_steps - 1, 1), 1.0)
        lam, lr = dann_lambda(p, gamma), dann_lr(p, config.lr, alpha, beta)
        m.grl.lambda_ = lam
        for group in optimizer.param_groups:
            group["lr"] = lr  # fit steps the optimizer right after this call
        schedule.append({"p": p, "lambda": lam, "lr": lr})
        # One forward for both domains, so BatchNorm normalises them with shared statistics.
        h = m.features(torch.cat([x_s, x_t]))
        h_s = h[: len(x_s)]
        domains = torch.cat([torch.zeros(len(x_s)), torch.ones(len(x_t))]).to(h.device)
        class_loss = F.cross_entropy(m.head(h_s), y_s)
        domain_loss = F.binary_cross_entropy_with_logits(m.domain_logits(h), domains)
        return class_loss + domain_weight * domain_loss

    history = fit(model, source, config=config, device=device, step_fn=step,
                  optimizer=optimizer, desc="dann")
    return _result("dann", model, pair, history, start, device, schedule)


def _supervised(
    method: str,
    pair: DomainPair,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    encoder: nn.Module | None,
    encoder_kwargs: Mapping[str, Any] | None,
    config: TrainConfig,
    device: Any,
) -> DomainAdaptationResult:
    _check_pair(pair)
    start = time.perf_counter()
    device = resolve_device(device)
    model = Classifier(_build_encoder(pair, encoder, encoder_kwargs), _n_classes(pair))
    has_val = len(X_val) > 0
    history = fit_classifier(
        model, X_train, y_train, X_val if has_val else None, y_val if has_val else None,
        config=config, device=device, desc=method,
    )
    return _result(method, model, pair, history, start, device)


def train_source_only(
    pair: DomainPair,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    config: TrainConfig,
    device: Any = "cpu",
) -> DomainAdaptationResult:
    """Train on the labelled source half only and test on the target: the no-adaptation floor.

    Early stopping uses the *source* validation rows (target labels stay unseen).

    Parameters
    ----------
    pair : DomainPair
        As in :func:`train_dann`.
    encoder, encoder_kwargs, device
        As in :func:`train_dann`.
    config : TrainConfig
        Keyword-only, required; ``config.patience`` stops early on the validation accuracy
        (the pipeline's references: Adam at 1e-3, 60 epochs, patience 15).

    Returns
    -------
    DomainAdaptationResult
    """
    _check_pair(pair)
    y, src, val = pair.y, pair.source_train_index, pair.val_index
    return _supervised(
        "source_only", pair, pair.source_X[src], y[src], pair.source_X[val], y[val],
        encoder, encoder_kwargs, config, device,
    )


def train_target_supervised(
    pair: DomainPair,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    config: TrainConfig,
    device: Any = "cpu",
) -> DomainAdaptationResult:
    """Train on the target half *with* its labels: the ceiling adaptation aims at.

    Early stopping uses the target validation rows. Parameters and result as in
    :func:`train_source_only`.
    """
    _check_pair(pair)
    y, tgt, val = pair.y, pair.target_train_index, pair.val_index
    return _supervised(
        "target_supervised", pair, pair.target_X[tgt], y[tgt], pair.target_X[val], y[val],
        encoder, encoder_kwargs, config, device,
    )


#: The domain-adaptation methods by the name of their result rows.
ADAPTATION_METHODS = {
    "dann": train_dann,
    "source_only": train_source_only,
    "target_supervised": train_target_supervised,
}
