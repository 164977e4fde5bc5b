"""The ``semi_supervised`` pipeline: self-, co- and tri-training, label propagation and neural
semi-supervised methods on every label budget, on raw inputs and pretrained encoders."""

from transfer_lab.pipelines.semi_supervised.pipeline import create_pipeline

__all__ = ["create_pipeline"]
