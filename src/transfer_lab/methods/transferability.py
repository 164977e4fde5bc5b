"""Cheap transferability estimates: scores computed without fine-tuning, and their agreement.

Each function scores how well a *source* (a frozen encoder, or a source classifier's
predictions) is expected to transfer to a *target* labelled data set, from one forward pass:

========================  ====================================================  =============
function                  quantity                                              paper
========================  ====================================================  =============
:func:`logme`             log maximum evidence of a Bayesian linear model       You et al. 2021
:func:`leep`              log expected empirical prediction                     Nguyen et al. 2020
:func:`nce`               negative conditional entropy ``-H(Y | Z)``            Tran et al. 2019
:func:`h_score`           ``tr(cov(f)^-1 cov(E[f | y]))``                       Bao et al. 2019
:func:`task2vec_embedding` diagonal Fisher information of a probe network        Achille et al. 2019
========================  ====================================================  =============

:func:`rank_agreement` compares a score's ranking of sources with a ground truth such as the
Taskonomy affinities (Kendall τ and Spearman ρ). Everything here is NumPy / SciPy / torch and
never imports Kedro.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from scipy import stats
from torch import nn
from torch.func import functional_call, grad, vmap

from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.training import evaluating

__all__ = [
    "logme",
    "leep",
    "nce",
    "h_score",
    "fisher_diagonal",
    "task2vec_embedding",
    "task2vec_distance",
    "rank_agreement",
]


# ----------------------------------------------------------------------------- validation
def _as_2d(array, name: str) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    out = np.asarray(array, dtype=np.float64)
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return out


def _labels(labels, n: int, name: str = "labels") -> tuple[np.ndarray, int]:
    """Any hashable-sortable labels → integer codes 0..C-1 and C."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but there are {n} samples")
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1), len(classes)


# ----------------------------------------------------------------------------- LogME
def _logme_evidence(
    s2: np.ndarray, z: np.ndarray, y_perp2: float, n: int, d: int, max_iter: int, tol: float
) -> float:
    """Maximum log evidence of one target column, in the SVD basis of the features.

    With ``F = U diag(s) Vᵀ`` (economy SVD, ``k = min(n, d)``), ``z = Uᵀ y`` and ``y_⊥``
    the part of ``y`` outside the column space of ``F``, every quantity of the fixed point
    is a sum over the ``k`` singular values (You et al. 2021, Alg. 1):

    - ``γ = Σ β s_i² / (α + β s_i²)``
    - ``‖m‖² = Σ (β s_i z_i / (α + β s_i²))²``
    - ``‖F m − y‖² = Σ (α z_i / (α + β s_i²))² + ‖y_⊥‖²``
    - ``log|A| = Σ log(α + β s_i²) + (d − k) log α`` with ``A = α I + β FᵀF``.
    """
    # Guards against a zero norm (a target exactly in the span of F gives ‖Fm - y‖ -> 0).
    eps = 1e-12
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        ratio = alpha / beta
        denom = alpha + beta * s2
        gamma = float(np.sum(beta * s2 / denom))
        m2 = float(np.sum((beta * np.sqrt(s2) * z / denom) ** 2))
        res2 = float(np.sum((alpha * z / denom) ** 2) + y_perp2)
        alpha = gamma / (m2 + eps)
        beta = (n - gamma) / (res2 + eps)
        if abs(alpha / beta - ratio) / ratio <= tol:
            break
    denom = alpha + beta * s2
    m2 = float(np.sum((beta * np.sqrt(s2) * z / denom) ** 2))
    res2 = float(np.sum((alpha * z / denom) ** 2) + y_perp2)
    logdet = float(np.sum(np.log(denom))) + (d - s2.size) * math.log(alpha)
    evidence = (
        0.5 * n * math.log(beta)
        + 0.5 * d * math.log(alpha)
        - 0.5 * n * math.log(2 * math.pi)
        - 0.5 * beta * res2
        - 0.5 * alpha * m2
        - 0.5 * logdet
    )
    return evidence / n


def logme(
    features,
    labels_or_targets,
    regression: bool = False,
    *,
    max_iter: int = 100,
    tol: float = 1e-3,
) -> float:
    """LogME: the log of the maximum evidence of a linear model on frozen features.

    You, Liu, Wang & Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
    Learning", ICML 2021. For every target column ``y`` (one-hot columns of the labels for
    classification, the target dimensions for regression) the model ``y = F w + ε``,
    ``w ~ N(0, α⁻¹ I)``, ``ε ~ N(0, β⁻¹ I)`` has the log evidence

    .. math::  \\mathcal{L}(\\alpha, \\beta) = \\tfrac n2 \\log\\beta + \\tfrac d2 \\log\\alpha
               - \\tfrac n2 \\log 2\\pi - \\tfrac\\beta2 \\lVert F m - y \\rVert^2
               - \\tfrac\\alpha2 m^\\top m - \\tfrac12 \\log\\lvert A \\rvert,
               \\quad A = \\alpha I + \\beta F^\\top F,\\; m = \\beta A^{-1} F^\\top y,

    maximised by the fixed-point iteration (MacKay's evidence approximation, their Alg. 1)
    ``γ = Σ_i β σ_i / (α + β σ_i)`` (σ_i the eigenvalues of ``FᵀF``), ``α ← γ / mᵀm``,
    ``β ← (n − γ) / ‖F m − y‖²``, started at ``α = β = 1`` and stopped when ``α / β``
    changes by less than ``tol`` (relative). The score is ``L / n`` averaged over the
    columns; larger means more transferable. One SVD of ``F`` serves every column, so each
    iteration costs ``O(min(n, d))``.

    Parameters
    ----------
    features : array-like, shape (n, d)
        Frozen source features of the target samples (used as given, not centred, as in the
        paper's code).
    labels_or_targets : array-like, shape (n,) or (n, K)
        Class labels (any values; one-hot encoded) or, with ``regression=True``, real targets.
    regression : bool, default False
    max_iter : int, default 100
        The paper's code stops after 11 iterations; the fixed point usually converges faster.
    tol : float, default 1e-3
        Relative change of ``α / β`` at which the iteration stops (the paper's code's value).

    Returns
    -------
    float
    """
    F = _as_2d(features, "features")
    n, d = F.shape
    if regression:
        Y = _as_2d(labels_or_targets, "labels_or_targets")
        if Y.shape[0] != n:
            raise ValueError(f"targets have {Y.shape[0]} rows but features have {n}")
    else:
        codes, n_classes = _labels(labels_or_targets, n, "labels_or_targets")
        Y = np.eye(n_classes)[codes]
    if max_iter < 1 or not tol > 0:
        raise ValueError("max_iter must be >= 1 and tol > 0")
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    s2 = s**2
    Z = U.T @ Y
    y_perp2 = np.maximum((Y**2).sum(axis=0) - (Z**2).sum(axis=0), 0.0)
    scores = [
        _logme_evidence(s2, Z[:, k], float(y_perp2[k]), n, d, max_iter, tol)
        for k in range(Y.shape[1])
    ]
    return float(np.mean(scores))


# ----------------------------------------------------------------------------- LEEP, NCE
def leep(source_probs, target_labels) -> float:
    """LEEP: log expected empirical prediction (Nguyen, Hassner, Seeger & Archambeau, ICML 2020).

    With ``θ(x_i)`` the source classifier's distribution over source labels ``z``:

    .. math::
        \\hat P(y, z) = \\frac1n \\sum_{i: y_i = y} \\theta(x_i)_z, \\qquad
        \\hat P(y \\mid z) = \\frac{\\hat P(y, z)}{\\sum_{y'} \\hat P(y', z)}, \\qquad
        T = \\frac1n \\sum_i \\log \\sum_z \\hat P(y_i \\mid z)\\, \\theta(x_i)_z .

    ``T ≤ 0``; it is 0 when the source predictions are one-hot and the target label is a
    function of the predicted source label (a perfect source → target label mapping).

    Parameters
    ----------
    source_probs : array-like, shape (n, n_source_classes)
        Rows are probability vectors (softmax outputs).
    target_labels : array-like, shape (n,)

    Returns
    -------
    float
    """
    theta = _as_2d(source_probs, "source_probs")
    n = theta.shape[0]
    if (theta < 0).any() or not np.allclose(theta.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("source_probs rows must be probability vectors (>= 0, summing to 1)")
    codes, n_classes = _labels(target_labels, n, "target_labels")
    joint = np.zeros((n_classes, theta.shape[1]))
    np.add.at(joint, codes, theta)
    joint /= n
    marginal = joint.sum(axis=0)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    # Every term is positive: θ_iz > 0 implies P(y_i, z) >= θ_iz / n > 0.
    eep = np.einsum("iz,iz->i", conditional[codes], theta)
    return float(np.mean(np.log(eep)))


def nce(source_labels, target_labels) -> float:
    """NCE: negative conditional entropy ``-H(Y | Z)`` (Tran, Nguyen & Hassner, ICCV 2019).

    With ``z`` the (hard) source labels of the target samples, e.g. the source classifier's
    predictions, and ``y`` the target labels,

    .. math::  \\mathrm{NCE}(Y \\mid Z) = -H(Y \\mid Z)
               = \\sum_{y, z} \\hat P(y, z) \\log \\frac{\\hat P(y, z)}{\\hat P(z)}
               \\;\\le\\; 0,

    with equality exactly when ``y`` is a function of ``z``.

    Parameters
    ----------
    source_labels, target_labels : array-like, shape (n,)

    Returns
    -------
    float
    """
    n = len(source_labels)
    if n == 0:
        raise ValueError("source_labels is empty")
    z, n_source = _labels(source_labels, n, "source_labels")
    y, n_target = _labels(target_labels, n, "target_labels")
    joint = np.zeros((n_target, n_source))
    np.add.at(joint, (y, z), 1.0)
    joint /= n
    marginal = joint.sum(axis=0, keepdims=True)
    mask = joint > 0
    return float(np.sum(joint[mask] * np.log((joint / marginal)[mask])))


# ----------------------------------------------------------------------------- N-LEEP
def source_posterior(features, *, pca_components: int = 16, gmm_components: int = 10, seed: int = 0) -> np.ndarray:
    """Soft "source labels" of samples from frozen features (N-LEEP, Li et al., CVPR 2021).

    LEEP and NCE were defined for a source *classifier*; a source that regresses images has
    none. As N-LEEP does, every source instead gets the posterior of a Gaussian mixture
    (diagonal covariances) fitted on its PCA-reduced features, so all sources are scored
    alike: ``leep(source_posterior(F), y)`` and ``nce(source_posterior(F).argmax(1), y)``.

    Parameters
    ----------
    features : array-like, shape (n, d)
    pca_components : int
        Capped at ``d`` and at ``n - 1``.
    gmm_components : int
        Capped at ``n // 2``.
    seed : int
        ``random_state`` of the PCA and of the mixture.

    Returns
    -------
    ndarray, shape (n, n_mixture_components)
        Rows are probability vectors.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    _as_2d(features, "features")  # shape and finiteness; the fit keeps the caller's precision
    F = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features)
    F = F.reshape(len(F), -1)
    if len(F) < 2:
        raise ValueError(f"need at least 2 samples, got {len(F)}")
    n_components = max(1, min(pca_components, F.shape[1], len(F) - 1))
    Z = PCA(n_components=n_components, random_state=seed).fit_transform(F)
    mixture = GaussianMixture(
        n_components=min(gmm_components, len(F) // 2), covariance_type="diag", reg_covar=1e-4, random_state=seed
    ).fit(Z)
    probs = mixture.predict_proba(Z)
    return probs / probs.sum(axis=1, keepdims=True)


def transferability_scores(
    features,
    targets,
    *,
    classification: bool,
    estimators=("logme", "leep", "nce", "h_score"),
    h_score_shrinkage: float | str | None = "ledoit_wolf",
    pca_components: int = 16,
    gmm_components: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """The feature-based estimates of one (source, target) pair, those that apply.

    :func:`logme` for every target (class labels, or the target vectors as a regression);
    :func:`h_score`, :func:`leep` and :func:`nce` for classification targets only (they need
    class labels), LEEP and NCE on the :func:`source_posterior` of the features. Names in
    ``estimators`` that are not feature-based (``task2vec``) are ignored.

    Parameters
    ----------
    features : array-like, shape (n, d)
        The source's frozen features of the target's samples.
    targets : array-like, shape (n,) or (n, k)
        Class labels (``classification``) or regression targets.

    Returns
    -------
    dict
        Estimator name → score, for the estimators asked for that apply to this target.
    """
    wanted = set(estimators)
    scores: dict[str, float] = {}
    if "logme" in wanted:
        scores["logme"] = logme(features, targets, regression=not classification)
    if not classification:
        return scores
    if "h_score" in wanted:
        scores["h_score"] = h_score(features, targets, shrinkage=h_score_shrinkage)
    if wanted & {"leep", "nce"}:
        probs = source_posterior(features, pca_components=pca_components, gmm_components=gmm_components, seed=seed)
        if "leep" in wanted:
            scores["leep"] = leep(probs, targets)
        if "nce" in wanted:
            scores["nce"] = nce(probs.argmax(axis=1), targets)
    return scores


# ----------------------------------------------------------------------------- H-score
def h_score(features, labels, *, shrinkage: float | str | None = None) -> float:
    """H-score (Bao, Li, Huang, Zheng, Wu & Zhao, ICIP 2019).

    .. math::  H(f) = \\operatorname{tr}\\big(\\operatorname{cov}(f)^{-1}\\,
               \\operatorname{cov}(\\mathbb{E}[f \\mid y])\\big)

    where ``E[f | y]`` replaces every sample's feature vector by the mean feature vector of
    its class. Both covariances are the unbiased sample covariances (``np.cov``); the
    inverse is a pseudo-inverse (the reference code's choice) so that rank-deficient
    features still get a score. Without shrinkage the score is invariant to ``f → f A`` for
    any invertible ``A``.

    Parameters
    ----------
    features : array-like, shape (n, d)
    labels : array-like, shape (n,)
    shrinkage : None, float in [0, 1] or "ledoit_wolf", default None
        Regularise ``cov(f)`` as ``(1 − a) cov(f) + a (tr cov(f) / d) I``, with ``a`` given
        or estimated by Ledoit & Wolf (2004) with :func:`sklearn.covariance.ledoit_wolf`:
        the shrinkage-based H-score of Ibrahim, Ponomareva & Mazumder (ICLR 2023), stable
        when ``d`` is comparable to ``n``.

    Returns
    -------
    float
    """
    f = _as_2d(features, "features")
    n, d = f.shape
    if n < 2:
        raise ValueError("h_score needs at least 2 samples")
    codes, n_classes = _labels(labels, n)
    cov_f = np.atleast_2d(np.cov(f, rowvar=False))
    if shrinkage is not None:
        if isinstance(shrinkage, str):
            if shrinkage != "ledoit_wolf":
                raise ValueError(f"unknown shrinkage {shrinkage!r}; use a float or 'ledoit_wolf'")
            from sklearn.covariance import ledoit_wolf

            _, a = ledoit_wolf(f)
        else:
            a = float(shrinkage)
            if not 0 <= a <= 1:
                raise ValueError(f"shrinkage must be in [0, 1], got {a}")
        cov_f = (1 - a) * cov_f + a * (np.trace(cov_f) / d) * np.eye(d)
    sums = np.zeros((n_classes, d))
    np.add.at(sums, codes, f)
    class_means = sums / np.bincount(codes, minlength=n_classes)[:, None]
    cov_g = np.atleast_2d(np.cov(class_means[codes], rowvar=False))
    return float(np.trace(np.linalg.pinv(cov_f, rcond=1e-15, hermitian=True) @ cov_g))


# ----------------------------------------------------------------------------- Task2Vec
def _to_tensor(array, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        tensor = array.detach()
    else:
        tensor = torch.as_tensor(np.asarray(array))
    return tensor.to(device=device, dtype=dtype)


def fisher_diagonal(
    encoder: nn.Module,
    head: nn.Module,
    X,
    y=None,
    *,
    fisher: str = "sampled",
    n_draws: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """Diagonal Fisher information of ``encoder``'s parameters for the model ``head ∘ encoder``.

    .. math::  F_w = \\frac1n \\sum_{i=1}^n \\mathbb{E}_{\\hat y}
               \\big[(\\partial_w \\log p_w(\\hat y \\mid x_i))^2\\big]

    ``fisher="sampled"``: ``ŷ ~ p_w(· | x_i)``, ``n_draws`` Monte-Carlo draws per sample
    (Achille et al. 2019, Sec. 2: the Fisher of the model's own predictive distribution).
    ``fisher="empirical"``: ``ŷ = y_i``, the true labels (the "empirical Fisher").
    Per-sample gradients come from :func:`torch.func.vmap` over :func:`torch.func.grad`;
    squaring a mini-batch gradient would give a different (wrong) quantity. Runs in eval
    mode (BatchNorm uses its running statistics, dropout is off); modes are restored.

    Returns
    -------
    dict of str to torch.Tensor
        Parameter name → tensor of the parameter's shape (on CPU).
    """
    if fisher not in ("sampled", "empirical"):
        raise ValueError(f"fisher must be 'sampled' or 'empirical', got {fisher!r}")
    if n_draws < 1 or batch_size < 1:
        raise ValueError("n_draws and batch_size must be >= 1")
    dev = resolve_device(device)
    encoder.to(dev)
    head.to(dev)
    Xt = _to_tensor(X, torch.float32, dev)
    if Xt.shape[0] == 0:
        raise ValueError("X is empty")
    yt = None
    if fisher == "empirical":
        if y is None:
            raise ValueError("fisher='empirical' needs the labels y")
        yt = _to_tensor(y, torch.long, dev)
        if yt.shape != (Xt.shape[0],):
            raise ValueError(f"y must have shape ({Xt.shape[0]},), got {tuple(yt.shape)}")
    params = {name: p.detach() for name, p in encoder.named_parameters()}
    if not params:
        raise ValueError("encoder has no parameters")
    buffers = {name: b.detach() for name, b in encoder.named_buffers()}
    generator = torch.Generator(device=dev).manual_seed(seed)

    def log_probs(p, x):
        out = functional_call(encoder, (p, buffers), (x.unsqueeze(0),))
        return torch.log_softmax(head(out.flatten(1)), dim=1)[0]

    def nll(p, x, label):
        # gather, not [label]: indexing with a batched tensor is data-dependent under vmap.
        return -log_probs(p, x).gather(0, label.unsqueeze(0)).squeeze(0)

    per_sample_grad = vmap(grad(nll), in_dims=(None, 0, 0))
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    with evaluating(encoder), evaluating(head):
        head_frozen = [q.requires_grad for q in head.parameters()]
        for q in head.parameters():
            q.requires_grad_(False)
        try:
            for start in range(0, Xt.shape[0], batch_size):
                xb = Xt[start : start + batch_size]
                if fisher == "sampled":
                    with torch.no_grad():
                        probs = torch.softmax(head(encoder(xb).flatten(1)), dim=1)
                    draws = [
                        torch.multinomial(probs, 1, generator=generator).squeeze(1)
                        for _ in range(n_draws)
                    ]
                else:
                    draws = [yt[start : start + batch_size]]
                for labels in draws:
                    grads = per_sample_grad(params, xb, labels)
                    for name, g in grads.items():
                        total[name] += (g**2).sum(dim=0)
        finally:
            for q, flag in zip(head.parameters(), head_frozen, strict=True):
                q.requires_grad_(flag)
    count = Xt.shape[0] * (n_draws if fisher == "sampled" else 1)
    return {name: (t / count).cpu() for name, t in total.items()}


def _train_head(
    head: nn.Module,
    feats: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    weight_decay: float,
) -> None:
    """Full-batch Adam on the frozen features: cross-entropy of the probe's classifier."""
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    head.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(head(feats), y)
        loss.backward()
        optimizer.step()
    head.eval()


def task2vec_embedding(
    encoder: nn.Module,
    X,
    y,
    head: nn.Module | None = None,
    *,
    n_classes: int | None = None,
    train_head: bool = True,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    fisher: str = "sampled",
    n_draws: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Task2Vec embedding of a labelled data set (Achille et al., ICCV 2019).

    The encoder is the frozen *probe network*. A linear classifier (``head``) is trained on
    its features for the task (the paper re-trains only the probe's final classifier),
    then the diagonal Fisher information of the encoder's weights,
    ``F_w = E_x E_{ŷ ~ p(·|x)} [(∂_w log p(ŷ | x))²]``, is computed (:func:`fisher_diagonal`;
    ``fisher="sampled"`` draws ``ŷ`` from the model as in the paper, ``"empirical"`` uses the
    true labels). As in the paper, the Fisher values of all weights of one filter / unit are
    averaged, so the embedding has one entry per output channel of every weight tensor with
    two or more dimensions (convolution and linear weights, in ``named_parameters`` order);
    biases and normalisation scales are left out. Only encoder weights enter, so tasks with
    different numbers of classes get embeddings of the same size.

    Deviation: the paper's robust Fisher estimate (a variational perturbation of the
    weights) is not used; this is the plain (Monte-Carlo) Fisher, which the paper also
    describes.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``X`` to features (flattened to ``(n, d)``). Not modified (a frozen probe), but
        moved to ``device``.
    X : array-like or tensor, shape (n, ...)
    y : array-like of int, shape (n,)
        Labels ``0 .. n_classes - 1``.
    head : nn.Module, optional
        Classifier on the features; default a new ``nn.Linear(d, n_classes)``. A given head
        is copied, never modified.
    n_classes : int, optional
        Default ``max(y) + 1``.
    train_head : bool, default True
        Train the head (full-batch Adam, ``epochs`` steps) before computing the Fisher.
    epochs, lr, weight_decay : training of the head.
    fisher : {"sampled", "empirical"}, default "sampled"
    n_draws, batch_size : see :func:`fisher_diagonal`.
    seed : int, default 0
        Seeds the head's initialisation and the sampled labels.
    device : str or torch.device, default "cpu"

    Returns
    -------
    numpy.ndarray, shape (n_units,)
        Non-negative embedding.
    """
    dev = resolve_device(device)
    encoder.to(dev)
    Xt = _to_tensor(X, torch.float32, dev)
    yt = _to_tensor(y, torch.long, dev)
    if Xt.shape[0] == 0 or yt.shape != (Xt.shape[0],):
        raise ValueError(f"X and y must be non-empty, of one length; got {len(Xt)}, {len(yt)}")
    if bool((yt < 0).any()):
        raise ValueError("y must hold class indices >= 0")
    n_classes = int(yt.max()) + 1 if n_classes is None else int(n_classes)
    if n_classes < 2 or int(yt.max()) >= n_classes:
        raise ValueError(f"need n_classes >= 2 covering every label, got {n_classes}")
    with evaluating(encoder), torch.no_grad():
        feats = torch.cat(
            [encoder(Xt[s : s + 1024]).flatten(1) for s in range(0, Xt.shape[0], 1024)]
        )
    # The default head's initialisation is seeded without touching the global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe_head = nn.Linear(feats.shape[1], n_classes) if head is None else copy.deepcopy(head)
    probe_head.to(dev)
    if train_head:
        _train_head(probe_head, feats, yt, epochs, lr, weight_decay)
    fisher_values = fisher_diagonal(
        encoder, probe_head, Xt, yt, fisher=fisher, n_draws=n_draws,
        batch_size=batch_size, seed=seed, device=dev,
    )
    parts = [
        values.reshape(values.shape[0], -1).mean(dim=1)
        for values in fisher_values.values()
        if values.ndim >= 2
    ]
    if not parts:
        raise ValueError("encoder has no weight tensor with two or more dimensions")
    return torch.cat(parts).double().numpy()


def task2vec_distance(e1, e2) -> float:
    """Symmetric Task2Vec distance (Achille et al. 2019, "symmetric TASK2VEC distance").

    .. math::  d_{\\mathrm{sym}}(F_a, F_b) = d_{\\cos}\\Big(\\frac{F_a}{F_a + F_b},
               \\frac{F_b}{F_a + F_b}\\Big), \\qquad
               d_{\\cos}(u, v) = 1 - \\frac{u \\cdot v}{\\lVert u \\rVert\\,\\lVert v \\rVert}

    with elementwise division; normalising by ``F_a + F_b`` stops the few parameters with
    large Fisher values from dominating. Coordinates where both embeddings are zero carry
    no information and are dropped. Symmetric, in ``[0, 1]``, and 0 for identical embeddings.

    Parameters
    ----------
    e1, e2 : array-like, shape (n_units,)
        Non-negative embeddings from :func:`task2vec_embedding`.

    Returns
    -------
    float
    """
    a = np.asarray(e1, dtype=np.float64).ravel()
    b = np.asarray(e2, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"embeddings must be non-empty, of one shape; got {a.shape}, {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or (a < 0).any() or (b < 0).any():
        raise ValueError("embeddings must be finite and non-negative (Fisher values)")
    total = a + b
    keep = total > 0
    if not keep.any():
        return 0.0
    u, v = a[keep] / total[keep], b[keep] / total[keep]
    cosine = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(min(max(1.0 - cosine, 0.0), 1.0))


# ----------------------------------------------------------------------------- agreement
def rank_agreement(scores, affinities) -> dict[str, float]:
    """Rank agreement of a transferability score with a ground truth (e.g. affinities).

    Kendall's τ-b (:func:`scipy.stats.kendalltau`) and Spearman's ρ
    (:func:`scipy.stats.spearmanr`) between the two rankings of the same sources.

    Parameters
    ----------
    scores, affinities : array-like of shape (n_sources,), or mappings source → value
        Two mappings are aligned on their keys, which must be the same set.

    Returns
    -------
    dict
        ``{"kendall_tau": τ, "spearman_rho": ρ}``; NaN when either input is constant.
    """
    if isinstance(scores, Mapping) or isinstance(affinities, Mapping):
        if not (isinstance(scores, Mapping) and isinstance(affinities, Mapping)):
            raise ValueError("scores and affinities must both be mappings or both be arrays")
        if set(scores) != set(affinities):
            raise ValueError("scores and affinities must have the same keys")
        keys = sorted(scores)
        a = np.array([float(scores[k]) for k in keys])
        b = np.array([float(affinities[k]) for k in keys])
    else:
        a = np.asarray(scores, dtype=np.float64).ravel()
        b = np.asarray(affinities, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need two inputs of one length >= 2, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores and affinities must be finite")
    with warnings.catch_warnings():
        # Constant input makes both coefficients undefined; NaN is the honest answer.
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        tau = stats.kendalltau(a, b).statistic
        rho = stats.spearmanr(a, b).statistic
    return {"kendall_tau": float(tau), "spearman_rho": float(rho)}


def agreement_tables(scores: Mapping[str, Mapping[str, Mapping[str, float]]], affinities: Mapping[tuple[str, str], float]):
    """Every estimator's ranking of the sources of every target against the ground truth.

    Parameters
    ----------
    scores : mapping target → estimator → source → score
    affinities : mapping (target, source) → ground-truth value (e.g. the tournament affinity)

    Returns
    -------
    score_table : pandas.DataFrame
        target, source, estimator, score, affinity: one row per score.
    agreement : pandas.DataFrame
        target, estimator, n_sources, kendall_tau, spearman_rho (:func:`rank_agreement`) for
        every (target, estimator) with at least 3 sources (a ranking of two says too little),
        then one summary row per estimator with ``target == "mean"``: the means over its
        targets, ``n_targets``, and ``rank`` (1 = the estimator with the highest mean τ).
    """
    import pandas as pd

    score_rows, agreement_rows = [], []
    for target in sorted(scores):
        for estimator, values in scores[target].items():
            sources = sorted(values)
            score_rows += [
                {"target": target, "source": s, "estimator": estimator, "score": values[s], "affinity": affinities[(target, s)]}
                for s in sources
            ]
            if len(sources) < 3:
                continue
            agreement = rank_agreement([values[s] for s in sources], [affinities[(target, s)] for s in sources])
            agreement_rows.append({"target": target, "estimator": estimator, "n_sources": len(sources), **agreement})
    score_table = pd.DataFrame(score_rows, columns=["target", "source", "estimator", "score", "affinity"])
    table = pd.DataFrame(agreement_rows, columns=["target", "estimator", "n_sources", "kendall_tau", "spearman_rho"])
    summary = (
        table.groupby("estimator", sort=False)
        .agg(kendall_tau=("kendall_tau", "mean"), spearman_rho=("spearman_rho", "mean"), n_targets=("target", "count"))
        .reset_index()
        .sort_values("kendall_tau", ascending=False)
    )
    summary["rank"] = np.arange(1, len(summary) + 1)
    summary["target"] = "mean"
    return score_table, pd.concat([table, summary], ignore_index=True)


def task2vec_scores(embeddings: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Task2Vec as a transferability score: minus :func:`task2vec_distance` between the
    embeddings of every source and every other target.

    Returns
    -------
    dict
        target → source → ``-task2vec_distance(e_source, e_target)``, every ordered pair of
        distinct tasks of ``embeddings``.
    """
    return {
        target: {
            source: -task2vec_distance(embeddings[source], embeddings[target]) for source in embeddings if source != target
        }
        for target in embeddings
    }
