"""Time you can trust: window ends from the upstream's clock, positions never past
the window end, a checkpoint ahead of now repaired (simulator over real HTTP;
the host's clock is injected, the simulator's is offset by a fault)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lapor_bridge.simulator import Faults
from lapor_bridge.status import bridge_status
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SyncCheckpoint
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import utcnow
from tests.sync.helpers import next_second, store_versions, truth_versions

DAY = timedelta(days=1)


def checkpoint(engine) -> SyncCheckpoint:
    with read_session(engine) as session:
        row = session.get(SyncCheckpoint, (3327, "incremental"))
    assert row is not None
    return row


def test_host_clock_a_day_ahead_then_fixed_misses_nothing(make_simulator, make_runtime, store_url):
    sim = make_simulator(initial_reports=80)
    rt = make_runtime(sim, store_url, page_limit=50)
    run_sync(rt, push=False, now=lambda: utcnow() + DAY)  # NTP step, a resumed VM
    assert checkpoint(rt.engine).high_water <= utcnow() + timedelta(seconds=5)
    for _ in range(3):  # the clock is fixed; cron goes on, LAPOR! changes
        sim.generate_changes(40)
        next_second()
        run_sync(rt, push=False)
    assert store_versions(rt.engine) == truth_versions(sim)


@pytest.mark.parametrize("offset_s", [900, -900], ids=["upstream-ahead", "upstream-behind"])
def test_upstream_clock_15_minutes_off_misses_nothing(
    make_simulator, make_runtime, sqlite_url, offset_s
):
    sim = make_simulator(initial_reports=60, faults=Faults(clock_offset_s=offset_s))
    rt = make_runtime(sim, sqlite_url, page_limit=50)
    run_sync(rt, push=False)
    for _ in range(2):
        sim.generate_changes(30)
        next_second()
        run_sync(rt, push=False)
        assert store_versions(rt.engine) == truth_versions(sim)


def test_checkpoint_ahead_is_reported_once_and_repaired(make_simulator, make_runtime, sqlite_url):
    sim = make_simulator(initial_reports=60)
    rt = make_runtime(sim, sqlite_url, page_limit=50)
    run_sync(rt, push=False)
    with write_session(rt.engine) as session:  # as an older bridge left it under a wrong clock
        session.get(SyncCheckpoint, (3327, "incremental")).high_water = utcnow() + DAY
    sim.generate_changes(40)
    next_second()

    repaired = run_sync(rt, push=False)
    assert repaired.checkpoint_repair and "ahead of the current time" in repaired.checkpoint_repair
    assert store_versions(rt.engine) == truth_versions(sim)
    assert checkpoint(rt.engine).high_water <= utcnow() + timedelta(seconds=5)
    status = bridge_status(rt.engine)["checkpoint_repair"]
    assert status and "ahead of the current time" in status["what"]

    sim.generate_changes(20)
    next_second()
    later = run_sync(rt, push=False)  # reported once: the repaired checkpoint is trusted again
    assert later.checkpoint_repair is None
    assert store_versions(rt.engine) == truth_versions(sim)


def test_records_beyond_the_window_end_are_kept_without_moving_the_checkpoint(
    make_simulator, make_runtime, sqlite_url
):
    sim = make_simulator(initial_reports=5, faults=Faults(ignore_updated_to=True))
    ids = [r["tracking_id"] for r in sim.truth()][:2]
    for tracking_id, ahead in zip(ids, (DAY, 2 * DAY), strict=True):  # listed at once
        sim.update_report(tracking_id, updated_at=(utcnow() + ahead).isoformat(), _visible_after=0)
    rt = make_runtime(sim, sqlite_url, page_limit=1)  # the first future record ends a page
    summary = run_sync(rt, push=False)
    assert store_versions(rt.engine) == truth_versions(sim)  # kept (idempotent upsert)
    assert summary.fetched == 5
    assert checkpoint(rt.engine).high_water <= utcnow() + timedelta(seconds=5)


def test_window_end_and_position_rules():
    from lapor_bridge.sync.window import position_after_page, window_end

    now = utcnow().replace(microsecond=0)
    assert window_end(now, None) == now
    assert window_end(now, now - timedelta(minutes=15)) == now - timedelta(minutes=15)
    assert window_end(now, now + timedelta(minutes=15)) == now + timedelta(minutes=15)
    assert window_end(now, now + DAY) == now + timedelta(hours=1)  # a Date far ahead: not believed
    end = now
    assert position_after_page(now - DAY, now + DAY, end) == end
    assert position_after_page(now - DAY, now - timedelta(hours=1), end) == now - timedelta(hours=1)
