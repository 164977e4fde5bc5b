"""Neural semi-supervised methods: one engine, one module per method, one estimator.

* :class:`NeuralSSLClassifier` — every method as a scikit-learn classifier
  (``fit(X, y)`` with ``y = -1`` for unlabelled rows), the API pipelines use.
* :mod:`.engine` — data checks, :class:`SemiSupervisedLoader`, the ramp-up schedule and the
  step loop every method runs on.
* one module per method (:mod:`.supervised`, :mod:`.entropy_minimisation`,
  :mod:`.mutual_information`, :mod:`.pi_model`, :mod:`.vat`, :mod:`.fixmatch`,
  :mod:`.pseudo_label`, :mod:`.distillation`), each a ``train_<method>`` function;
  :func:`train_semi_supervised` picks one by name.
"""

from transfer_lab.methods.semi_supervised.factory import NEURAL_METHODS
from transfer_lab.methods.semi_supervised.neural.engine import SemiSupervisedHistory, SemiSupervisedLoader
from transfer_lab.methods.semi_supervised.neural.estimator import NeuralSSLClassifier
from transfer_lab.methods.semi_supervised.neural.registry import METHODS, hyper_parameters, train_semi_supervised

__all__ = [
    "METHODS",
    "NEURAL_METHODS",
    "NeuralSSLClassifier",
    "SemiSupervisedHistory",
    "SemiSupervisedLoader",
    "hyper_parameters",
    "train_semi_supervised",
]
