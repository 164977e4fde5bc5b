"""The ``data`` pipeline: shared splits, label budgets and domains for every method."""

from transfer_lab.pipelines.data.pipeline import create_pipeline

__all__ = ["create_pipeline"]
