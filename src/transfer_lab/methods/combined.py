r"""Few labels ≈ all labels: graph pseudo-labels on a self-supervised encoder, then a student.

The combination, one (budget, seed) at a time:

1. *Teacher.* Label propagation (Zhu & Ghahramani 2002;
   :class:`~transfer_lab.methods.semi_supervised.label_propagation.LabelPropagation`) on the
   k-NN graph of the pretrained encoder's features of every train row (centred and
   L2-normalised, so the graph is a cosine one). Its label distributions are then balanced by
   *class mass normalisation* (Zhu, Ghahramani & Lafferty 2003, §4: scale each class's
   column so that the class masses match the class priors), here iterated to a fixed point
   (Sinkhorn & Knopp 1967) with uniform priors: the train split of a stratified split is
   balanced, and with one label per class a whole class otherwise leaks into its neighbour.
   Or, harder: a balanced assignment (:func:`balanced_assignment`), every class the same
   number of unlabelled rows. Which of the three, which encoder and which ``k`` is chosen
   on the validation split (:func:`select`).
2. *Student.* The pretrained encoder is fine-tuned with a fresh linear head on *every*
   train row, the labelled ones with their labels and the others with the teacher's
   pseudo-labels (hard labels; the self-training step of SimCLRv2, Chen et al. 2020,
   "Big self-supervised models are strong semi-supervised learners", §2, with its
   distillation into a student of the same size), with augmentations and early stopping on
   the validation split.
3. *Second round.* The teacher is run again on the student's features, and a second
   student (again from the pretrained weights) learns its pseudo-labels.

Which stage is the final classifier is chosen on validation too (the pipeline's
``choose_stage``). A student's validation accuracy is that of the epoch the same rows chose,
optimistic by about 0.7 points at 10 labels per class on digits, while a teacher's is not; so
every stage also carries a *fair* validation accuracy (:func:`crossfit_accuracy` for a student,
the plain one for a teacher), and the stages are compared by it.

What reads what: labels of the labelled train rows train; validation labels choose (early
stopping, :func:`select`); the true labels of the unlabelled rows and the test labels are
only ever measured (:func:`measure`), never passed to :func:`run` or :func:`select`, which
take a view without them (:func:`without_held_out_labels`).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.neighbors import NearestNeighbors
from torch import nn

from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from transfer_lab.methods.training import TrainConfig, evaluating, extract_features
from transfer_lab.methods.transfer import finetune

#: How the teacher's label distributions become pseudo-labels: their argmax; the argmax after
#: class mass normalisation; a balanced hard assignment (every class the same count).
ASSIGNMENTS = ("argmax", "class_mass", "balanced")

__all__ = [
    "ASSIGNMENTS",
    "assign",
    "balanced_assignment",
    "Candidate",
    "CombinedSettings",
    "CombinedResult",
    "class_mass_normalise",
    "cosine_features",
    "teacher",
    "select",
    "student",
    "fit_student",
    "crossfit_accuracy",
    "early_stopping_epochs",
    "stratified_halves",
    "run",
    "measure",
    "without_held_out_labels",
]


@dataclass(frozen=True)
class Candidate:
    """One teacher configuration the validation split chooses among."""

    encoder: str
    n_neighbors: int
    assignment: str  # "argmax", "class_mass" or "balanced" (see ASSIGNMENTS)


@dataclass(frozen=True)
class CombinedSettings:
    """How :func:`run` trains (the teacher's choices come from a :class:`Candidate`)."""

    config: TrainConfig = field(default_factory=TrainConfig)
    encoder_lr: float = 1e-4
    strength: float = 0.5
    rounds: int = 2  # teacher → student rounds; 0 = the teacher alone
    n_classes: int | None = None
    device: str = "cpu"


@dataclass
class CombinedResult:
    """The final classifier of :func:`run` and every stage's val accuracy and pseudo-labels."""

    model: Any  # Classifier (a student), or None when rounds == 0 (the teacher predicts)
    predict: Callable[[np.ndarray], np.ndarray]
    stages: list[dict[str, Any]]  # {"stage", "val_accuracy", "fair_val_accuracy", "pseudo_labels", "predict", "seconds"}


def class_mass_normalise(P: np.ndarray, n_iter: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Rows summing to one and columns with equal mass (Zhu, Ghahramani & Lafferty 2003, §4).

    Alternately divides every column by its sum (times ``n / C``) and every row by its sum
    (Sinkhorn & Knopp 1967) until the column masses are equal to within ``tol``. A column
    that is zero everywhere stays zero.
    """
    Q = np.asarray(P, dtype=np.float64) + 1e-12
    n, c = Q.shape
    for _ in range(n_iter):
        Q = Q / Q.sum(axis=0, keepdims=True) * (n / c)
        Q = Q / Q.sum(axis=1, keepdims=True)
        if np.abs(Q.sum(axis=0) - n / c).max() <= tol * n:
            break
    return Q


def balanced_assignment(P: np.ndarray) -> np.ndarray:
    """Hard labels that maximise ``sum_i log P[i, label_i]`` with at most ``ceil(n / C)`` rows
    per class: an assignment problem (each class's column repeated ``ceil(n / C)`` times,
    :func:`scipy.optimize.linear_sum_assignment`, Crouse 2016), the hard, integer version of
    class mass normalisation (and of SwAV's equal-partition constraint, Caron et al. 2020).

    ``O(n^3)`` time: meant for the few thousand unlabelled rows of digits or MNIST-1D.
    """
    P = np.asarray(P, dtype=np.float64)
    n, c = P.shape
    capacity = int(np.ceil(n / c))
    cost = -np.log(np.maximum(P, 1e-300))
    rows, columns = linear_sum_assignment(np.repeat(cost, capacity, axis=1))
    labels = np.empty(n, dtype=np.int64)
    labels[rows] = columns // capacity
    return labels


def assign(P: np.ndarray, assignment: str) -> np.ndarray:
    """The unlabelled rows' label distributions after ``assignment`` (:data:`ASSIGNMENTS`)."""
    if assignment == "argmax":
        return P
    if assignment == "class_mass":
        return class_mass_normalise(P)
    if assignment == "balanced":
        return np.eye(P.shape[1])[balanced_assignment(P)]
    raise ValueError(f"assignment={assignment!r} is not allowed; allowed: {', '.join(ASSIGNMENTS)}")


def cosine_features(F_train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Centre on the train rows' mean and L2-normalise (a cosine k-NN graph)."""
    mean = F_train.mean(axis=0)

    def transform(F: np.ndarray) -> np.ndarray:
        G = np.asarray(F, dtype=np.float64) - mean
        return G / np.maximum(np.linalg.norm(G, axis=1, keepdims=True), 1e-12)

    return transform


def teacher(
    F_labeled: np.ndarray, y_labeled: np.ndarray, F_unlabeled: np.ndarray, n_neighbors: int, assignment: str,
    n_classes: int,
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Label distributions of ``[labelled; unlabelled]`` rows and a predictor for new rows.

    Label propagation on the cosine k-NN graph of the train rows, the unlabelled rows'
    distributions turned into pseudo-labels by ``assignment`` (:func:`assign`). New rows get
    the mean distribution of their ``n_neighbors`` nearest train rows.
    """
    F_train = np.concatenate([F_labeled, F_unlabeled])
    normal = cosine_features(F_train)
    G = normal(F_train)
    P = np.eye(n_classes)[np.asarray(y_labeled)]
    if len(F_unlabeled):  # (a budget of every label has none: the labels are the teacher)
        y = np.concatenate([y_labeled, np.full(len(F_unlabeled), -1)])
        lp = LabelPropagation(n_neighbors=n_neighbors, tol=1e-6).fit(G, y)
        P = np.zeros((len(G), n_classes))
        P[:, lp.classes_] = lp.label_distributions_
        P[len(F_labeled):, lp.classes_] = assign(P[len(F_labeled):, lp.classes_], assignment)
    index = NearestNeighbors(n_neighbors=min(n_neighbors, len(G))).fit(G)

    def predict(F: np.ndarray) -> np.ndarray:
        neighbours = index.kneighbors(normal(F), return_distance=False)
        return P[neighbours].mean(axis=1).argmax(axis=1)

    return P, predict


def without_held_out_labels(view: Any) -> Any:
    """The budget view with the unlabelled rows' and test rows' labels replaced by -1: what
    :func:`run` and :func:`select` get, so they cannot use them."""
    return dataclasses.replace(
        view, y_unlabeled=np.full(len(view.y_unlabeled), -1), y_test=np.full(len(view.y_test), -1),
    )


def _accuracy(predicted: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(predicted) == np.asarray(y))) if len(y) else float("nan")


def select(
    features: dict[str, Callable[[np.ndarray], np.ndarray]], views: Sequence[Any], candidates: Sequence[Candidate],
    n_classes: int,
) -> list[dict[str, Any]]:
    """Validation accuracy of every candidate teacher on every view (``features[encoder]``
    maps rows to that encoder's features); the caller picks. Views must come through
    :func:`without_held_out_labels`."""
    records = []
    for view in views:
        for c in candidates:
            embed = features[c.encoder]
            F_l = embed(view.X_labeled)
            F_u = embed(view.X_unlabeled) if len(view.X_unlabeled) else F_l[:0]  # budget "all": no unlabelled row
            _, predict = teacher(F_l, view.y_labeled, F_u, c.n_neighbors, c.assignment, n_classes)
            records.append({**dataclasses.asdict(c), "labels_per_class": view.labels_per_class, "seed": view.seed,
                            "val_accuracy": _accuracy(predict(embed(view.X_val)), view.y_val)})
    return records


def stratified_halves(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """A boolean mask of about half the rows of every class (the first half of a random
    permutation of each class's rows; an odd count leaves the extra row out of the mask)."""
    y = np.asarray(y)
    mask = np.zeros(len(y), bool)
    rng = np.random.default_rng(seed)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        mask[members[: len(members) // 2]] = True
    return mask


def crossfit_accuracy(P: np.ndarray, y: np.ndarray, patience: int | None, seed: int = 0) -> float:
    """Validation accuracy of a model whose epoch was chosen on the validation rows, without
    the optimism of scoring it on the rows that chose it.

    The rows are split into two class-stratified halves (``seed``); the epoch of best
    accuracy on one half (the first of ties, stopping after ``patience`` epochs without
    improvement, as :func:`~transfer_lab.methods.training.fit` does) is scored on the other,
    both ways round; the result is the fraction right over all rows. ``P`` is the softmax on
    the validation rows after each epoch trained, ``(epochs, rows, classes)``.
    """
    y = np.asarray(y)
    if len(y) == 0:  # no validation rows: nothing to score, as the plain accuracy
        return float("nan")
    first = stratified_halves(y, seed)
    right = 0
    for choose, score in ((first, ~first), (~first, first)):
        best, _ = early_stopping_epochs((P[:, choose].argmax(axis=2) == y[choose]).mean(axis=1), patience)
        right += int((P[best][score].argmax(axis=1) == y[score]).sum())
    return right / len(y)


def early_stopping_epochs(score: np.ndarray, patience: int | None) -> tuple[int, int]:
    """``(best, last)``: the epoch of best ``score`` (the first of ties) and the last epoch
    trained, when training stops after ``patience`` epochs without improvement (None: never),
    as :func:`~transfer_lab.methods.training.fit` does; ``score`` holds one value per epoch."""
    best, since = 0, 0
    for epoch in range(1, len(score)):
        if score[epoch] > score[best]:
            best, since = epoch, 0
        else:
            since += 1
            if patience is not None and since >= patience:
                return best, epoch
    return best, len(score) - 1


def fit_student(encoder: nn.Module, view: Any, pseudo: np.ndarray, settings: CombinedSettings) -> tuple[nn.Module, float]:
    """Fine-tune a copy of ``encoder`` and a fresh head on every train row: labelled rows with
    their labels, the others with ``pseudo`` (early stopping on the validation split). Returns
    the student and its cross-fitted validation accuracy (:func:`crossfit_accuracy`)."""
    rows = np.concatenate([view.X_labeled, view.X_unlabeled])
    labels = np.concatenate([view.y_labeled, pseudo[len(view.y_labeled):]])
    # X_test: the validation rows again, so that finetune never sees the test rows
    taught = dataclasses.replace(view, X_labeled=rows, y_labeled=labels, X_test=view.X_val, y_test=view.y_val)
    X_val = torch.as_tensor(np.asarray(view.X_val), dtype=torch.float32, device=settings.device)
    trajectory = []

    def record(_epoch: int, model: nn.Module, _history: Any) -> None:  # reads, never trains
        with evaluating(model), torch.no_grad():
            trajectory.append(torch.softmax(model(X_val), dim=1).cpu().numpy())

    torch.manual_seed(settings.config.seed)  # the head's initialisation
    result = finetune(
        encoder, taught, config=settings.config, encoder_lr=settings.encoder_lr, augmentations=True,
        strength=settings.strength, n_classes=settings.n_classes, device=settings.device, on_epoch_end=record,
    )
    return result.model, crossfit_accuracy(np.stack(trajectory), view.y_val, settings.config.patience)


def student(encoder: nn.Module, view: Any, pseudo: np.ndarray, settings: CombinedSettings) -> nn.Module:
    """The student of :func:`fit_student`, without its cross-fitted score."""
    return fit_student(encoder, view, pseudo, settings)[0]


def _classify(model: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    device = next(model.parameters()).device

    def predict(X: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            logits = model(torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device))
        return logits.argmax(dim=1).cpu().numpy()

    return predict


def _teacher_stage(embed_with: nn.Module, view: Any, candidate: Candidate, n_classes: int, name: str) -> dict[str, Any]:
    start = time.perf_counter()
    F_l = extract_features(embed_with, view.X_labeled)
    F_u = extract_features(embed_with, view.X_unlabeled) if len(view.X_unlabeled) else F_l[:0]
    P, on_features = teacher(F_l, view.y_labeled, F_u, candidate.n_neighbors, candidate.assignment, n_classes)

    def predict(X: np.ndarray) -> np.ndarray:
        return on_features(extract_features(embed_with, X))

    val = _accuracy(predict(view.X_val), view.y_val)  # nothing of the teacher was chosen per stage: fair as it is
    return {"stage": name, "val_accuracy": val, "fair_val_accuracy": val, "pseudo_labels": P.argmax(axis=1),
            "predict": predict, "seconds": time.perf_counter() - start}


def run(
    encoder: nn.Module, view: Any, candidate: Candidate, settings: CombinedSettings,
    first_student: tuple[nn.Module, float, float] | None = None,
) -> CombinedResult:
    """Teacher on the pretrained features, then ``settings.rounds`` times: a student on the
    teacher's pseudo-labels, and (before the next round) the teacher on that student's features.

    ``view`` must come through :func:`without_held_out_labels`; ``encoder`` is not changed.
    ``rounds == 0`` gives the teacher alone (label propagation on the pretrained features).
    ``first_student``: ``(model, seconds, fair_val_accuracy)`` of a first-round student already
    trained by a run with the same encoder, view, candidate and settings (the student
    selection's); it is used instead of training it again (its stage records those
    ``seconds`` and that cross-fitted accuracy).
    """
    n_classes = settings.n_classes or int(max(view.y_labeled.max(), view.y_val.max())) + 1
    stages = [_teacher_stage(encoder, view, candidate, n_classes, "teacher_1")]
    model = None
    rounds = settings.rounds if len(view.X_unlabeled) else min(settings.rounds, 1)  # every label: one student
    for round_ in range(1, rounds + 1):
        if model is not None:
            stages.append(_teacher_stage(model.encoder, view, candidate, n_classes, f"teacher_{round_}"))
        start, spent = time.perf_counter(), 0.0
        if round_ == 1 and first_student is not None:
            model, spent, fair = first_student
        else:
            model, fair = fit_student(copy.deepcopy(encoder), view, stages[-1]["pseudo_labels"], settings)
        predict = _classify(model)
        stages.append({"stage": f"student_{round_}", "val_accuracy": _accuracy(predict(view.X_val), view.y_val),
                       "fair_val_accuracy": fair, "pseudo_labels": None, "predict": predict,
                       "seconds": spent + time.perf_counter() - start})
    return CombinedResult(model, stages[-1]["predict"], stages)


def measure(result: CombinedResult, view: Any) -> dict[str, float]:
    """Test accuracy (of the result and of every stage), and the precision of every teacher's pseudo-labels on the unlabelled
    rows (``view`` with its true labels: measuring only, after :func:`run`)."""
    measured = {"accuracy": _accuracy(result.predict(view.X_test), view.y_test)}
    n_labeled = len(view.y_labeled)
    for stage in result.stages:
        measured[f"{stage['stage']}_accuracy"] = _accuracy(stage["predict"](view.X_test), view.y_test)
        if stage["pseudo_labels"] is not None:
            measured[f"{stage['stage']}_precision"] = _accuracy(stage["pseudo_labels"][n_labeled:], view.y_unlabeled)
    return measured
