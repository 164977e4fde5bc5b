"""Parameter checking: every pipeline's parameters are validated before any work.

Each pipeline declares a pydantic model of its top-level parameters key
(``pipelines/<name>/params.py``) and registers it in :data:`PARAMETER_SCHEMAS`. The
project hook validates all of them when the Kedro context is created, so a bad value stops
``kedro run`` before a node runs or a file (``mlflow.db`` included) is written, with one
line that names the key and what is allowed. Nodes validate their own block again, so
they are safe to call from a notebook or a test runner too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from transfer_lab.pipelines.data.params import DataParams
from transfer_lab.pipelines.evaluation.params import EvaluationParams

PARAMETER_SCHEMAS: dict[str, type[BaseModel]] = {
    "data": DataParams,
    "evaluation": EvaluationParams,
}

Model = TypeVar("Model", bound=BaseModel)


class ParameterError(ValueError):
    """A parameter value that the project cannot run with; its message is one line."""


def _location(key: str, loc: tuple[Any, ...]) -> str:
    text = key
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def parse_params(schema: type[Model], values: Mapping[str, Any] | None, key: str) -> Model:
    """Validate one parameters block, turning pydantic's report into a one-line ParameterError."""
    try:
        return schema.model_validate(dict(values or {}))
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = _location(key, tuple(part for part in first["loc"] if not str(part).startswith("function-")))
        got = first.get("input")
        shown = "" if isinstance(got, Mapping) else f" (got {got!r})"
        raise ParameterError(f"Invalid parameter '{where}': {message}{shown}") from None


def validate_parameters(params: Mapping[str, Any]) -> dict[str, BaseModel]:
    """Validate every registered parameters block present in ``params``; return the models."""
    return {
        key: parse_params(schema, params[key], key)
        for key, schema in PARAMETER_SCHEMAS.items()
        if key in params
    }
