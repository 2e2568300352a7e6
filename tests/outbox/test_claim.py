"""Claiming: one item per report at a time, in the order written, with a lease;
concurrent workers never get the same item (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import text

from lapor_bridge.outbox import cancel_item
from lapor_bridge.outbox.claim import claim_next, finish, renew_lease
from lapor_bridge.outbox.respond import record_tindak_lanjut
from lapor_bridge.outbox.states import (
    Attempt,
    Delivered,
    Final,
    PushRetryPolicy,
    Transient,
    next_state,
)
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import TindakLanjut
from tests.outbox.helpers import NOW, add_report


def queue(engine, plan: list[int]) -> list[int]:
    """Record one follow-up per entry of `plan` (a tracking id each); their ids."""
    with write_session(engine) as session:
        for tracking_id in sorted(set(plan)):
            add_report(session, tracking_id)
        ids = []
        for n, tracking_id in enumerate(plan):
            item = record_tindak_lanjut(
                session, tracking_id, status="DIPROSES", content=f"jawaban {n}", now=NOW
            )
            ids.append(item.id)
    return ids


def settle(engine, claimed, worker, outcome, now=NOW):
    attempt = Attempt(claimed.state_before, claimed.attempts, claimed.uncertain)
    transition = next_state(
        attempt, outcome, now=now, policy=PushRetryPolicy(max_attempts=3), rng=random.Random(1)
    )
    assert finish(engine, claimed, worker=worker, transition=transition)
    return transition


def test_items_of_a_report_go_one_at_a_time_in_the_order_written(engine):
    a1, b1, a2, a3 = queue(engine, [1, 2, 1, 1])
    first = claim_next(engine, worker="w", now=NOW, lease_s=60)
    second = claim_next(engine, worker="w", now=NOW, lease_s=60)
    assert (first.id, second.id) == (a1, b1)
    assert claim_next(engine, worker="w", now=NOW, lease_s=60) is None  # a2 waits for a1
    settle(engine, first, "w", Delivered(10))
    third = claim_next(engine, worker="w", now=NOW, lease_s=60)
    assert third.id == a2
    settle(engine, third, "w", Delivered(11))
    assert claim_next(engine, worker="w", now=NOW, lease_s=60).id == a3


def test_a_failed_item_holds_back_its_report_until_due(engine):
    a1, a2, b1 = queue(engine, [1, 1, 2])
    claimed = claim_next(engine, worker="w", now=NOW, lease_s=60)
    t = settle(engine, claimed, "w", Transient("HTTP 502", maybe_sent=True))
    assert claim_next(engine, worker="w", now=NOW, lease_s=60).id == b1
    assert claim_next(engine, worker="w", now=NOW, lease_s=60) is None
    again = claim_next(engine, worker="w", now=t.next_attempt_at, lease_s=60)
    assert again.id == a1 and again.uncertain and again.attempts == 1
    assert again.state_before == "failed"
    del a2


def test_a_dead_item_holds_back_later_items_until_retried_or_cancelled(engine):
    a1, a2 = queue(engine, [1, 1])
    claimed = claim_next(engine, worker="w", now=NOW, lease_s=60)
    settle(engine, claimed, "w", Final("409 closed", 409))
    later = NOW + timedelta(days=1)
    assert claim_next(engine, worker="w", now=later, lease_s=60) is None
    with write_session(engine) as session:
        cancel_item(session, a1, now=later, by="admin", reason="answered by phone")
    assert claim_next(engine, worker="w", now=later, lease_s=60).id == a2


def test_an_expired_lease_is_reclaimed_as_uncertain_and_a_live_one_is_not(engine):
    (a1,) = queue(engine, [1])
    crashed = claim_next(engine, worker="crashed", now=NOW, lease_s=60)
    assert claim_next(engine, worker="w", now=NOW + timedelta(seconds=59), lease_s=60) is None
    taken = claim_next(engine, worker="w", now=NOW + timedelta(seconds=61), lease_s=60)
    assert taken.id == a1 and taken.uncertain and taken.state_before == "sending"
    # the crashed worker's late outcome is not recorded: the item is no longer its own
    attempt = Attempt(crashed.state_before, crashed.attempts, crashed.uncertain)
    transition = next_state(
        attempt, Delivered(5), now=NOW, policy=PushRetryPolicy(), rng=random.Random(1)
    )
    assert not finish(engine, crashed, worker="crashed", transition=transition)
    assert not renew_lease(engine, crashed, worker="crashed", now=NOW, lease_s=60)
    assert renew_lease(engine, taken, worker="w", now=NOW + timedelta(seconds=70), lease_s=60)


def concurrent_claims(engine, workers: int, per_report: dict[int, list[int]]):
    """Workers claim and settle until nothing is left; returns the claims in order."""
    claims: list[tuple[str, int]] = []
    sending: dict[int, str] = {}  # tracking_id -> worker now holding an item of it
    lock = threading.Lock()
    overlaps: list[int] = []
    report_of = {i: t for t, ids in per_report.items() for i in ids}

    def work(name: str) -> None:
        while True:
            claimed = claim_next(engine, worker=name, now=NOW, lease_s=600)
            if claimed is None:
                return
            with lock:
                claims.append((name, claimed.id))
                if claimed.tracking_id in sending:
                    overlaps.append(claimed.tracking_id)
                sending[claimed.tracking_id] = name
            time.sleep(0.01)  # "posting": another worker must not get this report now
            with lock:
                sending.pop(report_of[claimed.id], None)
            settle(engine, claimed, name, Delivered(claimed.id))

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return claims, overlaps


def test_concurrent_workers_never_claim_the_same_item_and_keep_report_order(engine):
    plan = [t for t in range(1, 13) for _ in range(4)]  # 12 reports x 4 items each
    ids = queue(engine, plan)
    per_report: dict[int, list[int]] = defaultdict(list)
    for tracking_id, item_id in zip(plan, ids, strict=True):
        per_report[tracking_id].append(item_id)
    claims, overlaps = concurrent_claims(engine, 4, per_report)
    claimed_ids = [i for _, i in claims]
    assert sorted(claimed_ids) == sorted(ids)  # each exactly once
    assert len({w for w, _ in claims}) > 1  # they really ran side by side
    position = {i: n for n, i in enumerate(claimed_ids)}
    for item_ids in per_report.values():
        assert sorted(item_ids, key=position.get) == item_ids
    assert not overlaps


@pytest.mark.postgres
def test_postgres_skips_a_row_another_worker_has_locked_instead_of_waiting(pg_url):
    engine = open_store(pg_url)
    try:
        a1, b1 = queue(engine, [1, 2])
        with engine.connect() as other:
            tx = other.begin()
            other.execute(
                text("SELECT id FROM tindak_lanjut WHERE id = :id FOR UPDATE"), {"id": a1}
            )
            claimed = claim_next(engine, worker="w", now=NOW, lease_s=60)  # must not block
            assert claimed.id == b1
            tx.rollback()
        assert claim_next(engine, worker="w", now=NOW, lease_s=60).id == a1
    finally:
        engine.dispose()


def test_state_check_constraint_refuses_unknown_states(engine):
    (a1,) = queue(engine, [1])
    with (
        pytest.raises(Exception, match=r"ck_tindak_lanjut_state|CHECK constraint"),
        write_session(engine) as session,
    ):
        item = session.get(TindakLanjut, a1)
        item.state = "lost"
        session.add(item)
