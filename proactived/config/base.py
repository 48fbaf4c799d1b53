"""Base model for every configuration section: frozen, strict about unknown keys, with ``*_file`` secrets."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, model_validator

from proactived.config.secrets import Secret, read_secret_file
from proactived.durations import format_duration, from_seconds, parse_duration


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_seconds(value, value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 30s, 5m, 2h or 1d")


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
]


class ConfigModel(BaseModel):
    """Frozen, unknown keys rejected; a key ``X_file`` fills the Secret field ``X`` from a file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        result = dict(data)
        for key in list(data):
            if not key.endswith("_file"):
                continue
            stem = key[: -len("_file")]
            field = cls.model_fields.get(stem)
            if field is None or not _is_secret(field.annotation):
                continue
            if stem in data:
                raise ValueError(f"give either {stem} or {key}, not both")
            result[stem] = Secret(read_secret_file(str(data[key])))
            del result[key]
        return result


def _is_secret(annotation: Any) -> bool:
    return annotation is Secret or Secret in getattr(annotation, "__args__", ())
