"""When a run pauses for a short Retry-After: a single failure holds back only its
item, failures in a row pause the run. A scripted client, the clock moved by the
run's own (injected) sleep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from lapor_bridge.errors import Unavailable
from lapor_bridge.outbox import push_outbox
from lapor_bridge.outbox.push import PushSummary
from lapor_bridge.store import write_session
from tests.outbox.helpers import NOW, add_report, items, respond

REPORTS = (201, 202, 203, 204)


class ScriptedLapor:
    """LAPOR! as a list of events: each POST either lands (kept, listed afterwards)
    or fails with a 5xx that carries a Retry-After; `clock` moves only in `sleep`."""

    def __init__(self, fail_posts: set[int], retry_after_s: float = 1.0) -> None:
        self.fail_posts = fail_posts  # which POSTs fail, counted from 1
        self.retry_after_s = retry_after_s
        self.now = NOW
        self.events: list[str] = []
        self.stored: dict[int, list[dict[str, Any]]] = {}
        self._posts = 0

    def list_followups(self, tracking_id: int) -> list[dict[str, Any]]:
        self.events.append(f"GET {tracking_id}")
        return list(self.stored.get(tracking_id, []))

    def post_followup(
        self,
        tracking_id: int,
        body: dict[str, Any],
        *,
        fence: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        if fence is not None:
            fence()
        self._posts += 1
        if self._posts in self.fail_posts:
            self.events.append(f"POST {tracking_id} -> 503")
            raise Unavailable("HTTP 503", maybe_sent=True, retry_after=self.retry_after_s)
        self.events.append(f"POST {tracking_id}")
        answer = {**body, "id": 1000 + self._posts}
        self.stored.setdefault(tracking_id, []).append(answer)
        return answer

    def sleep(self, seconds: float) -> None:
        self.events.append(f"sleep {seconds:g}")
        self.now += timedelta(seconds=seconds)

    def clock(self) -> datetime:
        return self.now


@pytest.fixture
def queued(sqlite_engine: Engine) -> Engine:
    """One follow-up for each of four reports, written in report order."""
    with write_session(sqlite_engine) as session:
        for tid in REPORTS:
            add_report(session, tid)
    for tid in REPORTS:
        respond(sqlite_engine, tid, f"Jawaban untuk {tid}")
    return sqlite_engine


def push(engine: Engine, lapor: ScriptedLapor) -> PushSummary:
    return push_outbox(
        engine,
        lapor,
        lease_s=30,
        max_attempts=5,
        backoff_base_s=60.0,
        backoff_max_s=60.0,
        max_pause_s=5.0,
        now_fn=lapor.clock,
        sleep=lapor.sleep,
    )


def test_a_single_failure_holds_back_its_item_not_the_run(queued):
    lapor = ScriptedLapor(fail_posts={1})
    summary = push(queued, lapor)
    assert lapor.events == [
        "POST 201 -> 503",
        "POST 202",  # the others go on at once
        "POST 203",
        "POST 204",
        "sleep 1",  # nothing else due: wait for the held-back item, within this run
        "GET 201",  # it may have landed: listed before it is posted again
        "POST 201",
    ]
    assert (summary.sent, summary.failed, summary.due_left, summary.stopped) == (4, 1, 0, None)
    assert summary.paused_s == 1.0
    assert all(i.state == "sent" for i in items(queued))


def test_the_held_back_item_goes_out_as_soon_as_it_is_due(queued):
    lapor = ScriptedLapor(fail_posts={1}, retry_after_s=0.0)
    summary = push(queued, lapor)
    assert lapor.events == ["POST 201 -> 503", "GET 201", "POST 201", "POST 202", "POST 203",
                            "POST 204"]  # fmt: skip
    assert (summary.sent, summary.paused_s) == (4, 0.0)


def test_failures_in_a_row_pause_the_run(queued):
    lapor = ScriptedLapor(fail_posts={1, 2})
    summary = push(queued, lapor)
    assert lapor.events[:4] == [
        "POST 201 -> 503",
        "POST 202 -> 503",
        "sleep 1",  # a second failure in a row: LAPOR! may be down, the run waits
        "GET 201",
    ]
    assert lapor.events.count("sleep 1") == 1
    assert (summary.sent, summary.failed, summary.due_left) == (4, 2, 0)
    assert all(i.state == "sent" for i in items(queued))


def test_a_retry_after_past_the_pause_limit_still_stops_the_run(queued):
    lapor = ScriptedLapor(fail_posts={1}, retry_after_s=60.0)
    summary = push(queued, lapor)
    assert lapor.events == ["POST 201 -> 503"]
    assert summary.stopped and "asked to wait" in summary.stopped
    assert summary.retry_at == NOW + timedelta(seconds=60)


def test_a_held_back_item_is_waited_for_once_on_a_clock_that_does_not_move(queued):
    lapor = ScriptedLapor(fail_posts={1})
    summary = push_outbox(
        queued, lapor, lease_s=30, max_pause_s=5.0, now_fn=lambda: NOW, sleep=lambda _s: None
    )
    assert lapor.events == ["POST 201 -> 503", "POST 202", "POST 203", "POST 204"]
    assert (summary.sent, summary.due_left) == (3, 0)  # the item waits for the next run
