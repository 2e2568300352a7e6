"""The request rate, measured from the simulator's own log, never exceeds the
configured limit (the contract's 10 a second) in any one-second window."""

from __future__ import annotations

import time

from lapor_bridge.outbox import push_outbox
from tests.outbox.helpers import (
    check_delivered_once_in_order,
    queue_many,
    seed_from_simulator,
    until_all_sent,
)


def max_in_one_second(times: list[float]) -> int:
    """The most requests in any window [t, t + 1 s)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_max_in_one_second_counts_a_sliding_window():
    assert max_in_one_second([]) == 0
    assert max_in_one_second([0.0, 0.1, 0.99, 1.0, 1.05]) == 4  # 0.1 .. 1.05
    assert max_in_one_second([0.0, 1.0, 2.0]) == 1
    assert max_in_one_second([0.5] * 11) == 11


def test_the_request_rate_never_exceeds_the_configured_limit_at_the_server(
    sqlite_url, make_simulator, make_runtime
):
    """A push of 30 follow-ups at the contract's 10 requests a second, with
    reconciling GETs between the POSTs, measured by the simulator's own log."""
    sim = make_simulator(initial_reports=40)
    runtime = make_runtime(
        sim,
        sqlite_url,
        rate_limit_per_s=10.0,  # the contract's limit, the settings' default
        push_backoff_base_s=0.05,
        push_backoff_max_s=0.2,
    )
    reports = seed_from_simulator(runtime.engine, sim)
    queue_many(runtime.engine, reports, 30)
    sim.set_faults(drop_after_apply_rate=0.25)
    started = time.time()
    # One client built from the settings, as `push` and `sync` build it, for all runs:
    # the rate limiter lives in the client.
    with runtime.client() as client:
        runs = until_all_sent(
            lambda: push_outbox(runtime.engine, client, settings=runtime.settings),
            runtime.engine,
            give_up_s=60,
        )
    log = [r for r in sim.request_log() if r["t"] >= started]
    # the measurement means something: reconciling GETs between the POSTs, all
    # delivered once (one run or several: how many depends on where the drops fall)
    assert runs and any(r["method"] == "GET" for r in log) and len(log) > 30
    assert check_delivered_once_in_order(runtime.engine, sim)["items"] == 30
    assert max_in_one_second([r["t"] for r in log]) <= 10
