"""Ticket titles, bodies and notes from sandboxed Jinja2 templates, in the markup of the desk they go to.

Templates only see plain data (the problem view, links, the previous ticket). Every value printed with
``{{ }}`` is escaped for the desk's markup (Textile, Markdown, Jira wiki), so a label such as ``a|b*c`` stays
text; markup comes only from the ``fmt`` helpers. Titles are plain text on one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from proactived.ticket_actions import IncidentView, ProblemView, TicketAction, TicketKind

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

TRUNCATED = "\n\n[… truncated by proactived: the full text is kept in its store]"
LINK_ANNOTATIONS = (
    ("runbook", ("runbook_url", "runbook")),
    ("dashboard", ("dashboard_url", "dashboard", "__dashboardUrl__", "grafana_url")),
    ("panel", ("__panelUrl__", "panel_url")),
)

# C0/C1 control characters except tab and newline (CR goes: CRLF becomes LF), and bidirectional overrides:
# never useful in a ticket, and a NUL makes some desks' databases refuse the whole issue.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TEXTILE_BLOCK = re.compile(r"(?m)^([ \t]*(?:h[1-6]|bq|bc|p|pre|notextile|fn\d+|table))(?=[.(<>=])")


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline kept)."""
    return _CONTROL.sub("", text)


class Dialect:
    """How one desk writes headings, links and tables, and how it escapes plain text."""

    name = "plain"
    _special = ""

    def escape(self, text: str) -> str:
        return "".join("\\" + c if c in self._special else c for c in clean(text))

    def inline(self, text: str) -> str:
        """Escaped and on one line: a label value with line breaks cannot start a heading or end the markup."""
        return self.escape(" ".join(text.split()))

    def heading(self, text: str) -> Markup:
        return Markup(f"{self.inline(text)}\n")

    def link(self, text: str, url: str) -> Markup:
        return Markup(f"{self.inline(text)} <{url}>")

    def bold(self, text: str) -> Markup:
        return Markup(self.inline(text))

    def bullet(self, text: str) -> Markup:
        return Markup("- " + _text(self, text))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Markup:
        lines = [" | ".join(header)] + [" | ".join(_text(self, c) for c in row) for row in rows]
        return Markup("\n".join(lines))


class Textile(Dialect):
    """Redmine's default formatting (RedCloth): entities keep special characters literal."""

    name = "textile"
    _entities = {c: f"&#{ord(c)};" for c in "&<>|*_[]!@\"#"}  # what starts markup inside a line

    def escape(self, text: str) -> str:
        text = "".join(self._entities.get(c, c) for c in clean(text))
        return _TEXTILE_BLOCK.sub(r"\1&#8203;", text)  # a line starting "h1." etc. stays text, not a block

    def heading(self, text: str) -> Markup:
        return Markup(f"h3. {self.inline(text)}\n")

    def link(self, text: str, url: str) -> Markup:
        return Markup(f'"{self.inline(text)}":{_url(url)}')

    def bold(self, text: str) -> Markup:
        return Markup(f"*{self.inline(text)}*")

    def bullet(self, text: str) -> Markup:
        return Markup("* " + _text(self, text))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Markup:
        lines = ["|_. " + " |_. ".join(self.escape(h) for h in header) + " |"]
        lines += ["| " + " | ".join(_text(self, c) or " " for c in row) + " |" for row in rows]
        return Markup("\n".join(lines))


class Markdown(Dialect):
    """CommonMark (Redmine's common_mark, webhook receivers; Jira Cloud converts it to ADF)."""

    name = "markdown"
    _special = "\\`*_[]|<>#"

    def heading(self, text: str) -> Markup:
        return Markup(f"### {self.inline(text)}\n")

    def link(self, text: str, url: str) -> Markup:
        return Markup(f"[{self.inline(text)}]({_url(url)})")

    def bold(self, text: str) -> Markup:
        return Markup(f"**{self.inline(text)}**")

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Markup:
        lines = ["| " + " | ".join(self.escape(h) for h in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_text(self, c) for c in row) + " |" for row in rows]
        return Markup("\n".join(lines))


class JiraWiki(Dialect):
    """Jira Data Center's wiki markup (REST v2 descriptions and comments)."""

    name = "jira"
    _special = "\\*_{}[]|!#^~+-?"

    def heading(self, text: str) -> Markup:
        return Markup(f"h3. {self.inline(text)}\n")

    def link(self, text: str, url: str) -> Markup:
        return Markup(f"[{self.inline(text)}|{_url(url)}]")

    def bold(self, text: str) -> Markup:
        return Markup(f"*{self.inline(text)}*")

    def bullet(self, text: str) -> Markup:
        return Markup("* " + _text(self, text))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Markup:
        lines = ["||" + "||".join(self.escape(h) for h in header) + "||"]
        lines += ["|" + "|".join(_text(self, c) or " " for c in row) + "|" for row in rows]
        return Markup("\n".join(lines))


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Dialect(), Textile(), Markdown(), JiraWiki())}


def _text(dialect: Dialect, value: Any) -> str:
    """A cell or bullet: Markup passes through, anything else is escaped (newlines flattened)."""
    if isinstance(value, Markup):
        return str(value)
    return dialect.escape(" ".join(str(value).split()))


def _url(url: str) -> str:
    """Only http(s) links, with characters that would end the markup's link percent-encoded."""
    if not re.match(r"^https?://", url):
        return "#"
    return re.sub(r"[\s\"'<>()\[\]|]", lambda m: f"%{ord(m.group()):02X}", url)


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def links(problem: ProblemView) -> list[tuple[str, str]]:
    """Generator, dashboard, runbook and panel URLs from the problem's incidents, first occurrence wins."""
    found: dict[str, str] = {}
    members = [problem.root_cause, *problem.symptoms] if problem.root_cause else list(problem.symptoms)
    for incident in members:
        if incident is None:
            continue
        for title, keys in LINK_ANNOTATIONS:
            for key in keys:
                url = incident.annotations.get(key, "")
                if url.startswith(("http://", "https://")) and url not in found.values():
                    found.setdefault(f"{title}: {incident.name}", url)
        if incident.generator_url and incident.generator_url not in found.values():
            found.setdefault(f"source: {incident.name}", incident.generator_url)
    return list(found.items())


def _labels(incident: IncidentView) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(incident.labels.items()) if k != "alertname")


@cache
def _environment(dialect_name: str, plain: bool) -> SandboxedEnvironment:
    # Jinja2 loads with the first ticket rendered, not with the daemon (~1 MiB a daemon without desks spares).
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    dialect = DIALECTS[dialect_name]
    finalize: Callable[[Any], Any] = (
        (lambda v: "" if v is None else v)
        if plain
        else (lambda v: "" if v is None else v if isinstance(v, Markup) else dialect.escape(str(v)))
    )
    env = SandboxedEnvironment(
        autoescape=False, finalize=finalize, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["ts"] = format_time
    env.filters["labels"] = _labels
    env.filters["line"] = lambda v: " ".join(str(v).split())  # one line: a value cannot start a block
    return env


def _template(dialect: Dialect, source: str, plain: bool) -> Template:
    return _environment(dialect.name, plain).from_string(source)


@cache
def default_template(name: str) -> str:
    return resources.files("proactived.sinks").joinpath("templates", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Rendered:
    """A ticket's title and body, full length (the sink cuts them to its limits)."""

    title: str
    body: str


def render_ticket(
    dialect: Dialect, action: TicketAction, previous_url: str = "", title_source: str = "", body_source: str = ""
) -> Rendered:
    """Title and body of a new ticket; a route's templates win over the sink's, which win over the defaults."""
    context = _context(dialect, action, previous_url=previous_url)
    title_tpl = action.route.title_template or title_source or default_template("title.j2")
    body_tpl = action.route.body_template or body_source or default_template("body.j2")
    title = " ".join(clean(_template(dialect, title_tpl, plain=True).render(context)).split())
    body = _template(dialect, body_tpl, plain=False).render(context).strip() + "\n"
    return Rendered(title or action.problem.rule or action.problem.problem_id, body)


def render_note(dialect: Dialect, actions: Sequence[tuple[datetime, TicketAction]]) -> str:
    """One note for one or several folded actions of a problem (oldest first; the last one's view is current)."""
    context = _context(dialect, actions[-1][1], entries=[(at, a.kind.value, a.reason) for at, a in actions])
    return _template(dialect, default_template("note.j2"), plain=False).render(context).strip() + "\n"


def _context(dialect: Dialect, action: TicketAction, **extra: Any) -> dict[str, Any]:
    return {
        "fmt": dialect,
        "problem": action.problem,
        "labels": action.problem.common_labels,
        "kind": action.kind.value,
        "reason": action.reason,
        "route": action.route,
        "links": links(action.problem),
        "is_open": action.kind in (TicketKind.OPEN, TicketKind.REOPEN),
        "previous_url": "",
        "symptom_rows": [
            [s.name, s.severity.value, s.status, format_time(s.first_seen), _labels(s)] for s in action.problem.symptoms
        ],
        **extra,
    }


def cut(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """``text`` if it fits in ``limit`` characters, else its start followed by ``marker``."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[:limit]
    return text[: limit - len(marker)].rstrip() + marker


def cut_title(text: str, limit: int) -> str:
    return cut(text, limit, " […]")
