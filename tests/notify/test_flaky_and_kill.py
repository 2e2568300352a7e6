"""1,000 events through a receiver that drops connections (before and after
taking the message) and answers 5xx, half delivered in-process with an
injected clock, half by `cli.py notify` processes SIGKILLed at random points:
nothing lost, and every duplicate that arrived is a recorded repeat after an
uncertain outcome."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lapor_bridge.config import Settings
from lapor_bridge.mapping import load_mapping
from lapor_bridge.notify import record_events
from lapor_bridge.notify.compose import compose_pending
from lapor_bridge.notify.deliver import deliver_pending
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.store import open_store, read_session, write_session
from lapor_bridge.store.tables import Assignment as AssignmentRow
from lapor_bridge.store.tables import AssignmentHistory, NotifyMessage
from tests.conftest import REPO
from tests.notify.conftest import write_mappings
from tests.notify.receivers import Flaky, JsonReceiver
from tests.outbox.helpers import add_report

ROUNDS = 10
PER_ROUND = 100
UNITS = 20
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _round(engine, mapping, escalation, r: int, codes: list[str]) -> list[tuple[int, str]]:
    made = []
    at = T0 + timedelta(minutes=r)
    with write_session(engine) as session:
        for i in range(PER_ROUND):
            tid = 5_000_000 + r * PER_ROUND + i
            unit = codes[i % UNITS]
            add_report(session, tid, opd=None, at=at)
            session.add(
                AssignmentRow(tracking_id=tid, opd=unit, mapped_by="rule:x", assigned_at=at)
            )
            session.add(
                AssignmentHistory(
                    tracking_id=tid, at=at, actor="sync", to_opd=unit, mapped_by="rule:x"
                )
            )
            made.append((tid, unit))
        session.flush()
        record_events(session, now=at, mapping=mapping, escalation=escalation)
    return made


def test_thousand_events_flaky_receiver_and_sigkill(tmp_path, monkeypatch):
    codes = list(load_mapping(REPO / "mappings").units)[:UNITS]
    flaky = Flaky(drop_before=0.1, drop_after=0.1, error_5xx=0.15, seed=3)
    db = tmp_path / "bridge.db"
    url = f"sqlite:///{db}"
    with JsonReceiver(flaky) as rx:
        mappings = write_mappings(tmp_path / "mappings", {c: [rx.url(f"/{c}")] for c in codes})
        mapping = load_mapping(mappings)
        escalation = load_escalation(mappings, mapping)
        settings = Settings(database_url=url, mappings_dir=mappings, notify_backoff_base_s=30)
        engine = open_store(url)
        made: list[tuple[int, str]] = []
        clock = {"t": T0}
        rng = random.Random(5)

        # half in this process, time moved by hand between passes
        for r in range(ROUNDS // 2):
            made += _round(engine, mapping, escalation, r, codes)
            compose_pending(
                engine, now=clock["t"], mapping=mapping, escalation=escalation, settings=settings
            )
            for _ in range(3):
                clock["t"] += timedelta(hours=2)
                deliver_pending(
                    engine,
                    mapping=mapping,
                    escalation=escalation,
                    settings=settings,
                    now_fn=lambda: clock["t"],
                    rng=rng,
                )

        # half by `cli.py notify` processes killed at random points
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_BRIDGE_")}
        env |= {
            "LAPOR_BRIDGE_DATABASE_URL": url,
            "LAPOR_BRIDGE_MAPPINGS_DIR": str(mappings),
            "LAPOR_BRIDGE_NOTIFY_BACKOFF_BASE_S": "0",
            "LAPOR_BRIDGE_NOTIFY_BACKOFF_MAX_S": "0",
        }
        killed_running = 0
        for r in range(ROUNDS // 2, ROUNDS):
            made += _round(engine, mapping, escalation, r, codes)
            proc = subprocess.Popen(
                [sys.executable, str(REPO / "cli.py"), "notify"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + rng.uniform(1.0, 4.0)
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)  # waiting for a real process, not moving test time
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed_running += 1
            proc.wait(timeout=30)

        # the next runs (time moved past leases and backoff) finish the work
        for _ in range(60):
            clock["t"] = max(clock["t"], datetime.now(UTC)) + timedelta(hours=2)
            compose_pending(
                engine, now=clock["t"], mapping=mapping, escalation=escalation, settings=settings
            )
            deliver_pending(
                engine,
                mapping=mapping,
                escalation=escalation,
                settings=settings,
                now_fn=lambda: clock["t"],
                rng=rng,
            )
            with read_session(engine) as session:
                left = session.scalars(
                    select(NotifyMessage.id).where(NotifyMessage.state != "sent")
                ).all()
            if not left:
                break
        received = list(rx.received)
        dropped_after = rx.dropped_after

    assert len(made) == ROUNDS * PER_ROUND
    assert killed_running >= 1, "at least one notify process must be killed while running"
    assert dropped_after > 0, "the receiver must really have lost answers after taking a message"
    with read_session(engine) as session:
        messages = session.scalars(select(NotifyMessage)).all()
    assert {m.state for m in messages} == {"sent"}, Counter(m.state for m in messages)

    # 0 lost: every event's report named in a message that arrived at its unit
    arrived = {(r.path, tid) for r in received for tid in _tracking_ids(r.body)}
    lost = [(tid, unit) for tid, unit in made if (f"/{unit}", tid) not in arrived]
    assert lost == []

    # duplicates only where an outcome was uncertain, each one recorded
    by_message = {(f"/{m.recipient}", m.batch_id): m for m in messages}
    copies = Counter((r.path, r.batch_id) for r in received)
    duplicated = {key: n for key, n in copies.items() if n > 1}
    for key, n in duplicated.items():
        message = by_message[key]
        assert message.repeats >= n - 1, (key, n, message.repeats, message.note)
        assert "uncertain" in (message.note or "")
    repeats = sum(m.repeats for m in messages)

    assert len(duplicated) <= repeats
    assert sum(n - 1 for n in duplicated.values()) <= repeats


def _tracking_ids(body: str) -> set[int]:
    from tests.notify.helpers import ITEM

    return {int(m.group(1)) for line in body.splitlines() if (m := ITEM.match(line))}
