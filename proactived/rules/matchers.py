"""Label matchers in Alertmanager syntax: ``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Regexes are fully anchored, as in Alertmanager. A missing label matches as the empty string, so
``team!="ops"`` matches alerts without a team label and ``team=""`` matches only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$', re.S)


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label condition."""

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; ValueError says what is wrong."""
    found = _MATCHER.match(text)
    if not found:
        forms = 'name="value", name!="value", name=~"re" or name!~"re"'
        raise ValueError(f"bad matcher {text!r}: expected {forms}")
    name, op, raw = found.groups()
    value = _unquote(raw, text)
    kind = MatchType(op)
    regex = None
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression in matcher {text!r}: {exc}") from None
    return Matcher(name, kind, value, regex)


def _unquote(raw: str, text: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1]
        out, i = [], 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                out.append({"n": "\n", "t": "\t"}.get(body[i + 1], body[i + 1]))
                i += 2
                continue
            if body[i] == '"':
                raise ValueError(f"bad matcher {text!r}: unescaped quote inside the value")
            out.append(body[i])
            i += 1
        return "".join(out)
    if '"' in raw:
        raise ValueError(f"bad matcher {text!r}: unbalanced quotes")
    return raw


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list, optionally in braces: ``{a="1", b=~"x|y"}`` (commas inside quotes kept)."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return [parse_matcher(part) for part in parts if part.strip()]


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher accepts ``labels`` (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
