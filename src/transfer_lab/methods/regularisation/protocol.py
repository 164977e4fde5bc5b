"""One experiment of each regularisation method on one label budget: train, then measure.

Every runner takes a budget view (``X_labeled``, ``y_labeled``, ``X_unlabeled``, ``X_val``,
``y_val``, ``X_test``, ``y_test``, ``seed``: a :class:`~transfer_lab.sources.splits.BudgetView`)
and a :class:`Setting`, and returns ``{method name: {metric: (split, value)}}``. Networks
train on the labelled rows only (the manifold tangent classifier's auto-encoder also sees
the unlabelled rows' inputs, never their labels), stop early on validation accuracy and are
scored on the test rows: clean accuracy and, for the networks, accuracy under the FGSM and
PGD attacks of :class:`Setting` (white box, at the stated epsilon), and the fraction of
zero hidden activations.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint
from transfer_lab.methods.regularisation import adversarial, dropout, penalties, tangent_prop
from transfer_lab.methods.regularisation.models import MLP
from transfer_lab.methods.regularisation.tangents import IMAGE_TANGENTS, TangentDistanceClassifier, tangent_vectors
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig, accuracy, fit

Measurements = dict[str, tuple[str, float]]
Results = dict[str, Measurements]


@dataclass(frozen=True)
class Setting:
    """What every runner shares: training settings, the network, the attacks, the device."""

    config: TrainConfig
    n_classes: int
    hidden: tuple[int, ...] = (128,)
    epsilon: float = 0.1  # L-inf radius of both attacks (pixels in [0, 1])
    pgd_steps: int = 10
    pgd_step_size: float = 0.025
    device: torch.device = torch.device("cpu")


def _tensor(a: Any, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def _mlp(view: Any, setting: Setting, seed: int | None = None, **kwargs: Any) -> MLP:
    seed_everything(int(view.seed) if seed is None else seed)
    return MLP(view.X_labeled.shape[1:], setting.n_classes, setting.hidden, **kwargs).to(setting.device)


def train(
    model: nn.Module, view: Any, setting: Setting, step_fn: Callable | None = None,
    extra: Sequence[np.ndarray] = (), rows: np.ndarray | None = None, config: TrainConfig | None = None,
) -> float:
    """Fit ``model`` on the labelled rows (``rows`` of them: a bootstrap sample), batches
    ``(x, *extra, y)``; early stopping on validation accuracy. Returns the seconds taken."""
    rows = np.arange(len(view.X_labeled)) if rows is None else rows
    data = (view.X_labeled[rows], *(e[rows] for e in extra), view.y_labeled[rows])
    xv, yv = _tensor(view.X_val, setting.device), _tensor(view.y_val, setting.device, torch.long)
    start = time.perf_counter()
    fit(
        model, tuple(np.asarray(a) for a in data), F.cross_entropy, config or setting.config, setting.device,
        val_fn=lambda m: accuracy(m, xv, yv, setting.device), step_fn=step_fn, desc=type(model).__name__,
    )
    return time.perf_counter() - start


def network_measurements(model: nn.Module, view: Any, setting: Setting, seconds: float) -> Measurements:
    """Clean, FGSM and PGD test accuracy, validation accuracy, training seconds, and (for an
    :class:`MLP`) the fraction of zero hidden activations on the test rows."""
    X, y = _tensor(view.X_test, setting.device), _tensor(view.y_test, setting.device, torch.long)
    generator = torch.Generator().manual_seed(int(view.seed))
    attacks = {
        "fgsm_accuracy": lambda m, x, t: adversarial.fgsm(m, x, t, setting.epsilon),
        "pgd_accuracy": lambda m, x, t: adversarial.pgd(
            m, x, t, setting.epsilon, setting.pgd_step_size, setting.pgd_steps, generator=generator
        ),
    }
    xv, yv = _tensor(view.X_val, setting.device), _tensor(view.y_val, setting.device, torch.long)
    measured: Measurements = {
        "accuracy": ("test", adversarial.attacked_accuracy(model, X, y)),
        "val_accuracy": ("val", adversarial.attacked_accuracy(model, xv, yv)),
        "seconds": ("train", seconds),
    }
    measured.update({name: ("test", adversarial.attacked_accuracy(model, X, y, a)) for name, a in attacks.items()})
    if isinstance(model, MLP):
        with torch.no_grad():
            measured["activation_sparsity"] = ("test", penalties.activation_sparsity(model.eval().hidden(X)))
    return measured


# --------------------------------------------------------------------------------------------
# Nearest neighbours: Euclidean and tangent distance
# --------------------------------------------------------------------------------------------


def select_tangent_distance(
    view: Any, kinds: Sequence[str], sigma: Sequence[float], ridge: Sequence[float]
) -> tuple[TangentDistanceClassifier, float, dict[str, float]]:
    """The tangent-distance 1-NN of the (sigma, ridge) candidate with the best validation
    accuracy (the first on ties): the selection reads the validation split only."""
    best = None
    for s, r in itertools.product(sigma, ridge):
        model = TangentDistanceClassifier(kinds=kinds, sigma=s, ridge=r).fit(view.X_labeled, view.y_labeled)
        val = model.score(view.X_val, view.y_val)
        if best is None or val > best[1]:
            best = (model, val, {"selected_sigma": float(s), "selected_ridge": float(r)})
    return best


def run_nearest_neighbour(view: Any, setting: Setting, distance: str = "euclidean", **tangent: Any) -> Results:
    """1-NN on the labelled rows: ``euclidean_1nn`` or ``tangent_distance_1nn`` (its smoothing
    and ridge chosen on the validation split from the candidates given)."""
    start = time.perf_counter()
    chosen: dict[str, float] = {}
    if distance == "tangent":
        model, val, chosen = select_tangent_distance(view, **tangent)
        test = model.score(view.X_test, view.y_test)
    else:
        flat = lambda X: np.asarray(X, np.float64).reshape(len(X), -1)  # noqa: E731
        knn = KNeighborsClassifier(1).fit(flat(view.X_labeled), view.y_labeled)
        val, test = knn.score(flat(view.X_val), view.y_val), knn.score(flat(view.X_test), view.y_test)
    measured = {"accuracy": ("test", test), "val_accuracy": ("val", val)}
    measured.update({name: ("val", value) for name, value in chosen.items()})
    measured["seconds"] = ("train", time.perf_counter() - start)
    return {f"{'tangent_distance' if distance == 'tangent' else 'euclidean'}_1nn": measured}


# --------------------------------------------------------------------------------------------
# Plain network, adversarial training, sparse activations
# --------------------------------------------------------------------------------------------


def run_mlp(view: Any, setting: Setting) -> Results:
    """The unregularised network (beyond early stopping): the reference of the others."""
    model = _mlp(view, setting)
    return {"mlp": network_measurements(model, view, setting, train(model, view, setting))}


def run_adversarial_training(view: Any, setting: Setting, alpha: float = 0.5, epsilon: float | None = None) -> Results:
    """Goodfellow et al.'s mixed clean/FGSM objective (training epsilon: the attack's unless given)."""
    model = _mlp(view, setting)
    step = adversarial.adversarial_training_step(setting.epsilon if epsilon is None else epsilon, alpha)
    return {"adversarial_training": network_measurements(model, view, setting, train(model, view, setting, step))}


def run_l1_activation(view: Any, setting: Setting, weight: float = 1e-3) -> Results:
    """Cross-entropy plus ``weight * |h|_1`` on the hidden layer's activations."""
    model = _mlp(view, setting)

    def step(m: MLP, batch: tuple) -> torch.Tensor:
        hidden = m.hidden(batch[0])
        return F.cross_entropy(m.head(hidden), batch[1]) + penalties.l1_activation_penalty(hidden, weight)

    return {"l1_activation": network_measurements(model, view, setting, train(model, view, setting, step))}


# --------------------------------------------------------------------------------------------
# Dropout and bagging
# --------------------------------------------------------------------------------------------


def _ensemble_accuracy(probabilities: torch.Tensor, y: np.ndarray) -> float:
    return float((probabilities.argmax(1).cpu().numpy() == np.asarray(y)).mean())


def run_dropout(view: Any, setting: Setting, p: float = 0.5, input_p: float = 0.2, mc_samples: int = 10) -> Results:
    """One dropout network, two inference rules: ``dropout_weight_scaling`` (all measurements)
    and ``dropout_mc`` (arithmetic mean of ``mc_samples`` sampled masks' softmax)."""
    model = _mlp(view, setting, dropout=p, input_dropout=input_p)
    scaled = network_measurements(model, view, setting, train(model, view, setting))
    X = _tensor(view.X_test, setting.device)
    mc = dropout.mc_dropout_proba(model, X, mc_samples, seed=int(view.seed))
    geometric = dropout.mc_dropout_proba(model, X, mc_samples, seed=int(view.seed), average="geometric")
    monte_carlo = {
        "accuracy": ("test", _ensemble_accuracy(mc, view.y_test)),
        "accuracy_geometric_mean": ("test", _ensemble_accuracy(geometric, view.y_test)),
        "gap_to_weight_scaling": ("test", _ensemble_accuracy(mc, view.y_test) - scaled["accuracy"][1]),
    }
    return {"dropout_weight_scaling": scaled, "dropout_mc": monte_carlo}


def run_bagging(view: Any, setting: Setting, k: int = 10) -> Results:
    """``k`` networks on bootstrap samples of the labelled rows, softmax outputs averaged."""
    start = time.perf_counter()
    members = dropout.bagged_models(
        lambda i: _mlp(view, setting, seed=int(view.seed) * 1000 + i),
        lambda model, rows, i: train(model, view, setting, rows=rows, config=replace(setting.config, seed=setting.config.seed * 1000 + i)),
        len(view.X_labeled), k, int(view.seed),
    )
    seconds = time.perf_counter() - start
    X = _tensor(view.X_test, setting.device)
    member = [_ensemble_accuracy(torch.softmax(dropout.weight_scaled_logits(m, X), -1), view.y_test) for m in members]
    ensemble = dropout.ensemble_proba(members, X)
    xv = _tensor(view.X_val, setting.device)
    return {"bagging": {
        "accuracy": ("test", _ensemble_accuracy(ensemble, view.y_test)),
        "val_accuracy": ("val", _ensemble_accuracy(dropout.ensemble_proba(members, xv), view.y_val)),
        "member_accuracy": ("test", float(np.mean(member))),
        "seconds": ("train", seconds),
    }}


# --------------------------------------------------------------------------------------------
# Parameter tying to a pretrained encoder (L2-SP) vs weight decay
# --------------------------------------------------------------------------------------------


def run_l2_sp(
    view: Any, setting: Setting, checkpoint: Mapping[str, Any], alpha: float = 0.01, beta: float = 0.01,
    anchor: str = "pretrained",
) -> Measurements:
    """Fine-tune the pretrained encoder + a new linear head with ``alpha/2 |w - w0|^2 +
    beta/2 |head|^2``: ``w0`` the pretrained weights (``anchor="pretrained"``, L2-SP) or zero
    (``anchor="zero"``, weight decay). Both start from the pretrained weights."""
    seed_everything(int(view.seed))
    model = Classifier(encoder_from_checkpoint(checkpoint, setting.device), setting.n_classes).to(setting.device)
    reference = penalties.reference_weights(model.encoder, "encoder.")
    if anchor == "zero":
        reference = penalties.zero_reference(reference)
    elif anchor != "pretrained":
        raise ValueError(f"anchor must be 'pretrained' or 'zero', got {anchor!r}")

    def step(m: nn.Module, batch: tuple) -> torch.Tensor:
        return F.cross_entropy(m(batch[0]), batch[1]) + penalties.l2_sp_penalty(m, reference, alpha, beta)

    return network_measurements(model, view, setting, train(model, view, setting, step))


# --------------------------------------------------------------------------------------------
# Tangent propagation and the manifold tangent classifier
# --------------------------------------------------------------------------------------------


def run_tangent_prop(
    view: Any, setting: Setting, weight: float = 0.01, kinds: Sequence[str] = IMAGE_TANGENTS, sigma: float = 0.5
) -> Results:
    """Cross-entropy plus ``weight`` times the tangent-prop penalty along hand-made tangents."""
    kinds = [k for k in kinds if np.asarray(view.X_labeled).ndim == 4 or k in ("translate_x", "scale", "thicken")]
    tangents = tangent_vectors(view.X_labeled, kinds, sigma=sigma).astype(np.float32)
    model = _mlp(view, setting)
    seconds = train(model, view, setting, tangent_prop.tangent_prop_step(weight), extra=[tangents])
    return {"tangent_prop": network_measurements(model, view, setting, seconds)}


def fit_autoencoder(
    X: np.ndarray, hidden: int, contraction: float, config: TrainConfig, device: torch.device, seed: int
) -> tangent_prop.ContractiveAutoencoder:
    """A contractive auto-encoder on the inputs ``X`` (no labels), every epoch run."""
    seed_everything(seed)
    autoencoder = tangent_prop.ContractiveAutoencoder(int(np.prod(X.shape[1:])), hidden).to(device)
    config = replace(config, seed=seed, patience=None, restore_best=False)
    fit(autoencoder, (np.asarray(X, np.float32),), config=config, device=device,
        step_fn=tangent_prop.contractive_step(contraction), desc="contractive auto-encoder")
    return autoencoder


def run_manifold_tangent(
    view: Any, setting: Setting, autoencoder: tangent_prop.ContractiveAutoencoder, k: int = 5, weight: float = 0.1
) -> Results:
    """Tangent propagation along the ``k`` leading tangents of ``autoencoder`` (trained on the
    train rows' inputs by :func:`fit_autoencoder`)."""
    X = _tensor(view.X_labeled, setting.device)
    tangents = tangent_prop.manifold_tangents(autoencoder, X, k).cpu().numpy()
    model = _mlp(view, setting)
    seconds = train(model, view, setting, tangent_prop.tangent_prop_step(weight), extra=[tangents])
    return {"manifold_tangent": network_measurements(model, view, setting, seconds)}


#: The runners that need nothing but a view, a setting and their hyper-parameters.
RUNNERS: dict[str, Callable[..., Results]] = {
    "tangent_prop": run_tangent_prop,
    "mlp": run_mlp,
    "adversarial_training": run_adversarial_training,
    "dropout": run_dropout,
    "bagging": run_bagging,
    "l1_activation": run_l1_activation,
}
