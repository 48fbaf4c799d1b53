"""Secrets in configuration: given inline, as ``{env: NAME}``, or through a ``*_file`` sibling key.

A ``Secret`` never prints its value: ``repr``, ``str`` and JSON dumps all show ``****``. Every secret
loaded is registered so the log filter can blank it even if it leaks into an exception text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_KNOWN: set[str] = set()


def known_secrets() -> frozenset[str]:
    """Every secret value loaded so far (for redaction filters)."""
    return frozenset(_KNOWN)


def redact(text: str) -> str:
    """Replace every known secret value in ``text`` by ``****``."""
    for value in _KNOWN:
        if value and value in text:
            text = text.replace(value, "****")
    return text


class Secret:
    """A credential whose value is only available through ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 4:
            _KNOWN.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _to_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: "****"),
        )


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError("secret must not be empty")
        return Secret(value)
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        found = os.environ.get(name)
        if not found:
            raise ValueError(f"environment variable {name} is not set or empty")
        return Secret(found)
    raise ValueError("expected a string, {env: NAME}, or a sibling '<key>_file: PATH'")


def read_secret_file(path: str) -> str:
    """Read a secret from a file, stripping one trailing newline; errors name the file, never the content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    return text[:-1] if text.endswith("\n") else text
