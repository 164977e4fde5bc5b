"""Schema of ``parameters_transfer.yml`` (the ``transfer`` key).

Gradient-based protocols and the domain-adaptation methods have a ``training`` sub-block
(:class:`~transfer_lab.contracts.TrainingParams`); the rest of each block are the keyword
arguments of the protocol's ``methods.transfer`` / ``methods.dann`` function.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from transfer_lab.contracts import TRANSFERRED_ENCODERS, RuntimeParams, TrainingParams
from transfer_lab.params import StrictModel

#: The pretrained encoders transferred, one nested namespace each (``transfer.<encoder>``),
#: each reading the checkpoint folder ``pretraining.<encoder>.encoders``.
ENCODERS = TRANSFERRED_ENCODERS
#: Transfer protocols, in the order of the result rows ``<encoder>_<protocol>``.
PROTOCOLS = ("linear_probe", "knn", "partial_freeze", "finetune")
#: The domain-adaptation methods (nested namespaces ``transfer.domain_adaptation.<method>``)
#: and the block of ``domain_adaptation`` that sets each.
ADAPTATION = {"dann": "dann", "source_only": "reference", "target_supervised": "reference"}


class LinearProbeParams(StrictModel):
    C: float = Field(1.0, gt=0.0)  # inverse L2 strength of the logistic regression
    max_iter: int = Field(2000, ge=1)

    def method_kwargs(self) -> dict[str, Any]:
        return self.model_dump()


class KNNParams(StrictModel):
    k: int = Field(5, ge=1)
    weights: Literal["distance", "uniform"] = "distance"

    def method_kwargs(self) -> dict[str, Any]:
        return self.model_dump()


class FinetuneParams(StrictModel):
    """Gradient-based protocols (finetune, partial_freeze): ``training.lr`` is the new
    linear head's learning rate, ``encoder_lr`` the pretrained blocks'."""

    training: TrainingParams = TrainingParams()
    encoder_lr: float | None = Field(1e-4, gt=0.0)  # unfrozen pretrained blocks; null = training.lr
    augment: bool = True
    strength: float = Field(0.5, ge=0.0, le=3.0)

    def method_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``methods.transfer.finetune`` besides ``config``."""
        return {"encoder_lr": self.encoder_lr, "augmentations": self.augment, "strength": self.strength}


class PartialFreezeParams(FinetuneParams):
    k: int = Field(2, ge=1)  # leading encoder blocks kept frozen (the encoder has depth + 1)

    def method_kwargs(self) -> dict[str, Any]:
        return {**super().method_kwargs(), "k": self.k}


class ScratchParams(StrictModel):
    """The same architecture freshly initialised: one learning rate, ``training.lr``."""

    training: TrainingParams = TrainingParams()
    augment: bool = True
    strength: float = Field(1.0, ge=0.0, le=3.0)


class DANNParams(StrictModel):
    """Ganin et al. 2016: SGD with momentum, lambda_p and lr_p schedules."""

    training: TrainingParams = TrainingParams()
    gamma: float = Field(10.0, gt=0.0)  # lambda_p = 2 / (1 + exp(-gamma p)) - 1
    alpha: float = Field(10.0, ge=0.0)  # lr_p = lr_0 / (1 + alpha p)^beta
    beta: float = Field(0.75, ge=0.0)
    domain_hidden: int = Field(128, ge=1)
    domain_weight: float = Field(1.0, gt=0.0)

    def method_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude={"training"})


class ReferenceParams(StrictModel):
    """source_only and target_supervised: early stopping on val accuracy."""

    training: TrainingParams = TrainingParams()

    def method_kwargs(self) -> dict[str, Any]:
        return {}


class DomainAdaptationParams(StrictModel):
    pair: int = Field(0, ge=0)  # index into data.domains.<kind>.domain_pairs
    dann: DANNParams = DANNParams()
    reference: ReferenceParams = ReferenceParams()


class TransferParams(StrictModel):
    """Every pretrained encoder x protocol x label budget x seed, scratch, and DANN."""

    runtime: RuntimeParams = RuntimeParams()
    protocols: list[Literal["linear_probe", "knn", "partial_freeze", "finetune"]] = Field(
        default_factory=lambda: list(PROTOCOLS), min_length=1
    )
    # Encoders that get only the frozen protocols (linear_probe, knn) in this run: fine-tuning
    # an encoder costs ~100x its probes (issue 12), so a run can skip it where it adds little.
    probe_only: list[Literal[ENCODERS]] = Field(default_factory=list)  # type: ignore[valid-type]
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
