"""The engine every neural semi-supervised method runs on: data, loader, schedule, step loop.

A method (one module of this package each) is a *step*: given the model and a batch
``(x_l, y_l, x_u, idx_u, *extras)`` it returns the loss to minimise and records its loss
terms in a :class:`Meter`. :func:`run` does the rest for every method alike: it builds the
classifier (encoder + linear head) under the run's seed, draws batches from a
:class:`SemiSupervisedLoader`, ramps the unsupervised weight with a :class:`Schedule`, trains
through :func:`~transfer_lab.methods.training.fit` (early stopping on validation accuracy)
and records one dict per epoch in a :class:`SemiSupervisedHistory`.

Every method has the signature::

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
* ``config``: a :class:`~transfer_lab.methods.training.TrainConfig` (the only way to pass
  training settings); ``batch_size`` is the labeled batch size ``B``; each step also draws
  ``unlabeled_ratio * B`` unlabeled rows (the ``μ`` of FixMatch). An epoch is one pass over
  the unlabeled rows, so every method (the supervised baseline included) takes the same
  number of optimiser steps per epoch.
* ``history``: a :class:`SemiSupervisedHistory` whose ``epochs`` holds one dict per epoch
  (``loss``, the loss terms, the unsupervised weight, ``val_accuracy``, ``mask_rate``, and
  from the monitor ``n_pseudo``, ``pseudo_precision``, ``unlabeled_accuracy``).

Labels must be ``0 .. n_classes - 1``
(:class:`~transfer_lab.methods.semi_supervised.neural.NeuralSSLClassifier` encodes them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from transfer_lab.methods.encoders import Classifier
from transfer_lab.methods.runtime import resolve_device, torch_generator
from transfer_lab.methods.semi_supervised.losses import sigmoid_rampup
from transfer_lab.methods.training import TrainConfig, TrainHistory, accuracy, fit, predict_proba

__all__ = [
    "Arrays",
    "DeviceLike",
    "EncoderBuilder",
    "Meter",
    "Schedule",
    "SemiSupervisedHistory",
    "SemiSupervisedLoader",
    "as_tensor",
    "build_model",
    "check_common",
    "check_threshold",
    "read_arrays",
    "run",
    "split",
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
class Arrays:
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


def read_arrays(data: Any, need_unlabeled: bool = True) -> Arrays:
    """Read the arrays from a BudgetView-like object or mapping and check them."""
    values = {name: _get(data, name) for name in Arrays.__dataclass_fields__}
    for name in ("X_labeled", "y_labeled", "X_unlabeled"):
        if values[name] is None:
            raise ValueError(f"data has no {name}; pass a BudgetView or an object with it")
    arrays = Arrays(**{k: (None if v is None else np.asarray(v)) for k, v in values.items()})
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
        self.x_l = as_tensor(X_labeled, self.device)
        self.y_l = as_tensor(y_labeled, self.device).long()
        self.x_u = as_tensor(X_unlabeled, self.device)
        self.extras = tuple(as_tensor(e, self.device) for e in extras)
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


def as_tensor(a: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point():
        t = t.to(torch.float32)
    return t.to(device)


# --------------------------------------------------------------------------------------------
# The shared step loop
# --------------------------------------------------------------------------------------------


class Meter:
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

    def weighted_loss(
        self, supervised: torch.Tensor, unsupervised: torch.Tensor, weight: float, **extra: float | torch.Tensor
    ) -> torch.Tensor:
        """``supervised + weight * unsupervised``, the loss of most methods, with both terms,
        any ``extra`` measurements (e.g. a mask rate) and the current weight recorded."""
        self.add(supervised_loss=supervised.detach(), unsupervised_loss=unsupervised.detach(), **extra)
        self.set(weight=weight)
        return supervised + weight * unsupervised

    def flush(self) -> dict[str, float]:
        out = {k: self.sums[k] / self.counts[k] for k in self.sums}
        out.update(self.last)
        self.sums.clear()
        self.counts.clear()
        return out


class Schedule:
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


StepFactory = Callable[[Meter, Schedule], Callable[[nn.Module, tuple], torch.Tensor]]


def count_classes(arrays: Arrays, n_classes: int | None) -> int:
    if n_classes is not None:
        return int(n_classes)
    top = int(arrays.y_labeled.max())
    if arrays.y_val is not None and len(arrays.y_val):
        top = max(top, int(np.max(arrays.y_val)))
    return top + 1


def build_model(build_encoder: EncoderBuilder, n_classes: int, seed: int) -> Classifier:
    # Fork the RNG so that building the model is repeatable without consuming the
    # caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Classifier(build_encoder(), n_classes)


def check_common(weight: float, rampup_epochs: float, unlabeled_ratio: int) -> None:
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if rampup_epochs < 0:
        raise ValueError(f"rampup_epochs must be >= 0, got {rampup_epochs}")
    ratio = unlabeled_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, int | np.integer) or ratio < 1:
        raise ValueError(f"unlabeled_ratio must be an integer >= 1, got {unlabeled_ratio}")


def check_threshold(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def run(
    method: str,
    arrays: Arrays,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
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
    device = resolve_device(device)
    k = count_classes(arrays, n_classes)
    if model is None:
        model = build_model(build_encoder, k, config.seed)
    loader = SemiSupervisedLoader(
        arrays.X_labeled,
        arrays.y_labeled,
        arrays.X_unlabeled,
        batch_size=config.batch_size,
        unlabeled_ratio=unlabeled_ratio,
        seed=config.seed,
        device=device,
        extras=extras,
        min_batches=config.min_batches_per_epoch,
    )
    meter = Meter()
    schedule = Schedule(rampup_epochs, len(loader))
    step_fn = make_step(meter, schedule)
    history = SemiSupervisedHistory(method=method)

    val_fn = None
    if arrays.X_val is not None:
        x_val = as_tensor(arrays.X_val, device)
        y_val = as_tensor(arrays.y_val, device).long()

        def val_accuracy(m: nn.Module) -> float:
            return accuracy(m, x_val, y_val, device)

        val_fn = val_accuracy

    x_u_monitor = as_tensor(arrays.X_unlabeled, device) if len(arrays.X_unlabeled) else None
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


def split(logits: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    return list(torch.split(logits, sizes))
