"""Schema of ``parameters_pretraining.yml`` (the ``pretraining`` key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from transfer_lab.params import StrictModel

#: The pretraining methods, one node each; also the names of their checkpoints.
METHODS = ("simclr", "moco", "supcon", "rotation", "imputation", "supervised_source")


class EncoderParams(StrictModel):
    """The encoder every method pretrains (and ``transfer``'s scratch reference rebuilds)."""

    kind: Literal["auto", "cnn2d", "cnn1d", "mlp"] = "auto"  # auto: cnn2d images, cnn1d signals
    width: int = Field(32, ge=1)
    depth: int = Field(3, ge=1)
    out_features: int = Field(128, ge=1)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``build_encoder`` besides the kind (the MLP has no width/depth)."""
        if self.kind == "mlp":
            return {"out_features": self.out_features}
        return {"width": self.width, "depth": self.depth, "out_features": self.out_features}


class TrainingParams(StrictModel):
    """The optimisation part of a method (fields of ``methods.training.TrainConfig``)."""

    epochs: int = Field(..., ge=1)
    batch_size: int = Field(256, ge=2)
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(1e-5, ge=0.0)

    def config(self, seed: int, **extra: Any) -> dict[str, Any]:
        """A ``TrainConfig`` overrides dict for the method's ``config`` argument."""
        return {
            "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
            "weight_decay": self.weight_decay, "seed": seed, "progress": False, **extra,
        }


class ContrastiveParams(TrainingParams):
    epochs: int = Field(300, ge=1)
    temperature: float = Field(1.0, gt=0.0)
    strength: float = Field(1.0, ge=0.0, le=3.0)  # augmentation strength (default_augmentations)
    projection_dim: int = Field(64, ge=1)
    hidden_dim: int = Field(128, ge=1)


class MoCoParams(ContrastiveParams):
    momentum: float = Field(0.99, ge=0.0, le=1.0)
    queue_size: int = Field(512, ge=1)


class SupConParams(ContrastiveParams):
    epochs: int = Field(100, ge=1)
    temperature: float = Field(0.1, gt=0.0)


class RotationParams(TrainingParams):
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(128, ge=2)
    strength: float = Field(1.0, ge=0.0, le=3.0)


class ImputationParams(TrainingParams):
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(128, ge=2)
    mask_size: tuple[float, float] = (0.375, 0.5)
    hidden: int = Field(256, ge=1)


class SupervisedSourceParams(TrainingParams):
    """Cross-entropy on a labelled source domain taken from the data pipeline's domain pairs."""

    epochs: int = Field(50, ge=1)
    batch_size: int = Field(128, ge=2)
    patience: int = Field(10, ge=1)  # early stopping on the source domain's validation rows
    pair: int = Field(0, ge=0)  # index into data.domains.<kind>.domain_pairs
    side: Literal["source", "target"] = "target"  # which domain of that pair is the labelled source


class TSNEParams(StrictModel):
    max_points: int = Field(400, ge=10)  # test rows embedded (a stratified sample)
    perplexity: float = Field(30.0, gt=0.0)


class PretrainingParams(StrictModel):
    """Every pretraining method on the training rows of ``data``; one checkpoint each."""

    device: str = "auto"
    num_threads: int | None = Field(1, ge=1)
    progress: bool = True
    seed: int = Field(0, ge=0)  # initialisation, batches and augmentations of every method
    encoder: EncoderParams = EncoderParams()
    simclr: ContrastiveParams = ContrastiveParams()
    moco: MoCoParams = MoCoParams()
    supcon: SupConParams = SupConParams()
    rotation: RotationParams = RotationParams()
    imputation: ImputationParams = ImputationParams()
    supervised_source: SupervisedSourceParams = SupervisedSourceParams()
    tsne: TSNEParams = TSNEParams()

    def check_against(self, blocks: dict[str, Any]) -> None:
        """The source domain pair must exist in the data parameters (checked before any work)."""
        data = blocks.get("data")
        if data is None:
            return
        data.check_domain_pair(self.supervised_source.pair, "supervised_source.pair")

SCHEMA = {"pretraining": PretrainingParams}
