"""A failing desk (local Jira): 5xx, 429 with Retry-After, timeouts after the desk already acted, refused
connections, slow answers — nothing lost, nothing duplicated, ordered per problem, other problems not blocked."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from proactived.clock import ManualClock
from proactived.sinks.stage import TicketStage
from proactived.ticket_actions import TicketKind
from tests.desks.jira import API_TOKEN, EMAIL, FakeJira, _handler, adf_text
from tests.process import free_port
from tests.ticketing import action, drain, enqueue, outbox_rows, ticket_runtime

OPEN, UPDATE, RESOLVE = TicketKind.OPEN, TicketKind.UPDATE, TicketKind.RESOLVE


class SlowAfterActing(FakeJira):
    """Does the work, then answers late: the classic 'did my create go through?' of a timeout."""

    slow_after = 0

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> Any:
        answer = super().handle(method, path, query, headers, body)
        with self.lock:
            slow, self.slow_after = self.slow_after > 0, max(0, self.slow_after - 1)
        if slow:
            time.sleep(1.5)
        return answer


def serve(fake: FakeJira, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sink(url: str) -> dict[str, Any]:
    return {"type": "jira", "url": url, "flavor": "cloud", "project": "OPS", "email": EMAIL, "api_token": API_TOKEN,
            "timeout": "1s", "backoff": "10s", "max_backoff": "1m", "note_interval": "0s"}  # fmt: skip


def settle(stage: TicketStage, clock: ManualClock, rounds: int = 40) -> None:
    """Run the stage, let backoff time pass, again — like the daemon over a few minutes."""
    for _ in range(rounds):
        drain(stage)
        clock.advance(timedelta(seconds=15))


def test_every_kind_of_desk_failure_ends_with_one_correct_ticket_per_problem_in_order(
    tmp_path: Path, clock: ManualClock
) -> None:
    port = free_port()
    fake = SlowAfterActing()
    fake.url = f"http://127.0.0.1:{port}"
    problems = [f"p{n}" for n in range(6)]
    with ticket_runtime(tmp_path, {"desk": sink(fake.url)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, p) for p in problems], clock.now())
        assert drain(stage) >= 1  # connection refused: every row goes back to wait, none is lost
        assert all(r.done_at is None for r in outbox_rows(rt))
        server = serve(fake, port)
        try:
            fake.fail_next(2, 503)
            fake.fail_next(1, 500)
            fake.fail_next(1, 429, {"Retry-After": "30"})
            fake.slow_after = 2  # the next two answers arrive after the client gave up
            settle(stage, clock)
            enqueue(rt.store, [action(UPDATE, p, reason=f"{p} update 1") for p in problems], clock.now())
            fake.fail_next(3, 503)
            enqueue(rt.store, [action(RESOLVE, p) for p in problems], clock.now())
            fake.delay = 0.3  # slow but within the timeout
            settle(stage, clock)
        finally:
            server.shutdown()
            server.server_close()
        assert all(r.done_at is not None and not r.failed for r in outbox_rows(rt))
    labels = sorted(label for i in fake.issues.values() for label in i.fields["labels"] if label != "proactived")
    assert labels == sorted(f"proactived-{p}" for p in problems)  # one ticket per problem, no duplicate
    for issue in fake.issues.values():
        assert issue.status == "Done"
        notes = [adf_text(c) for c in issue.comments]
        assert "update 1" in notes[0] and "Recovered" in notes[-1], notes  # the update landed before the resolve


def test_a_desk_that_keeps_failing_for_one_problem_does_not_hold_back_the_others(
    tmp_path: Path, clock: ManualClock
) -> None:
    class RefusesOne(FakeJira):
        def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> Any:
            if method == "POST" and body and "proactived-stuck" in str(body):
                from tests.desks.jira import Problem

                raise Problem(503, {"errorMessages": ["busy"], "errors": {}})
            return super().handle(method, path, query, headers, body)

    fake = RefusesOne()
    port = free_port()
    fake.url = f"http://127.0.0.1:{port}"
    server = serve(fake, port)
    try:
        with ticket_runtime(tmp_path, {"desk": sink(fake.url)}, clock) as (rt, stage):
            enqueue(rt.store, [action(OPEN, "stuck")] + [action(OPEN, f"ok{n}") for n in range(5)], clock.now())
            settle(stage, clock, rounds=5)
            pending = [r.key for r in outbox_rows(rt) if r.done_at is None]
    finally:
        server.shutdown()
        server.server_close()
    assert pending == ["stuck"]  # still waiting, never dropped
    assert len(fake.issues) == 5


def test_a_desk_answering_after_ten_seconds_does_not_stall_the_daemon_beyond_the_timeout(
    tmp_path: Path, clock: ManualClock
) -> None:
    fake = FakeJira()
    port = free_port()
    fake.url = f"http://127.0.0.1:{port}"
    server = serve(fake, port)
    fake.delay = 10.0
    try:
        with ticket_runtime(tmp_path, {"desk": sink(fake.url)}, clock) as (rt, stage):
            enqueue(rt.store, [action(OPEN, "p1")], clock.now())
            started = time.monotonic()
            drain(stage)
            assert time.monotonic() - started < 5  # one 1 s timeout per try, not 10 s
            assert [r.done_at for r in outbox_rows(rt)] == [None]
            fake.delay = 0
            settle(stage, clock, rounds=5)
            assert [r.done_at is not None for r in outbox_rows(rt)] == [True]
    finally:
        server.shutdown()
        server.server_close()
    assert len(fake.issues) == 1
