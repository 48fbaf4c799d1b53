"""Parsing and printing durations written as ``30s``, ``5m``, ``2h``, ``1d`` (and combinations like ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` into a timedelta; raise ValueError naming the accepted form."""
    cleaned = text.strip()
    if cleaned == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(cleaned) or not cleaned:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 5m, 2h, 1d")
    return from_seconds(total, text)


def from_seconds(total: float, text: object) -> timedelta:
    """``timedelta(seconds=total)``, or ValueError when it cannot be one (inf, nan, beyond 999999999 days)."""
    try:
        return timedelta(seconds=total)
    except (OverflowError, ValueError):  # inf, nan or more than 999999999 days
        raise ValueError(f"duration {text!r} is out of range") from None


def format_duration(delta: timedelta) -> str:
    """Render a timedelta in the shortest unit form parse_duration accepts."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
