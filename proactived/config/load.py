"""Loads the configuration file into a frozen ``Config``, reporting every error as ``file:line:col: key: msg``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from proactived.config.models import Config
from proactived.config.yamlsource import PathKey, YamlDocument, YamlSyntaxError, read_yaml
from proactived.errors import ConfigError

DEFAULT_CONFIG_PATH = "/etc/proactived/proactived.yaml"
M = TypeVar("M", bound=BaseModel)


def validation_problems(doc: YamlDocument, error: ValidationError, prefix: PathKey = ()) -> list[str]:
    """Turn a pydantic error into ``file:line:col: key.path: message`` lines."""
    problems: list[tuple[int, int, str]] = []
    for item in error.errors():
        path = _real_path(doc, (*prefix, *item["loc"]))
        line, col = doc.locate(path)
        dotted = ".".join(str(p) for p in path) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append((line, col, f"{doc.path}:{line}:{col}: {dotted}: {message}"))
    return [text for _, _, text in sorted(problems)]


def _real_path(doc: YamlDocument, loc: tuple[Any, ...]) -> PathKey:
    """Drop pydantic's union/function tags so only keys that exist in the YAML remain."""
    path: PathKey = ()
    for part in loc:
        if isinstance(part, int) or (*path, part) in doc.marks or not str(part).count("["):
            path = (*path, part)
    return path


def validate_document(doc: YamlDocument, model: type[M], prefix: PathKey = ()) -> M:
    """Validate already-parsed YAML into ``model``; raise ConfigError with every problem."""
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([f"{doc.path}:1:1: expected a mapping at the top level"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, prefix)) from None


def load_config(path: str | Path) -> Config:
    """Read, parse and validate the configuration file at ``path``."""
    try:
        doc = read_yaml(Path(path))
    except YamlSyntaxError as exc:
        raise ConfigError([str(exc)]) from None
    return validate_document(doc, Config)
