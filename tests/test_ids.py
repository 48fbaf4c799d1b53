"""Incident and problem ids: unique, and in the order they were made (so they append to the store's indexes)."""

from __future__ import annotations

import uuid

from freezegun import freeze_time

from proactived.dedup import new_incident_id
from proactived.ids import time_ordered_id


def test_ids_are_uuid7_hex_that_sort_by_the_millisecond_they_were_made_in() -> None:
    earlier = [time_ordered_id(1_790_000_000_000 + ms) for ms in range(0, 5000, 7)]
    assert earlier == sorted(earlier)
    for text in earlier[:50]:
        value = uuid.UUID(text)
        assert len(text) == 32 and value.hex == text
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert int(text[:12], 16) >= 1_790_000_000_000
    assert time_ordered_id(1_790_000_000_001) > time_ordered_id(1_790_000_000_000)


def test_ids_made_in_one_frozen_millisecond_are_still_unique() -> None:
    with freeze_time("2026-12-01T04:00:00Z"):
        ids = {new_incident_id() for _ in range(20_000)}
        assert len(ids) == 20_000
        assert {i[:12] for i in ids} == {f"{1_796_097_600_000:012x}"}
