"""The one ``history_`` schema of every semi-supervised estimator.

Every estimator of this package (the classic ones and
:class:`~transfer_lab.methods.semi_supervised.neural.NeuralSSLClassifier`) exposes after
``fit`` a ``history_``: a list with **one dict per round** (a pseudo-labelling round, or an
epoch for the online and neural methods), in order, with at least

=============  ==============================================================================
``round``      int, from 1
``n_added``    int >= 0: rows that got a pseudo-label in the round (offline methods: rows
               added to the labelled set; online self-training: unlabelled rows used as
               targets; neural methods: unlabelled rows whose predicted class reaches the
               method's confidence threshold at the epoch's end)
``precision``  float in [0, 1], NaN when ``n_added`` is 0: the fraction of those
               pseudo-labels that are right. Present only when ``fit`` got the true labels
               of the unlabelled rows (``y_true_unlabeled``), which are used for nothing else
=============  ==============================================================================

and any method-specific keys beside (``loss``, ``weight``, ``mean_confidence``, ...).
Label propagation has no rounds: its ``history_`` is empty.

``history_counts`` (a class attribute; ``"added"`` when absent) says what ``n_added``
counts: ``"added"`` where the pseudo-labels enter training (their sum over rounds is a
meaningful total), ``"confident"`` where they are only monitored (the neural methods).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

HISTORY_COLUMNS = ("round", "n_added", "precision")


def check_history(history: Sequence[Mapping[str, Any]]) -> None:
    """Raise ``ValueError`` unless ``history`` follows the schema above."""
    if not isinstance(history, list):
        raise ValueError(f"history_ must be a list of dicts, got {type(history).__name__}")
    for expected, row in enumerate(history, start=1):
        if int(row["round"]) != expected:
            raise ValueError(f"history_ rounds must run 1, 2, ...; row {expected} has round {row['round']}")
        if int(row["n_added"]) < 0:
            raise ValueError(f"history_ round {expected}: n_added must be >= 0")
        p = row.get("precision")
        if p is not None and not (np.isnan(p) or 0.0 <= p <= 1.0):
            raise ValueError(f"history_ round {expected}: precision must be in [0, 1] or NaN, got {p}")


def rounds_summary(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One schema row per round from several records per round (e.g. one per classifier):
    ``n_added`` summed, ``precision`` weighted by each record's ``n_added``."""
    by_round: dict[int, list[Mapping[str, Any]]] = {}
    for record in records:
        by_round.setdefault(int(record["round"]), []).append(record)
    rows = []
    for round_, entries in sorted(by_round.items()):
        total = sum(int(e["n_added"]) for e in entries)
        row: dict[str, Any] = {"round": round_, "n_added": total}
        if any("precision" in e for e in entries):
            correct = sum(int(e["n_added"]) * e["precision"] for e in entries if e["n_added"] and "precision" in e)
            row["precision"] = correct / total if total else float("nan")
        rows.append(row)
    return rows


def pseudo_label_totals(history: Sequence[Mapping[str, Any]]) -> tuple[int, float | None]:
    """Pseudo-labels over all rounds and their precision (None without true labels or rows)."""
    added = sum(int(r["n_added"]) for r in history)
    if not added or not all("precision" in r for r in history):
        return added, None
    correct = sum(int(r["n_added"]) * r["precision"] for r in history if r["n_added"])
    return added, correct / added
