"""The ``regularisation`` pipeline: tangent distance, tangent propagation, the manifold
tangent classifier, adversarial training, dropout vs bagging, L1 activation sparsity and
L2-SP parameter tying on every label budget."""

from transfer_lab.pipelines.regularisation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
