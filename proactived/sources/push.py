"""The native push format: a JSON list of alerts in Alertmanager's shape, normalised into ``Alert``."""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from proactived.dedup import Run, RunState
from proactived.errors import InputError
from proactived.model import Alert, Severity, Status, fingerprint_of, normalise_severity, source_fingerprint

KIND = "push"
MAX_LABELS = 64
MAX_NAME = 256
MAX_VALUE = 4096
MAX_ANNOTATION = 16384
_FIELDS = {"labels", "annotations", "status", "severity", "startsAt", "endsAt", "generatorURL", "fingerprint", "source"}
_OPTIONAL_STRINGS = ("source", "severity", "fingerprint", "generatorURL")
_TIMES = ("startsAt", "endsAt")
_STATUSES = frozenset(s.value for s in Status)
_GO_ZERO_YEAR = 1


def parse_time(value: Any, field: str) -> datetime | None:
    """RFC 3339 timestamp → aware UTC datetime; Go's zero time and empty strings mean 'unset'."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(field, "expected an RFC 3339 timestamp string")
    try:
        parsed = _parse_rfc3339(value)
    except ValueError:
        raise InputError(field, f"invalid RFC 3339 timestamp {value[:40]!r}") from None
    if parsed is not None and parsed.tzinfo is None:
        raise InputError(field, "timestamp needs a time zone (e.g. Z or +00:00)")
    return parsed


@lru_cache(maxsize=4096)
def _parse_rfc3339(value: str) -> datetime | None:
    """The conversion alone, cached: a batch's alerts mostly share a handful of timestamps."""
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.year <= _GO_ZERO_YEAR:
        return None
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC)


def string_map(value: Any, field: str, *, max_items: int, max_value: int, required: bool) -> dict[str, str]:
    """Validate a JSON object of string to string within size limits."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InputError(field, "expected an object of string values")
    if required and not value:
        raise InputError(field, "must not be empty")
    if len(value) > max_items:
        raise InputError(field, f"too many entries ({len(value)} > {max_items})")
    for key, item in value.items():
        if not key or len(key) > MAX_NAME:
            raise InputError(field, f"name must be 1 to {MAX_NAME} characters")
        if not isinstance(item, str):
            raise InputError(f"{field}.{key}", "expected a string")
        if len(item) > max_value:
            raise InputError(f"{field}.{key}", f"longer than {max_value} characters")
    return value


def check_one(item: Any, where: str) -> None:
    """Raise InputError naming the first bad field of one pushed alert object (``where`` is its position).

    Every check ``normalise_one`` needs, without building anything: the push endpoint runs it over a whole
    request before answering, and the dedup stage builds the alerts later from the stored body.
    """
    if not isinstance(item, dict):
        raise InputError(where, "expected an object")
    if not item.keys() <= _FIELDS:
        unknown = set(item) - _FIELDS
        raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown field")
    labels = item.get("labels")
    if not _plain_map(labels, MAX_VALUE) or not labels:
        string_map(labels, f"{where}.labels", max_items=MAX_LABELS, max_value=MAX_VALUE, required=True)
    annotations = item.get("annotations")
    if annotations is not None and not _plain_map(annotations, MAX_ANNOTATION):
        string_map(annotations, f"{where}.annotations", max_items=MAX_LABELS, max_value=MAX_ANNOTATION, required=False)
    for key in _OPTIONAL_STRINGS:
        value = item.get(key)
        if value is not None and (type(value) is not str or len(value) > MAX_VALUE):
            _optional_str(item, key, where)
    for key in _TIMES:
        value = item.get(key)
        if value is not None:
            parse_time(value, f"{where}.{key}")
    status = item.get("status")
    if status is not None and status not in _STATUSES:
        raise InputError(f"{where}.status", "expected 'firing' or 'resolved'")


def _plain_map(value: Any, max_value: int) -> bool:
    """The common case, decided fast: a dict of at most MAX_LABELS short, named string values."""
    if type(value) is not dict or len(value) > MAX_LABELS:
        return False
    for key, item in value.items():
        if type(item) is not str or len(item) > max_value or not 0 < len(key) <= MAX_NAME:
            return False
    return True


def normalise_one(item: Any, where: str, now: datetime, severity_table: Mapping[str, Severity] | None = None) -> Alert:
    """One pushed alert object → Alert, or InputError naming the field (``where`` is its position)."""
    check_one(item, where)
    return build_one(item, now, severity_table)


def build_one(
    item: dict[str, Any],
    now: datetime,
    severity_table: Mapping[str, Severity] | None = None,
    fingerprint: str | None = None,
) -> Alert:
    """An alert object that ``check_one`` accepted → Alert (``now`` is when it was received; ``fingerprint``
    when the caller worked it out already)."""
    labels = item["labels"]
    source = item.get("source") or KIND
    status, severity, raw_severity, starts_at, ends_at = _state(item, now, severity_table)
    return Alert(
        source=source,
        source_kind=KIND,
        fingerprint=fingerprint or _fingerprint(source, item.get("fingerprint"), labels),
        labels=labels,
        annotations=item.get("annotations") or {},
        severity=severity,
        source_severity=raw_severity,
        status=status,
        starts_at=starts_at or now,
        ends_at=ends_at,
        generator_url=item.get("generatorURL") or "",
        raw=item,
    )


def _fingerprint(source: str, native: str | None, labels: Mapping[str, str]) -> str:
    return source_fingerprint(source, native) if native else fingerprint_of(source, labels)


def _state(
    item: dict[str, Any], now: datetime, severity_table: Mapping[str, Severity] | None
) -> tuple[Status, Severity, str, datetime | None, datetime | None]:
    """Status, severity, the source's severity word, start and end time of one checked alert object."""
    starts_at = _parse_rfc3339(item["startsAt"]) if item.get("startsAt") else None
    ends_at = _parse_rfc3339(item["endsAt"]) if item.get("endsAt") else None
    raw_severity = item.get("severity") or item["labels"].get("severity", "")
    status = _status(item.get("status"), ends_at, now)
    return status, normalise_severity(raw_severity, severity_table), raw_severity, starts_at, ends_at


_Ref = tuple[int, int]  # a stored request's key and the position of one alert object in it


class _ItemRun(Run):
    """A run of stored alert objects: only what decides the run is worked out per object, and only the latest
    annotations are kept (all a plain repeat writes); the two alerts that stand for the run are built from
    their requests if dedup asks for them (``Fold.alert``).

    The first object is let go once a repeat arrives, keeping only its start and end time: of the first alert,
    ``apply`` reads nothing else that the last one does not overwrite. A run whose fingerprint the source
    gave keeps it, as its labels (which may differ from the last one's) name a new incident.
    """

    __slots__ = ("_annotations", "_first", "_first_times", "_fold", "_keep_first", "_last")

    def __init__(self, fold: Fold, fingerprint: str, entry: _Entry, ref: _Ref) -> None:
        state, annotations, times, native = entry[1:]
        super().__init__(fingerprint, state)
        self._fold = fold
        self._first: _Ref | None = ref
        self._first_times = times
        self._keep_first = native
        self._last = ref
        self._annotations = annotations

    def first(self) -> Alert:
        if self._first is not None:
            return self._fold.alert(self._first, self.fingerprint)
        return replace(self.last(), starts_at=self._first_times[0], ends_at=self._first_times[1])

    def last(self) -> Alert:
        return self._fold.alert(self._last, self.fingerprint)

    def annotations(self) -> Mapping[str, str]:
        return self._annotations

    def repeat(self, ref: _Ref, annotations: Mapping[str, str]) -> None:
        if not self._keep_first:
            self._first = None
        self._last = ref
        self._annotations = annotations
        self.count += 1


# fingerprint; the run state; annotations; start and end time; whether the source named the fingerprint
_Entry = tuple[str, RunState, Mapping[str, str], tuple[datetime, datetime | None], bool]


class Fold:
    """Checked alert objects of stored requests folded into runs (``dedup.Run``) as they are read, without
    building an ``Alert`` for each: the intake turns a long backlog into one store read and at most one write
    per fingerprint. Little is kept per fingerprint (a long backlog names many); the alerts dedup asks for are
    built from their requests again, read through ``load`` (a request's key -> its stored body), unless the
    request began a run that likely changes an incident: a fingerprint not in ``known`` (the caller's guess at
    which already have an incident), a resolve, or a change of state within the fold. ``changing`` counts those
    runs (they cost more to deduplicate, and memory for their alerts), and their requests are kept decoded."""

    def __init__(
        self,
        severity_table: Mapping[str, Severity] | None,
        load: Callable[[int], bytes],
        known: Container[str] = (),
    ) -> None:
        self.table = severity_table
        self.known = known
        self.runs: list[Run] = []
        self.alerts = 0
        self.changing = 0
        self._load = load
        self._current: dict[str, _ItemRun] = {}
        self._received: dict[int, datetime] = {}
        self._decoded: dict[int, list[Any]] = {}

    def __len__(self) -> int:
        """How many fingerprints it holds."""
        return len(self._current)

    def add_request(self, key: int, items: list[Any], received_at: datetime) -> None:
        """Fold one request's alert objects: all of them, or none if any fails (the caller says what is wrong)."""
        entries = [self._entry(item, received_at) for item in items]
        changing = self.changing
        for position, entry in enumerate(entries):
            fingerprint = entry[0]
            run = self._current.get(fingerprint)
            if run is not None and run.state == entry[1]:
                run.repeat((key, position), entry[2])
            else:
                if run is not None or entry[1][0] is Status.RESOLVED or fingerprint not in self.known:
                    self.changing += 1
                self._current[fingerprint] = run = _ItemRun(self, fingerprint, entry, (key, position))
                self.runs.append(run)
        self.alerts += len(entries)
        self._received[key] = received_at
        if self.changing > changing:
            self._decoded[key] = items

    def alert(self, ref: _Ref, fingerprint: str) -> Alert:
        """The Alert of one folded alert object."""
        key, position = ref
        items = self._decoded.get(key)
        if items is None:
            items = self._decoded[key] = alert_items(json.loads(self._load(key)))
        return build_one(items[position], self._received[key], self.table, fingerprint)

    def _entry(self, item: dict[str, Any], received_at: datetime) -> _Entry:
        source = item.get("source") or KIND
        native = item.get("fingerprint")
        labels = item["labels"]
        fingerprint = _fingerprint(source, native, labels)
        status, severity, _, starts_at, ends_at = _state(item, received_at, self.table)
        state = (status, severity, "", item.get("generatorURL") or "")  # a pushed alert is never suppressed
        return fingerprint, state, item.get("annotations") or {}, (starts_at or received_at, ends_at), bool(native)


def _optional_str(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise InputError(f"{where}.{key}", f"expected a string of at most {MAX_VALUE} characters")
    return value


def _status(value: str | None, ends_at: datetime | None, now: datetime) -> Status:
    if value is None:
        return Status.RESOLVED if ends_at is not None and ends_at <= now else Status.FIRING
    return Status(value)


def alert_items(data: Any) -> Any:
    """The alert list of a decoded body: the body itself, or what Alertmanager's ``{"alerts": [...]}`` wraps."""
    if isinstance(data, dict) and "alerts" in data and len(data) == 1:
        return data["alerts"]
    return data


def load_push(body: bytes, *, max_alerts: int) -> list[Any]:
    """Decode and check a whole request body; the alert objects, every one valid, or InputError."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", f"invalid JSON: {exc}") from None
    data = alert_items(data)
    if not isinstance(data, list):
        raise InputError("body", "expected a JSON list of alerts")
    if len(data) > max_alerts:
        raise InputError("body", f"too many alerts in one request ({len(data)} > {max_alerts})")
    for i, item in enumerate(data):
        check_one(item, f"[{i}]")
    return data


def parse_push(
    body: bytes, now: datetime, *, max_alerts: int, severity_table: Mapping[str, Severity] | None = None
) -> list[Alert]:
    """Parse a whole request body; every alert is validated before any is accepted."""
    return [build_one(item, now, severity_table) for item in load_push(body, max_alerts=max_alerts)]
