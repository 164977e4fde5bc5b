"""The ``combined`` pipeline: few labels ≈ all labels. Label propagation on a self-supervised
encoder's features, chosen on the validation split, distilled into fine-tuned students whose
settings are chosen on the validation split too (``methods.combined``); an optional ablation
removes one ingredient at a time."""

from transfer_lab.pipelines.combined.pipeline import create_pipeline

__all__ = ["create_pipeline"]
