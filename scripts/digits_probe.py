"""The linear probe behind the pretraining scripts' validation figures (issue 15), in one place.

The digits split of the pipelines (``stratified_split(y, 0.2, 0.2, 0)``), the label subsets of
the default run, and the probe of the transfer family's ``linear_probe`` protocol: standardised
features, logistic regression with C = 1, fitted on the 10 labelled rows per class of label seeds
0, 1, 2 and scored on the validation or test rows. Imported by ``pretraining_probe.py`` and
``pretraining_readouts.py`` (run from the repository root, ``scripts/`` is on ``sys.path``).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from transfer_lab.sources.digits import load_digits
from transfer_lab.sources.splits import label_subsets, split_indices, stratified_split, subset_indices

LABEL_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class DigitsProbe:
    X: np.ndarray
    y: np.ndarray
    table: object  # the split table
    subsets: object  # the label subsets (budgets 1, 5, 10, 50, all; seeds 0-2)

    def rows(self, split: str) -> np.ndarray:
        return split_indices(self.table, split)

    def accuracies(self, features: np.ndarray, split: str, budget: str = "10", max_iter: int = 2000) -> list[float]:
        """Probe accuracy on ``split`` for each label seed, fitted on that seed's labelled rows."""
        scored, out = self.rows(split), []
        for seed in LABEL_SEEDS:
            labelled = subset_indices(self.subsets, budget, seed)
            scaler = StandardScaler().fit(features[labelled])
            probe = LogisticRegression(C=1.0, max_iter=max_iter).fit(scaler.transform(features[labelled]), self.y[labelled])
            out.append(float(probe.score(scaler.transform(features[scored]), self.y[scored])))
        return out


def digits_probe() -> DigitsProbe:
    base = load_digits()
    table = stratified_split(base.y, 0.2, 0.2, 0)
    return DigitsProbe(base.X, base.y, table, label_subsets(base.y, table, [1, 5, 10, 50, "all"], list(LABEL_SEEDS)))
