"""A push worker frozen past its lease (SIGSTOP: a swapped VM, a GC pause) while
another worker takes its items over: when it wakes it posts nothing it no longer
holds. Real processes, a real simulator, a short lease instead of long sleeps."""

from __future__ import annotations

import random
import signal
import time

import pytest

from lapor_bridge.config import Settings
from lapor_bridge.outbox import push_outbox
from lapor_bridge.store import open_store
from lapor_bridge.upstream.client import LaporClient, RequestRetryPolicy
from tests.outbox.helpers import (
    check_delivered_once_in_order,
    items,
    queue_many,
    seed_from_simulator,
)
from tests.outbox.test_kill import push_env, start_push

LEASE_S = 2.5  # the worker processes: > max_retry_elapsed 0.5 + connect 0.5 + read 1.0
FREEZES = 20


def posts(sim) -> int:
    return sum(1 for r in sim.request_log() if r["method"] == "POST")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_worker_frozen_past_its_lease_never_posts_twice(make_simulator, pg_url):
    """On PostgreSQL, the engine for several workers: a worker frozen inside a
    transaction holds row locks the others skip. (A SQLite writer frozen inside its
    transaction holds the database's one write lock: everyone waits for it.)"""
    rng = random.Random()
    sim = make_simulator(initial_reports=40)
    url = pg_url
    engine = open_store(url)
    reports = seed_from_simulator(engine, sim)
    queue_many(engine, reports, 200)
    env = push_env(sim, url) | {"LAPOR_BRIDGE_RATE_LIMIT_PER_S": "8"}  # mostly in the limiter
    # The other worker: this process, the same lease, a client of its own.
    other = LaporClient(
        sim.url,
        sim.config.token,
        timeout=(0.5, 1.0),
        retry=RequestRetryPolicy(max_attempts=3, max_elapsed_s=0.5, backoff_base_s=0.01),
        rate_limit_per_s=20,
    )
    settings = Settings.model_construct(push_lease_s=LEASE_S)

    frozen = taken_over = 0
    worker = start_push(env)
    try:
        while frozen < FREEZES:
            if worker.poll() is not None:  # it ran out of due items: start another
                assert worker.returncode == 0, worker.communicate()[1]
                worker = start_push(env)
            before = posts(sim)
            deadline = time.monotonic() + 20
            while posts(sim) == before and worker.poll() is None:
                assert time.monotonic() < deadline, "the worker never posted"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))  # anywhere: the limiter, a POST, a commit
            if worker.poll() is not None:
                continue
            worker.send_signal(signal.SIGSTOP)
            frozen += 1
            time.sleep(LEASE_S + 0.3)  # its lease runs out while it sleeps
            summary = push_outbox(
                engine,
                other,
                settings=settings,
                lease_s=LEASE_S,
                deadline=time.monotonic() + 0.4,
                worker="other",
            )
            taken_over += summary.claimed
            worker.send_signal(signal.SIGCONT)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGCONT)
        worker.communicate(timeout=60)
    assert taken_over >= FREEZES

    time.sleep(LEASE_S + 0.2)  # whatever a last freeze left behind
    for _ in range(20):
        push_outbox(engine, other, settings=settings, lease_s=LEASE_S)
        if all(i.state == "sent" for i in items(engine)):
            break
        time.sleep(0.3)
    check_delivered_once_in_order(engine, sim)  # 0 duplicates, 0 lost, order kept
    engine.dispose()
