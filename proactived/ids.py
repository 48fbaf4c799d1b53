"""Ids of incidents and problems: unique without asking the store, and in the order they were made.

32 hex digits laid out as a UUIDv7: the time in milliseconds, then 74 random bits. Ids that grow with time
are appended at the end of every index keyed by them (incidents, their history and down spans; problems,
their members and timeline), where random ones landed all over each index: a store that ingest and
correlation write touches far fewer pages per batch. Nothing reads an order into them beyond "made
earlier, sorts first".
"""

from __future__ import annotations

import os
import time


def time_ordered_id(now_ms: int | None = None) -> str:
    """A UUIDv7 as 32 hex digits (``now_ms``: the time to put in it, default the wall clock)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | (rand & (1 << 62) - 1)
    return f"{value:032x}"
