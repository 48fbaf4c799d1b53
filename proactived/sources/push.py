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


def normalise_one(item: Any, where: str, now: datetime, severity_table: Mapping[str, Severity] | None = None) -> Alert:
    """One pushed alert object → Alert, or InputError naming the field (``where`` is its position)."""
    if not isinstance(item, dict):
        raise InputError(where, "expected an object")
    unknown = set(item) - _FIELDS
    if unknown:
        raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown field")
    labels = string_map(item.get("labels"), f"{where}.labels", max_items=MAX_LABELS, max_value=MAX_VALUE, required=True)
    annotations = string_map(
        item.get("annotations"), f"{where}.annotations", max_items=MAX_LABELS, max_value=MAX_ANNOTATION, required=False
    )
    source = _optional_str(item, "source", where) or KIND
    starts_at = parse_time(item.get("startsAt"), f"{where}.startsAt") or now
    ends_at = parse_time(item.get("endsAt"), f"{where}.endsAt")
    status = _status(item.get("status"), ends_at, now, where)
    raw_severity = _optional_str(item, "severity", where) or labels.get("severity", "")
    native = _optional_str(item, "fingerprint", where)
    return Alert(
        source=source,
        source_kind=KIND,
        fingerprint=source_fingerprint(source, native) if native else fingerprint_of(source, labels),
        labels=labels,
        annotations=annotations,
        severity=normalise_severity(raw_severity, severity_table),
        source_severity=raw_severity,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=_optional_str(item, "generatorURL", where),
        raw=item,
    )


def _optional_str(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise InputError(f"{where}.{key}", f"expected a string of at most {MAX_VALUE} characters")
    return value


def _status(value: Any, ends_at: datetime | None, now: datetime, where: str) -> Status:
    if value is None:
        return Status.RESOLVED if ends_at is not None and ends_at <= now else Status.FIRING
    try:
        return Status(value)
    except ValueError:
        raise InputError(f"{where}.status", "expected 'firing' or 'resolved'") from None


def parse_push(
    body: bytes, now: datetime, *, max_alerts: int, severity_table: Mapping[str, Severity] | None = None
) -> list[Alert]:
    """Parse a whole request body; every alert is validated before any is accepted."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", f"invalid JSON: {exc}") from None
    if isinstance(data, dict) and "alerts" in data and len(data) == 1:
        data = data["alerts"]
    if not isinstance(data, list):
        raise InputError("body", "expected a JSON list of alerts")
    if len(data) > max_alerts:
        raise InputError("body", f"too many alerts in one request ({len(data)} > {max_alerts})")
    return [normalise_one(item, f"[{i}]", now, severity_table) for i, item in enumerate(data)]
