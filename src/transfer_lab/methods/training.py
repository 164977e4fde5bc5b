"""A generic, small training loop and the inference helpers around it.

:func:`fit` is the one loop every torch method reuses: supervised training passes a
``loss_fn``; contrastive, pretext and consistency methods pass a ``step_fn(model, batch)``
that returns their own loss. It checks every batch for NaN/inf or exploding losses
(:class:`DivergenceError`), validates after each epoch, stops early and restores the best
weights.

Arrays are batched by :class:`ArrayLoader`, which keeps the whole (small) data set as tensors
on the device and slices shuffled index batches, instead of a per-sample ``DataLoader``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from transfer_lab.methods.runtime import resolve_device, torch_generator

__all__ = [
    "TrainConfig",
    "TrainHistory",
    "DivergenceError",
    "ArrayLoader",
    "make_optimizer",
    "fit",
    "fit_classifier",
    "evaluating",
    "predict_proba",
    "predict",
    "accuracy",
    "extract_features",
    "save_state_dict",
    "load_state_dict",
]

Batch = tuple[torch.Tensor, ...]
StepFn = Callable[[nn.Module, Batch], torch.Tensor]
ArrayLike = np.ndarray | torch.Tensor
DeviceLike = str | torch.device

OPTIMIZERS = ("adam", "sgd", "adamw")


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`: the one description of "train with these settings".

    Every torch method of the project takes one ``config: TrainConfig``. Pipelines build it
    from their parameters with ``contracts.TrainingParams.to_train_config(seed)``; the
    defaults below are the only defaults (``fit(..., config=None)`` means ``TrainConfig()``).

    Parameters
    ----------
    epochs : int, default 100
    batch_size : int, default 64
        Capped at the number of training samples by :class:`ArrayLoader`.
    lr : float, default 1e-3
    weight_decay : float, default 0.0
    optimizer : {"adam", "sgd", "adamw"}, default "adam"
    momentum : float, default 0.9
        Used by SGD only.
    patience : int or None, default 10
        Epochs without validation improvement before stopping; ``None`` disables early
        stopping (best weights are still restored when ``restore_best``).
    min_delta : float, default 0.0
        Improvement needed to reset the patience counter.
    restore_best : bool, default True
        With validation, load the best epoch's weights at the end.
    max_grad_norm : float or None, default None
        Clip the global gradient norm to this value.
    divergence_factor : float or None, default 1e3
        A batch loss with ``|loss| > divergence_factor * max(|first batch loss|, 1)`` counts as
        diverged. The floor of 1 stops a near-zero starting loss (fine-tuning an already fitted
        model) from making ordinary noise look like divergence. ``None`` keeps only the
        NaN/inf check.
    min_batches_per_epoch : int, default 1
        Arrays are cycled (fresh permutations) until an epoch has at least this many
        batches. With a few labels (10 samples = one batch) an epoch is one optimiser step,
        so ``epochs`` and ``patience`` would count steps; this keeps them meaningful.
    progress : bool, default True
        Show a tqdm bar over epochs.
    seed : int, default 0
        Fixes the batch order and the torch random draws made during training (dropout,
        augmentations in a ``step_fn``). The model's initialisation is the caller's business.
    """

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    momentum: float = 0.9
    patience: int | None = 10
    min_delta: float = 0.0
    restore_best: bool = True
    max_grad_norm: float | None = None
    divergence_factor: float | None = 1e3
    min_batches_per_epoch: int = 1
    progress: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}"
            )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if self.min_batches_per_epoch < 1:
            raise ValueError(f"min_batches_per_epoch must be >= 1, got {self.min_batches_per_epoch}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        if self.divergence_factor is not None and not self.divergence_factor > 1:
            raise ValueError(
                f"divergence_factor must be > 1 or None, got {self.divergence_factor}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, e.g. for logging to MLflow."""
        return asdict(self)


@dataclass
class TrainHistory:
    """What :func:`fit` observed. Epochs are 0-based indices into the lists.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch.
    val_score : list of float
        ``val_fn(model)`` after each epoch (higher is better); empty without ``val_fn``.
    val_loss : list of float
        Mean validation loss after each epoch when ``val_data`` is given; else empty.
    best_epoch : int
        Epoch whose weights the model holds at the end (the last epoch without validation
        or when ``restore_best`` is off; -1 if no epoch finished).
    stopped_early : bool
    seconds : float
        Wall-clock time of the whole fit.
    """

    train_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    @property
    def best_score(self) -> float | None:
        """Validation score of ``best_epoch`` (``None`` without ``val_fn``)."""
        if not self.val_score or self.best_epoch < 0:
            return None
        return self.val_score[self.best_epoch]


class DivergenceError(RuntimeError):
    """Training loss became NaN/inf or exploded.

    Carries ``epoch``, ``batch``, ``loss`` and the ``history`` up to the failure.
    """

    def __init__(
        self, message: str, epoch: int, batch: int, loss: float, history: TrainHistory
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.history = history


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


def _as_tensor(a: ArrayLike, device: torch.device) -> torch.Tensor:
    """Array/tensor -> tensor on ``device``; floats become float32, integers int64."""
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point():
        t = t.to(torch.float32)
    elif t.dtype != torch.bool:
        t = t.to(torch.int64)
    return t.to(device)


class ArrayLoader:
    """Mini-batches sliced from tensors that live on the device.

    Re-iterable: each ``iter()`` is one epoch with a fresh permutation from its own seeded
    generator. With ``merge_singleton`` a trailing batch of one sample is merged into the
    previous batch, because BatchNorm cannot normalise a single sample once the spatial size
    has collapsed (and a 1-sample gradient is mostly noise); no sample is dropped.

    Parameters
    ----------
    *arrays : array or tensor
        Same first dimension; e.g. ``(X, y)`` or ``(X,)``.
    batch_size : int
        Capped at the number of samples.
    shuffle : bool, default True
    seed : int, default 0
    device : str or torch.device, default "cpu"
    merge_singleton : bool, default True
    min_batches : int, default 1
        An epoch cycles through the data (a fresh permutation each pass) until it has at
        least this many batches; one pass when the data already give that many.
    """

    def __init__(
        self,
        *arrays: ArrayLike,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        device: DeviceLike = "cpu",
        merge_singleton: bool = True,
        min_batches: int = 1,
    ) -> None:
        if not arrays:
            raise ValueError("ArrayLoader needs at least one array")
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"arrays must have the same length, got {[len(a) for a in arrays]}")
        self.n = lengths.pop()
        if self.n == 0:
            raise ValueError("cannot train on an empty array")
        self.device = torch.device(device)
        self.tensors = tuple(_as_tensor(a, self.device) for a in arrays)
        self.batch_size = max(1, min(batch_size, self.n))
        self.shuffle = shuffle
        self.merge_singleton = merge_singleton
        # whole passes per epoch: enough to give min_batches batches
        self.passes = max(1, math.ceil(min_batches * self.batch_size / self.n))
        # Permutations are drawn on the CPU: a CUDA generator is not needed for a randperm of
        # a few thousand indices and the CPU stream is the same on every machine.
        self._generator = torch_generator(seed)

    def _bounds(self) -> list[tuple[int, int]]:
        total = self.n * self.passes
        starts = list(range(0, total, self.batch_size))
        bounds = [(s, min(s + self.batch_size, total)) for s in starts]
        if self.merge_singleton and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], total)]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self) -> Iterator[Batch]:
        if self.shuffle:
            passes = [torch.randperm(self.n, generator=self._generator) for _ in range(self.passes)]
            order = torch.cat(passes).to(self.device)
        elif self.passes > 1:
            order = torch.arange(self.n).repeat(self.passes).to(self.device)
        else:
            order = None
        for start, stop in self._bounds():
            if order is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                idx = order[start:stop]
                yield tuple(t[idx] for t in self.tensors)


def _to_device(batch: Any, device: torch.device) -> Batch:
    if isinstance(batch, torch.Tensor):
        batch = (batch,)
    return tuple(
        b.to(device, non_blocking=True) if isinstance(b, torch.Tensor) else b for b in batch
    )


def _as_loader(
    data: Any, batch_size: int, shuffle: bool, seed: int, device: torch.device, min_batches: int = 1
):
    """Arrays (a tuple/list of arrays, or one array) -> ArrayLoader; iterables pass through."""
    if isinstance(data, np.ndarray | torch.Tensor):
        data = (data,)
    if isinstance(data, tuple | list) and data and all(
        isinstance(a, np.ndarray | torch.Tensor) for a in data
    ):
        return ArrayLoader(
            *data, batch_size=batch_size, shuffle=shuffle, seed=seed, device=device, min_batches=min_batches
        )
    if isinstance(data, Iterable):
        return data
    raise TypeError(
        f"training data must be arrays (X, y), a DataLoader or an iterable of batches, "
        f"got {type(data).__name__}"
    )


# --------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------


def make_optimizer(
    params: Iterable[torch.nn.Parameter] | Iterable[dict], config: TrainConfig
) -> torch.optim.Optimizer:
    """Optimizer named by ``config.optimizer`` with its ``lr`` and ``weight_decay``.

    ``params`` may be parameter groups, e.g. a smaller lr for a pretrained encoder.
    """
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


def _default_step(loss_fn: Callable[..., torch.Tensor]) -> StepFn:
    def step(model: nn.Module, batch: Batch) -> torch.Tensor:
        if len(batch) < 2:
            raise ValueError("the default step needs (inputs, targets) batches; pass step_fn")
        return loss_fn(model(batch[0]), batch[1])

    return step


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    # Clone (not just reference) the tensors: the optimizer keeps updating them in place.
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit(
    model: nn.Module,
    train_data: Any,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    *,
    val_fn: Callable[[nn.Module], float] | None = None,
    val_data: Any = None,
    step_fn: StepFn | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    on_epoch_end: Callable[[int, nn.Module, TrainHistory], None] | None = None,
    desc: str = "fit",
) -> TrainHistory:
    """Train ``model`` in place and return what happened.

    Parameters
    ----------
    model : nn.Module
        Moved to ``device``.
    train_data : arrays, DataLoader or iterable of batches
        ``(X, y)`` / ``(X,)`` / ``X`` arrays or tensors are batched with :class:`ArrayLoader`
        (shuffled with ``config.seed``); any re-iterable of batches (tuples of tensors) is used
        as is and moved to ``device`` batch by batch.
    loss_fn : callable, optional
        ``loss_fn(model(x), y)`` for the default step; not needed with ``step_fn``.
    config : TrainConfig, optional
        ``None`` means ``TrainConfig()``.
    device : str or torch.device, default "cpu"
    val_fn : callable, optional
        ``val_fn(model) -> float``, higher is better; called in eval mode under
        ``torch.no_grad()`` after each epoch. Takes precedence over ``val_data`` for early
        stopping.
    val_data : arrays, DataLoader or iterable, optional
        Mean loss (same step as training) in eval mode after each epoch; lower is better.
    step_fn : callable, optional
        ``step_fn(model, batch) -> scalar loss`` with ``batch`` a tuple of tensors already on
        ``device``: the hook for contrastive/consistency objectives.
    optimizer : torch.optim.Optimizer, optional
        Defaults to :func:`make_optimizer` over the parameters that require grad.
    scheduler : optional
        Anything with ``.step()``, stepped once per epoch.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, model, history)`` after validation, e.g. for logging.
    desc : str, default "fit"
        Progress-bar label.

    Returns
    -------
    TrainHistory

    Raises
    ------
    DivergenceError
        As soon as a batch loss is NaN/inf or exceeds the divergence threshold.
    """
    config = config or TrainConfig()
    device = resolve_device(device)
    if step_fn is None:
        if loss_fn is None:
            raise ValueError("fit needs a loss_fn or a step_fn")
        step_fn = _default_step(loss_fn)
    model.to(device)
    loader = _as_loader(
        train_data, config.batch_size, True, config.seed, device, config.min_batches_per_epoch
    )
    val_loader = (
        None
        if val_data is None
        else _as_loader(val_data, max(config.batch_size, 1024), False, config.seed, device)
    )
    if optimizer is None:
        trainable = [p for p in model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("model has no parameters that require grad; nothing to train")
        optimizer = make_optimizer(trainable, config)

    history = TrainHistory()
    monitor_score = val_fn is not None
    has_val = val_fn is not None or val_loader is not None
    best_value = -math.inf if monitor_score else math.inf
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    reference: float | None = None
    start = time.perf_counter()

    devices = [device] if device.type == "cuda" else []
    # fork_rng: the seed governs dropout/augmentation draws here without changing the
    # caller's global RNG stream.
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed)
        bar = tqdm(range(config.epochs), desc=desc, disable=not config.progress, leave=False)
        for epoch in bar:
            model.train()
            total, count = 0.0, 0
            for b, batch in enumerate(loader):
                batch = _to_device(batch, device)
                loss = step_fn(model, batch)
                value = float(loss.detach())
                if reference is None and math.isfinite(value):
                    reference = max(abs(value), 1.0)
                _check_divergence(value, reference, config, epoch, b, history)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                total += value
                count += 1
            if count == 0:
                raise ValueError("training data yielded no batches")
            history.train_loss.append(total / count)
            if scheduler is not None:
                scheduler.step()

            postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
            if has_val:
                with evaluating(model), torch.no_grad():
                    if val_loader is not None:
                        history.val_loss.append(_mean_loss(model, val_loader, step_fn, device))
                        postfix["val_loss"] = f"{history.val_loss[-1]:.4f}"
                    if val_fn is not None:
                        history.val_score.append(float(val_fn(model)))
                        postfix["val"] = f"{history.val_score[-1]:.4f}"
                current = history.val_score[-1] if monitor_score else history.val_loss[-1]
                improved = (
                    current > best_value + config.min_delta
                    if monitor_score
                    else current < best_value - config.min_delta
                )
                # The first epoch always counts, even with a NaN validation value.
                if improved or best_state is None:
                    best_value, history.best_epoch, since_best = current, epoch, 0
                    if config.restore_best:
                        best_state = _state_copy(model)
                else:
                    since_best += 1
            else:
                history.best_epoch = epoch
            bar.set_postfix(postfix, refresh=False)
            if on_epoch_end is not None:
                on_epoch_end(epoch, model, history)
            if config.patience is not None and has_val and since_best >= config.patience:
                history.stopped_early = True
                break
        bar.close()

    if has_val:
        if config.restore_best and best_state is not None:
            model.load_state_dict(best_state)
        elif not config.restore_best:
            history.best_epoch = history.epochs_run - 1
    history.seconds = time.perf_counter() - start
    return history


def _check_divergence(
    value: float,
    reference: float | None,
    config: TrainConfig,
    epoch: int,
    batch: int,
    history: TrainHistory,
) -> None:
    if not math.isfinite(value):
        raise DivergenceError(
            f"training diverged at epoch {epoch}, batch {batch}: loss is {value}; "
            "lower the learning rate or set max_grad_norm",
            epoch, batch, value, history,
        )
    if (
        config.divergence_factor is not None
        and reference is not None
        and abs(value) > config.divergence_factor * reference
    ):
        raise DivergenceError(
            f"training diverged at epoch {epoch}, batch {batch}: loss {value:.4g} exceeds "
            f"{config.divergence_factor:g} x the initial loss; lower the learning rate",
            epoch, batch, value, history,
        )


def _mean_loss(model: nn.Module, loader: Iterable, step_fn: StepFn, device: torch.device) -> float:
    total, count = 0.0, 0
    for batch in loader:
        batch = _to_device(batch, device)
        n = len(batch[0])
        total += float(step_fn(model, batch)) * n  # sample-weighted: last batch may be short
        count += n
    return total / max(count, 1)


def fit_classifier(
    model: nn.Module,
    X_train: ArrayLike,
    y_train: ArrayLike,
    X_val: ArrayLike | None = None,
    y_val: ArrayLike | None = None,
    config: TrainConfig | None = None,
    device: DeviceLike = "cpu",
    **fit_kwargs: Any,
) -> TrainHistory:
    """Train a classifier (logits out) with cross-entropy; early-stop on validation accuracy.

    Parameters
    ----------
    model : nn.Module
        Returns logits ``(n, n_classes)``, e.g. :class:`~transfer_lab.methods.encoders.Classifier`.
    X_train, y_train : arrays or tensors
        Inputs ``(n, ...)`` float in [0, 1] and int labels ``(n,)``. Works down to a handful of
        samples: the batch size is capped at ``n`` and a 1-sample trailing batch is merged.
    X_val, y_val : arrays or tensors, optional
        Validation set for early stopping on accuracy.
    config : TrainConfig, optional
    device : str or torch.device, default "cpu"
    **fit_kwargs
        Passed on to :func:`fit` (``optimizer``, ``scheduler``, ``on_epoch_end``, ``desc``).

    Returns
    -------
    TrainHistory
        ``val_score`` holds the validation accuracies.
    """
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train has {len(X_train)} rows but y_train has {len(y_train)}")
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    device = resolve_device(device)
    # A caller's own val_fn (e.g. one that reuses frozen blocks' outputs) replaces X_val/y_val.
    val_fn = fit_kwargs.pop("val_fn", None)
    if val_fn is not None and X_val is not None:
        raise ValueError("pass X_val/y_val or val_fn, not both")
    if X_val is not None:
        if len(X_val) != len(y_val):
            raise ValueError(f"X_val has {len(X_val)} rows but y_val has {len(y_val)}")
        # Move the validation set once, not at every epoch.
        xv, yv = _as_tensor(X_val, device), _as_tensor(y_val, device)

        def val_fn(m: nn.Module) -> float:
            return accuracy(m, xv, yv, device)

    return fit(
        model,
        (X_train, y_train),
        nn.CrossEntropyLoss(),
        config,
        device,
        val_fn=val_fn,
        **fit_kwargs,
    )


# --------------------------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------------------------


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and afterwards restore each submodule's own mode.

    Restoring module by module (rather than ``model.train(was_training)``) keeps mixed
    states such as frozen BatchNorm blocks intact.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def _model_device(model: nn.Module, device: DeviceLike | None) -> torch.device:
    if device is not None:
        device = resolve_device(device)
        model.to(device)
        return device
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _batched_outputs(
    fn: Callable[[torch.Tensor], torch.Tensor],
    model: nn.Module,
    X: ArrayLike,
    device: DeviceLike | None,
    batch_size: int,
) -> torch.Tensor:
    device = _model_device(model, device)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    X = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
    outs = []
    with evaluating(model), torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size].to(device=device, dtype=torch.float32)
            outs.append(fn(xb))
    if not outs:
        raise ValueError("X is empty")
    return torch.cat(outs)


def predict_proba(
    model: nn.Module, X: ArrayLike, device: DeviceLike | None = None, batch_size: int = 1024
) -> np.ndarray:
    """Softmax class probabilities ``(n, n_classes)`` as a float32 NumPy array.

    ``device=None`` uses the device the model's parameters are on; otherwise the model is
    moved there. Runs in eval mode under ``torch.no_grad()``; the model's modes are restored.
    """
    probs = _batched_outputs(lambda x: torch.softmax(model(x), dim=1), model, X, device, batch_size)
    return probs.cpu().numpy()


def predict(
    model: nn.Module, X: ArrayLike, device: DeviceLike | None = None, batch_size: int = 1024
) -> np.ndarray:
    """Predicted class indices ``(n,)`` (int64)."""
    logits = _batched_outputs(model, model, X, device, batch_size)
    return logits.argmax(dim=1).cpu().numpy()


def accuracy(
    model: nn.Module,
    X: ArrayLike,
    y: ArrayLike,
    device: DeviceLike | None = None,
    batch_size: int = 1024,
) -> float:
    """Fraction of ``X`` classified as ``y``."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    logits = _batched_outputs(model, model, X, device, batch_size)
    y_t = y if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y))
    return float((logits.argmax(dim=1) == y_t.to(logits.device)).float().mean())


def extract_features(
    encoder: nn.Module, X: ArrayLike, device: DeviceLike | None = None, batch_size: int = 1024
) -> np.ndarray:
    """Feature vectors ``(n, out_features)`` as a float32 NumPy array.

    Uses ``encoder.features`` when the module has one (a
    :class:`~transfer_lab.methods.encoders.Classifier`), else its forward.
    """
    fn = encoder.features if callable(getattr(encoder, "features", None)) else encoder
    feats = _batched_outputs(fn, encoder, X, device, batch_size)
    return feats.flatten(1).cpu().numpy()


# --------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------


def save_state_dict(model: nn.Module, path: str | Path) -> Path:
    """Save ``model.state_dict()`` (as CPU tensors, portable across devices) with torch.save."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, path)
    return path


def load_state_dict(
    model: nn.Module, path: str | Path, device: DeviceLike = "cpu", strict: bool = True
) -> nn.Module:
    """Load weights saved by :func:`save_state_dict` (``weights_only=True``) onto ``device``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no state dict at {path}")
    device = resolve_device(device)
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state, strict=strict)
    return model.to(device)

