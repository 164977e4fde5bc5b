"""The ``dictionary`` pipeline: sparse coding, self-taught learning and semi-coupled dictionary learning."""

from transfer_lab.pipelines.dictionary.pipeline import create_pipeline

__all__ = ["create_pipeline"]
