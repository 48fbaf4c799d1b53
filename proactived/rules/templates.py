"""Ticket title/body templates: Jinja2 in a sandbox, where alert labels are only ever data, never template code."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    # Jinja2 loads with the first rule that has a template, not with every daemon.
    from jinja2 import Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def check(source: str) -> str | None:
    """None when ``source`` compiles, else the error (with its line inside the template)."""
    from jinja2 import TemplateSyntaxError

    try:
        _environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template error at line {exc.lineno}: {exc.message}"
    return None
