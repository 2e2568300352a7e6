"""Two push workers at once on PostgreSQL (FOR UPDATE SKIP LOCKED) against the
simulator: every item posted once, in order, and both workers did real work."""

from __future__ import annotations

import threading

import pytest

from lapor_bridge.outbox import push_outbox
from lapor_bridge.store import open_store
from tests.outbox.helpers import (
    check_delivered_once_in_order,
    make_client,
    queue_many,
    seed_from_simulator,
    until_all_sent,
)


@pytest.mark.postgres
def test_two_workers_on_postgres_never_post_the_same_item(pg_url, make_simulator):
    engine = open_store(pg_url)
    try:
        sim = make_simulator(initial_reports=60)
        reports = seed_from_simulator(engine, sim)
        queue_many(engine, reports, 240)
        sim.set_faults(drop_after_apply_rate=0.05, error_rate=0.02)
        results: dict[str, list] = {}

        def worker(name: str) -> None:
            with make_client(sim) as client:

                def run():
                    return push_outbox(
                        engine,
                        client,
                        worker=name,
                        lease_s=30,
                        max_attempts=50,
                        backoff_base_s=0.05,
                        backoff_max_s=0.5,
                    )

                results[name] = until_all_sent(run, engine, give_up_s=90)

        threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = {name: sum(r.claimed for r in runs) for name, runs in results.items()}
        assert all(n >= 20 for n in claimed.values()), claimed  # both really pushed
        assert sum(claimed.values()) >= 240
        assert check_delivered_once_in_order(engine, sim)["items"] == 240
    finally:
        engine.dispose()
