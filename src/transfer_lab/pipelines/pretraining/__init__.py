"""The ``pretraining`` pipeline: self-supervised, supervised-contrastive and source-supervised encoders."""

from transfer_lab.pipelines.pretraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
