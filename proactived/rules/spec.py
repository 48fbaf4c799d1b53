"""The typed shape of a rule file (``rules.d/*.yaml``): what operators write, validated strictly."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from proactived.config.base import ConfigModel, Duration
from proactived.rules.matchers import parse_matcher

LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
ALL_LABELS = "..."


def _matcher(text: str) -> str:
    parse_matcher(text)  # raises ValueError with the reason
    return text


def _label(name: str) -> str:
    if name != ALL_LABELS and not LABEL_NAME.match(name):
        raise ValueError(f"bad label name {name!r}")
    return name


def _rule_name(name: str) -> str:
    if not RULE_NAME.match(name):
        raise ValueError("rule names use letters, digits, '_', '-' and '.', starting with a letter or digit")
    return name


Fallback = Literal["severity", "earliest"]
MatcherText = Annotated[str, AfterValidator(_matcher)]
LabelName = Annotated[str, AfterValidator(_label)]


class InhibitSpec(ConfigModel):
    """Alertmanager-style inhibition inside a problem: a firing ``source`` makes matching ``target``s symptoms."""

    source: list[MatcherText] = Field(min_length=1)
    target: list[MatcherText] = Field(min_length=1)
    equal: list[LabelName] = Field(default_factory=list)


class RootCauseSpec(ConfigModel):
    """How the root cause is chosen among a problem's firing incidents."""

    topology: bool = True
    inhibit: list[InhibitSpec] = Field(default_factory=list)
    fallback: list[Fallback] = Field(default_factory=lambda: list[Fallback](["severity", "earliest"]))


class PrioritySpec(ConfigModel):
    """The ticket priority for each problem severity; ``default`` covers severities not listed."""

    critical: str = ""
    high: str = ""
    warning: str = ""
    info: str = ""
    default: str = ""


class TicketSpec(ConfigModel):
    """Where the problem's ticket goes and how it reads."""

    sink: str = ""
    project: str = ""
    priority: PrioritySpec = PrioritySpec()
    assignee_group: str = ""
    title: str = ""
    body: str = ""
    auto_resolve: bool = True


class RuleSpec(ConfigModel):
    """One correlation rule."""

    name: Annotated[str, AfterValidator(_rule_name)]
    match: list[MatcherText] = Field(default_factory=list)
    group_by: list[LabelName] = Field(default_factory=list)
    window: Duration = timedelta(seconds=30)
    hold_for: Duration = timedelta(minutes=1)
    resolve_hold: Duration = timedelta(minutes=5)
    reopen_window: Duration = timedelta(hours=1)
    root_cause: RootCauseSpec = RootCauseSpec()
    ticket: TicketSpec = TicketSpec()
    continue_: bool = Field(default=False, alias="continue")


class LabelLinkSpec(ConfigModel):
    """An alert carrying both labels says: the ``child`` object it is about depends on the ``parent`` it names."""

    child: LabelName
    parent: LabelName


class TopologySpec(ConfigModel):
    """Dependencies between monitored objects, each written ``label=value`` (e.g. ``switch=sw-core-1``)."""

    depends_on: dict[str, list[str]] = Field(default_factory=dict)
    contains: dict[str, list[str]] = Field(default_factory=dict)
    from_labels: list[LabelLinkSpec] = Field(default_factory=list)


class RuleFileSpec(ConfigModel):
    """A whole rule file."""

    rules: list[RuleSpec] = Field(default_factory=list)
    topology: TopologySpec = TopologySpec()
