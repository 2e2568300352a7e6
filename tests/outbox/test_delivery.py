"""1,000 follow-ups through a faulty LAPOR! over real HTTP: 0 duplicates, 0 losses,
per-report order, compared with what the simulator stored."""

from __future__ import annotations

from collections import Counter

import pytest

from lapor_bridge.outbox import push_outbox
from tests.outbox.helpers import (
    check_delivered_once_in_order,
    make_client,
    queue_many,
    seed_from_simulator,
    until_all_sent,
)


@pytest.mark.slow
def test_a_thousand_follow_ups_through_faults_arrive_once_each_in_order(
    sqlite_engine, make_simulator
):
    sim = make_simulator(initial_reports=150)
    reports = seed_from_simulator(sqlite_engine, sim)
    assert len(reports) >= 100
    queue_many(sqlite_engine, reports, 1000)
    sim.set_faults(
        drop_after_apply_rate=0.05,  # stored, then the connection dropped: uncertain
        error_rate=0.01,  # bursts of 5xx, 503 sometimes with Retry-After
        error_burst_len=3,
        rate_limit_per_s=5.0,  # 429 + Retry-After...
    )

    def push(client):
        return push_outbox(
            sqlite_engine,
            client,
            lease_s=30,
            max_attempts=50,
            backoff_base_s=0.05,
            backoff_max_s=0.5,
            max_pause_s=2.0,
        )

    # ...certain for a client without a limiter: the first run stops at a 429...
    with make_client(sim, rate_limit_per_s=None, max_retry_after_s=0.0) as client:
        runs = [push(client)]
    # ...then LAPOR!'s limit above this box's pace and the client just under it
    sim.set_faults(rate_limit_per_s=200.0)
    with make_client(sim, rate_limit_per_s=180.0, max_retry_after_s=0.0) as client:
        runs += until_all_sent(lambda: push(client), sqlite_engine)
    faults = Counter(r["fault"] for r in sim.request_log() if r["fault"])
    assert faults["drop_after_apply"] >= 10 and faults["error_burst"] >= 5
    assert faults["rate_limit"] >= 1
    assert runs[0].stopped and "429" in runs[0].stopped  # Retry-After stops the run
    assert sum(r.found_upstream for r in runs) >= 10  # reconciled, not re-posted
    assert check_delivered_once_in_order(sqlite_engine, sim) == {
        "items": 1000,
        "reports": len(reports),
    }
