"""Schema of ``parameters_pretraining.yml`` (the ``pretraining`` key).

Every method's block has a ``training`` sub-block (:class:`~transfer_lab.contracts.TrainingParams`,
the one model of "train with these settings") and the method's own settings, which are the
keyword arguments of its ``methods`` function; ``runtime``, ``encoder`` and ``tsne`` are
shared by every method.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from transfer_lab.contracts import PRETRAINING_METHODS, EncoderParams, TrainingParams
from transfer_lab.contracts import RuntimeParams as SharedRuntimeParams
from transfer_lab.params import StrictModel
from transfer_lab.sources.shifts import validate_shift

#: The pretraining methods, one nested namespace each (``pretraining.<method>``); also the
#: names of their checkpoints and result rows.
METHODS = PRETRAINING_METHODS
#: The methods that see the training rows without labels.
UNLABELLED = ("simclr", "moco", "rotation", "imputation", "dim", "cpc", "jigsaw", "relative_position")


class RuntimeParams(SharedRuntimeParams):
    """How every method runs (not what it learns)."""

    seed: int = Field(0, ge=0)  # initialisation, batches and augmentations of every method


class MethodParams(StrictModel):
    """A method's block: ``training`` plus the method's own keyword arguments."""

    training: TrainingParams = TrainingParams()

    def method_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the method's function besides ``config``."""
        return self.model_dump(exclude={"training"})


class ContrastiveParams(MethodParams):
    temperature: float = Field(1.0, gt=0.0)
    strength: float = Field(1.0, ge=0.0, le=3.0)  # augmentation strength (default_augmentations)
    projection_dim: int = Field(64, ge=1)
    hidden_dim: int = Field(128, ge=1)


class MoCoParams(ContrastiveParams):
    momentum: float = Field(0.99, ge=0.0, le=1.0)
    queue_size: int = Field(512, ge=1)


class SupConParams(ContrastiveParams):
    temperature: float = Field(0.1, gt=0.0)


class RotationParams(MethodParams):
    strength: float = Field(1.0, ge=0.0, le=3.0)


class ImputationParams(MethodParams):
    mask_size: tuple[float, float] = (0.375, 0.5)
    hidden: int = Field(256, ge=1)


class DIMParams(MethodParams):
    """Deep InfoMax (methods.infomax.pretrain_dim): eq. 6.5's weights and the MI estimator."""

    estimator: Literal["jsd", "dv", "infonce"] = "jsd"
    alpha: float = Field(0.5, ge=0.0)  # global MI
    beta: float = Field(1.0, ge=0.0)  # mean local MI over the feature map's locations
    gamma: float = Field(0.0, ge=0.0)  # prior matching; 0 = off
    embed_dim: int = Field(64, ge=1)
    local_blocks: int = Field(1, ge=1)  # local features: output of the encoder's first blocks
    strength: float = Field(0.0, ge=0.0, le=3.0)  # > 0: two augmented views (AMDIM); 0 = one image (DIM)


class CPCParams(MethodParams):
    """Contrastive predictive coding (methods.infomax.pretrain_cpc)."""

    strip_size: float = Field(0.375, gt=0.0, le=1.0)  # rows / time steps per strip, fraction of the side
    stride: int = Field(1, ge=1)
    steps: int = Field(2, ge=1)  # k: strips predicted ahead
    context_dim: int = Field(64, ge=1)
    strength: float = Field(0.0, ge=0.0, le=3.0)  # augmentation before cutting strips (CPC v2); 0 = none
    # prediction orders (methods.infomax.CPC_DIRECTIONS); right/left = columns, images only
    directions: list[Literal["down", "up", "right", "left"]] = Field(["down"], min_length=1)
    # > 0: the encoder outputs that block's pooled map; 0 = its head; a list of increasing
    # blocks ([1, 2]): their pooled maps concatenated (hypercolumn)
    readout_blocks: int | list[int] = Field(0)
    readout_grid: int = Field(2, ge=1)    # positions per side of that pooled map
    train_readout: bool = False  # True: z_t is the read-out itself (encoder cut before training)
    # CPC v2's patch grid instead of strips: patches of the input's size, every patch_stride of
    # the sample upsampled `upsample` times (>= 2 with grid), a GRU down each column
    grid: bool = False
    upsample: int = Field(1, ge=1, le=4)
    patch_stride: int = Field(4, ge=1)
    recompute_bn: bool = False  # True: BatchNorm statistics re-estimated on the whole samples after training

    @model_validator(mode="after")
    def _readout_blocks(self) -> CPCParams:
        blocks = self.readout_blocks
        listed = isinstance(blocks, list)
        if (not listed and blocks < 0) or (listed and (not blocks or blocks[0] < 1 or blocks != sorted(set(blocks)))):
            raise ValueError(f"readout_blocks must be >= 0 or a non-empty list of increasing blocks >= 1, got {blocks}")
        return self

    @model_validator(mode="after")
    def _grid_needs_upsampling(self) -> CPCParams:
        if self.grid != (self.upsample > 1):
            raise ValueError(
                f"grid: true needs upsample >= 2 and upsample > 1 needs grid: true "
                f"(got grid {self.grid}, upsample {self.upsample})"
            )
        return self


class RelativePositionParams(MethodParams):
    """Relative position of two tiles (methods.puzzles.pretrain_relative_position)."""

    crop: float = Field(0.75, gt=0.0, le=1.0)  # tile side / cell side: the gap and jitter
    hidden: int = Field(256, ge=1)
    strength: float = Field(0.0, ge=0.0, le=3.0)  # augmentation before cutting; 0 = none
    upsample: int = Field(1, ge=1, le=4)  # cut the tiles from the sample upsampled this many times
    readout_blocks: int = Field(0, ge=0)  # > 0: the encoder outputs that block's pooled map; 0 = its head
    readout_grid: int = Field(2, ge=1)    # positions per side of that pooled map


class JigsawParams(RelativePositionParams):
    """Jigsaw puzzles over a maximal-Hamming permutation set (methods.puzzles.pretrain_jigsaw)."""

    n_permutations: int = Field(10, ge=2, le=24)  # of the 4! orders of four tiles
    permutation_seed: int = Field(0, ge=0)


class CLIPParams(MethodParams):
    """CLIP on captions generated from each training row's class word and a shift applied to
    it (methods.clip.train_clip). ``shifts`` and ``held_out_shift`` per data kind."""

    embed_dim: int = Field(64, ge=1)
    shifts: dict[Literal["image", "signal"], dict[str, list[dict[str, Any]]]] = {
        "image": {"rotated": [{"op": "rotate", "degrees": 30}], "thick": [{"op": "thicken", "size": 2}],
                  "noisy": [{"op": "noise", "std": 0.2}]},
        "signal": {"noisy": [{"op": "noise", "std": 0.5}], "scaled": [{"op": "scale", "factor": 1.5}]},
    }
    held_out_shift: dict[Literal["image", "signal"], str] = {"image": "rotated", "signal": "noisy"}
    held_out_classes: list[int] = [5, 6, 7, 8, 9]  # never shown with the held-out shift

    @model_validator(mode="after")
    def _valid_shifts(self) -> CLIPParams:
        for kind, shifts in self.shifts.items():
            for name, steps in shifts.items():
                validate_shift(steps, kind=kind)
            held = self.held_out_shift.get(kind)
            if held is not None and held not in shifts:
                raise ValueError(f"held_out_shift.{kind} {held!r} is not one of shifts.{kind}: {sorted(shifts)}")
        return self

    def method_kwargs(self) -> dict[str, Any]:
        return {"embed_dim": self.embed_dim}

    def data_kwargs(self, kind: str) -> dict[str, Any]:
        """The shifts and held-out combination for data of ``kind`` (image or signal)."""
        held = self.held_out_shift.get(kind)
        return {"shifts": self.shifts.get(kind, {}), "held_out_shift": held, "held_out_classes": self.held_out_classes if held else []}


class SupervisedSourceParams(MethodParams):
    """Cross-entropy on a labelled source domain taken from the data pipeline's domain pairs
    (``training.patience``: early stopping on that domain's validation rows)."""

    pair: int = Field(0, ge=0)  # index into data.domains.<kind>.domain_pairs
    side: Literal["source", "target"] = "target"  # which domain of that pair is the labelled source

    def method_kwargs(self) -> dict[str, Any]:
        return {}  # pair and side choose the data; the method itself has no other setting


class TSNEParams(StrictModel):
    max_points: int = Field(400, ge=10)  # test rows embedded (a random sample)
    perplexity: float = Field(30.0, gt=0.0)


#: The parameter model of each method's block.
METHOD_PARAMS: dict[str, type[MethodParams]] = {
    "simclr": ContrastiveParams,
    "moco": MoCoParams,
    "supcon": SupConParams,
    "rotation": RotationParams,
    "imputation": ImputationParams,
    "supervised_source": SupervisedSourceParams,
    "dim": DIMParams,
    "cpc": CPCParams,
    "jigsaw": JigsawParams,
    "relative_position": RelativePositionParams,
    "clip": CLIPParams,
}


class PretrainingParams(StrictModel):
    """Every pretraining method on the training rows of ``data``; one checkpoint each."""

    runtime: RuntimeParams = RuntimeParams()
    encoder: EncoderParams = EncoderParams()
    simclr: ContrastiveParams = ContrastiveParams()
    moco: MoCoParams = MoCoParams()
    supcon: SupConParams = SupConParams()
    rotation: RotationParams = RotationParams()
    imputation: ImputationParams = ImputationParams()
    supervised_source: SupervisedSourceParams = SupervisedSourceParams()
    dim: DIMParams = DIMParams()
    cpc: CPCParams = CPCParams()
    jigsaw: JigsawParams = JigsawParams()
    relative_position: RelativePositionParams = RelativePositionParams()
    clip: CLIPParams = CLIPParams()
    tsne: TSNEParams = TSNEParams()

    def check_against(self, blocks: dict[str, Any]) -> None:
        """The source domain pair must exist in the data parameters (checked before any work)."""
        data = blocks.get("data")
        if data is None:
            return
        data.check_domain_pair(self.supervised_source.pair, "supervised_source.pair")


SCHEMA = {"pretraining": PretrainingParams}
