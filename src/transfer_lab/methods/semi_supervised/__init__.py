"""Semi-supervised learning: one scikit-learn API for every method.

Every estimator takes ``y = -1`` for unlabeled rows (as :mod:`sklearn.semi_supervised`) and
exposes after ``fit`` a ``history_`` in one schema (:mod:`.history`):

* classic estimators, exported here: :class:`SelfTrainingClassifier`,
  :class:`CoTrainingClassifier`, :class:`TriTrainingClassifier`, :class:`LabelPropagation`,
  and :class:`OnlineSelfTrainingClassifier` (pseudo-labels recomputed at every
  ``partial_fit`` step with hard, soft or sharpened targets);
* :class:`~.neural.NeuralSSLClassifier`, every neural method (entropy minimisation, mutual
  information, Π-model, VAT, FixMatch, pseudo-labelling, distillation, and the supervised
  baseline) on the shared engine of :mod:`.neural` (one module per method); imported on
  first use, so the classic estimators work without building anything in torch.

:func:`.factory.make_estimator` builds any of them by name; :func:`.protocol.fit_and_measure`
runs one on a label budget. Losses live in :mod:`.losses`, the batched augmentations in
:mod:`.transforms`.
"""

from typing import Any

from transfer_lab.methods.semi_supervised.co_training import CoTrainingClassifier, image_views
from transfer_lab.methods.semi_supervised.factory import METHODS, NEURAL_METHODS, make_estimator
from transfer_lab.methods.semi_supervised.history import HISTORY_COLUMNS, check_history
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation, knn_graph
from transfer_lab.methods.semi_supervised.online_self_training import OnlineSelfTrainingClassifier
from transfer_lab.methods.semi_supervised.self_training import SelfTrainingClassifier
from transfer_lab.methods.semi_supervised.tri_training import TriTrainingClassifier

__all__ = [
    "HISTORY_COLUMNS",
    "METHODS",
    "NEURAL_METHODS",
    "SelfTrainingClassifier",
    "OnlineSelfTrainingClassifier",
    "CoTrainingClassifier",
    "TriTrainingClassifier",
    "LabelPropagation",
    "NeuralSSLClassifier",
    "check_history",
    "image_views",
    "knn_graph",
    "make_estimator",
]


def __getattr__(name: str) -> Any:
    if name == "NeuralSSLClassifier":  # torch is heavy: imported on first use
        from transfer_lab.methods.semi_supervised.neural import NeuralSSLClassifier

        return NeuralSSLClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
