"""Parameter checking: every pipeline's parameters are validated before any work.

Each pipeline declares a pydantic model of its top-level parameters key
(``pipelines/<name>/params.py``, exported as ``SCHEMA``), found by :func:`parameter_schemas`. The
project hook validates all of them when the Kedro context is created, so a bad value stops
``kedro run`` before a node runs or a file (``mlflow.db`` included) is written, with one
line that names the key and what is allowed. Nodes validate their own block again, so
they are safe to call from a notebook or a test runner too.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every parameters schema: an unknown key (a typo) is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ParameterError(click.ClickException, ValueError):
    """A parameter value that the project cannot run with; its message is one line.

    Being a ``ClickException``, it reaches the user of ``kedro run`` as that one line
    (``Error: Invalid parameter ...``, exit code 1) rather than as a traceback.
    """


def _location(key: str, loc: tuple[Any, ...]) -> str:
    text = key
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _suggest(name: str, known: Any) -> str:
    """``; did you mean 'data'?`` when ``name`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fields_at(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The field names of the model found at ``loc`` inside ``schema`` (None if not a model)."""
    model: Any = schema
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return list(model.model_fields)


def parse_params(schema: type[Model], values: Mapping[str, Any] | None, key: str) -> Model:
    """Validate one parameters block, turning pydantic's report into a one-line ParameterError."""
    if values is not None and not isinstance(values, Mapping):
        raise ParameterError(f"Invalid parameter '{key}': must be a block of keys (got {values!r})")
    try:
        return schema.model_validate(dict(values or {}))
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden" and first["loc"]:
            fields = _fields_at(schema, tuple(first["loc"][:-1]))
            if fields:
                message = f"unknown key{_suggest(first['loc'][-1], fields)} (allowed: {', '.join(fields)})"
        where = _location(key, tuple(part for part in first["loc"] if not str(part).startswith("function-")))
        got = first.get("input")
        shown = "" if isinstance(got, Mapping) else f" (got {got!r})"
        raise ParameterError(f"Invalid parameter '{where}': {message}{shown}") from None


def parameter_schemas() -> dict[str, type[BaseModel]]:
    """Top-level parameters key → the pydantic model of its block, one per pipeline.

    Found by convention, so a new pipeline registers itself: ``pipelines/<name>/params.py``
    defines ``SCHEMA = {"<key>": Model}`` (usually ``<key>`` is the pipeline's name).
    """
    # Imported here: the pipelines' nodes import this module for parse_params.
    import transfer_lab.pipelines as package

    schemas: dict[str, type[BaseModel]] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg and importlib.util.find_spec(f"{package.__name__}.{module.name}.params"):
            params_module = importlib.import_module(f"{package.__name__}.{module.name}.params")
            schemas.update(getattr(params_module, "SCHEMA", {}))
    return schemas


def validate_parameters(params: Mapping[str, Any], sources: Any = None) -> dict[str, BaseModel]:
    """Validate every registered parameters block present in ``params``; return the models.

    ``sources`` are the data sources the catalog declares (``raw_sources``): ``data.dataset``
    must name one of them or a built-in data set (only the built-ins when ``None``).

    A block whose model has ``check_against(blocks)`` is then checked against the others
    (e.g. a shift name that must be declared in the data parameters); it raises
    ``ValueError(key_path, message)``.
    """
    schemas = parameter_schemas()
    for key in params:
        if key not in schemas:
            raise ParameterError(
                f"Invalid parameter '{key}': unknown top-level key{_suggest(key, schemas)} "
                f"(allowed: {', '.join(sorted(schemas))})"
            )
    blocks = {key: parse_params(schema, params[key], key) for key, schema in schemas.items() if key in params}
    check_sources = getattr(blocks.get("data"), "check_sources", None)
    if check_sources is not None:
        check_sources(sources)
    for key, block in blocks.items():
        check = getattr(block, "check_against", None)
        if check is not None:
            try:
                check(blocks)
            except ValueError as error:
                where, message = error.args
                raise ParameterError(f"Invalid parameter '{key}.{where}': {message}") from None
    return blocks
