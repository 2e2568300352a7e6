"""Over a simulator run with changes, real receivers (HTTP json:// and SMTP
mailto://) on 127.0.0.1, time moved by an injected clock: each newly assigned
report is told once to its unit and to no other; at-risk and breach once per
clock and level; a breach escalates as escalation.yaml says; nothing secret
or private arrives anywhere or is stored."""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import MetaData, select, text

from lapor_bridge.mapping import load_mapping
from lapor_bridge.mapping.commands import assign
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import AssignmentHistory, NotifyEvent, NotifyMessage, ReportRow
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import utcnow
from tests.conftest import REPO
from tests.notify.conftest import write_mappings
from tests.notify.helpers import (
    MOVED_AWAY,
    NEARLY_DUE,
    NEW,
    OVERDUE,
    STILL_OVERDUE,
    sections,
)
from tests.notify.receivers import JsonReceiver, SmtpReceiver

SMTP_SECRET = "smtp-rahasia-9f3b2c"


def test_simulator_run_tells_each_unit_once_and_escalates(
    make_simulator, make_runtime, store_url, mappings_dir, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SMTP_PASS", SMTP_SECRET)
    units = list(load_mapping(REPO / "mappings").units)
    with JsonReceiver() as rx, SmtpReceiver() as smtp:
        notify = {code: [rx.url(f"/{code}")] for code in units}
        notify["DPUPR"].append(smtp.url("pengaduan.dpupr@pemalangkab.go.id"))
        heads = {code: [rx.url(f"/{code}/head")] for code in units}
        write_mappings(mappings_dir, notify, heads, recipients={"bupati": [rx.url("/bupati")]})
        sim = make_simulator(initial_reports=150, seed=11)
        rt = make_runtime(sim, store_url, mappings_dir=mappings_dir)
        offset = {"d": timedelta(0)}

        def clock():
            return utcnow() + offset["d"]

        def move(by: timedelta) -> None:  # time moves on both sides: LAPOR!'s clock ends windows
            offset["d"] = by
            sim.set_faults(clock_offset_s=by.total_seconds())

        run_sync(rt, now=clock)  # the first sync of a new store: summaries only
        first_sync_history = _max_history(rt.engine)
        after_first = len(rx.received)
        assert after_first > 0
        for message in rx.received:
            assert not sections(message.body), "the first sync lists no report"

        move(timedelta(seconds=2))
        sim.generate_changes(60)
        run_sync(rt, now=clock)
        with read_session(rt.engine) as session:
            moved_id = session.scalars(
                select(AssignmentHistory.tracking_id)
                .where(AssignmentHistory.to_opd != "DINSOS")
                .order_by(AssignmentHistory.id.desc())
            ).first()
        change = assign(rt, moved_id, "DINSOS", reason="uji: dipindah oleh admin", by="tester")
        for hours in (19, 25, 49, 49):  # at risk, breached, still breached 24 h later, again
            move(timedelta(hours=hours, seconds=2))
            run_sync(rt, now=clock)

        received = list(rx.received)
        mails = smtp.bodies()

    # --- every report newly assigned after the first sync: one message to its unit
    with read_session(rt.engine) as session:
        history = session.execute(
            select(AssignmentHistory).where(AssignmentHistory.id > first_sync_history)
        ).scalars()
        expected_new: dict[int, str] = {}
        expected_moved: dict[int, str] = {}
        for row in history:
            if row.from_opd != row.to_opd:
                expected_new[row.tracking_id] = row.to_opd  # the newest assignment wins
                if row.from_opd:
                    expected_moved[row.tracking_id] = row.from_opd
    assert len(expected_new) >= 5, "the changes must assign new reports"
    told_new: dict[int, list[str]] = defaultdict(list)
    told_moved: dict[int, list[str]] = defaultdict(list)
    per_clock: Counter[tuple[str, str, int, str | None]] = Counter()
    for message in received:
        for heading, items in sections(message.body).items():
            for tid, policy in items:
                if heading == NEW:
                    told_new[tid].append(message.path)
                elif heading == MOVED_AWAY:
                    told_moved[tid].append(message.path)
                elif heading in (NEARLY_DUE, OVERDUE, STILL_OVERDUE):
                    per_clock[(message.path, heading, tid, policy)] += 1
    for tid, unit in expected_new.items():
        paths = told_new[tid]
        assert paths and paths[-1] == f"/{unit}", (tid, unit, paths)
    for tid, paths in told_new.items():
        assert len(paths) == len(set(paths)), f"report {tid} told twice to one unit: {paths}"
    assert told_new[moved_id][-1] == "/DINSOS" and change.to_opd == "DINSOS"
    assert told_moved[moved_id] == [f"/{change.from_opd}"]

    # --- at-risk and breach: once per clock and level, breach escalated as configured
    assert per_clock, "time moved past at-risk and due times: clock messages expected"
    doubles = {key: n for key, n in per_clock.items() if n > 1}
    assert not doubles, f"told more than once: {doubles}"
    kinds = Counter(heading for (_, heading, _, _) in per_clock)
    assert kinds[NEARLY_DUE] and kinds[OVERDUE] and kinds[STILL_OVERDUE]
    overdue_units = {
        (tid, pol) for (path, h, tid, pol) in per_clock if h == OVERDUE and "/head" not in path
    }
    overdue_heads = {
        (tid, pol) for (path, h, tid, pol) in per_clock if h == OVERDUE and path.endswith("/head")
    }
    assert overdue_units == overdue_heads, "breached: the unit and its head"
    bupati = {tid for (path, h, tid, _) in per_clock if path == "/bupati"}
    coordinator = {
        tid for (path, h, tid, _) in per_clock if path == "/KOORDINATOR" and h == STILL_OVERDUE
    }
    assert bupati and bupati == coordinator, "24 h later: the coordinator and the Regent's office"
    assert {h for (path, h, _, _) in per_clock if path == "/bupati"} == {STILL_OVERDUE}
    with read_session(rt.engine) as session:
        escalated = set(
            session.scalars(
                select(NotifyEvent.tracking_id).where(
                    NotifyEvent.kind == "escalated",
                    NotifyEvent.recipient == "@bupati",
                    NotifyEvent.quiet.is_(False),
                )
            )
        )
        assert escalated == bupati
        states = Counter(session.scalars(select(NotifyMessage.state)))
    assert set(states) == {"sent"}, states
    # the last run at the same time decided nothing new
    assert len(received) == len({(m.path, m.batch_id) for m in received})

    # --- e-mail arrived too, with the SMTP password taken from the environment
    assert mails and all(to == "pengaduan.dpupr@pemalangkab.go.id" for to, _, _ in mails)
    assert smtp.logins and all(pw == SMTP_SECRET for _, pw in smtp.logins)
    assert any("Laporan baru" in body for _, _, body in mails)

    # --- a grep over messages, logs and stored rows
    with read_session(rt.engine) as session:
        private = session.execute(
            select(ReportRow.title, ReportRow.content, ReportRow.reporter_name, ReportRow.privacy)
        ).all()
    secret_words = {sim.config.token, SMTP_SECRET}
    public_text = "\n".join(f"{t}\n{c}" for t, c, _, p in private if p != "RAHASIA")
    private_words = {t for t, _, _, p in private if p == "RAHASIA"} | {
        c for _, c, _, p in private if p == "RAHASIA"
    }
    private_words |= {name for _, _, name, _ in private if name}
    # (generated texts repeat: a RAHASIA title may also be a public report's title)
    private_words = {w for w in private_words if w not in public_text}
    assert private_words
    assert any(p == "RAHASIA" for *_, p in private), "the simulator must have RAHASIA reports"
    texts = [m.title + "\n" + m.body for m in received]
    texts += [f"{s}\n{b}" for _, s, b in mails]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(_notify_rows(rt.engine))
    everything_stored = _all_rows(rt.engine)
    for word in secret_words:
        assert word not in everything_stored, "a secret reached the store"
    for chunk in texts:
        for word in secret_words | private_words:
            assert word not in chunk, f"{word[:12]}... leaked into {chunk[:80]!r}"
    assert any("[RAHASIA]" in chunk for chunk in texts)


def _max_history(engine) -> int:
    with read_session(engine) as session:
        return (
            session.scalar(select(AssignmentHistory.id).order_by(AssignmentHistory.id.desc())) or 0
        )


def _notify_rows(engine) -> str:
    with engine.connect() as conn:
        parts = []
        for table in ("notify_event", "notify_batch", "notify_message", "notify_watermark"):
            parts += [
                json.dumps(list(row), default=str)
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            ]
    return "\n".join(parts)


def _all_rows(engine) -> str:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(
            json.dumps(list(row), default=str)
            for table in meta.sorted_tables
            for row in conn.execute(table.select())
        )


def test_backfill_sends_one_summary_per_unit_and_no_report(
    make_simulator, make_runtime, sqlite_url, mappings_dir
):
    from collections import Counter as Count
    from datetime import UTC, datetime

    from lapor_bridge.notify.service import run_notifications
    from lapor_bridge.sync.backfill import run_backfill

    units = list(load_mapping(REPO / "mappings").units)
    with JsonReceiver() as rx:
        write_mappings(mappings_dir, {code: [rx.url(f"/{code}")] for code in units})
        sim = make_simulator(initial_reports=120, seed=5)
        rt = make_runtime(sim, sqlite_url, mappings_dir=mappings_dir)
        run_backfill(rt, datetime(2012, 1, 1, tzinfo=UTC), window=timedelta(days=365))
        mapping = load_mapping(mappings_dir)
        for minutes in (0, 5):  # a second pass tells nothing more
            run_notifications(
                rt.engine,
                mapping=mapping,
                settings=rt.settings,
                now_fn=lambda m=minutes: utcnow() + timedelta(minutes=m),
            )
        received = list(rx.received)
    assert received
    per_unit = Count(m.path for m in received)
    assert max(per_unit.values()) == 1, per_unit
    for message in received:
        assert not sections(message.body), message.body
        assert "dari riwayat" in message.title


def test_a_first_sync_resumed_after_a_crash_is_still_quiet(
    make_simulator, make_runtime, sqlite_url, mappings_dir
):
    from sqlalchemy import update

    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import SyncRun

    units = list(load_mapping(REPO / "mappings").units)
    with JsonReceiver() as rx:
        write_mappings(mappings_dir, {code: [rx.url(f"/{code}")] for code in units})
        sim = make_simulator(initial_reports=80, seed=9)
        rt = make_runtime(sim, sqlite_url, mappings_dir=mappings_dir, page_limit=20)
        run_sync(rt)
        with write_session(rt.engine) as session:  # as if it died after its pages
            session.execute(update(SyncRun).values(ok=False, error="killed"))
        # time moves on both sides (LAPOR!'s clock ends the window), by the clocks'
        # offset: each sync runs in a later second than the changes before it, so its
        # window holds them all however fast or slow this machine is
        offset = timedelta(0)

        def advance(seconds: float) -> None:
            nonlocal offset
            offset += timedelta(seconds=seconds)
            sim.set_faults(clock_offset_s=offset.total_seconds())

        advance(2)
        sim.generate_changes(30)
        advance(1.05)
        run_sync(rt, now=lambda: utcnow() + offset)  # the resumed first sync
        resumed = list(rx.received)
        advance(2)
        sim.generate_changes(30)
        advance(1.05)
        run_sync(rt, now=lambda: utcnow() + offset)  # a sync after a successful one
        later = rx.received[len(resumed) :]
    assert resumed and all(not sections(m.body) for m in resumed)
    assert any(sections(m.body).get(NEW) for m in later)
