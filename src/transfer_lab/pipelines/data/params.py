"""Schema of ``parameters_data.yml`` (the ``data`` key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from transfer_lab.params import StrictModel
from transfer_lab.sources.shifts import validate_shift

CLEAN = "clean"  # the identity shift: the base data as it is


class SplitParams(StrictModel):
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _leave_training_data(self) -> SplitParams:
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must be below 0.9 so that training data remain")
        return self


class PairParams(StrictModel):
    source: str
    target: str


class DomainParams(StrictModel):
    """Named shifts of one kind of data, and the pairs built from them."""

    shifts: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    domain_pairs: list[PairParams] = Field(default_factory=list)
    coupled_pairs: list[PairParams] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pairs_name_known_shifts(self) -> DomainParams:
        if CLEAN in self.shifts:
            raise ValueError(f"'{CLEAN}' is reserved for the unshifted data; choose another shift name")
        known = {CLEAN, *self.shifts}
        for field in ("domain_pairs", "coupled_pairs"):
            for i, pair in enumerate(getattr(self, field)):
                for side in ("source", "target"):
                    name = getattr(pair, side)
                    if name not in known:
                        raise ValueError(f"{field}[{i}].{side} names unknown shift {name!r}; known: {sorted(known)}")
        return self

    def steps(self, name: str) -> list[dict[str, Any]]:
        """The steps of a named shift (``clean`` is no step at all)."""
        return [] if name == CLEAN else list(self.shifts[name])


class DomainsByKind(StrictModel):
    """Images and signals take different shifts; the dataset's kind picks the block."""

    image: DomainParams = DomainParams()
    signal: DomainParams = DomainParams()

    @model_validator(mode="after")
    def _shifts_fit_their_kind(self) -> DomainsByKind:
        for kind in ("image", "signal"):
            for name, steps in getattr(self, kind).shifts.items():
                validate_shift(steps, key=f"data.domains.{kind}.shifts.{name}", kind=kind)
        return self


def _split_words(value: Any) -> Any:
    """``"1 10 all"`` (or ``["1 10 all"]``) → ``[1, 10, "all"]``.

    ``kedro run --params`` splits its argument on commas, so a list of several values cannot
    be written ``[1,10,all]`` there; spaces or semicolons separate them instead.
    """
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if not isinstance(value, str):
        return value
    words = value.strip().strip("[]").replace(";", " ").split()
    return [int(word) if word.lstrip("-").isdigit() else word for word in words]


class DataParams(StrictModel):
    """The data every pipeline shares: the base set, splits, label budgets, domains."""

    dataset: Literal["digits", "mnist1d", "mnist", "fashion_mnist", "kmnist"] = "digits"
    split: SplitParams = SplitParams()
    label_budgets: list[int | Literal["all"]] = Field(default_factory=lambda: [1, 5, 10, 50, "all"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    mnist1d: dict[str, Any] = Field(default_factory=dict)
    domains: DomainsByKind = DomainsByKind()
    preview_examples: int = Field(10, ge=1, le=50)

    @field_validator("label_budgets", mode="before")
    @classmethod
    def _budgets(cls, budgets: Any) -> Any:
        budgets = _split_words(budgets)
        if not isinstance(budgets, list):
            raise ValueError("must be a list of positive integers and/or 'all', e.g. [1, 5, 10, 50, all]")
        for budget in budgets:
            ok = budget == "all" or (isinstance(budget, int) and not isinstance(budget, bool) and budget > 0)
            if not ok:
                raise ValueError(f"each budget must be a positive integer (labels per class) or 'all' (got {budget!r})")
        if len(set(map(str, budgets))) != len(budgets):
            raise ValueError(f"budgets must be unique (got {budgets!r})")
        return budgets

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_words(cls, seeds: Any) -> Any:
        return _split_words(seeds)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be unique non-negative integers")
        return seeds

    @field_validator("mnist1d")
    @classmethod
    def _mnist1d(cls, args: dict[str, Any]) -> dict[str, Any]:
        from transfer_lab.sources.mnist1d import MNIST1D_DEFAULTS

        unknown = sorted(set(args) - set(MNIST1D_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown MNIST-1D generator argument(s) {unknown}; allowed: {sorted(MNIST1D_DEFAULTS)}")
        return args

    @property
    def kind(self) -> str:
        """``signal`` for MNIST-1D, ``image`` for the others."""
        return "signal" if self.dataset == "mnist1d" else "image"

    @property
    def domain(self) -> DomainParams:
        """The shifts and pairs declared for this dataset's kind."""
        return getattr(self.domains, self.kind)

    def check_domain_pair(self, index: int, where: str) -> None:
        """Raise ``ValueError(where, message)`` unless ``index`` names a declared domain pair
        (the form other blocks' ``check_against`` report in)."""
        pairs = self.domain.domain_pairs
        if index >= len(pairs):
            raise ValueError(
                where,
                f"{index} is out of range: data.domains.{self.kind}.domain_pairs has {len(pairs)} pair(s)",
            )


SCHEMA = {"data": DataParams}
