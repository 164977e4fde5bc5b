"""The ``taskonomy`` pipeline: task dictionary, task-specific networks, all-pairs transfers,
tournament and AHP affinities, the taxonomy BIP, and cheap transferability against it."""

from transfer_lab.pipelines.taskonomy.pipeline import create_pipeline

__all__ = ["create_pipeline"]
