"""Teacher -> student distillation on the unlabeled rows (Hinton et al. 2015; SimCLRv2)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from transfer_lab.methods.semi_supervised.losses import distillation_loss
from transfer_lab.methods.semi_supervised.neural.engine import (
    Arrays,
    DeviceLike,
    EncoderBuilder,
    Meter,
    Schedule,
    SemiSupervisedHistory,
    as_tensor,
    build_model,
    check_common,
    count_classes,
    read_arrays,
    run,
    split,
)
from transfer_lab.methods.semi_supervised.transforms import weak_augment
from transfer_lab.methods.training import TrainConfig


def _label_propagation_teacher(arrays: Arrays, params: Mapping[str, Any] | None, n_classes: int | None) -> np.ndarray:
    """Label distributions of the unlabeled rows from LabelPropagation on the flat inputs."""
    X = np.concatenate([arrays.X_labeled, arrays.X_unlabeled]).reshape(
        len(arrays.X_labeled) + len(arrays.X_unlabeled), -1
    )
    y = np.concatenate([arrays.y_labeled, np.full(len(arrays.X_unlabeled), -1)])
    with warnings.catch_warnings():
        # Slow convergence on long chains still gives usable distributions for a teacher.
        warnings.simplefilter("ignore", ConvergenceWarning)
        graph = LabelPropagation(**dict(params or {})).fit(X, y)
    probs = np.zeros((len(arrays.X_unlabeled), count_classes(arrays, n_classes)))
    # classes_ may skip a label that has no labeled row; its column stays 0.
    probs[:, graph.classes_] = graph.label_distributions_[len(arrays.X_labeled) :]
    return probs


def train_distillation(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    teacher: nn.Module | str = "fixmatch",
    teacher_params: Mapping[str, Any] | None = None,
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
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`; ``config`` trains
        the student and a teacher trained here.
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
    arrays = read_arrays(data)
    check_common(weight, 0.0, unlabeled_ratio)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if supervised_weight < 0:
        raise ValueError(f"supervised_weight must be >= 0, got {supervised_weight}")
    device = resolve_device(device)
    info: dict[str, Any] = {}
    if isinstance(teacher, str) and teacher == "label_propagation":
        teacher = _label_propagation_teacher(arrays, teacher_params, n_classes)
    if isinstance(teacher, str):
        from transfer_lab.methods.semi_supervised.neural.registry import NEURAL_METHODS, train_semi_supervised

        if teacher == "distillation" or teacher not in NEURAL_METHODS:
            allowed = ", ".join(
                ["label_propagation"] + [m for m in NEURAL_METHODS if m != "distillation"]
            )
            raise ValueError(f"teacher must be a model or one of {allowed}; got {teacher!r}")
        teacher_model, teacher_history = train_semi_supervised(
            teacher, data, build_encoder, config, device,
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
        x_u = as_tensor(arrays.X_unlabeled, device)
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

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_b, _, t_b = batch
            x = torch.cat([x_l, x_b])
            if augment:
                x = weak_augment(x, max_shift)
            logits_l, logits_u = split(model(x), [len(x_l), len(x_b)])
            sup = F.cross_entropy(logits_l, y_l)
            distil = distillation_loss(logits_u, t_b, temperature)
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=distil.detach())
            meter.set(weight=weight)
            return supervised_weight * sup + weight * distil

        return step

    student = build_model(build_student_encoder or build_encoder, k, config.seed)
    model, history = run(
        "distillation", arrays, build_student_encoder or build_encoder, config, device,
        make_step, unlabeled_ratio=unlabeled_ratio, n_classes=k,
        monitor_threshold=monitor_threshold, extras=(teacher_logits,), model=student,
    )
    history.info.update(info)
    return model, history
