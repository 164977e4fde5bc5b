"""Taskonomy (Zamir et al., CVPR 2018): tournament win rates, AHP affinities, the taxonomy BIP.

Three steps of the paper live here, each a pure function of arrays or dictionaries:

1. **Tournament** (Sec. 3.3): for one target task, every pair of sources ``(i, j)`` is compared
   on the test set; ``W_T[i, j]`` is the fraction of test samples on which the transfer from
   source ``i`` has a lower loss than the transfer from ``j`` (:func:`tournament_matrix`).
2. **Ordinal normalisation with the Analytic Hierarchy Process** (Sec. 3.3): the clipped
   ``W_T`` becomes the pairwise-comparison matrix ``W' = W_T / W_Tᵀ`` (elementwise) and the
   affinity of every source for that target is the principal eigenvector of ``W'``
   (:func:`ahp_affinity`).
3. **Taxonomy by binary integer programming** (Sec. 3.4): choose which tasks to train with
   full supervision, under a supervision budget, and one incoming transfer (or full
   supervision) for every target, maximising the importance-weighted affinity
   (:func:`solve_taxonomy`, with :func:`scipy.optimize.milp`, i.e. HiGHS; for several
   budgets at once, :func:`solve_budgets`).

The search over transfers (every first order, then higher orders on a beam of the best
sources, :func:`beam_transfers`) and the per-target tournament tables
(:func:`tournament_records`) are here too; the readouts themselves are the caller's
(``methods.tasks.readout_losses``).

The published affinities and win rates of the original release ship with the package
(``transfer_lab/reference/taskonomy``, MIT licence, see its README) and are read with
:func:`load_reference_affinities`. Their key format is used throughout: ``"src__target"`` for
a first-order transfer and ``"src1__src2__target"`` for a higher-order one (a readout from the
concatenated frozen encoders of all sources); ``self`` (the target's own task-specific
network), ``random`` (a random-weight encoder) and ``pixels`` (trained from scratch on the
small transfer set) are pseudo-sources.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from importlib import resources

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = [
    "PSEUDO_SOURCES",
    "REFERENCE_FILES",
    "tournament_matrix",
    "ahp_affinity",
    "affinity_from_losses",
    "win_rate",
    "transfer_gain",
    "transfer_quality",
    "parse_transfer_key",
    "transfer_key",
    "load_reference_affinities",
    "solve_taxonomy",
    "taxonomy_objective",
    "taxonomy_cost",
    "beam_sources",
    "source_combinations",
    "beam_transfers",
    "tournament_records",
    "solve_budgets",
]

#: Baselines that appear as "sources" in the release but are never real source tasks.
PSEUDO_SOURCES = frozenset({"self", "random", "pixels"})

#: Files of the original release that ship in ``transfer_lab/reference/taskonomy``.
REFERENCE_FILES = (
    "all_affinities",
    "all_affinities_1k",
    "all_affinities_16k",
    "wins_vs_task",
    "wins_vs_task_16k",
    "wins_vs_pixels",
    "wins_vs_pixels_16k",
)

_SEPARATOR = "__"


# ----------------------------------------------------------------------------- tournament
def _losses_2d(losses, name: str = "losses") -> np.ndarray:
    array = np.asarray(losses, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_sources, n_samples), got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one sample")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _losses_1d(losses, name: str) -> np.ndarray:
    array = np.asarray(losses, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def tournament_matrix(losses, *, chunk_size: int = 4096) -> np.ndarray:
    """Pairwise win-rate matrix of the sources of one target (Taskonomy, Sec. 3.3).

    .. math::  W_T[i, j] = \\frac{1}{m} \\sum_{k=1}^{m}
               \\Big( \\mathbb{1}[\\ell_{ik} < \\ell_{jk}]
               + \\tfrac12 \\, \\mathbb{1}[\\ell_{ik} = \\ell_{jk}] \\Big)

    where ``ℓ_ik`` is the test loss of the transfer from source ``i`` on test sample ``k``.

    Ties count half a win for each side. This keeps ``W_T + W_Tᵀ = 1`` exactly, so the
    diagonal is exactly 0.5 (as in the release, where a task compared with itself scores
    0.5) and ``W_T / W_Tᵀ`` in :func:`ahp_affinity` is a proper reciprocal matrix even for
    losses that saturate at the same value (e.g. 0 for a perfectly classified sample).

    Parameters
    ----------
    losses : array-like, shape (n_sources, n_samples)
        Per-sample test losses, one row per source (transfer) of the same target, all on the
        same test samples in the same order.
    chunk_size : int, default 4096
        Samples compared at once; bounds the ``n_sources² × chunk_size`` temporary.

    Returns
    -------
    numpy.ndarray, shape (n_sources, n_sources)
        ``W_T``, not clipped (clipping belongs to the AHP step).
    """
    L = _losses_2d(losses)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n, m = L.shape
    wins = np.zeros((n, n))
    for start in range(0, m, chunk_size):
        block = L[:, start : start + chunk_size]
        a, b = block[:, None, :], block[None, :, :]
        wins += (a < b).sum(axis=-1) + 0.5 * (a == b).sum(axis=-1)
    return wins / m


def ahp_affinity(W, *, clip: tuple[float, float] = (0.001, 0.999)) -> np.ndarray:
    """AHP affinity of every source for one target from its tournament matrix (Taskonomy).

    Step III of the paper (Sec. 3.3, "ordinal normalisation using the Analytic Hierarchy
    Process"): the win-rate matrix is clipped, ``W_T ← clip(W_T, 0.001, 0.999)`` (win rates of
    exactly 0 or 1 occur and would make the ratio 0 or infinite), turned into the
    pairwise-comparison matrix

    .. math::  W'_{ij} = \\frac{W_T[i, j]}{W_T[j, i]}
               = \\frac{\\mathbb{E}[\\mathbb{1}(\\ell_i < \\ell_j)]}
                       {\\mathbb{E}[\\mathbb{1}(\\ell_i > \\ell_j)]}

    (eq. 6.15 of the seed text), and the affinity is the principal (Perron) eigenvector of
    ``W'``, normalised to sum 1. For a consistent matrix ``W_T[i, j] = a_i / (a_i + a_j)``
    one has ``W'_{ij} = a_i / a_j`` and the affinity is exactly ``a / Σ a``.

    Parameters
    ----------
    W : array-like, shape (n_sources, n_sources)
        ``W_T`` from :func:`tournament_matrix` (or any matrix of win rates in [0, 1]).
    clip : (float, float), default (0.001, 0.999)
        Bounds applied to ``W_T`` before the ratio; the paper's values.

    Returns
    -------
    numpy.ndarray, shape (n_sources,)
        Positive affinities summing to 1; larger means a better source for the target.
    """
    Wt = np.asarray(W, dtype=np.float64)
    if Wt.ndim != 2 or Wt.shape[0] != Wt.shape[1] or Wt.shape[0] == 0:
        raise ValueError(f"W must be a non-empty square matrix, got shape {Wt.shape}")
    if not np.isfinite(Wt).all() or (Wt < 0).any() or (Wt > 1).any():
        raise ValueError("W must hold win rates in [0, 1]")
    low, high = clip
    if not 0 < low <= high < 1:
        raise ValueError(f"clip must satisfy 0 < low <= high < 1, got {clip}")
    Wc = np.clip(Wt, low, high)
    ratio = Wc / Wc.T
    # W' is strictly positive, so Perron-Frobenius guarantees a simple largest real
    # eigenvalue with a positive eigenvector; eig() returns it with an arbitrary sign.
    values, vectors = np.linalg.eig(ratio)
    vector = np.real(vectors[:, int(np.argmax(values.real))])
    vector = np.abs(vector)  # removes the arbitrary sign (all entries share one sign)
    return vector / vector.sum()


def affinity_from_losses(losses, *, clip: tuple[float, float] = (0.001, 0.999)) -> np.ndarray:
    """Per-sample losses of the sources of one target → AHP affinities (both steps above)."""
    return ahp_affinity(tournament_matrix(losses), clip=clip)


def win_rate(losses_a, losses_b) -> float:
    """Fraction of samples on which ``a`` has the lower loss than ``b`` (ties count half).

    This is the quantity of the release's ``wins_vs_*`` files (Taskonomy's gain and quality): with
    ``b`` = ``pixels`` (a network trained from scratch on the small transfer set) it is the
    **gain** of a transfer, with ``b`` = ``self`` (the task-specific network trained with
    full supervision) its **quality**. Ties count half so that ``win_rate(x, x) = 0.5``, as
    in the release and in :func:`tournament_matrix`.

    Parameters
    ----------
    losses_a, losses_b : array-like, shape (n_samples,)
        Per-sample test losses of the two models on the same samples.

    Returns
    -------
    float in [0, 1]
    """
    a = _losses_1d(losses_a, "losses_a")
    b = _losses_1d(losses_b, "losses_b")
    if a.shape != b.shape:
        raise ValueError(f"losses_a and losses_b differ in length: {a.size} vs {b.size}")
    return float(np.mean((a < b) + 0.5 * (a == b)))


def transfer_gain(transfer_losses, pixels_losses) -> float:
    """Gain of a transfer: :func:`win_rate` against training from scratch (``pixels``)."""
    return win_rate(transfer_losses, pixels_losses)


def transfer_quality(transfer_losses, self_losses) -> float:
    """Quality of a transfer: :func:`win_rate` against the task-specific network (``self``)."""
    return win_rate(transfer_losses, self_losses)


# ----------------------------------------------------------------------------- release keys
def parse_transfer_key(key: str) -> tuple[tuple[str, ...], str]:
    """Split ``"src1__src2__target"`` into ``(("src1", "src2"), "target")``."""
    if not isinstance(key, str):
        raise ValueError(f"transfer keys must be strings, got {key!r}")
    parts = key.split(_SEPARATOR)
    if len(parts) < 2 or any(not part for part in parts):
        raise ValueError(f"malformed transfer key {key!r}; expected 'src1[__src2...]__target'")
    return tuple(parts[:-1]), parts[-1]


def transfer_key(sources: Iterable[str], target: str) -> str:
    """Inverse of :func:`parse_transfer_key`."""
    return _SEPARATOR.join([*sources, target])


def load_reference_affinities(name: str = "all_affinities") -> dict[str, float]:
    """Read one file of the original Taskonomy release shipped with the package.

    Parameters
    ----------
    name : str, default "all_affinities"
        One of :data:`REFERENCE_FILES` (with or without ``.json``): ``all_affinities`` (AHP
        affinities, orders 1-2), ``all_affinities_1k`` / ``_16k`` (other transfer set sizes,
        higher orders), ``wins_vs_task`` / ``wins_vs_pixels`` (quality and gain win rates)
        and their ``_16k`` variants.

    Returns
    -------
    dict
        ``"src1__...__target"`` → float, values as published (converted from the release's
        pickles to JSON, unchanged).
    """
    stem = name[: -len(".json")] if name.endswith(".json") else name
    if stem not in REFERENCE_FILES:
        raise ValueError(f"unknown reference file {name!r}; choose one of {REFERENCE_FILES}")
    # importlib.resources works from a wheel, a zip or an editable install alike.
    resource = resources.files("transfer_lab.reference.taskonomy").joinpath(f"{stem}.json")
    with resource.open("r", encoding="utf-8") as handle:
        data = json.load(handle)
    return {str(key): float(value) for key, value in data.items()}


# ----------------------------------------------------------------------------- taxonomy (BIP)
def _value(raw: float, sqrt: bool, key: str) -> float:
    if not math.isfinite(raw):
        raise ValueError(f"affinity {key!r} is not finite: {raw}")
    if sqrt:
        if raw < 0:
            raise ValueError(f"sqrt=True needs non-negative affinities, {key!r} is {raw}")
        return math.sqrt(raw)
    return raw


def _weights(mapping: Mapping[str, float] | None, known: set[str], name: str) -> dict[str, float]:
    """Validate an importance/cost dict; tasks known to the affinities but not in play are fine."""
    weights: dict[str, float] = {}
    for task, value in (mapping or {}).items():
        if task not in known:
            raise ValueError(f"{name} names unknown task {task!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}[{task!r}] must be finite and >= 0, got {value}")
        weights[task] = value
    return weights


def _build_problem(
    affinities: Mapping[str, float],
    targets: Iterable[str] | None,
    sources: Iterable[str] | None,
    max_order: int | None,
    sqrt: bool,
):
    """Parse the keys into targets, their self values and the admissible transfers."""
    if max_order is not None and (int(max_order) != max_order or max_order < 1):
        raise ValueError(f"max_order must be a positive integer or None, got {max_order}")
    # A bare string would silently be read as a set of one-letter task names.
    if isinstance(targets, str) or isinstance(sources, str):
        raise ValueError("targets and sources must be collections of task names, not a string")
    self_values: dict[str, float] = {}
    parsed: list[tuple[tuple[str, ...], str, float, str]] = []
    all_targets: set[str] = set()
    all_sources: set[str] = set()
    for key, raw in affinities.items():
        srcs, target = parse_transfer_key(key)
        if len(set(srcs)) != len(srcs):
            raise ValueError(f"transfer key {key!r} repeats a source")
        all_targets.add(target)
        if srcs == ("self",):
            self_values[target] = float(raw)
            continue
        all_sources.update(s for s in srcs if s not in PSEUDO_SOURCES)
        parsed.append((srcs, target, float(raw), key))
    if not all_targets:
        raise ValueError("affinities is empty")
    known = all_targets | all_sources

    if targets is None:
        chosen_targets = sorted(all_targets)
    else:
        chosen_targets = list(dict.fromkeys(targets))
        unknown = [t for t in chosen_targets if t not in all_targets]
        if unknown:
            raise ValueError(f"targets not found in the affinities: {unknown}")
        if not chosen_targets:
            raise ValueError("targets is empty")
    missing_self = [t for t in chosen_targets if t not in self_values]
    if missing_self:
        raise ValueError(
            f"no 'self__<target>' key (value of full supervision) for targets {missing_self}"
        )

    if sources is None:
        allowed = all_sources
    else:
        allowed = set(sources)
        pseudo = sorted(allowed & PSEUDO_SOURCES)
        if pseudo:
            raise ValueError(f"pseudo-sources {pseudo} can never be chosen as sources")
        unknown = sorted(allowed - known)
        if unknown:
            raise ValueError(f"sources not found in the affinities: {unknown}")

    target_set = set(chosen_targets)
    transfers = []  # (sources, target, value)
    for srcs, target, raw, key in parsed:
        if target not in target_set:
            continue
        # random/pixels are baselines, never supervised source tasks.
        if any(s in PSEUDO_SOURCES for s in srcs):
            continue
        # "t__t" is the target's own encoder read out on the small transfer set: it needs t
        # trained with full supervision, and then t is covered by full supervision itself.
        if target in srcs:
            continue
        if max_order is not None and len(srcs) > max_order:
            continue
        if not set(srcs) <= allowed:
            continue
        transfers.append((srcs, target, _value(raw, sqrt, key)))
    self_scores = {t: _value(self_values[t], sqrt, f"self__{t}") for t in chosen_targets}
    return chosen_targets, self_scores, transfers, known


def _solve_bip(c, tasks, transfers, targets, cost_vec, budget, minimise_cost=False):
    """Assemble and solve the BIP; returns the HiGHS result."""
    n_e, n_s = len(transfers), len(tasks)
    index = {task: n_e + k for k, task in enumerate(tasks)}
    rows, cols, vals = [], [], []
    row = 0
    # (i) x_e <= y_s for every source s of transfer e: a transfer needs all of its sources
    # trained with full supervision (disaggregated rows give a tighter LP relaxation than
    # k x_e <= sum_s y_s).
    for e, (srcs, _, _) in enumerate(transfers):
        for s in srcs:
            rows += [row, row]
            cols += [e, index[s]]
            vals += [1.0, -1.0]
            row += 1
    n_link = row
    # (ii) every target has exactly one incoming transfer or is trained with full supervision.
    into: dict[str, list[int]] = {t: [] for t in targets}
    for e, (_, target, _) in enumerate(transfers):
        into[target].append(e)
    for t in targets:
        for e in into[t]:
            rows.append(row)
            cols.append(e)
            vals.append(1.0)
        rows.append(row)
        cols.append(index[t])
        vals.append(1.0)
        row += 1
    A = sparse.csr_array((vals, (rows, cols)), shape=(row, n_e + n_s))
    lower = np.concatenate([np.full(n_link, -np.inf), np.ones(row - n_link)])
    upper = np.concatenate([np.zeros(n_link), np.ones(row - n_link)])
    constraints = [LinearConstraint(A, lower, upper)]
    if not minimise_cost:
        # (iii) the supervision budget.
        budget_row = np.concatenate([np.zeros(n_e), cost_vec])[None, :]
        constraints.append(LinearConstraint(budget_row, -np.inf, budget))
    return milp(
        c,
        integrality=np.ones(n_e + n_s),
        bounds=Bounds(0, 1),
        constraints=constraints,
        # mip_rel_gap=0: a certified optimum, not HiGHS's default 1e-4 relative gap.
        options={"mip_rel_gap": 0.0},
    )


def solve_taxonomy(
    affinities: Mapping[str, float],
    budget: float,
    *,
    targets: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    max_order: int | None = None,
    importance: Mapping[str, float] | None = None,
    costs: Mapping[str, float] | None = None,
    sqrt: bool = False,
    return_objective: bool = False,
) -> dict[str, tuple[str, ...]] | tuple[dict[str, tuple[str, ...]], float]:
    """Choose the supervised tasks and one transfer per target: the Taskonomy BIP (Sec. 3.4).

    Binary variables: ``x_e`` for every admissible transfer ``e = (S_e → t_e)`` (any order up
    to ``max_order``) and ``y_s`` for every task ``s`` trained with full supervision. The
    program (Zamir et al. 2018, Sec. 3.4, "Step IV: computing the global taxonomy") is

    .. math::
        \\max_{x, y} \\;& \\sum_e r_{t_e} \\, v_e \\, x_e
                        + \\sum_{t \\in T} r_t \\, v_{\\mathrm{self}, t} \\, y_t \\\\
        \\text{s.t.} \\;& x_e \\le y_s \\quad \\forall e, \\; \\forall s \\in S_e
            \\qquad \\text{(sources of a chosen transfer are supervised)} \\\\
        & \\sum_{e : t_e = t} x_e + y_t = 1 \\quad \\forall t \\in T
            \\qquad \\text{(one incoming transfer or full supervision)} \\\\
        & \\sum_s c_s \\, y_s \\le B \\qquad \\text{(supervision budget)}

    with ``v_e`` the affinity of transfer ``e`` (key ``"src1__…__target"``), ``v_self,t`` the
    affinity of ``self`` for ``t`` (key ``"self__t"``, the value of full supervision),
    ``r_t`` the target importance and ``c_s`` the supervision cost. With ``sqrt=True`` every
    ``v`` is replaced by ``√v``, as the original solver did.

    A supervised target is covered by its own network (constraint two makes ``y_t = 1``
    exclude incoming transfers), so the returned dict fully describes the solution. Keys
    whose sources include ``self``, ``random`` or ``pixels`` are never transfers, and keys
    ``"t__t"`` (the target's own encoder read out on the small transfer set; the release has
    them) are dropped because they need ``t`` supervised, which already gives ``t`` full
    supervision.

    Parameters
    ----------
    affinities : mapping of str to float
        The release's key format, e.g. :func:`load_reference_affinities`. Every target in
        play needs a ``"self__<target>"`` key.
    budget : float
        Maximal total supervision cost ``B``.
    targets : iterable of str, optional
        Targets to cover; default every target found in the keys.
    sources : iterable of str, optional
        Tasks allowed as sources; default every non-pseudo source in the keys.
    max_order : int, optional
        Largest number of sources of one transfer; default no limit.
    importance : mapping of str to float, optional
        Target importance ``r_t`` (default 1 for every target).
    costs : mapping of str to float, optional
        Supervision cost ``c_s`` (default 1 for every task).
    sqrt : bool, default False
        Use ``√v`` instead of ``v`` in the objective.
    return_objective : bool, default False
        Also return the objective value of the solution.

    Returns
    -------
    dict of str to tuple of str
        Target → sources of its chosen incoming transfer (in the key's order), or ``()`` when
        the target is trained with full supervision. Source-only tasks trained with full
        supervision appear with ``()`` as well; supervised tasks that no chosen transfer uses
        and that are not targets are left out (they add cost and nothing else).
    float
        Only with ``return_objective=True``: ``Σ_t r_t v_t`` of the solution.

    Raises
    ------
    ValueError
        On malformed input, or when the budget cannot cover every target.
    """
    budget = float(budget)
    if not math.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    chosen_targets, self_scores, transfers, known = _build_problem(
        affinities, targets, sources, max_order, sqrt
    )
    weights = _weights(importance, known, "importance")
    cost_of = _weights(costs, known, "costs")

    used_sources = {s for srcs, _, _ in transfers for s in srcs}
    tasks = list(chosen_targets) + sorted(used_sources - set(chosen_targets))
    cost_vec = np.array([cost_of.get(s, 1.0) for s in tasks])
    rank = {t: weights.get(t, 1.0) for t in chosen_targets}

    # milp minimises, so the objective is negated.
    c = np.zeros(len(transfers) + len(tasks))
    for e, (_, target, value) in enumerate(transfers):
        c[e] = -rank[target] * value
    for k, task in enumerate(tasks):
        if task in self_scores:
            c[len(transfers) + k] = -rank[task] * self_scores[task]

    result = _solve_bip(c, tasks, transfers, chosen_targets, cost_vec, budget)
    if result.status == 2:
        # The least budget that covers every target, for the message. A transfer whose
        # sources strictly contain another transfer's (same target) never lowers the cost;
        # dropping those keeps this second solve fast (the LP bound is weak otherwise).
        source_sets: dict[str, list[set[str]]] = {}
        for srcs, target, _ in transfers:
            source_sets.setdefault(target, []).append(set(srcs))
        minimal = [
            tr for tr in transfers
            if not any(other < set(tr[0]) for other in source_sets[tr[1]])
        ]
        need = _solve_bip(
            np.concatenate([np.zeros(len(minimal)), cost_vec]),
            tasks, minimal, chosen_targets, cost_vec, budget, minimise_cost=True,
        )
        least = f"{need.fun:g}" if need.status == 0 else "more"
        raise ValueError(f"budget {budget:g} is infeasible: covering the targets needs {least}")
    if result.status != 0 or result.x is None:
        raise ValueError(f"the taxonomy BIP was not solved: {result.message}")

    chosen = result.x > 0.5
    taxonomy: dict[str, tuple[str, ...]] = {}
    for e, (srcs, target, _) in enumerate(transfers):
        if chosen[e]:
            taxonomy[target] = srcs
    used = {s for srcs in taxonomy.values() for s in srcs}
    for k, task in enumerate(tasks):
        # A source-only task switched on with slack budget but used by no transfer would be
        # a spurious "train this" in the answer: report only tasks that matter.
        if chosen[len(transfers) + k] and (task in self_scores or task in used):
            taxonomy[task] = ()
    taxonomy = dict(sorted(taxonomy.items()))
    if not return_objective:
        return taxonomy
    # Summed from the chosen values rather than read from result.fun (no solver round-off).
    value_of = {(srcs, target): value for srcs, target, value in transfers}
    objective = sum(
        rank[t] * (value_of[(taxonomy[t], t)] if taxonomy[t] else self_scores[t])
        for t in chosen_targets
    )
    return taxonomy, float(objective)


def taxonomy_objective(
    affinities: Mapping[str, float],
    taxonomy: Mapping[str, tuple[str, ...]],
    *,
    targets: Iterable[str] | None = None,
    importance: Mapping[str, float] | None = None,
    sqrt: bool = False,
) -> float:
    """Objective ``Σ_t r_t v_t`` of a given taxonomy, the quantity :func:`solve_taxonomy` maximises.

    Parameters
    ----------
    affinities : mapping of str to float
        Release-format keys, as for :func:`solve_taxonomy`.
    taxonomy : mapping of str to tuple of str
        Target → sources, ``()`` for full supervision (value ``"self__<target>"``).
    targets : iterable of str, optional
        Targets that count; default every task of ``taxonomy`` with a ``"self__<task>"``
        key. Pass the ``targets`` given to the solver when it was a subset (a supervised
        source-only task may have a ``self`` key too).
    importance : mapping of str to float, optional
    sqrt : bool, default False
    """
    if targets is None:
        targets = [t for t in taxonomy if transfer_key(("self",), t) in affinities]
    total = 0.0
    for t in targets:
        if t not in taxonomy:
            raise ValueError(f"target {t!r} is not covered by the taxonomy")
        key = transfer_key(taxonomy[t] or ("self",), t)
        if key not in affinities:
            raise ValueError(f"no affinity for {key!r}")
        total += (importance or {}).get(t, 1.0) * _value(float(affinities[key]), sqrt, key)
    return float(total)


def taxonomy_cost(
    taxonomy: Mapping[str, tuple[str, ...]], costs: Mapping[str, float] | None = None
) -> float:
    """Total supervision cost of a taxonomy: tasks mapped to ``()`` (cost 1 unless given)."""
    return float(sum((costs or {}).get(t, 1.0) for t, srcs in taxonomy.items() if not srcs))


# ----------------------------------------------------------------------------- higher orders
def beam_sources(first_order_losses: Mapping[str, np.ndarray], beam: int) -> list[str]:
    """The ``beam`` best real sources of one target, ranked by the AHP affinity of their losses.

    Parameters
    ----------
    first_order_losses : mapping source → per-sample losses, shape (n_samples,)
        Losses of every first-order transfer into the target, on samples that choose (the
        validation split, so that the test split used by the tournament chooses nothing).
        Pseudo-sources (:data:`PSEUDO_SOURCES`) are left out of the ranking.
    beam : int
        How many sources to keep (all of them when there are fewer).

    Returns
    -------
    list of str
        Best first; ties keep the alphabetical order of the sources.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    real = sorted(s for s in first_order_losses if s not in PSEUDO_SOURCES)
    if not real:
        return []
    affinity = affinity_from_losses(np.stack([np.asarray(first_order_losses[s], dtype=np.float64) for s in real]))
    return [real[i] for i in np.argsort(-affinity, kind="stable")[:beam]]


def source_combinations(sources: Iterable[str], max_order: int) -> list[tuple[str, ...]]:
    """Every combination of ``2 … max_order`` of ``sources`` (sorted), the higher-order transfers."""
    chosen = sorted(sources)
    combos: list[tuple[str, ...]] = []
    for k in range(2, min(max_order, len(chosen)) + 1):
        combos.extend(itertools.combinations(chosen, k))
    return combos


def beam_transfers(
    sources: Iterable[str],
    target: str,
    evaluate: Callable[[tuple[str, ...]], tuple[np.ndarray, np.ndarray]],
    *,
    beam: int,
    max_order: int,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Every transfer into ``target`` of the Taskonomy search: all first orders, then a beam.

    First order: ``evaluate((source,))`` for every source (pseudo-sources such as ``random``
    included). Higher orders: ``evaluate(combo)`` for every combination of ``2 … max_order``
    of the ``beam`` best real first-order sources (:func:`beam_sources`, ranked on the
    *validation* losses). ``evaluate`` returns the per-sample (validation, test) losses of a
    readout on the concatenated features of its sources.

    Returns
    -------
    val_losses, test_losses : dict
        Transfer key (``"src1__src2__target"``) → per-sample losses.
    beam : list of str
        The sources the higher orders combine, best first.
    """
    from tqdm.auto import tqdm

    val: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    for source in tqdm(sorted(sources), desc=f"transfers to {target}", disable=not progress):
        key = transfer_key((source,), target)
        val[key], test[key] = evaluate((source,))
    first_order = {parse_transfer_key(key)[0][0]: losses for key, losses in val.items()}
    chosen = beam_sources(first_order, beam)
    for combo in source_combinations(chosen, max_order):
        key = transfer_key(combo, target)
        val[key], test[key] = evaluate(combo)
    return val, test, chosen


# ----------------------------------------------------------------------------- tournament tables
def tournament_records(
    losses: Mapping[str, np.ndarray], target: str
) -> tuple[dict[str, float], list[dict], list[dict]]:
    """The tournament of one target, from the per-sample test losses of its competitors.

    Competitors are every transfer into ``target`` (every order, ``random`` included) and
    ``self``; ``pixels`` is left out of the tournament and is the reference of the gain, as
    in the original release.

    Parameters
    ----------
    losses : mapping transfer key → per-sample test losses
        Must hold ``"pixels__<target>"`` and ``"self__<target>"``.
    target : str

    Returns
    -------
    affinities : dict
        Transfer key → AHP affinity (the competitors' affinities sum to 1).
    records : list of dict
        One per key (``pixels`` last): target, key, sources (``+``-joined), order,
        affinity (NaN for ``pixels``), gain (win rate vs ``pixels``), quality (vs ``self``),
        test_loss (mean).
    wins : list of dict
        The matrix ``W_T`` in long form: target, key_i, key_j, win_rate.
    """
    pixels_key, self_key = transfer_key(("pixels",), target), transfer_key(("self",), target)
    pixels, own = losses[pixels_key], losses[self_key]
    keys = sorted(k for k in losses if k != pixels_key)
    W = tournament_matrix(np.stack([losses[k] for k in keys]))
    affinities = {key: float(value) for key, value in zip(keys, ahp_affinity(W), strict=True)}
    wins = [
        {"target": target, "key_i": key_i, "key_j": key_j, "win_rate": W[i, j]}
        for i, key_i in enumerate(keys)
        for j, key_j in enumerate(keys)
    ]
    records = []
    for key in [*keys, pixels_key]:
        sources, _ = parse_transfer_key(key)
        records.append(
            {
                "target": target, "key": key, "sources": "+".join(sources), "order": len(sources),
                "affinity": affinities.get(key, math.nan),
                "gain": win_rate(losses[key], pixels), "quality": win_rate(losses[key], own),
                "test_loss": float(np.mean(losses[key])),
            }
        )
    return affinities, records, wins


# ----------------------------------------------------------------------------- taxonomy per budget
def solve_budgets(
    affinities: Mapping[str, float], budgets: Iterable[float], *, max_order: int | None = None, sqrt: bool = False
) -> list[dict]:
    """:func:`solve_taxonomy` for every supervision budget.

    Returns
    -------
    list of dict
        One per budget, in order: ``budget``, ``objective``, ``cost``
        (:func:`taxonomy_cost`) and ``taxonomy`` (target → list of sources; ``[]`` for a
        task trained with full supervision), ready for JSON.
    """
    solutions = []
    for budget in budgets:
        taxonomy, objective = solve_taxonomy(affinities, budget, max_order=max_order, sqrt=sqrt, return_objective=True)
        solutions.append(
            {
                "budget": budget, "objective": objective, "cost": taxonomy_cost(taxonomy),
                "taxonomy": {t: list(s) for t, s in taxonomy.items()},
            }
        )
    return solutions
