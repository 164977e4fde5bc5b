"""Semi-supervised learning: scikit-learn-style estimators and neural methods.

Estimators (``y = -1`` marks unlabeled rows, as in :mod:`sklearn.semi_supervised`):
:class:`SelfTrainingClassifier`, :class:`CoTrainingClassifier`,
:class:`TriTrainingClassifier`, :class:`LabelPropagation`.
"""

from transfer_lab.methods.semi_supervised.co_training import CoTrainingClassifier, image_views
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation, knn_graph
from transfer_lab.methods.semi_supervised.self_training import SelfTrainingClassifier
from transfer_lab.methods.semi_supervised.tri_training import TriTrainingClassifier

__all__ = [
    "SelfTrainingClassifier",
    "CoTrainingClassifier",
    "TriTrainingClassifier",
    "LabelPropagation",
    "image_views",
    "knn_graph",
]
