"""The ``evaluation`` pipeline: supervised baselines and the leaderboard over every pipeline."""

from transfer_lab.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
