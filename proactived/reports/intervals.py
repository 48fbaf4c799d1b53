"""Pure arithmetic on half-open time intervals ``[start, end)`` in epoch seconds: merge, clip, subtract.

Every function takes and returns lists sorted by start with no overlaps (``normalise`` makes one),
so the report code can chain them without re-sorting.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def normalise(spans: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or adjacent spans; drop empty ones."""
    merged: list[Interval] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clip(spans: list[Interval], start: float, end: float) -> list[Interval]:
    """The parts of normalised ``spans`` inside ``[start, end)``."""
    return [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Time covered by both normalised lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Time in ``a`` not covered by ``b`` (both normalised)."""
    out: list[Interval] = []
    j = 0
    for start, end in a:
        cursor = start
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def total(spans: Iterable[Interval]) -> float:
    """Summed length in seconds."""
    return sum(e - s for s, e in spans)
