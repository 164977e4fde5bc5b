"""Schema of ``parameters_regularisation.yml`` (the ``regularisation`` key).

Sub-blocks, each read by the nodes that use it:

* ``runtime`` — device, threads, progress bars (:class:`~transfer_lab.contracts.RuntimeParams`)
  and which methods run (``selected``);
* ``training`` — how every network trains (:class:`~transfer_lab.contracts.TrainingParams`);
* ``network`` — the multilayer perceptron of the network methods;
* ``attack`` — the stated epsilon and the PGD steps every network is evaluated under;
* ``methods.<method>`` — one block per method of :data:`METHODS` (each a nested namespace
  of the pipeline) with its hyper-parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from transfer_lab.contracts import RuntimeParams, TrainingParams, split_words
from transfer_lab.methods.regularisation.tangents import IMAGE_TANGENTS
from transfer_lab.params import StrictModel

#: One node each (``regularisation.<method>.run``); the results' ``method`` column names
#: are these, except ``dropout`` (``dropout_weight_scaling``, ``dropout_mc``) and the
#: encoder methods (``l2_sp_<encoder>``, ``weight_decay_<encoder>``).
METHODS = (
    "euclidean_1nn", "tangent_distance_1nn", "tangent_prop", "manifold_tangent", "mlp",
    "adversarial_training", "dropout", "bagging", "l1_activation", "l2_sp", "weight_decay",
)
#: Methods that fine-tune a pretrained encoder (read ``pretrained_encoders``).
ENCODER_METHODS = ("l2_sp", "weight_decay")
Tangent = Literal[IMAGE_TANGENTS]


class RunParams(RuntimeParams):
    """How the method nodes run, and which methods (null: all)."""

    selected: list[Literal[METHODS]] | None = None

    @field_validator("selected", mode="before")
    @classmethod
    def _selected_words(cls, value: Any) -> Any:
        return split_words(value)

    def runs(self, method: str) -> bool:
        return self.selected is None or method in self.selected


class NetworkParams(StrictModel):
    """The MLP every network method trains (L2-SP and weight decay: the pretrained encoder)."""

    hidden: list[int] = Field(default_factory=lambda: [128], min_length=1)

    @field_validator("hidden")
    @classmethod
    def _positive(cls, hidden: list[int]) -> list[int]:
        if any(units < 1 for units in hidden):
            raise ValueError("hidden layer sizes must be positive")
        return hidden


class AttackParams(StrictModel):
    """White-box L-inf attacks every network is scored under (pixels lie in [0, 1])."""

    epsilon: float = Field(0.1, gt=0, le=1)
    pgd_steps: int = Field(10, ge=1)
    pgd_step_size: float = Field(0.025, gt=0)


class NoParams(StrictModel):
    """A method without hyper-parameters."""

    def kwargs(self) -> dict[str, Any]:
        return self.model_dump()


class TangentDistanceParams(NoParams):
    """Candidate values are a grid: the view's validation split picks one (never the test split)."""

    kinds: list[Tangent] = Field(default_factory=lambda: list(IMAGE_TANGENTS), min_length=1)
    # Gaussian smoothing before differentiating (pixels), and the penalty on the transformation amounts
    sigma: list[float] = Field(default_factory=lambda: [0.5, 1.0], min_length=1)
    ridge: list[float] = Field(default_factory=lambda: [0.01, 0.1], min_length=1)

    @field_validator("sigma", "ridge", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return value if isinstance(value, (list, tuple)) else [value]

    @field_validator("sigma", "ridge")
    @classmethod
    def _positive(cls, values: list[float]) -> list[float]:
        if any(v < 0 for v in values):
            raise ValueError("sigma and ridge candidates must be >= 0")
        return values


class TangentPropParams(NoParams):
    kinds: list[Tangent] = Field(default_factory=lambda: list(IMAGE_TANGENTS), min_length=1)
    sigma: float = Field(0.5, ge=0)
    weight: float = Field(0.01, ge=0)


class AutoencoderParams(StrictModel):
    hidden: int = Field(64, ge=1)
    contraction: float = Field(0.1, ge=0)
    training: TrainingParams = TrainingParams(epochs=50, patience=None)


class ManifoldTangentParams(StrictModel):
    k: int = Field(5, ge=1)  # leading tangents of the auto-encoder per input
    weight: float = Field(0.1, ge=0)
    autoencoder: AutoencoderParams = AutoencoderParams()

    def kwargs(self) -> dict[str, Any]:
        return {"k": self.k, "weight": self.weight}


class AdversarialParams(NoParams):
    alpha: float = Field(0.5, ge=0, le=1)  # weight of the clean loss
    epsilon: float | None = Field(None, gt=0, le=1)  # training epsilon; null: attack.epsilon


class DropoutParams(NoParams):
    p: float = Field(0.5, ge=0, lt=1)
    input_p: float = Field(0.2, ge=0, lt=1)
    mc_samples: int = Field(10, ge=1)


class BaggingParams(NoParams):
    k: int = Field(10, ge=2)


class L1Params(NoParams):
    weight: float = Field(1e-3, ge=0)


class TyingParams(StrictModel):
    """Fine-tuning a pretrained encoder with an L2 penalty toward its weights (L2-SP) or zero."""

    encoder: str = "simclr"  # a checkpoint name in pretrained_encoders
    alpha: float = Field(0.01, ge=0)  # on the encoder's weights
    beta: float = Field(0.01, ge=0)  # on the new head

    def kwargs(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta}


class MethodsParams(StrictModel):
    euclidean_1nn: NoParams = NoParams()
    tangent_distance_1nn: TangentDistanceParams = TangentDistanceParams()
    tangent_prop: TangentPropParams = TangentPropParams()
    manifold_tangent: ManifoldTangentParams = ManifoldTangentParams()
    mlp: NoParams = NoParams()
    adversarial_training: AdversarialParams = AdversarialParams()
    dropout: DropoutParams = DropoutParams()
    bagging: BaggingParams = BaggingParams()
    l1_activation: L1Params = L1Params()
    l2_sp: TyingParams = TyingParams()
    weight_decay: TyingParams = TyingParams()


#: The model of each method's block (``params:regularisation.methods.<method>``).
METHOD_PARAMS = {name: field.annotation for name, field in MethodsParams.model_fields.items()}


class RegularisationParams(StrictModel):
    """Every regularisation method on every label budget and seed of the data pipeline."""

    runtime: RunParams = RunParams()
    training: TrainingParams = TrainingParams()
    network: NetworkParams = NetworkParams()
    attack: AttackParams = AttackParams()
    methods: MethodsParams = MethodsParams()


SCHEMA = {"regularisation": RegularisationParams}
