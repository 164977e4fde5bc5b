"""Schema of ``parameters_transfer.yml`` (the ``transfer`` key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from transfer_lab.params import StrictModel

#: Transfer protocols, in the order of the result rows ``<pretraining>_<protocol>``.
PROTOCOLS = ("linear_probe", "knn", "partial_freeze", "finetune")


class LinearProbeParams(StrictModel):
    C: float = Field(1.0, gt=0.0)  # inverse L2 strength of the logistic regression
    max_iter: int = Field(2000, ge=1)


class KNNParams(StrictModel):
    k: int = Field(5, ge=1)
    weights: Literal["distance", "uniform"] = "distance"


class FinetuneParams(StrictModel):
    """Gradient-based protocols: partial_freeze, finetune and (with its own values) scratch."""

    epochs: int = Field(150, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(1e-3, gt=0.0)  # the new linear head's learning rate
    encoder_lr: float | None = Field(1e-4, gt=0.0)  # unfrozen pretrained blocks; null = lr
    weight_decay: float = Field(1e-4, ge=0.0)
    patience: int | None = Field(20, ge=1)  # early stopping on the validation split
    augment: bool = True
    strength: float = Field(0.5, ge=0.0, le=3.0)

    def config(self, seed: int) -> dict[str, Any]:
        return {
            "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
            "weight_decay": self.weight_decay, "patience": self.patience, "seed": seed, "progress": False,
        }


class PartialFreezeParams(FinetuneParams):
    k: int = Field(2, ge=1)  # leading encoder blocks kept frozen (the encoder has depth + 1)


class ScratchParams(FinetuneParams):
    encoder_lr: None = None  # one learning rate: nothing is pretrained
    strength: float = Field(1.0, ge=0.0, le=3.0)


class DomainTrainingParams(StrictModel):
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(0.01, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)


class DANNParams(DomainTrainingParams):
    """Ganin et al. 2016: SGD with momentum, lambda_p and lr_p schedules."""

    gamma: float = Field(10.0, gt=0.0)  # lambda_p = 2 / (1 + exp(-gamma p)) - 1
    alpha: float = Field(10.0, ge=0.0)  # lr_p = lr_0 / (1 + alpha p)^beta
    beta: float = Field(0.75, ge=0.0)
    domain_hidden: int = Field(128, ge=1)
    domain_weight: float = Field(1.0, gt=0.0)


class ReferenceParams(DomainTrainingParams):
    """source_only and target_supervised: Adam with early stopping on val accuracy."""

    lr: float = Field(1e-3, gt=0.0)
    patience: int | None = Field(15, ge=1)


class DomainAdaptationParams(StrictModel):
    pair: int = Field(0, ge=0)  # index into data.domains.<kind>.domain_pairs
    dann: DANNParams = DANNParams()
    reference: ReferenceParams = ReferenceParams()


class TransferParams(StrictModel):
    """Every pretrained encoder x protocol x label budget x seed, scratch, and DANN."""

    device: str = "auto"
    num_threads: int | None = Field(1, ge=1)
    progress: bool = True
    protocols: list[Literal["linear_probe", "knn", "partial_freeze", "finetune"]] = Field(
        default_factory=lambda: list(PROTOCOLS), min_length=1
    )
    linear_probe: LinearProbeParams = LinearProbeParams()
    knn: KNNParams = KNNParams()
    partial_freeze: PartialFreezeParams = PartialFreezeParams()
    finetune: FinetuneParams = FinetuneParams()
    scratch: ScratchParams = ScratchParams()
    domain_adaptation: DomainAdaptationParams = DomainAdaptationParams()

    def check_against(self, blocks: dict[str, Any]) -> None:
        """Cross-block checks, before any work: the domain pair exists, k fits the encoder."""
        data = blocks.get("data")
        if data is not None:
            data.check_domain_pair(self.domain_adaptation.pair, "domain_adaptation.pair")
        pretraining = blocks.get("pretraining")
        if pretraining is not None and pretraining.encoder.kind != "mlp":
            n_blocks = pretraining.encoder.depth + 1
            if self.partial_freeze.k > n_blocks:
                raise ValueError(
                    "partial_freeze.k",
                    f"{self.partial_freeze.k} exceeds the encoder's {n_blocks} blocks (pretraining.encoder.depth + 1)",
                )


SCHEMA = {"transfer": TransferParams}
