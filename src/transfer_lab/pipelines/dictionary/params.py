"""Schema of ``parameters_dictionary.yml`` (the ``dictionary`` key).

Each node of the pipeline reads the sub-block it uses (``params:dictionary.self_taught``,
``params:dictionary.sdl``, ``params:dictionary.classifier``, ``params:dictionary.runtime``);
the hook validates the whole block once, up front, with :data:`SCHEMA`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from transfer_lab.contracts import RuntimeParams
from transfer_lab.params import StrictModel


class ClassifierParams(StrictModel):
    """The classifier put on raw inputs and on sparse codes alike (logistic regression)."""

    C: float = Field(1.0, gt=0.0)
    max_iter: int = Field(2000, ge=1)


class SelfTaughtParams(StrictModel):
    """Dictionary from unlabelled source-domain images, codes for the labelled target."""

    # the unlabelled source domains per data kind (image / signal), as in data.domains: shift
    # names from data.domains.<kind>.shifts, or clean
    source_domains: dict[Literal["image", "signal"], list[str]] = Field(
        default_factory=lambda: {"image": ["clean"], "signal": ["clean"]}
    )
    n_components: int = Field(128, ge=1)
    alpha: float = Field(0.1, gt=0.0)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=1)


class SDLParams(StrictModel):
    """Semi-coupled dictionary learning (Wang et al., CVPR 2012)."""

    n_components: int = Field(64, ge=1)
    lambda_source: float = Field(0.05, gt=0.0)
    lambda_target: float = Field(0.05, gt=0.0)
    gamma: float = Field(0.5, gt=0.0)
    lambda_w: float = Field(0.01, gt=0.0)
    max_iter: int = Field(30, ge=1)
    tol: float = Field(1e-5, ge=0.0)
    # pairs (by coupled-pair name, e.g. "digits_low_res->digits") used for synthesis and for
    # domain adaptation; empty = every coupled pair that fits the use
    synthesis_pairs: list[str] | None = None
    adaptation_pairs: list[str] | None = None
    examples: int = Field(8, ge=1, le=30)  # synthesis examples drawn in the figure

    def estimator_params(self) -> dict[str, Any]:
        """The hyper-parameters of :class:`~transfer_lab.methods.sdl.SemiCoupledDictionaryLearning`."""
        return self.model_dump(exclude={"synthesis_pairs", "adaptation_pairs", "examples"})


class DictionaryParams(StrictModel):
    runtime: RuntimeParams = RuntimeParams()
    classifier: ClassifierParams = ClassifierParams()  # on raw inputs and on codes, every study
    self_taught: SelfTaughtParams = SelfTaughtParams()
    sdl: SDLParams = SDLParams()

    def check_against(self, blocks: dict[str, Any]) -> None:
        """Names that must exist in the data parameters (checked before any work)."""
        data = blocks.get("data")
        if data is None:
            return
        known = {"clean", *data.domain.shifts}
        for i, name in enumerate(self.self_taught.source_domains.get(data.kind, [])):
            if name not in known:
                raise ValueError(
                    f"self_taught.source_domains.{data.kind}[{i}]",
                    f"{name!r} is not a shift of data.domains.{data.kind}; known: {sorted(known)}",
                )
        from transfer_lab.sources.pairs import domain_name

        base = data.dataset
        coupled = [f"{domain_name(base, p.source)}->{domain_name(base, p.target)}" for p in data.domain.coupled_pairs]
        for field in ("synthesis_pairs", "adaptation_pairs"):
            for i, name in enumerate(getattr(self.sdl, field) or []):
                if name not in coupled:
                    raise ValueError(
                        f"sdl.{field}[{i}]",
                        f"{name!r} is not a coupled pair of data.domains.{data.kind}.coupled_pairs; known: {coupled}",
                    )


SCHEMA = {"dictionary": DictionaryParams}
