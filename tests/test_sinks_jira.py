"""The Jira sink against a local Jira speaking the documented REST subset (the real requests path runs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from proactived.clock import ManualClock
from proactived.sinks.jira import label_of
from proactived.sinks.tickets import TicketState
from proactived.ticket_actions import TicketKind
from tests.desks.jira import API_TOKEN, EMAIL, PAT, FakeJira, adf_text, is_adf, running_jira
from tests.ticketing import action, drain, enqueue, outbox_rows, problem, ticket, ticket_runtime

OPEN, UPDATE, RESOLVE, REOPEN = TicketKind.OPEN, TicketKind.UPDATE, TicketKind.RESOLVE, TicketKind.REOPEN


def jira_sink(fake: FakeJira, **extra: Any) -> dict[str, Any]:
    creds = {"email": EMAIL, "api_token": API_TOKEN} if fake.flavor == "cloud" else {"token": PAT}
    return {"type": "jira", "url": fake.url, "flavor": fake.flavor, "project": "OPS", "timeout": "2s",
            "backoff": "30s", "note_interval": "5m", **creds, **extra}  # fmt: skip


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with running_jira("cloud") as fake:
        yield fake


def test_it_opens_updates_resolves_and_reopens_one_jira_cloud_issue(
    tmp_path: Path, jira: FakeJira, clock: ManualClock, store_url: str
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock, store_url) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1", reason="problem held for 1m")], clock.now())
        assert drain(stage) == 1
        [issue] = jira.by_label("proactived-p1")
        assert issue.fields["summary"] == "[CRITICAL] SwitchDown (+2 related)"
        assert issue.fields["labels"] == ["proactived", "proactived-p1"]
        assert issue.fields["priority"] == {"name": "Highest"}
        assert is_adf(issue.fields["description"])
        text = adf_text(issue.fields["description"])
        assert "Probable root cause" in text and "HostDown" in text and "web2" in text
        assert {"type": "link", "attrs": {"href": "https://runbooks.example.com/SwitchDown"}} in _marks(
            issue.fields["description"]
        )
        assert ticket(rt, "p1").url == f"{jira.url}/browse/{issue.key}"

        clock.advance(timedelta(minutes=6))
        enqueue(rt.store, [action(UPDATE, "p1", reason="severity rose to critical")], clock.now())
        drain(stage)
        enqueue(rt.store, [action(RESOLVE, "p1", reason="all alerts resolved for 5m")], clock.now())
        drain(stage)
        assert issue.status == "Done" and ticket(rt, "p1").state == TicketState.RESOLVED
        enqueue(rt.store, [action(REOPEN, "p1", reason="SwitchDown fired again")], clock.now())
        drain(stage)
        assert issue.status == "To Do" and ticket(rt, "p1").state == TicketState.OPEN
        notes = [adf_text(c) for c in issue.comments]
        assert len(notes) == 3 and "severity rose" in notes[0] and "Recovered" in notes[1] and "Relapsed" in notes[2]
        assert len(jira.issues) == 1


def _marks(node: Any) -> list[Any]:
    found = list(node.get("marks", [])) if isinstance(node, dict) else []
    for child in node.get("content", []) if isinstance(node, dict) else []:
        found += _marks(child)
    return found


def test_it_folds_an_update_storm_into_a_few_notes(tmp_path: Path, jira: FakeJira, clock: ManualClock) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        drain(stage)
        [issue] = jira.issues.values()
        for minute in range(12):  # 10 updates a minute for 12 minutes
            enqueue(rt.store, [action(UPDATE, "p1", reason=f"incident {minute}.{n} joined") for n in range(10)],
                    clock.now())  # fmt: skip
            drain(stage)
            clock.advance(timedelta(minutes=1))
        clock.advance(timedelta(minutes=5))
        drain(stage)
        assert len(issue.comments) == 3  # at 5m and 10m after the open, then the last minute's when due
        assert all(r.done_at is not None for r in outbox_rows(rt))
        enqueue(rt.store, [action(RESOLVE, "p1")], clock.now())
        drain(stage)
        text = "".join(adf_text(c) for c in issue.comments)
        assert all(f"incident {m}.{n} joined" in text for m in range(12) for n in range(10))


def test_a_resolve_queued_behind_rate_limited_updates_is_not_held_back(
    tmp_path: Path, jira: FakeJira, clock: ManualClock
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        drain(stage)
        enqueue(rt.store, [action(UPDATE, "p1", reason=f"u{n}") for n in range(3)], clock.now())
        drain(stage)  # rate-limited: deferred
        enqueue(rt.store, [action(RESOLVE, "p1")], clock.now())
        clock.advance(timedelta(seconds=15))
        drain(stage)
        [issue] = jira.issues.values()
        assert issue.status == "Done" and len(issue.comments) == 2  # one note with u0..u2, then the resolve


def test_it_retries_through_an_outage_and_honours_retry_after(
    tmp_path: Path, jira: FakeJira, clock: ManualClock
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        jira.fail_next(4, 503)
        enqueue(rt.store, [action(OPEN, "p1"), action(RESOLVE, "p1")], clock.now())
        waits = []
        for _ in range(4):
            drain(stage)
            [row] = [r for r in outbox_rows(rt) if r.done_at is None][:1]
            waits.append(row.available_at - clock.now())
            clock.set(row.available_at)
        assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]  # doubling backoff
        jira.fail_next(1, 429, {"Retry-After": "7"})
        drain(stage)
        head = next(r for r in outbox_rows(rt) if r.done_at is None)
        assert head.available_at - clock.now() == timedelta(seconds=7) and "HTTP 429" in head.last_error
        clock.advance(timedelta(seconds=7))
        drain(stage)
        assert len(jira.issues) == 1 and next(iter(jira.issues.values())).status == "Done"
        assert all(r.done_at is not None and not r.failed for r in outbox_rows(rt))


def test_a_create_that_timed_out_is_adopted_not_repeated(tmp_path: Path, jira: FakeJira, clock: ManualClock) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira, timeout="300ms")}, clock) as (rt, stage):
        jira.delay = 0.6  # Jira creates the issue, but only after the client gave up
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        drain(stage)
        assert ticket(rt, "p1").state == TicketState.CREATING
        jira.delay = 0
        clock.advance(timedelta(minutes=1))
        drain(stage)
        assert len(jira.issues) == 1
        assert ticket(rt, "p1").external_id == "OPS-1" and ticket(rt, "p1").state == TicketState.OPEN
        assert [m for m, p, _ in jira.requests if p.endswith("/search/jql")] == ["GET"]


def test_a_permanent_error_is_recorded_and_does_not_block_other_problems(
    tmp_path: Path, jira: FakeJira, clock: ManualClock
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "bad", project="NOPE"), action(OPEN, "good")], clock.now())
        drain(stage)
        rows = {r.key: r for r in outbox_rows(rt)}
        assert rows["bad"].failed and "valid project is required" in rows["bad"].last_error
        assert ticket(rt, "bad").state == TicketState.FAILED
        assert "valid project is required" in (ticket(rt, "bad").last_error or "")
        assert [i.key for i in jira.issues.values()] == ["OPS-1"] and ticket(rt, "good").external_id == "OPS-1"


def test_it_cuts_fields_to_jiras_limits_with_a_marker(tmp_path: Path, jira: FakeJira, clock: ManualClock) -> None:
    long_title = "{{ 'x' * 400 }}"
    long_body = "{% for n in range(5000) %}line {{ n }} of a very long body\n{% endfor %}"
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1", title_template=long_title, body_template=long_body)], clock.now())
        drain(stage)
        [issue] = jira.issues.values()
        assert len(issue.fields["summary"]) == 255 and issue.fields["summary"].endswith("[…]")
        assert "truncated by proactived" in adf_text(issue.fields["description"])
        assert len(ticket(rt, "p1").body) > 100_000  # the full text stays in the store


def test_a_ticket_a_person_closed_as_wont_do_is_not_reopened(
    tmp_path: Path, jira: FakeJira, clock: ManualClock
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        drain(stage)
        jira.set_status("OPS-1", "Done", "Won't Do")
        enqueue(rt.store, [action(RESOLVE, "p1"), action(REOPEN, "p1")], clock.now())
        drain(stage)
        assert jira.issues["OPS-1"].status == "Done" and jira.issues["OPS-1"].comments == []
        assert ticket(rt, "p1").state == TicketState.CLOSED and ticket(rt, "p1").desk_status == "Done"


def test_a_relapse_after_the_window_opens_a_new_issue_that_mentions_the_old_one(
    tmp_path: Path, jira: FakeJira, clock: ManualClock
) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, "p1"), action(RESOLVE, "p1")], clock.now())
        drain(stage)
        enqueue(rt.store, [action(OPEN, "p2", view=problem("p2", previous="p1"))], clock.now())
        drain(stage)
        assert len(jira.issues) == 2
        assert f"{jira.url}/browse/OPS-1" in str(jira.issues["OPS-2"].fields["description"])


@pytest.mark.parametrize("pages", [1, 3])
def test_data_center_uses_v2_wiki_text_bearer_auth_and_startat_paging(
    tmp_path: Path, clock: ManualClock, pages: int
) -> None:
    with running_jira("datacenter", page_size=1) as jira, ticket_runtime(
        tmp_path, {"desk": jira_sink(jira)}, clock
    ) as (rt, stage):
        for n in range(pages):  # issues that already carry the key (created by an earlier crashed attempt)
            jira.issues[f"OPS-{n + 1}"] = _issue(n, "proactived-p1")
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        with rt.store.transaction() as conn:  # a previous attempt was claimed before the crash
            conn.exec_driver_sql("UPDATE outbox SET attempts = 1")
        drain(stage)
        assert ticket(rt, "p1").external_id == "OPS-1" and len(jira.issues) == pages
        searches = [p for m, p, _ in jira.requests if "/search" in p]
        assert searches and all(p == "/rest/api/2/search" for p in searches)
        enqueue(rt.store, [action(UPDATE, "p1", reason="HostDown joined")], clock.now() + timedelta(hours=1))
        clock.advance(timedelta(hours=1))
        drain(stage)
        [comment] = jira.issues["OPS-1"].comments
        assert isinstance(comment, str) and "HostDown joined" in comment and "||Alert||" in comment


def _issue(n: int, label: str) -> Any:
    from tests.desks.jira import Issue

    return Issue(str(10000 + n), f"OPS-{n + 1}", {"summary": "earlier", "labels": [label]})


def test_the_removed_cloud_search_endpoint_is_not_used(jira: FakeJira, clock: ManualClock, tmp_path: Path) -> None:
    with ticket_runtime(tmp_path, {"desk": jira_sink(jira)}, clock) as (rt, stage):
        for n in range(5):
            jira.issues[f"OPS-{n + 1}"] = _issue(n, "proactived-p1")
        enqueue(rt.store, [action(OPEN, "p1")], clock.now())
        with rt.store.transaction() as conn:
            conn.exec_driver_sql("UPDATE outbox SET attempts = 1")
        drain(stage)
        assert ticket(rt, "p1").external_id == "OPS-1"  # the oldest, found across 3 token pages
        searches = [p for m, p, _ in jira.requests if "/search" in p]
        assert searches == ["/rest/api/3/search/jql"] * 3


def test_labels_have_no_spaces_and_fit_jiras_limit() -> None:
    assert label_of("proactived-abc def") == "proactived-abc_def"
    assert len(label_of("x" * 400)) == 255
