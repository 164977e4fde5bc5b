"""The ``recommend`` pipeline: which encoder, which method, how many labels, for the data set
that ``data.dataset`` names, from cheap scores and the leaderboard; optionally verified."""

from transfer_lab.pipelines.recommend.pipeline import create_pipeline

__all__ = ["create_pipeline"]
