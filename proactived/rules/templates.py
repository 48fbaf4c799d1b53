"""Ticket title/body templates: Jinja2 in a sandbox, where alert labels are only ever data, never template code."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from proactived.ticket_actions import ProblemView

DEFAULT_TITLE = (
    "{{ problem.root_cause.name if problem.root_cause else problem.rule }}"
    "{% if problem.symptom_count %} (+{{ problem.symptom_count }} related){% endif %}"
)

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def check(source: str) -> str | None:
    """None when ``source`` compiles, else the error (with its line inside the template)."""
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return f"template error at line {exc.lineno}: {exc.message}"
    return None


def render(source: str, problem: ProblemView) -> str:
    """Render ``source`` with ``problem`` (and its labels) as plain values; empty source uses the default title."""
    context: dict[str, Any] = {"problem": asdict(problem), "labels": problem.common_labels}
    return _ENV.from_string(source or DEFAULT_TITLE).render(context).strip()
