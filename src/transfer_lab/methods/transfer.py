"""Transfer protocols: how a pretrained encoder is put to work on a few labels.

Each protocol takes a pretrained encoder and a :class:`~transfer_lab.sources.splits.BudgetView`
(the labelled rows of one budget and seed, the shared val and test rows) and returns a
:class:`TransferResult` with test and val accuracy, so a pipeline writes one result row per
``<pretraining>_<protocol>``:

========================= ==================================================================
protocol                  what is trained
========================= ==================================================================
``linear_probe``          logistic regression on standardised frozen features
``knn``                   nothing: cosine k-nearest neighbours on frozen features
``partial_freeze``        the last blocks and a linear head; the first ``k`` blocks frozen
``finetune``              everything, the encoder at a small learning rate
``scratch``               a fresh encoder of the same shape (the reference without transfer)
========================= ==================================================================

No protocol modifies the encoder it is given (fine-tuning works on a deep copy), so one
pretrained encoder serves every protocol, budget and seed. :func:`pretrain` dispatches the
pretraining methods by name for the pipelines.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from torch import nn

from transfer_lab.methods.augment import build_augmenter, data_kind
from transfer_lab.methods.encoders import Classifier, build_encoder, freeze_blocks
from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.training import (
    TrainConfig,
    accuracy,
    evaluating,
    extract_features,
    fit_classifier,
    make_optimizer,
)

__all__ = [
    "TransferResult",
    "FeatureCache",
    "linear_probe",
    "knn_probe",
    "finetune",
    "partial_freeze",
    "train_from_scratch",
    "PROTOCOLS",
    "run_protocol",
    "PRETRAINING_METHODS",
    "pretrain",
]

Steps = Sequence[Mapping[str, Any]] | None


@dataclass
class TransferResult:
    """Accuracy of one transfer protocol on one budget.

    Attributes
    ----------
    protocol : str
        E.g. ``"linear_probe"``; the result row's method is ``f"{pretraining}_{protocol}"``.
    test_accuracy : float
    val_accuracy : float or None
        ``None`` when the view has no validation rows.
    n_labeled : int
        Labelled rows used.
    seconds : float
        Wall-clock time of the protocol (not of the pretraining).
    details : dict
        Protocol-specific facts (``k``, ``n_frozen``, ``best_epoch``, ...).
    model : nn.Module or None
        The trained classifier of the fine-tuning protocols (logits out, e.g. to save with
        :func:`~transfer_lab.methods.training.save_state_dict`); ``None`` for the probes.
    """

    protocol: str
    test_accuracy: float
    val_accuracy: float | None
    n_labeled: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False)


def _check_view(view: Any) -> None:
    for name in ("X_labeled", "y_labeled", "X_val", "y_val", "X_test", "y_test"):
        if not hasattr(view, name):
            raise ValueError(f"view has no {name!r}; expected a BudgetView")
    if len(view.X_labeled) == 0:
        raise ValueError("view has no labelled rows")
    if len(view.X_test) == 0:
        raise ValueError("view has no test rows")


def _score(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray):
    if len(X) == 0:
        return None
    return float(np.mean(predict(X) == np.asarray(y)))


# --------------------------------------------------------------------------------------------
# Frozen-feature protocols
# --------------------------------------------------------------------------------------------


class FeatureCache:
    """Features of one frozen encoder, computed once per distinct input array.

    The frozen-feature protocols (``linear_probe``, ``knn``) of one encoder see the same
    validation and test rows at every label budget and seed; a cache shared by them
    extracts each of those arrays once per encoder instead of once per protocol and pair.
    Keys are the array's bytes (a digest), so equal rows from different views hit; the
    features are those :func:`extract_features` returns for the array.
    """

    def __init__(self, encoder: nn.Module, device: Any = "cpu") -> None:
        self.encoder, self.device = encoder, resolve_device(device)
        self._features: dict[tuple, np.ndarray] = {}

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X)
        key = (X.shape, X.dtype.str, hashlib.blake2b(X.tobytes(), digest_size=16).digest())
        if key not in self._features:
            self._features[key] = extract_features(self.encoder, X, self.device)
        return self._features[key]


def linear_probe(
    encoder: nn.Module,
    view: Any,
    C: float = 1.0,
    max_iter: int = 2000,
    device: Any = "cpu",
    features: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TransferResult:
    """Logistic regression on the frozen encoder's standardised features.

    Parameters
    ----------
    encoder : nn.Module
        Pretrained; used in eval mode, not modified.
    view : BudgetView
    C : float, default 1.0
        Inverse L2 strength of :class:`sklearn.linear_model.LogisticRegression`.
    max_iter : int, default 2000
    device : str or torch.device, default "cpu"
    features : callable, optional
        ``X -> encoder features``; a :class:`FeatureCache` of ``encoder`` shares them
        between protocols and budgets. Default: :func:`extract_features` on each call.

    Returns
    -------
    TransferResult
    """
    _check_view(view)
    if not C > 0:
        raise ValueError(f"C must be > 0, got {C}")
    start = time.perf_counter()
    device = resolve_device(device)
    features = features or FeatureCache(encoder, device)

    # Standardise with the labelled rows only: the scaler is part of the fitted classifier.
    scaler = StandardScaler().fit(features(view.X_labeled))
    clf = LogisticRegression(C=C, max_iter=max_iter)
    clf.fit(scaler.transform(features(view.X_labeled)), view.y_labeled)

    def predict(X: np.ndarray) -> np.ndarray:
        return clf.predict(scaler.transform(features(X)))

    return TransferResult(
        "linear_probe",
        _score(predict, view.X_test, view.y_test),
        _score(predict, view.X_val, view.y_val),
        len(view.y_labeled),
        time.perf_counter() - start,
        {"C": C},
    )


def knn_probe(
    encoder: nn.Module,
    view: Any,
    k: int = 5,
    weights: str = "distance",
    device: Any = "cpu",
    features: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TransferResult:
    """Cosine k-nearest-neighbour classification on the frozen encoder's features.

    Parameters
    ----------
    encoder : nn.Module
        Pretrained; not modified.
    view : BudgetView
    k : int, default 5
        Neighbours; capped at the number of labelled rows (``details["k"]`` is the one used).
    weights : {"distance", "uniform"}, default "distance"
        ``"distance"`` lets the nearest neighbour dominate, which matters at 1 label per class
        where the k neighbours are k different classes.
    device : str or torch.device, default "cpu"
    features : callable, optional
        ``X -> encoder features``; a :class:`FeatureCache` of ``encoder`` shares them
        between protocols and budgets. Default: :func:`extract_features` on each call.

    Returns
    -------
    TransferResult
    """
    _check_view(view)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if weights not in ("distance", "uniform"):
        raise ValueError(f"weights must be 'distance' or 'uniform', got {weights!r}")
    start = time.perf_counter()
    device = resolve_device(device)
    k_used = int(min(k, len(view.y_labeled)))
    features = features or FeatureCache(encoder, device)

    clf = KNeighborsClassifier(n_neighbors=k_used, metric="cosine", weights=weights)
    clf.fit(features(view.X_labeled), view.y_labeled)

    def predict(X: np.ndarray) -> np.ndarray:
        return clf.predict(features(X))

    return TransferResult(
        "knn",
        _score(predict, view.X_test, view.y_test),
        _score(predict, view.X_val, view.y_val),
        len(view.y_labeled),
        time.perf_counter() - start,
        {"k": k_used, "weights": weights},
    )


# --------------------------------------------------------------------------------------------
# Fine-tuning protocols
# --------------------------------------------------------------------------------------------


def _augmented_loss(augmenter: nn.Module | None) -> Callable | None:
    if augmenter is None:
        return None
    loss = nn.CrossEntropyLoss()

    def step(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        # Augment only while training; fit's validation pass runs in eval mode.
        return loss(model(augmenter(x) if model.training else x), y)

    return step


def _frozen_prefix_val_fn(
    model: Classifier, n_frozen: int, X_val: np.ndarray, y_val: np.ndarray, device: torch.device,
    batch_size: int = 1024,
) -> Callable[[nn.Module], float]:
    """Validation accuracy of ``model`` that runs its frozen leading blocks on ``X_val`` once.

    Frozen blocks keep their weights and stay in eval mode (:func:`freeze_blocks`), so their
    output on the validation rows is the same at every epoch; only the trainable blocks and
    the head run per epoch (with 2 of 4 blocks frozen on 8x8 digits: ~7 of ~27 ms CPU per
    evaluation of 360 rows). The rows go in the chunks of :func:`accuracy`, through the same
    layers, so the value is the one ``accuracy(model, X_val, y_val)`` gives.
    """
    blocks = model.encoder.blocks
    prefix, rest = blocks[:n_frozen], blocks[n_frozen:]
    X = torch.from_numpy(np.ascontiguousarray(X_val))
    with evaluating(model), torch.no_grad():
        hidden = [prefix(X[s : s + batch_size].to(device=device, dtype=torch.float32))
                  for s in range(0, len(X), batch_size)]
    y = torch.from_numpy(np.asarray(y_val)).to(device)

    def val_fn(m: nn.Module) -> float:
        with evaluating(m), torch.no_grad():
            logits = torch.cat([m.head(rest(h)) for h in hidden])
        return float((logits.argmax(dim=1) == y).float().mean())

    return val_fn


def _train_classifier(
    encoder: nn.Module,
    view: Any,
    n_frozen: int,
    config: TrainConfig,
    encoder_lr: float | None,
    augmentations: Steps | bool,
    strength: float,
    device: Any,
    protocol: str,
    n_classes: int | None,
    on_epoch_end: Any = None,
) -> TransferResult:
    start = time.perf_counter()
    device = resolve_device(device)
    # the declared number of classes (BudgetView.n_classes); labels seen only for views without one
    n_classes = n_classes or getattr(view, "n_classes", None) or int(max(np.max(view.y_labeled), np.max(view.y_test))) + 1
    model = Classifier(encoder, n_classes).to(device)
    freeze_blocks(encoder, n_frozen)
    # Two learning rates: the fresh head learns at config.lr, the pretrained blocks at a
    # smaller one so that a few noisy labels do not wash out what pretraining learned.
    head_params = list(model.head.parameters())
    enc_params = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": head_params, "lr": config.lr}]
    if enc_params:
        groups.append({"params": enc_params, "lr": config.lr if encoder_lr is None else encoder_lr})
    optimizer = make_optimizer(groups, config)
    augmenter = None
    if augmentations is not False:
        steps = None if augmentations is True else augmentations
        augmenter = build_augmenter(steps, data_kind(view.X_labeled), strength).to(device)
    has_val = len(view.X_val) > 0
    validation = {"X_val": view.X_val, "y_val": view.y_val} if has_val else {"X_val": None, "y_val": None}
    if has_val and n_frozen > 0 and isinstance(getattr(encoder, "blocks", None), nn.Sequential):
        validation = {"X_val": None, "y_val": None,
               "val_fn": _frozen_prefix_val_fn(model, n_frozen, view.X_val, view.y_val, device)}
    history = fit_classifier(
        model,
        view.X_labeled,
        view.y_labeled,
        config=config,
        device=device,
        optimizer=optimizer,
        step_fn=_augmented_loss(augmenter),
        desc=protocol,
        on_epoch_end=on_epoch_end,
        **validation,
    )
    test = accuracy(model, view.X_test, view.y_test, device)
    val = accuracy(model, view.X_val, view.y_val, device) if has_val else None
    return TransferResult(
        protocol, test, val, len(view.y_labeled), time.perf_counter() - start,
        {"n_frozen": n_frozen, "best_epoch": history.best_epoch,
         "epochs_run": history.epochs_run, "encoder_lr": encoder_lr},
        model,
    )


def finetune(
    encoder: nn.Module,
    view: Any,
    *,
    n_frozen: int = 0,
    config: TrainConfig,
    encoder_lr: float | None = 1e-4,
    augmentations: Steps | bool = True,
    strength: float = 0.5,
    n_classes: int | None = None,
    device: Any = "cpu",
    on_epoch_end: Any = None,
) -> TransferResult:
    """Fine-tune a copy of the encoder with a linear head on the labelled rows.

    Early stopping on validation accuracy, best weights restored (``config.patience``).

    Parameters
    ----------
    encoder : nn.Module
        Pretrained; a deep copy is trained, the original is left as it is.
    view : BudgetView
    n_frozen : int, default 0
        Leading ``encoder.blocks`` kept frozen (:func:`~transfer_lab.methods.encoders.
        freeze_blocks`); 0 fine-tunes everything.
    config : TrainConfig
        The training settings (keyword-only, required); ``config.lr`` is the head's learning
        rate, ``config.patience`` the early stopping on validation accuracy. The budgets are
        tiny (10 to 100 rows), so an epoch is one or two batches and early stopping needs a
        long patience to see past the noise of a few steps.
    encoder_lr : float or None, default 1e-4
        Learning rate of the unfrozen encoder blocks; ``None`` uses ``config.lr``. 1e-3 was
        1-3 points worse on digits: a few labels pull the features away from pretraining.
    augmentations : list of dict, True or False, default True
        Augment the labelled batches (True: ``default_augmentations(kind, strength)``).
    strength : float, default 0.5
        Milder than for pretraining: at 1 label per class, strength 1 cost 3-5 points.
    n_classes : int, optional
        Defaults to ``max(label) + 1`` over labelled and test rows.
    device : str or torch.device, default "cpu"
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, model, history)`` after each epoch's validation (see
        :func:`~transfer_lab.methods.training.fit`); it must not change the model.

    Returns
    -------
    TransferResult
        ``protocol`` is ``"finetune"`` with ``n_frozen == 0``, else ``"partial_freeze"``.
    """
    _check_view(view)
    protocol = "finetune" if n_frozen == 0 else "partial_freeze"
    return _train_classifier(
        copy.deepcopy(encoder), view, n_frozen, config,
        encoder_lr, augmentations, strength, device, protocol, n_classes, on_epoch_end,
    )


def partial_freeze(
    encoder: nn.Module, view: Any, k: int = 2, **kwargs: Any
) -> TransferResult:
    """:func:`finetune` with the first ``k`` encoder blocks frozen (the rest and a head train).

    ``k == len(encoder.blocks)`` trains only the head: a linear probe by gradient descent.
    """
    n_blocks = len(getattr(encoder, "blocks", ()))
    if not 1 <= k <= n_blocks:
        raise ValueError(f"k must be in [1, {n_blocks}] for this encoder, got {k}")
    return finetune(encoder, view, n_frozen=k, **kwargs)


def train_from_scratch(
    view: Any,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    config: TrainConfig,
    augmentations: Steps | bool = True,
    strength: float = 1.0,
    n_classes: int | None = None,
    device: Any = "cpu",
) -> TransferResult:
    """Train a freshly initialised encoder and head on the labelled rows: the no-transfer reference.

    Parameters
    ----------
    view : BudgetView
    encoder : nn.Module, optional
        A fresh encoder (e.g. built like the pretrained one); its weights are re-initialised,
        so the pretrained encoder itself can be passed to get the same architecture.
    encoder_kwargs : dict, optional
        For ``build_encoder("auto", ...)`` when no encoder is given.
    config, augmentations, n_classes, device
        As in :func:`finetune` (one learning rate, ``config.lr``, for everything).
    strength : float, default 1.0
        Stronger than for fine-tuning: without pretrained features, augmentation is the
        main regulariser.

    Returns
    -------
    TransferResult
    """
    _check_view(view)
    if encoder is None:
        shape = tuple(view.X_labeled.shape[1:])
        encoder = build_encoder("auto", shape, **dict(encoder_kwargs or {}))
    else:
        encoder = copy.deepcopy(encoder)
        for module in encoder.modules():
            if module is not encoder and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        if hasattr(encoder, "n_frozen"):
            freeze_blocks(encoder, 0)
    return _train_classifier(
        encoder, view, 0, config, None, augmentations,
        strength, device, "scratch", n_classes,
    )


PROTOCOLS: dict[str, Callable[..., TransferResult]] = {
    "linear_probe": linear_probe,
    "knn": knn_probe,
    "partial_freeze": partial_freeze,
    "finetune": finetune,
}


def run_protocol(name: str, encoder: nn.Module, view: Any, **settings: Any) -> TransferResult:
    """Run the protocol ``name`` (a key of :data:`PROTOCOLS`) with its keyword settings
    (``k``, ``config``, ``encoder_lr``, ``device``, ...: those of the protocol's function)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name](encoder, view, **settings)


# --------------------------------------------------------------------------------------------
# Pretraining dispatch
# --------------------------------------------------------------------------------------------


def _pretraining_methods() -> dict[str, Callable[..., Any]]:
    from transfer_lab.methods import clip, contrastive, infomax, pretext, puzzles

    return {
        "simclr": contrastive.pretrain_simclr,
        "moco": contrastive.pretrain_moco,
        "supcon": contrastive.pretrain_supcon,
        "rotation": pretext.pretrain_rotation,
        "imputation": pretext.pretrain_imputation,
        "supervised_source": pretext.pretrain_supervised_source,
        "dim": infomax.pretrain_dim,
        "cpc": infomax.pretrain_cpc,
        "jigsaw": puzzles.pretrain_jigsaw,
        "relative_position": puzzles.pretrain_relative_position,
        "clip": clip.pretrain_clip,
    }


#: Pretraining method names; ``supcon``, ``supervised_source`` and ``clip`` (its captions) also need labels ``y``.
PRETRAINING_METHODS = (
    "simclr", "moco", "supcon", "rotation", "imputation", "supervised_source",
    "dim", "cpc", "jigsaw", "relative_position", "clip",
)
_NEEDS_LABELS = ("supcon", "supervised_source", "clip")


def pretrain(
    method: str, X: Any, y: Any = None, **params: Any
) -> tuple[nn.Module, Any]:
    """Pretrain an encoder with the method ``method`` (see :data:`PRETRAINING_METHODS`).

    Parameters
    ----------
    method : str
    X : array
        Training samples (unlabelled for the self-supervised methods).
    y : array, optional
        Labels, for ``supcon`` (a budget's labelled rows) and ``supervised_source`` (a source
        domain).
    **params
        Keyword arguments of the method, e.g. ``temperature`` or ``config``.

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
    """
    methods = _pretraining_methods()
    if method not in methods:
        raise ValueError(f"unknown pretraining method {method!r}; allowed: {', '.join(methods)}")
    if method in _NEEDS_LABELS:
        if y is None:
            raise ValueError(f"pretraining method {method!r} needs labels y")
        return methods[method](X, y, **params)
    if y is not None:
        raise ValueError(f"pretraining method {method!r} is self-supervised; do not pass y")
    return methods[method](X, **params)
