"""Admins hear of a stale sync when cron runs only `sync`: a sync that keeps
failing (token refused, a broken mapping, LAPOR! failing half-way) tells them
once per episode after its outcome is recorded, and a sync that succeeds
again tells them it recovered, once. Real simulator, real SQLite file, a
real json:// receiver on 127.0.0.1; time moves by an injected clock on both
sides."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from lapor_bridge.errors import BridgeError, MappingInvalid, Unauthorized
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import NotifyMessage, SyncRun
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import utcnow
from tests.notify.receivers import Flaky, JsonReceiver
from tests.sync.test_metrics import FailingListing

STALE = "Sinkronisasi belum berhasil:"
RECOVERED = "Sinkronisasi berjalan lagi:"


class Clock:
    """The bridge's clock and LAPOR!'s, moved together."""

    def __init__(self, sim) -> None:
        self.sim, self.offset = sim, timedelta(0)

    def __call__(self):
        return utcnow() + self.offset

    def at(self, minutes: float) -> Clock:
        self.offset = timedelta(minutes=minutes)
        self.sim.set_faults(clock_offset_s=self.offset.total_seconds())
        return self


def _broken_mappings(tmp_path, good):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "units.yaml").write_text("default: NOPE\nunits: []\n")
    (broken / "rules.yaml").write_text("rules: []\n")
    (broken / "sla.yaml").write_text((good / "sla.yaml").read_text())
    return broken


def test_a_failing_sync_tells_admins_once_per_episode_and_when_it_recovers(
    make_simulator, make_runtime, sqlite_url, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    with JsonReceiver() as rx:
        sim = make_simulator(initial_reports=20, seed=3)
        admin = {"admin_notify": rx.url("/admin")}
        rt = make_runtime(sim, sqlite_url, **admin)
        refused_token = make_runtime(sim, sqlite_url, token="salah-token-4b7d19", **admin)
        broken = make_runtime(
            sim,
            sqlite_url,
            mappings_dir=_broken_mappings(tmp_path, rt.settings.mappings_dir),
            **admin,
        )
        half_way = FailingListing(rt.settings)
        clock = Clock(sim)

        run_sync(rt, now=clock.at(0))
        told: list[tuple[int, int]] = []  # (minute, messages so far)
        for minute, runtime, error in (
            (10, refused_token, Unauthorized),  # 401 before the store is opened
            (31, refused_token, Unauthorized),  # 31 min without success: stale
            (36, broken, MappingInvalid),  # refused: no mapping to read
            (41, half_way, Exception),  # fails after the store was opened
            (46, refused_token, Unauthorized),
        ):
            with pytest.raises(error):
                run_sync(runtime, now=clock.at(minute))
            told.append((minute, len(rx.received)))
        run_sync(rt, now=clock.at(50))  # works again
        after_recovery = len(rx.received)
        run_sync(rt, now=clock.at(55))
        quiet_after = len(rx.received)
        # a second episode: failing again for more than 30 minutes
        for minute in (60, 86, 91):
            with pytest.raises(Unauthorized):
                run_sync(refused_token, now=clock.at(minute))
        second = rx.received[quiet_after:]
        received = list(rx.received)

    assert told == [(10, 0), (31, 1), (36, 1), (41, 1), (46, 1)], told
    stale = received[0]
    assert stale.path == "/admin"
    assert stale.title == "lapor-bridge perlu diperiksa: sinkronisasi belum berhasil"
    assert STALE in stale.body and "tidak ada sinkronisasi yang berhasil sejak" in stale.body
    assert after_recovery == 2 and quiet_after == 2
    recovered = received[1]
    assert recovered.title == "lapor-bridge: sinkronisasi berjalan lagi"
    assert RECOVERED in recovered.body and "sinkronisasi berhasil lagi pada" in recovered.body
    assert len(second) == 1 and STALE in second[0].body
    with read_session(rt.engine) as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.kind == "sync")).all()
        states = set(session.scalars(select(NotifyMessage.state)))
    assert states == {"sent"}
    assert [r.outcome for r in runs][:2] == ["ok", "failed"]  # the lifecycle is as it was
    for text in [m.title + m.body for m in received] + [r.getMessage() for r in caplog.records]:
        assert "salah-token-4b7d19" not in text


def test_a_failing_admin_channel_waits_and_never_changes_the_run(
    make_simulator, make_runtime, sqlite_url
):
    flaky = Flaky(error_5xx=1.0)  # the admins' webhook answers 503 ...
    with JsonReceiver(flaky) as rx:
        sim = make_simulator(initial_reports=10, seed=4)
        rt = make_runtime(sim, sqlite_url, admin_notify=rx.url("/admin"))
        refused = make_runtime(
            sim, sqlite_url, admin_notify=rx.url("/admin"), token="salah-token-0000"
        )
        clock = Clock(sim)
        run_sync(rt, now=clock.at(0))
        started = time.monotonic()
        with pytest.raises(Unauthorized):  # the run's own error, nothing else
            run_sync(refused, now=clock.at(31))
        took = time.monotonic() - started
        with read_session(rt.engine) as session:
            (message,) = session.scalars(select(NotifyMessage)).all()
            failed = (message.state, message.attempts, message.next_attempt_at)
        rx.flaky = None  # ... until it is fixed
        with pytest.raises(Unauthorized):
            run_sync(refused, now=clock.at(31.2))  # still backing off: not tried
        attempts_while_waiting = _attempts(rt.engine)
        with pytest.raises(Unauthorized):
            run_sync(refused, now=clock.at(36))  # the next cron slot: delivered
        received = list(rx.received)
    assert took < 10, took
    state, attempts, next_at = failed
    assert state == "failed" and attempts == 1 and next_at is not None
    assert attempts_while_waiting == 1
    assert len(received) == 1 and STALE in received[0].body
    assert _attempts(rt.engine) == 2


def _attempts(engine) -> int:
    with read_session(engine) as session:
        return session.scalars(select(NotifyMessage.attempts)).one()


def test_with_the_store_unusable_a_sync_fails_as_before_and_tells_nobody(
    make_simulator, make_runtime, tmp_path, caplog
):
    """No store, no exactly-once record: the run's one error line (cron mails it)
    and `health` are what says it. Nothing is sent, nothing hangs, and the log
    says why admins were not told."""
    caplog.set_level(logging.WARNING, logger="lapor_bridge.notify")
    bad = tmp_path / "bridge.db"
    bad.write_bytes(b"this is not a database" * 100)
    with JsonReceiver() as rx:
        sim = make_simulator(initial_reports=5)
        rt = make_runtime(sim, f"sqlite:///{bad}", admin_notify=rx.url("/admin"))
        started = time.monotonic()
        for minute in (0, 31, 62):
            with pytest.raises(BridgeError):
                run_sync(rt, now=Clock(sim).at(minute))
        took = time.monotonic() - started
    assert rx.received == []
    assert took < 30, took
    said = [r.getMessage() for r in caplog.records if r.name == "lapor_bridge.notify"]
    assert len(said) == 3 and all("the store cannot be used" in line for line in said), said


def test_recovered_is_told_for_the_newest_episode_and_only_while_it_is_news(engine, tmp_path):
    """`notify` decides it too; an episode that ended more than a day ago (a store
    upgraded to this code) is not told as recovered."""
    from datetime import UTC, datetime

    from lapor_bridge.config import Settings
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.notify.service import run_notifications
    from lapor_bridge.store import write_session
    from tests.notify.conftest import write_mappings

    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)

    def ok_run(at):
        with write_session(engine) as session:
            session.add(SyncRun(kind="sync", started_at=at, finished_at=at, ok=True))

    def notify(at):
        run_notifications(engine, mapping=mapping, settings=settings, now_fn=lambda: at)

    with JsonReceiver() as rx:
        mappings = write_mappings(tmp_path / "mappings", {}, digest_at="23:59")
        mapping = load_mapping(mappings)
        settings = Settings(mappings_dir=mappings, admin_notify=rx.url("/admin"))
        ok_run(now - timedelta(hours=2))
        notify(now)  # stale: no success for 2 h
        ok_run(now + timedelta(hours=1))  # it recovered, but nobody ran notify then
        ok_run(now + timedelta(days=3, minutes=-10))
        notify(now + timedelta(days=3))  # that recovery is old news: nothing
        late = len(rx.received)
        notify(now + timedelta(days=3, hours=1))  # a new episode: 70 min without success
        ok_run(now + timedelta(days=3, hours=2))
        notify(now + timedelta(days=3, hours=2, minutes=5))  # its end, once
        notify(now + timedelta(days=3, hours=2, minutes=10))
        received = list(rx.received)
    assert late == 1
    assert [STALE in m.body for m in received] == [True, True, False]
    assert [RECOVERED in m.body for m in received] == [False, False, True]
