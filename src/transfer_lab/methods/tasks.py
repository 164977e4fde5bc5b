"""A dictionary of tasks over one image set, and the networks and readouts that solve them.

Taskonomy (Zamir et al., CVPR 2018) needs many tasks defined on the *same* images: a task is
a way to turn an image into a target, a loss that compares a prediction with that target
sample by sample (the tournament compares transfers per test sample), and an output head.
Here every task is a small frozen dataclass with

* ``view``: the name of the input the task reads (``"clean"``, or a corruption such as
  ``"noise_0.3"``); tasks with the same view read identical inputs, so a source encoder's
  features are computed once per view and shared by every target that reads it;
* :meth:`Task.inputs` (the view of the images), :meth:`Task.targets` (the target of every
  image), :meth:`Task.output_size`, :meth:`Task.loss` (per-sample, shape ``(n,)``) and
  :meth:`Task.head` (the decoder / readout put on an encoder's feature vector).

Images are ``(n, 1, H, W)`` arrays in [0, 1]; 1-D signals ``(n, 1, L)`` work too (rotation
becomes reversal, the centre of mass has one coordinate). Tasks derived from the class label
(``parity``, ``loops``) assume digit labels 0-9.

=================  ==============  =========================================================
name               kind            target
=================  ==============  =========================================================
``class``          classification  the label (10-way for digits)
``parity``         classification  label mod 2
``loops``          classification  closed loops of the digit (0: 1 2 3 5 7, 1: 0 4 6 9, 2: 8)
``ink_mass``       regression      mean intensity
``centre_of_mass`` regression      intensity centroid, each coordinate scaled to [0, 1]
``rotation``       classification  which multiple of 90° the input was rotated by (RotNet)
``denoise``        dense           the clean image, from an input with Gaussian noise
``inpaint``        dense           the pixels of a centred square, from an input where it is 0
``upsample``       dense           the image, from a block-averaged low-resolution input
``edges``          dense           Sobel gradient magnitude
``autoencode``     dense           the image itself
=================  ==============  =========================================================

The second half of the module trains on a task: :class:`TaskNetwork` (encoder + head, the
task-specific network), :func:`train_task_network`, :func:`fit_readout` (a head trained on
frozen features: a transfer) and :func:`per_sample_losses`; the steps of the Taskonomy
pipeline on one task put them together: :func:`fit_task_network` (``self``, ``pixels``),
:func:`readout_losses` (a transfer from one or several sources) and :func:`view_features`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from transfer_lab.methods.training import TrainConfig, TrainHistory, evaluating, extract_features, fit

__all__ = [
    "TASKS",
    "TASK_KINDS",
    "Task",
    "make_task",
    "TaskNetwork",
    "make_head",
    "train_task_network",
    "per_sample_losses",
    "fit_readout",
    "standardise",
    "discrete_targets",
    "fit_task_network",
    "readout_losses",
    "view_features",
]

TASK_KINDS = ("classification", "regression", "dense")

# Closed loops of handwritten digits as usually written: 0 4 6 9 have one, 8 has two.
_LOOPS = np.array([1, 0, 0, 0, 1, 0, 1, 0, 2, 1], dtype=np.int64)


def _check_images(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim not in (3, 4) or X.shape[1] != 1 or X.shape[0] == 0:
        raise ValueError(f"expected images (n, 1, H, W) or signals (n, 1, L), got shape {X.shape}")
    return X


def _check_digit_labels(y: np.ndarray, task: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64)
    if y.min() < 0 or y.max() > 9:
        raise ValueError(f"task {task!r} needs digit labels 0-9, got labels in [{y.min()}, {y.max()}]")
    return y


def _flat(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float32)


def _centre_slices(shape: tuple[int, ...], size: int) -> tuple[slice, ...]:
    """Slices of a centred square (images) or segment (signals) of side ``size``."""
    spatial = shape[2:]
    if any(size > s for s in spatial):
        raise ValueError(f"inpainting size {size} exceeds the input size {spatial}")
    return tuple(slice((s - size) // 2, (s - size) // 2 + size) for s in spatial)


def _rotation_steps(n: int, n_angles: int, seed: int) -> np.ndarray:
    # Its own generator: the draw depends only on (n, seed), so inputs and targets agree.
    return np.random.default_rng([seed, 90]).integers(0, n_angles, n)


# ============================================================================ the tasks
@dataclass(frozen=True)
class Task:
    """Base of every task; subclasses set ``name`` and ``kind`` and override what differs.

    Options of a task (noise level, mask size, ...) are dataclass fields, so a task is
    hashable, comparable and rebuilt from its options by :func:`make_task`.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "dense"

    @property
    def view(self) -> str:
        """Name of the input this task reads; equal names mean identical inputs."""
        return "clean"

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    def options(self) -> dict:
        """The task's options, as :func:`make_task` takes them."""
        return dataclasses.asdict(self)

    def inputs(self, X: np.ndarray, seed: int = 0) -> np.ndarray:
        """The images as this task's network sees them (float32, same shape as ``X``)."""
        return _check_images(X).copy()

    def targets(self, X: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
        """Target of every image: int64 ``(n,)`` for classification, float32 ``(n, k)`` else."""
        raise NotImplementedError

    def output_size(self, input_shape: tuple[int, ...], n_labels: int) -> int:
        """Number of classes (classification) or of predicted values (regression, dense)."""
        return math.prod(input_shape)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape ``(n,)``: cross-entropy for classes, mean squared error else."""
        if self.is_classification:
            return nn.functional.cross_entropy(outputs, targets.long(), reduction="none")
        return ((outputs - targets) ** 2).mean(dim=1)

    def head(self, in_features: int, out_size: int, hidden: int = 64) -> nn.Module:
        """Decoder / readout on a feature vector; see :func:`make_head`."""
        return make_head(in_features, out_size, hidden)


@dataclass(frozen=True)
class ClassTask(Task):
    name: ClassVar[str] = "class"
    kind: ClassVar[str] = "classification"

    def targets(self, X, y, seed=0):
        return np.asarray(y, dtype=np.int64).copy()

    def output_size(self, input_shape, n_labels):
        return int(n_labels)


@dataclass(frozen=True)
class ParityTask(Task):
    name: ClassVar[str] = "parity"
    kind: ClassVar[str] = "classification"

    def targets(self, X, y, seed=0):
        return _check_digit_labels(y, self.name) % 2

    def output_size(self, input_shape, n_labels):
        return 2


@dataclass(frozen=True)
class LoopsTask(Task):
    name: ClassVar[str] = "loops"
    kind: ClassVar[str] = "classification"

    def targets(self, X, y, seed=0):
        return _LOOPS[_check_digit_labels(y, self.name)]

    def output_size(self, input_shape, n_labels):
        return 3


@dataclass(frozen=True)
class InkMassTask(Task):
    name: ClassVar[str] = "ink_mass"
    kind: ClassVar[str] = "regression"

    def targets(self, X, y, seed=0):
        return _flat(_check_images(X)).mean(axis=1, keepdims=True)

    def output_size(self, input_shape, n_labels):
        return 1


@dataclass(frozen=True)
class CentreOfMassTask(Task):
    name: ClassVar[str] = "centre_of_mass"
    kind: ClassVar[str] = "regression"

    def targets(self, X, y, seed=0):
        X = np.clip(_check_images(X)[:, 0], 0.0, None)  # ink is non-negative
        mass = X.reshape(len(X), -1).sum(axis=1)
        coordinates = []
        for axis, size in enumerate(X.shape[1:]):
            position = np.arange(size, dtype=np.float64) / max(size - 1, 1)
            other = tuple(a + 1 for a in range(X.ndim - 1) if a != axis)
            profile = X.sum(axis=other) if other else X
            # an empty image has its centre in the middle
            centre = np.divide(profile @ position, mass, out=np.full(len(X), 0.5), where=mass > 0)
            coordinates.append(centre)
        return np.stack(coordinates, axis=1).astype(np.float32)

    def output_size(self, input_shape, n_labels):
        return len(input_shape) - 1


@dataclass(frozen=True)
class RotationTask(Task):
    """Which multiple of 90° the input was rotated by (4-way; signals: reversed or not)."""

    name: ClassVar[str] = "rotation"
    kind: ClassVar[str] = "classification"

    @property
    def view(self):
        return "rotated"

    @staticmethod
    def _n_angles(ndim: int) -> int:
        return 4 if ndim == 4 else 2

    def inputs(self, X, seed=0):
        X = _check_images(X)
        steps = _rotation_steps(len(X), self._n_angles(X.ndim), seed)
        out = X.copy()
        for k in range(1, self._n_angles(X.ndim)):
            rows = steps == k
            if X.ndim == 4:
                if X.shape[2] != X.shape[3]:
                    raise ValueError(f"rotation needs square images, got {X.shape[2:]}")
                out[rows] = np.rot90(X[rows], k, axes=(2, 3))
            else:
                out[rows] = X[rows, :, ::-1]
        return out

    def targets(self, X, y, seed=0):
        X = _check_images(X)
        return _rotation_steps(len(X), self._n_angles(X.ndim), seed).astype(np.int64)

    def output_size(self, input_shape, n_labels):
        return 4 if len(input_shape) == 3 else 2


@dataclass(frozen=True)
class DenoiseTask(Task):
    """The clean image from an input with additive Gaussian noise of standard deviation ``std``."""

    name: ClassVar[str] = "denoise"
    std: float = 0.3

    def __post_init__(self):
        if not self.std > 0:
            raise ValueError(f"denoise std must be > 0, got {self.std}")

    @property
    def view(self):
        return f"noise_{self.std:g}"

    def inputs(self, X, seed=0):
        X = _check_images(X)
        noise = np.random.default_rng([seed, 1]).normal(0.0, self.std, X.shape)
        return (X + noise).astype(np.float32)

    def targets(self, X, y, seed=0):
        return _flat(_check_images(X))


@dataclass(frozen=True)
class InpaintTask(Task):
    """The pixels of a centred ``size`` × ``size`` square, from an input where it is 0."""

    name: ClassVar[str] = "inpaint"
    size: int = 4

    def __post_init__(self):
        if int(self.size) != self.size or self.size < 1:
            raise ValueError(f"inpaint size must be a positive integer, got {self.size}")

    @property
    def view(self):
        return f"mask_{self.size}"

    def inputs(self, X, seed=0):
        X = _check_images(X).copy()
        X[(slice(None), slice(None), *_centre_slices(X.shape, self.size))] = 0.0
        return X

    def targets(self, X, y, seed=0):
        X = _check_images(X)
        return _flat(X[(slice(None), slice(None), *_centre_slices(X.shape, self.size))])

    def output_size(self, input_shape, n_labels):
        return self.size ** (len(input_shape) - 1)


@dataclass(frozen=True)
class UpsampleTask(Task):
    """The image from its ``factor``-times block-averaged version (repeated back to full size)."""

    name: ClassVar[str] = "upsample"
    factor: int = 2

    def __post_init__(self):
        if int(self.factor) != self.factor or self.factor < 2:
            raise ValueError(f"upsample factor must be an integer >= 2, got {self.factor}")

    @property
    def view(self):
        return f"low_res_{self.factor}"

    def inputs(self, X, seed=0):
        X = _check_images(X)
        f = self.factor
        spatial = X.shape[2:]
        if any(s % f for s in spatial):
            raise ValueError(f"upsample factor {f} does not divide the input size {spatial}")
        if X.ndim == 4:
            h, w = spatial
            low = X.reshape(len(X), 1, h // f, f, w // f, f).mean(axis=(3, 5))
            return low.repeat(f, axis=2).repeat(f, axis=3)
        low = X.reshape(len(X), 1, spatial[0] // f, f).mean(axis=3)
        return low.repeat(f, axis=2)

    def targets(self, X, y, seed=0):
        return _flat(_check_images(X))


@dataclass(frozen=True)
class EdgesTask(Task):
    """Sobel gradient magnitude, scaled so that inputs in [0, 1] give values in [0, 1]."""

    name: ClassVar[str] = "edges"

    def targets(self, X, y, seed=0):
        X = _check_images(X).astype(np.float64)
        derivative, smooth = [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0]
        if X.ndim == 4:
            # explicit 1-D passes: ndimage.sobel would also smooth across the batch axis
            gx = ndimage.correlate1d(ndimage.correlate1d(X, derivative, axis=3, mode="constant"), smooth, axis=2, mode="constant")
            gy = ndimage.correlate1d(ndimage.correlate1d(X, derivative, axis=2, mode="constant"), smooth, axis=3, mode="constant")
            magnitude = np.hypot(gx, gy) / (4.0 * math.sqrt(2.0))
        else:
            magnitude = np.abs(ndimage.correlate1d(X, derivative, axis=2, mode="constant")) / 2.0
        return _flat(magnitude)


@dataclass(frozen=True)
class AutoencodeTask(Task):
    name: ClassVar[str] = "autoencode"

    def targets(self, X, y, seed=0):
        return _flat(_check_images(X))


#: The task dictionary: name → task class (options are its dataclass fields).
TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        ClassTask, ParityTask, LoopsTask, InkMassTask, CentreOfMassTask, RotationTask,
        DenoiseTask, InpaintTask, UpsampleTask, EdgesTask, AutoencodeTask,
    )
}


def make_task(name: str, **options) -> Task:
    """Build a task of the dictionary by name, e.g. ``make_task("denoise", std=0.2)``.

    Raises
    ------
    ValueError
        For an unknown name, an unknown option or a bad option value.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; the dictionary has {sorted(TASKS)}")
    cls = TASKS[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ValueError(f"task {name!r} has no option(s) {unknown}; its options: {allowed}")
    return cls(**options)


# ============================================================================ networks
def make_head(in_features: int, out_size: int, hidden: int = 64) -> nn.Module:
    """``Linear`` (``hidden = 0``) or ``Linear → ReLU → Linear`` from features to outputs."""
    if in_features < 1 or out_size < 1 or hidden < 0:
        raise ValueError(f"bad head sizes: in {in_features}, out {out_size}, hidden {hidden}")
    if hidden == 0:
        return nn.Linear(in_features, out_size)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_size))


class TaskNetwork(nn.Module):
    """Encoder followed by a task head: the task-specific network (and ``pixels``)."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _target_tensor(task: Task, T) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(T))
    return t.long() if task.is_classification else t.float()


def train_task_network(
    task: Task,
    network: TaskNetwork,
    X_train: np.ndarray,
    T_train: np.ndarray,
    X_val: np.ndarray,
    T_val: np.ndarray,
    config: TrainConfig,
    device: str | torch.device = "cpu",
) -> TrainHistory:
    """Train ``network`` end to end on the task's mean loss; early stopping on the val loss."""
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return task.loss(outputs, targets).mean()

    return fit(
        network,
        (np.asarray(X_train, dtype=np.float32), _target_tensor(task, T_train)),
        loss_fn,
        config,
        device,
        val_data=(np.asarray(X_val, dtype=np.float32), _target_tensor(task, T_val)),
        desc=f"task {task.name}",
    )


def per_sample_losses(
    task: Task, model: nn.Module, X, T, device: str | torch.device = "cpu", batch_size: int = 1024
) -> np.ndarray:
    """The task's loss of ``model`` on every sample, float64 ``(n,)`` (eval mode, no grad)."""
    device = torch.device(device)
    model.to(device)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    Tt = _target_tensor(task, T)
    if len(Xt) != len(Tt) or len(Xt) == 0:
        raise ValueError(f"X and T must be non-empty and of one length, got {len(Xt)} and {len(Tt)}")
    out = []
    with evaluating(model), torch.no_grad():
        for start in range(0, len(Xt), batch_size):
            xb = Xt[start : start + batch_size].to(device)
            tb = Tt[start : start + batch_size].to(device)
            out.append(task.loss(model(xb), tb).double().cpu())
    return torch.cat(out).numpy()


def standardise(F_fit: np.ndarray, *others: np.ndarray, eps: float = 1e-8) -> list[np.ndarray]:
    """Centre features on the mean of ``F_fit`` and divide by its overall scale.

    Frozen encoders put their features on very different scales; a readout trained with a
    fixed learning rate would otherwise favour sources whose scale happens to suit it. One
    scale for all dimensions (the root mean variance), not one per dimension: a ReLU unit
    that is almost always 0 on a hundred samples would get a tiny standard deviation and
    blow up on the samples where it fires.
    """
    F_fit = np.asarray(F_fit, dtype=np.float32)
    mean = F_fit.mean(axis=0)
    scale = float(np.sqrt(F_fit.var(axis=0).mean()))
    scale = scale if scale > eps else 1.0
    return [((np.asarray(F, dtype=np.float32) - mean) / scale).astype(np.float32) for F in (F_fit, *others)]


def fit_readout(
    task: Task,
    F_train: np.ndarray,
    T_train: np.ndarray,
    F_val: np.ndarray,
    T_val: np.ndarray,
    out_size: int,
    *,
    hidden: int = 64,
    steps: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    eval_every: int = 10,
    seed: int = 0,
) -> tuple[nn.Module, float]:
    """A transfer: the task's head trained on frozen features (full-batch Adam).

    The transfer sets are small (about a hundred samples), so every step uses the whole set;
    the head whose validation loss is lowest (checked every ``eval_every`` steps) is kept.

    Returns
    -------
    (nn.Module, float)
        The head (eval mode, on the CPU) and its validation loss.
    """
    if steps < 1 or eval_every < 1:
        raise ValueError("steps and eval_every must be >= 1")
    Ft = torch.as_tensor(np.asarray(F_train, dtype=np.float32))
    Fv = torch.as_tensor(np.asarray(F_val, dtype=np.float32))
    Tt, Tv = _target_tensor(task, T_train), _target_tensor(task, T_val)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = task.head(Ft.shape[1], out_size, hidden)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    best_loss, best_state = math.inf, None
    for step in range(1, steps + 1):
        head.train()
        optimizer.zero_grad()
        loss = task.loss(head(Ft), Tt).mean()
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            head.eval()
            with torch.no_grad():
                val_loss = float(task.loss(head(Fv), Tv).mean())
            if val_loss < best_loss:
                best_loss, best_state = val_loss, copy.deepcopy(head.state_dict())
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    return head, best_loss


def discrete_targets(task: Task, T: np.ndarray, n_clusters: int = 10, seed: int = 0) -> np.ndarray:
    """Class labels of a task's targets: the classes themselves, or k-means clusters.

    Estimators that need discrete labels (Task2Vec's probe classifier) see regression and
    dense targets through ``n_clusters`` k-means clusters of the target vectors.
    """
    if task.is_classification:
        return np.asarray(T, dtype=np.int64)
    from sklearn.cluster import KMeans

    values = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    k = int(min(n_clusters, len(np.unique(values, axis=0))))
    if k < 2:
        raise ValueError(f"task {task.name!r} has constant targets; they cannot be clustered")
    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(values).astype(np.int64)


# ============================================================================ Taskonomy steps
# The steps of the Taskonomy pipeline on one task, on the rows of ``rows``: ``"train"`` (every
# training row), ``"transfer"`` (the small transfer set), ``"val"`` (model selection) and
# ``"test"`` (the per-sample losses of the tournament).
def fit_task_network(
    task: Task,
    network: TaskNetwork,
    X: np.ndarray,
    T: np.ndarray,
    rows: Mapping[str, np.ndarray],
    config: TrainConfig,
    device: str | torch.device = "cpu",
    *,
    fit_rows: str = "train",
) -> tuple[TrainHistory, np.ndarray]:
    """Train ``network`` on ``rows[fit_rows]`` (early stopping on ``rows["val"]``).

    ``fit_rows="train"`` is the task-specific network (``self``), ``"transfer"`` the
    ``pixels`` baseline trained from scratch on the transfer set.

    Returns
    -------
    history : TrainHistory
    test_losses : ndarray, shape (len(rows["test"]),)
        :func:`per_sample_losses` on the test rows.
    """
    fit_on, val, test = rows[fit_rows], rows["val"], rows["test"]
    history = train_task_network(task, network, X[fit_on], T[fit_on], X[val], T[val], config, device)
    return history, per_sample_losses(task, network, X[test], T[test], device)


def readout_losses(
    task: Task,
    features: Sequence[np.ndarray],
    T: np.ndarray,
    rows: Mapping[str, np.ndarray],
    out_size: int,
    *,
    hidden: int = 64,
    steps: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    eval_every: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A transfer from one or more sources: a readout on their frozen features.

    Each source's features (``(n, d_s)`` over all rows) are standardised on the transfer rows
    (:func:`standardise`), then concatenated (a higher-order transfer reads several sources
    at once) and the task's head is fitted on ``rows["transfer"]`` (:func:`fit_readout`,
    best ``rows["val"]`` loss kept).

    Returns
    -------
    val_losses, test_losses : ndarray
        Per-sample losses on ``rows["val"]`` and ``rows["test"]``.
    """
    parts = [standardise(F[rows["transfer"]], F[rows["val"]], F[rows["test"]]) for F in features]
    F_transfer, F_val, F_test = (np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
    head, _ = fit_readout(
        task, F_transfer, T[rows["transfer"]], F_val, T[rows["val"]], out_size,
        hidden=hidden, steps=steps, lr=lr, weight_decay=weight_decay, eval_every=eval_every, seed=seed,
    )
    return (
        per_sample_losses(task, head, F_val, T[rows["val"]]),
        per_sample_losses(task, head, F_test, T[rows["test"]]),
    )


def view_features(
    encoder: nn.Module, views: Mapping[str, np.ndarray], device: str | torch.device | None = None
) -> dict[str, np.ndarray]:
    """A frozen encoder's features of every row of every input view (float32 ``(n, d)``)."""
    return {view: extract_features(encoder, X, device) for view, X in views.items()}
