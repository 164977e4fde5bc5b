"""Semi-supervised learning: scikit-learn-style estimators and neural methods.

Estimators (``y = -1`` marks unlabeled rows, as in :mod:`sklearn.semi_supervised`), exported
here: :class:`SelfTrainingClassifier`, :class:`CoTrainingClassifier`,
:class:`TriTrainingClassifier`, :class:`LabelPropagation`, and
:class:`OnlineSelfTrainingClassifier` (pseudo-labels recomputed at every ``partial_fit`` step
with hard, soft or sharpened targets).

Neural methods on the shared encoders and training loop live in
:mod:`~transfer_lab.methods.semi_supervised.neural` (``train_semi_supervised(method, ...)``
and one ``train_<method>`` per method), their losses in
:mod:`~transfer_lab.methods.semi_supervised.losses` and the batched augmentations in
:mod:`~transfer_lab.methods.semi_supervised.transforms`. They are not imported here, so the
estimators can be used without building anything in torch.
"""

from transfer_lab.methods.semi_supervised.co_training import CoTrainingClassifier, image_views
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation, knn_graph
from transfer_lab.methods.semi_supervised.online_self_training import OnlineSelfTrainingClassifier
from transfer_lab.methods.semi_supervised.self_training import SelfTrainingClassifier
from transfer_lab.methods.semi_supervised.tri_training import TriTrainingClassifier

__all__ = [
    "SelfTrainingClassifier",
    "OnlineSelfTrainingClassifier",
    "CoTrainingClassifier",
    "TriTrainingClassifier",
    "LabelPropagation",
    "image_views",
    "knn_graph",
]
