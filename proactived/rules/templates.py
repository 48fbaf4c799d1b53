"""Ticket title/body templates: Jinja2 in a sandbox, where alert labels are only ever data, never template code."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def check(source: str) -> str | None:
    """None when ``source`` compiles, else the error (with its line inside the template)."""
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return f"template error at line {exc.lineno}: {exc.message}"
    return None
