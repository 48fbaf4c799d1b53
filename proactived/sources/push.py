"""The native push format: a JSON list of alerts in Alertmanager's shape, normalised into ``Alert``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

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


def build_one(item: dict[str, Any], now: datetime, severity_table: Mapping[str, Severity] | None = None) -> Alert:
    """An alert object that ``check_one`` accepted → Alert (``now`` is when it was received)."""
    labels = item["labels"]
    source = item.get("source") or KIND
    starts_at = _parse_rfc3339(item["startsAt"]) if item.get("startsAt") else None
    ends_at = _parse_rfc3339(item["endsAt"]) if item.get("endsAt") else None
    status = _status(item.get("status"), ends_at, now)
    raw_severity = item.get("severity") or labels.get("severity", "")
    native = item.get("fingerprint")
    return Alert(
        source=source,
        source_kind=KIND,
        fingerprint=source_fingerprint(source, native) if native else fingerprint_of(source, labels),
        labels=labels,
        annotations=item.get("annotations") or {},
        severity=normalise_severity(raw_severity, severity_table),
        source_severity=raw_severity,
        status=status,
        starts_at=starts_at or now,
        ends_at=ends_at,
        generator_url=item.get("generatorURL") or "",
        raw=item,
    )


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
