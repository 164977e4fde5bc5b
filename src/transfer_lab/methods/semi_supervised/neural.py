"""Neural semi-supervised methods on the shared encoders and the shared training loop.

Every method is one function with the same shape::

    model, history = train_<method>(data, build_encoder, config, device, **hyper_parameters)

* ``data``: a :class:`~transfer_lab.sources.splits.BudgetView` or anything with the
  attributes (or mapping keys) ``X_labeled, y_labeled, X_unlabeled`` and optionally
  ``X_val, y_val`` (early stopping on validation accuracy) and ``y_unlabeled``.
  ``y_unlabeled`` is read **only** by the end-of-epoch monitor that reports how many
  pseudo-labels are confident and how precise they are; it never reaches a loss, a target
  or model selection (a test shuffles it and checks that the trained weights do not move).
* ``build_encoder``: a zero-argument callable returning an encoder with ``out_features``
  (e.g. ``functools.partial(build_encoder, "cnn2d", (1, 8, 8), width=16)``); a linear head
  is put on top (:class:`~transfer_lab.methods.encoders.Classifier`). It is called under
  ``torch.manual_seed(config.seed)``, so a run is repeatable without touching the caller's
  random stream.
* ``config``: a :class:`~transfer_lab.methods.training.TrainConfig`; ``batch_size`` is the
  labeled batch size ``B``; each step also draws ``unlabeled_ratio * B`` unlabeled rows (the
  ``μ`` of FixMatch). An epoch is one pass over the unlabeled rows, so every method (the
  supervised baseline included) takes the same number of optimiser steps per epoch.
* Training runs through :func:`~transfer_lab.methods.training.fit` with a ``step_fn``.
* ``history``: a :class:`SemiSupervisedHistory` whose ``epochs`` holds one dict per epoch
  (``loss``, the loss terms, the unsupervised weight, ``val_accuracy``, ``mask_rate``, and
  from the monitor ``n_pseudo``, ``pseudo_precision``, ``unlabeled_accuracy``).

Labels must be ``0 .. n_classes - 1`` (the project's datasets are).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from transfer_lab.methods.encoders import Classifier
from transfer_lab.methods.runtime import resolve_device, torch_generator
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from transfer_lab.methods.semi_supervised.losses import (
    consistency_loss,
    distillation_loss,
    entropy_loss,
    fixmatch_loss,
    mutual_information_loss,
    pseudo_label_targets,
    sigmoid_rampup,
    soft_cross_entropy,
    vat_loss,
)
from transfer_lab.methods.semi_supervised.transforms import strong_augment, weak_augment
from transfer_lab.methods.training import TrainConfig, TrainHistory, accuracy, fit, predict_proba

__all__ = [
    "NEURAL_METHODS",
    "SemiSupervisedHistory",
    "SemiSupervisedLoader",
    "train_supervised",
    "train_entropy_minimisation",
    "train_mutual_information",
    "train_pi_model",
    "train_vat",
    "train_fixmatch",
    "train_pseudo_label",
    "train_distillation",
    "train_semi_supervised",
]

EncoderBuilder = Callable[[], nn.Module]
DeviceLike = str | torch.device


@dataclass
class SemiSupervisedHistory:
    """What a neural semi-supervised run observed.

    Attributes
    ----------
    method : str
    epochs : list of dict
        One dict per epoch: ``epoch``, ``loss`` (mean training loss), the mean loss terms
        (``supervised_loss``, ``unsupervised_loss``), ``weight`` (the unsupervised weight at
        the epoch's end), ``mask_rate`` (fraction of unlabeled rows in the batches that got
        a pseudo-label, where there is a threshold), ``val_accuracy`` (with validation data)
        and the monitor's ``n_pseudo`` (unlabeled rows whose predicted class probability is
        at least ``monitor_threshold`` at the epoch's end), ``pseudo_precision`` (fraction
        of those predictions that are right) and ``unlabeled_accuracy`` (the last two only
        when ``y_unlabeled`` was available).
    train : TrainHistory
        The history of :func:`~transfer_lab.methods.training.fit` (best epoch, early stop).
    info : dict
        Method-specific extras, e.g. the teacher's history for distillation.
    """

    method: str
    epochs: list[dict[str, Any]] = field(default_factory=list)
    train: TrainHistory = field(default_factory=TrainHistory)
    info: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> list[Any]:
        """One value per epoch for ``key`` (None where an epoch lacks it)."""
        return [record.get(key) for record in self.epochs]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class _Arrays:
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_unlabeled: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    y_unlabeled: np.ndarray | None


def _get(data: Any, name: str) -> Any:
    if isinstance(data, Mapping):
        return data.get(name)
    return getattr(data, name, None)


def _arrays(data: Any, need_unlabeled: bool = True) -> _Arrays:
    """Read the arrays from a BudgetView-like object or mapping and check them."""
    values = {name: _get(data, name) for name in _Arrays.__dataclass_fields__}
    for name in ("X_labeled", "y_labeled", "X_unlabeled"):
        if values[name] is None:
            raise ValueError(f"data has no {name}; pass a BudgetView or an object with it")
    arrays = _Arrays(**{k: (None if v is None else np.asarray(v)) for k, v in values.items()})
    if len(arrays.X_labeled) != len(arrays.y_labeled):
        raise ValueError(
            f"X_labeled has {len(arrays.X_labeled)} rows but y_labeled has {len(arrays.y_labeled)}"
        )
    if len(arrays.X_labeled) == 0:
        raise ValueError("X_labeled is empty; semi-supervised training needs labeled rows")
    if need_unlabeled and len(arrays.X_unlabeled) == 0:
        raise ValueError("X_unlabeled is empty; this method needs unlabeled rows")
    if len(arrays.X_unlabeled) and arrays.X_unlabeled.shape[1:] != arrays.X_labeled.shape[1:]:
        raise ValueError(
            f"X_unlabeled rows have shape {arrays.X_unlabeled.shape[1:]} but X_labeled rows "
            f"have {arrays.X_labeled.shape[1:]}"
        )
    if (arrays.X_val is None) != (arrays.y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    if arrays.X_val is not None and len(arrays.X_val) == 0:
        arrays.X_val = arrays.y_val = None  # an empty validation split means "none"
    if arrays.y_unlabeled is not None and len(arrays.y_unlabeled) != len(arrays.X_unlabeled):
        arrays.y_unlabeled = None  # unusable for monitoring; it is never needed otherwise
    if arrays.y_labeled.min() < 0:
        raise ValueError("y_labeled must hold class indices >= 0")
    return arrays


class SemiSupervisedLoader:
    """Batches ``(x_l, y_l, x_u, idx_u, *extras[idx_u])`` with tensors kept on the device.

    An epoch is one shuffled pass over the unlabeled rows in batches of
    ``unlabeled_ratio * batch_size``; each is paired with a labeled batch of
    ``min(batch_size, n_labeled)`` rows drawn from a stream that is reshuffled whenever it
    runs out. A trailing unlabeled batch of one row is merged into the previous one
    (BatchNorm). With no unlabeled rows an epoch is one pass over the labeled rows and
    ``x_u`` is empty. ``min_batches`` repeats the unlabeled pass (fresh permutations) until
    an epoch has at least that many batches.

    Parameters
    ----------
    X_labeled, y_labeled, X_unlabeled : arrays
    batch_size : int
    unlabeled_ratio : int, default 1
    seed : int, default 0
        Seeds the loader's own generator (batch order), independent of torch's global one.
    device : str or torch.device, default "cpu"
    extras : tuple of arrays, optional
        Per-unlabeled-row arrays sliced like ``x_u`` (e.g. a teacher's logits).
    min_batches : int, default 1
    """

    def __init__(
        self,
        X_labeled: np.ndarray,
        y_labeled: np.ndarray,
        X_unlabeled: np.ndarray,
        *,
        batch_size: int,
        unlabeled_ratio: int = 1,
        seed: int = 0,
        device: DeviceLike = "cpu",
        extras: tuple[np.ndarray | torch.Tensor, ...] = (),
        min_batches: int = 1,
    ) -> None:
        if batch_size < 1 or unlabeled_ratio < 1 or min_batches < 1:
            raise ValueError("batch_size, unlabeled_ratio and min_batches must be >= 1")
        self.device = torch.device(device)
        self.x_l = _tensor(X_labeled, self.device)
        self.y_l = _tensor(y_labeled, self.device).long()
        self.x_u = _tensor(X_unlabeled, self.device)
        self.extras = tuple(_tensor(e, self.device) for e in extras)
        self.n_l, self.n_u = len(self.x_l), len(self.x_u)
        self.batch_l = min(batch_size, self.n_l)
        self.batch_u = max(1, min(batch_size * unlabeled_ratio, self.n_u))
        self.min_batches = min_batches
        self._generator = torch_generator(seed)
        self._labeled_order = torch.empty(0, dtype=torch.long)
        self._labeled_pos = 0

    def _bounds(self, n: int, size: int) -> list[tuple[int, int]]:
        bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], n)]
        return bounds

    def _passes(self) -> int:
        n, size = (self.n_u, self.batch_u) if self.n_u else (self.n_l, self.batch_l)
        return math.ceil(self.min_batches / len(self._bounds(n, size)))

    def __len__(self) -> int:
        n, size = (self.n_u, self.batch_u) if self.n_u else (self.n_l, self.batch_l)
        return len(self._bounds(n, size)) * self._passes()

    def _labeled_batch(self) -> torch.Tensor:
        if self._labeled_pos + self.batch_l > len(self._labeled_order):
            self._labeled_order = torch.randperm(self.n_l, generator=self._generator)
            self._labeled_pos = 0
        idx = self._labeled_order[self._labeled_pos : self._labeled_pos + self.batch_l]
        self._labeled_pos += self.batch_l
        return idx.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for _ in range(self._passes()):
            if self.n_u == 0:
                order = torch.randperm(self.n_l, generator=self._generator).to(self.device)
                empty = self.x_l[:0]
                for start, stop in self._bounds(self.n_l, self.batch_l):
                    idx = order[start:stop]
                    yield (self.x_l[idx], self.y_l[idx], empty, idx[:0])
                continue
            order = torch.randperm(self.n_u, generator=self._generator).to(self.device)
            for start, stop in self._bounds(self.n_u, self.batch_u):
                idx_u = order[start:stop]
                idx_l = self._labeled_batch()
                yield (
                    self.x_l[idx_l],
                    self.y_l[idx_l],
                    self.x_u[idx_u],
                    idx_u,
                    *(e[idx_u] for e in self.extras),
                )


def _tensor(a: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point():
        t = t.to(torch.float32)
    return t.to(device)


# --------------------------------------------------------------------------------------------
# The shared driver
# --------------------------------------------------------------------------------------------


class _Meter:
    """Per-epoch means of the named loss terms reported by a step."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.last: dict[str, float] = {}

    def add(self, **values: float | torch.Tensor) -> None:
        for key, value in values.items():
            self.sums[key] += float(value)
            self.counts[key] += 1

    def set(self, **values: float) -> None:
        self.last.update(values)

    def flush(self) -> dict[str, float]:
        out = {k: self.sums[k] / self.counts[k] for k in self.sums}
        out.update(self.last)
        self.sums.clear()
        self.counts.clear()
        return out


class _Schedule:
    """Step counter giving the ramp-up factor ``exp(-5 (1 - t)^2)`` of the current step.

    Counted in optimiser steps (``t = step / (rampup_epochs * steps_per_epoch)``), so the
    weight rises smoothly within epochs too; a period of 0 gives 1 from the first step.
    """

    def __init__(self, rampup_epochs: float, steps_per_epoch: int) -> None:
        self.rampup_steps = rampup_epochs * steps_per_epoch
        self.step = 0

    def __call__(self) -> float:
        progress = 1.0 if self.rampup_steps <= 0 else self.step / self.rampup_steps
        self.step += 1
        return sigmoid_rampup(progress)


StepFactory = Callable[[_Meter, _Schedule], Callable[[nn.Module, tuple], torch.Tensor]]


def _n_classes(arrays: _Arrays, n_classes: int | None) -> int:
    if n_classes is not None:
        return int(n_classes)
    top = int(arrays.y_labeled.max())
    if arrays.y_val is not None and len(arrays.y_val):
        top = max(top, int(np.max(arrays.y_val)))
    return top + 1


def _build_model(build_encoder: EncoderBuilder, n_classes: int, seed: int) -> Classifier:
    # Fork the RNG so that building the model is repeatable without consuming the
    # caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Classifier(build_encoder(), n_classes)


def _check_common(weight: float, rampup_epochs: float, unlabeled_ratio: int) -> None:
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if rampup_epochs < 0:
        raise ValueError(f"rampup_epochs must be >= 0, got {rampup_epochs}")
    ratio = unlabeled_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, int | np.integer) or ratio < 1:
        raise ValueError(f"unlabeled_ratio must be an integer >= 1, got {unlabeled_ratio}")


def _check_threshold(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _run(
    method: str,
    arrays: _Arrays,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None,
    device: DeviceLike,
    make_step: StepFactory,
    *,
    rampup_epochs: float = 0.0,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
    extras: tuple[np.ndarray | torch.Tensor, ...] = (),
    model: nn.Module | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    config = config or TrainConfig()
    device = resolve_device(device)
    k = _n_classes(arrays, n_classes)
    if model is None:
        model = _build_model(build_encoder, k, config.seed)
    loader = SemiSupervisedLoader(
        arrays.X_labeled,
        arrays.y_labeled,
        arrays.X_unlabeled,
        batch_size=config.batch_size,
        unlabeled_ratio=unlabeled_ratio,
        seed=config.seed,
        device=device,
        extras=extras,
        min_batches=getattr(config, "min_batches_per_epoch", 1),
    )
    meter = _Meter()
    schedule = _Schedule(rampup_epochs, len(loader))
    step_fn = make_step(meter, schedule)
    history = SemiSupervisedHistory(method=method)

    val_fn = None
    if arrays.X_val is not None:
        x_val = _tensor(arrays.X_val, device)
        y_val = _tensor(arrays.y_val, device).long()

        def val_fn(m: nn.Module) -> float:
            return accuracy(m, x_val, y_val, device)

    x_u_monitor = _tensor(arrays.X_unlabeled, device) if len(arrays.X_unlabeled) else None
    y_u_monitor = arrays.y_unlabeled  # monitoring only: never passed to a loss or target

    def on_epoch_end(epoch: int, m: nn.Module, train_history: TrainHistory) -> None:
        record: dict[str, Any] = {"epoch": epoch, "loss": train_history.train_loss[-1]}
        record.update(meter.flush())
        if train_history.val_score:
            record["val_accuracy"] = train_history.val_score[-1]
        if x_u_monitor is not None:
            # predict_proba runs under no_grad in eval mode and restores the modes; it draws
            # no random numbers, so monitoring cannot change the training run.
            proba = predict_proba(m, x_u_monitor, device)
            confident = proba.max(axis=1) >= monitor_threshold
            record["n_pseudo"] = int(confident.sum())
            if y_u_monitor is not None:
                pred = proba.argmax(axis=1)
                correct = pred == np.asarray(y_u_monitor)
                record["pseudo_precision"] = (
                    float(correct[confident].mean()) if confident.any() else float("nan")
                )
                record["unlabeled_accuracy"] = float(correct.mean())
        history.epochs.append(record)

    history.train = fit(
        model,
        loader,
        config=config,
        device=device,
        step_fn=step_fn,
        val_fn=val_fn,
        on_epoch_end=on_epoch_end,
        desc=method,
    )
    return model, history


def _split(logits: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    return list(torch.split(logits, sizes))


# --------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------


def train_supervised(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """The labeled-only baseline: cross-entropy on the labeled rows.

    Uses the same loader as the semi-supervised methods, so it takes the same number of
    optimiser steps per epoch (the unlabeled rows are only counted, never read), and by
    default the same weak augmentation as FixMatch's labeled term, so that a comparison
    measures what the unlabeled rows add.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    augment : bool, default True
        Random translation by up to ``max_shift`` pixels.
    max_shift : int, default 1
    unlabeled_ratio : int, default 1
        Only sets the epoch length, as for the other methods.
    n_classes : int, optional
        Defaults to ``max(y_labeled, y_val) + 1``.

    Returns
    -------
    model : Classifier
    history : SemiSupervisedHistory
    """
    arrays = _arrays(data, need_unlabeled=False)
    _check_common(0.0, 0.0, unlabeled_ratio)

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l = batch[0], batch[1]
            if augment:
                x_l = weak_augment(x_l, max_shift)
            loss = F.cross_entropy(model(x_l), y_l)
            meter.add(supervised_loss=loss.detach())
            return loss

        return step

    return _run(
        "supervised", arrays, build_encoder, config, device, make_step,
        unlabeled_ratio=unlabeled_ratio, n_classes=n_classes,
    )


def train_entropy_minimisation(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    weight: float = 0.3,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Entropy minimisation (Grandvalet & Bengio 2005).

    Loss: ``CE(labeled) + λ(t) H(p(y | x_u))`` with :func:`~.losses.entropy_loss` and the
    weight ramped up as in :func:`~.losses.sigmoid_rampup` (a full weight from the first
    step makes the random initial predictions confident and locks them in).

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    weight : float, default 0.3
        λ, the paper's entropy weight after the ramp-up.
    rampup_epochs : float, default 5
    augment, max_shift : weak augmentation of all inputs (translation).
    unlabeled_ratio : int, default 1
        Unlabeled rows per labeled row in a step.
    n_classes : int, optional
    monitor_threshold : float, default 0.95
        Confidence counted as a pseudo-label by the monitor.

    Returns
    -------
    model, history
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            if augment:
                x = weak_augment(x, max_shift)
            logits_l, logits_u = _split(model(x), [len(x_l), len(x_u)])
            sup, unsup = F.cross_entropy(logits_l, y_l), entropy_loss(logits_u)
            w = weight * schedule()
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=unsup.detach())
            meter.set(weight=w)
            return sup + w * unsup

        return step

    return _run(
        "entropy_minimisation", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )


def train_mutual_information(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    weight: float = 0.3,
    marginal_weight: float = 1.0,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Input-output mutual-information maximisation (Krause et al. 2010, RIM).

    Loss: ``CE(labeled) - λ(t) [w H(E[p]) - E[H(p)]]`` over the unlabeled batch with
    :func:`~.losses.mutual_information_loss`: confident predictions that stay spread over
    the classes.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    weight : float, default 0.3
        λ after the ramp-up.
    marginal_weight : float, default 1.0
        ``w``, the weight of the class-balance term ``H(E[p])``.
    rampup_epochs, augment, max_shift, unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            if augment:
                x = weak_augment(x, max_shift)
            logits_l, logits_u = _split(model(x), [len(x_l), len(x_u)])
            sup = F.cross_entropy(logits_l, y_l)
            unsup = mutual_information_loss(logits_u, marginal_weight)
            w = weight * schedule()
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=unsup.detach())
            meter.set(weight=w)
            return sup + w * unsup

        return step

    return _run(
        "mutual_information", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )


def train_pi_model(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    weight: float = 10.0,
    rampup_epochs: float = 10.0,
    kind: str = "mse",
    max_shift: int = 1,
    noise_std: float = 0.15,
    stop_gradient: bool = True,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Π-model (Laine & Aila 2017): consistency between two stochastic passes.

    Every input (labeled and unlabeled) is augmented twice (random translation + Gaussian
    input noise, as in the paper) and both passes go through the network (with its dropout,
    if the encoder has any). Loss: ``CE(labeled, pass 1) + λ(t) consistency(pass 1, pass 2)``
    with ``λ(t) = λ_max exp(-5 (1 - t)^2)`` during the ramp-up
    (:func:`~.losses.sigmoid_rampup`) and :func:`~.losses.consistency_loss`.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    weight : float, default 10.0
        ``λ_max`` (the paper used 100 with its ``1/C``-scaled squared error on CIFAR-10 and
        many more epochs).
    rampup_epochs : float, default 10
        The ramp-up period (80 in the paper).
    kind : {"mse", "kl"}, default "mse"
        Squared L2 between the softmax outputs, or KL from pass 2 to pass 1.
    max_shift : int, default 1
    noise_std : float, default 0.15
        Gaussian input noise (the paper's σ = 0.15).
    stop_gradient : bool, default True
        Treat pass 2 as a fixed target. The paper back-propagates through both passes
        (``False``); the stop-gradient is the common, more stable, choice since Mean Teacher.
    unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)
    if kind not in ("mse", "kl"):
        raise ValueError(f"kind must be 'mse' or 'kl', got {kind!r}")

    def augment(x: torch.Tensor) -> torch.Tensor:
        x = weak_augment(x, max_shift)
        return x + noise_std * torch.randn_like(x) if noise_std > 0 else x

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            # One forward for both passes: half the Python overhead, shared BN statistics.
            z1, z2 = _split(model(torch.cat([augment(x), augment(x)])), [len(x), len(x)])
            sup = F.cross_entropy(z1[: len(x_l)], y_l)
            cons = consistency_loss(z1, z2.detach() if stop_gradient else z2, kind)
            w = weight * schedule()
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=cons.detach())
            meter.set(weight=w)
            return sup + w * cons

        return step

    return _run(
        "pi_model", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )


def train_vat(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    weight: float = 1.0,
    eps: float = 1.0,
    xi: float = 1e-6,
    n_power: int = 1,
    entropy_weight: float = 0.0,
    rampup_epochs: float = 0.0,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Virtual adversarial training (Miyato et al. 2018).

    Loss: ``CE(labeled) + α LDS(x) [+ β H(p(y | x_u))]`` with :func:`~.losses.vat_loss`
    over the labeled and unlabeled inputs of the batch (the paper's Eq. 16);
    ``entropy_weight > 0`` gives the paper's "VAT + EntMin".

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    weight : float, default 1.0
        α (1 in the paper).
    eps : float, default 1.0
        Perturbation norm ε per input (2.0 for 784-pixel MNIST in the paper).
    xi : float, default 1e-6
        Finite-difference step ξ of the power iteration (the paper's 1e-6).
    n_power : int, default 1
    entropy_weight : float, default 0.0
    rampup_epochs : float, default 0
        Ramp α (and β) up; the paper uses none.
    unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)
    if eps <= 0 or xi <= 0:
        raise ValueError(f"eps and xi must be > 0, got eps={eps}, xi={xi}")
    if entropy_weight < 0:
        raise ValueError(f"entropy_weight must be >= 0, got {entropy_weight}")

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            logits = model(x)
            sup = F.cross_entropy(logits[: len(x_l)], y_l)
            lds = vat_loss(model, x, xi=xi, eps=eps, n_power=n_power, logits=logits)
            ramp = schedule()
            w = weight * ramp
            loss = sup + w * lds
            if entropy_weight > 0:
                loss = loss + ramp * entropy_weight * entropy_loss(logits[len(x_l) :])
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=lds.detach())
            meter.set(weight=w)
            return loss

        return step

    return _run(
        "vat", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )


def train_fixmatch(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    threshold: float = 0.95,
    weight: float = 1.0,
    rampup_epochs: float = 0.0,
    unlabeled_ratio: int = 2,
    weak_shift: int = 1,
    strong_shift: int = 2,
    noise_std: float = 0.1,
    cutout_size: int | None = None,
    brightness: float = 0.3,
    flip: bool = False,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """FixMatch (Sohn et al. 2020): confident weak-view pseudo-labels train the strong view.

    Loss: ``CE(weak(x_l), y_l) + λ_u ℓ_u`` with ℓ_u from :func:`~.losses.fixmatch_loss`:
    the hard pseudo-label of the weakly augmented unlabeled row (translation, optional
    flip) is kept when its probability is at least τ and is the target for the strongly
    augmented row (translation, brightness, noise, Cutout; see
    :mod:`~transfer_lab.methods.semi_supervised.transforms`). All three views go through
    the network in one batch, as in the paper's implementation.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    threshold : float, default 0.95
        τ.
    weight : float, default 1.0
        λ_u (1 in the paper).
    rampup_epochs : float, default 0
        The paper needs none: the threshold already keeps early pseudo-labels out.
    unlabeled_ratio : int, default 2
        μ (7 in the paper; 2 keeps CPU steps cheap on 8x8 digits).
    weak_shift, strong_shift : int
        Translation ranges of the two augmentations.
    noise_std, cutout_size, brightness : strong augmentation settings.
    flip : bool, default False
        Horizontal flips in both augmentations (off for digits).
    n_classes : int, optional

    Returns
    -------
    model, history
        ``mask_rate`` per epoch is the fraction of unlabeled rows above τ in the batches;
        the monitor counts rows above τ at the epoch's end.
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)
    _check_threshold("threshold", threshold)

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            inputs = torch.cat([
                weak_augment(x_l, weak_shift, flip),
                weak_augment(x_u, weak_shift, flip),
                strong_augment(x_u, strong_shift, noise_std, cutout_size, brightness, flip),
            ])
            logits_l, logits_weak, logits_strong = _split(
                model(inputs), [len(x_l), len(x_u), len(x_u)]
            )
            sup = F.cross_entropy(logits_l, y_l)
            unsup, mask = fixmatch_loss(logits_strong, logits_weak, threshold)
            w = weight * schedule()
            meter.add(
                supervised_loss=sup.detach(), unsupervised_loss=unsup.detach(),
                mask_rate=mask.mean(),
            )
            meter.set(weight=w)
            return sup + w * unsup

        return step

    return _run(
        "fixmatch", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=threshold,
    )


def train_pseudo_label(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    kind: str = "hard",
    threshold: float = 0.95,
    temperature: float = 0.5,
    weight: float = 1.0,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Online pseudo-labelling (Lee 2013), the neural counterpart of self-training.

    At every step the network's own current prediction on each unlabeled row becomes its
    target (:func:`~.losses.pseudo_label_targets`): ``"hard"`` one-hot argmax (Lee's
    pseudo-label), ``"soft"`` the probabilities, ``"sharpen"`` the probabilities sharpened
    with temperature ``T`` (MixMatch's Eq. 7); rows whose confidence is below ``threshold``
    are masked out. Loss: ``CE(labeled) + α(t) soft_CE(x_u, targets)`` with α ramped up (Lee
    ramps it from 0 to 3 over the first epochs).

    With ``augment`` the targets come from the clean row (no gradient) and the loss is on
    a randomly translated copy, so the network must also agree with itself under shifts;
    without it, targets and loss use the same forward pass, exactly as in the paper.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring.
    kind : {"hard", "soft", "sharpen"}, default "hard"
    threshold : float, default 0.95
        Confidence needed for a pseudo-label (0 keeps every row, as in Lee 2013).
    temperature : float, default 0.5
        ``T`` for ``kind="sharpen"``.
    weight : float, default 1.0
        α after the ramp-up.
    rampup_epochs : float, default 5
    augment : bool, default True
    max_shift : int, default 1
    unlabeled_ratio, n_classes
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = _arrays(data)
    _check_common(weight, rampup_epochs, unlabeled_ratio)
    _check_threshold("threshold", threshold)
    if kind not in ("hard", "soft", "sharpen"):
        raise ValueError(f"kind must be 'hard', 'soft' or 'sharpen', got {kind!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            if augment:
                inputs = torch.cat(
                    [weak_augment(x_l, max_shift), x_u, weak_augment(x_u, max_shift)]
                )
                logits_l, logits_clean, logits_u = _split(
                    model(inputs), [len(x_l), len(x_u), len(x_u)]
                )
            else:
                logits_l, logits_u = _split(model(torch.cat([x_l, x_u])), [len(x_l), len(x_u)])
                logits_clean = logits_u
            targets, mask = pseudo_label_targets(logits_clean, kind, temperature, threshold)
            sup = F.cross_entropy(logits_l, y_l)
            unsup = soft_cross_entropy(logits_u, targets, mask)
            w = weight * schedule()
            meter.add(
                supervised_loss=sup.detach(), unsupervised_loss=unsup.detach(),
                mask_rate=mask.mean(),
            )
            meter.set(weight=w)
            return sup + w * unsup

        return step

    return _run(
        "pseudo_label", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=threshold if threshold > 0 else 0.95,
    )


def _label_propagation_teacher(arrays: _Arrays, params: Mapping[str, Any] | None) -> np.ndarray:
    """Label distributions of the unlabeled rows from LabelPropagation on the flat inputs."""
    X = np.concatenate([arrays.X_labeled, arrays.X_unlabeled]).reshape(
        len(arrays.X_labeled) + len(arrays.X_unlabeled), -1
    )
    y = np.concatenate([arrays.y_labeled, np.full(len(arrays.X_unlabeled), -1)])
    with warnings.catch_warnings():
        # Slow convergence on long chains still gives usable distributions for a teacher.
        warnings.simplefilter("ignore", ConvergenceWarning)
        graph = LabelPropagation(**dict(params or {})).fit(X, y)
    n_classes = int(arrays.y_labeled.max()) + 1
    probs = np.zeros((len(arrays.X_unlabeled), n_classes))
    # classes_ may skip a label that has no labeled row; its column stays 0.
    probs[:, graph.classes_] = graph.label_distributions_[len(arrays.X_labeled) :]
    return probs


def train_distillation(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    teacher: nn.Module | str = "fixmatch",
    teacher_params: Mapping[str, Any] | None = None,
    teacher_config: TrainConfig | None = None,
    build_student_encoder: EncoderBuilder | None = None,
    temperature: float = 2.0,
    weight: float = 1.0,
    supervised_weight: float = 1.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Teacher -> student distillation on the unlabeled rows (Hinton et al. 2015; SimCLRv2).

    The teacher labels every unlabeled row once (its logits, in eval mode); the student is
    then trained on ``supervised_weight CE(labeled) + weight T^2 KL(softmax(z_t/T) ||
    softmax(z_s/T))`` (:func:`~.losses.distillation_loss`) — SimCLRv2's self-distillation
    when the student has the teacher's architecture, compression with a smaller
    ``build_student_encoder``.

    Parameters
    ----------
    data, build_encoder, config, device
        See the module docstring; ``config`` trains the student.
    teacher : nn.Module, str or array, default "fixmatch"
        A trained classifier returning logits; the name of a method of
        :data:`NEURAL_METHODS` (not "distillation") to train one first on the same data;
        ``"label_propagation"`` for the label distributions of
        :class:`~transfer_lab.methods.semi_supervised.LabelPropagation` on the flattened
        labeled + unlabeled rows (``teacher_params`` go to its constructor); or
        the teacher's class probabilities for the unlabeled rows, shape
        ``(n_unlabeled, n_classes)``, e.g. ``label_distributions_`` of a
        :class:`~transfer_lab.methods.semi_supervised.LabelPropagation` fitted on the
        labeled + unlabeled rows (graph transduction distilled into a network).
    teacher_params : mapping, optional
        Hyper-parameters of the teacher's method (or of LabelPropagation).
    teacher_config : TrainConfig, optional
        Training settings of the teacher; defaults to ``config``.
    build_student_encoder : callable, optional
        Defaults to ``build_encoder``.
    temperature : float, default 2.0
        ``T``.
    weight : float, default 1.0
        Weight of the distillation term.
    supervised_weight : float, default 1.0
        Weight of the labeled cross-entropy (0 = distillation only, as in SimCLRv2).
    augment : bool, default True
        The student sees randomly translated rows while the teacher's targets are those of
        the clean rows (the student must be at least as robust as the teacher).
    max_shift, unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model : Classifier
        The student.
    history : SemiSupervisedHistory
        ``info["teacher_history"]`` holds the teacher's history when it was trained here;
        ``info["teacher_precision"]`` the accuracy of the teacher's labels on the unlabeled
        rows when ``y_unlabeled`` is available (monitoring only).
    """
    arrays = _arrays(data)
    _check_common(weight, 0.0, unlabeled_ratio)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if supervised_weight < 0:
        raise ValueError(f"supervised_weight must be >= 0, got {supervised_weight}")
    config = config or TrainConfig()
    device = resolve_device(device)
    info: dict[str, Any] = {}
    if isinstance(teacher, str) and teacher == "label_propagation":
        teacher = _label_propagation_teacher(arrays, teacher_params)
    if isinstance(teacher, str):
        if teacher == "distillation" or teacher not in NEURAL_METHODS:
            allowed = ", ".join(
                ["label_propagation"] + [m for m in NEURAL_METHODS if m != "distillation"]
            )
            raise ValueError(f"teacher must be a model or one of {allowed}; got {teacher!r}")
        teacher_model, teacher_history = train_semi_supervised(
            teacher, data, build_encoder, teacher_config or config, device,
            n_classes=n_classes, **dict(teacher_params or {}),
        )
        info["teacher_history"] = teacher_history
    elif isinstance(teacher, nn.Module):
        teacher_model = teacher
    elif isinstance(teacher, np.ndarray | torch.Tensor):
        teacher_model = None
        probs = torch.as_tensor(np.asarray(teacher), dtype=torch.float32)
        if probs.dim() != 2 or len(probs) != len(arrays.X_unlabeled):
            raise ValueError(
                f"teacher probabilities must have shape ({len(arrays.X_unlabeled)}, n_classes), "
                f"got {tuple(probs.shape)}"
            )
        row_sums = probs.sum(dim=1)
        if probs.min() < 0 or not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-3):
            raise ValueError("teacher probabilities must be non-negative rows summing to 1")
        # log p are logits whose softmax is p, and softmax(log p / T) is p tempered by T.
        teacher_logits = torch.log(probs.clamp_min(1e-8)).to(device)
    else:
        raise ValueError(
            "teacher must be an nn.Module, a method name or an (n_unlabeled, n_classes) array "
            f"of probabilities, got {type(teacher).__name__}"
        )

    if teacher_model is not None:
        teacher_model.to(device)
        x_u = _tensor(arrays.X_unlabeled, device)
        with torch.no_grad():
            was_training = teacher_model.training
            teacher_model.eval()
            teacher_logits = torch.cat(
                [teacher_model(x_u[i : i + 1024]) for i in range(0, len(x_u), 1024)]
            )
            teacher_model.train(was_training)
    if arrays.y_unlabeled is not None:
        labels = teacher_logits.argmax(dim=1).cpu().numpy()
        info["teacher_precision"] = float(np.mean(labels == arrays.y_unlabeled))
    k = teacher_logits.shape[1] if n_classes is None else n_classes

    def make_step(meter: _Meter, schedule: _Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_b, _, t_b = batch
            x = torch.cat([x_l, x_b])
            if augment:
                x = weak_augment(x, max_shift)
            logits_l, logits_u = _split(model(x), [len(x_l), len(x_b)])
            sup = F.cross_entropy(logits_l, y_l)
            distil = distillation_loss(logits_u, t_b, temperature)
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=distil.detach())
            meter.set(weight=weight)
            return supervised_weight * sup + weight * distil

        return step

    student = _build_model(build_student_encoder or build_encoder, k, config.seed)
    model, history = _run(
        "distillation", arrays, build_student_encoder or build_encoder, config, device,
        make_step, unlabeled_ratio=unlabeled_ratio, n_classes=k,
        monitor_threshold=monitor_threshold, extras=(teacher_logits,), model=student,
    )
    history.info.update(info)
    return model, history


_METHODS: dict[str, Callable[..., tuple[nn.Module, SemiSupervisedHistory]]] = {
    "supervised": train_supervised,
    "entropy_minimisation": train_entropy_minimisation,
    "mutual_information": train_mutual_information,
    "pi_model": train_pi_model,
    "vat": train_vat,
    "fixmatch": train_fixmatch,
    "pseudo_label": train_pseudo_label,
    "distillation": train_distillation,
}

#: Method names accepted by :func:`train_semi_supervised` (the results table's ``method``).
NEURAL_METHODS = tuple(_METHODS)


def train_semi_supervised(
    method: str,
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    **params: Any,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Train ``method`` (one of :data:`NEURAL_METHODS`) with its hyper-parameters ``params``.

    The entry point for a pipeline node: the method name and a parameters mapping come
    straight from ``parameters_semi_supervised.yml``.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(NEURAL_METHODS)}")
    return _METHODS[method](data, build_encoder, config, device, **params)
