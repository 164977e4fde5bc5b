"""The ``transfer`` pipeline: pretrained encoders on few labels, and domain-adversarial adaptation."""

from transfer_lab.pipelines.transfer.pipeline import create_pipeline

__all__ = ["create_pipeline"]
