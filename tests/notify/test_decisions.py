"""Events, digests, admin alerts, fencing and language, against a real store
(SQLite and PostgreSQL) and a real HTTP receiver; time is injected."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lapor_bridge.config import Settings
from lapor_bridge.mapping import load_mapping
from lapor_bridge.notify import record_events
from lapor_bridge.notify.compose import compose_pending
from lapor_bridge.notify.deliver import _claim, _fence, deliver_pending
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.notify.service import run_notifications
from lapor_bridge.sla import default_policies, refresh_clocks
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import (
    AssignmentHistory,
    NotifyEvent,
    NotifyMessage,
    Quarantine,
    SyncRun,
    TindakLanjut,
)
from tests.notify.conftest import write_mappings
from tests.notify.helpers import NEARLY_DUE, NEW, OVERDUE, sections
from tests.notify.receivers import JsonReceiver
from tests.outbox.helpers import add_report

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 10:00 WIB


def _setup(tmp_path, rx, digest_at="23:59", **settings):
    mappings = write_mappings(
        tmp_path / "mappings",
        {"DINKES": [rx.url("/DINKES")], "DPUPR": [rx.url("/DPUPR")]},
        {"DINKES": [rx.url("/DINKES/head")]},
        digest_at=digest_at,  # (the digest has its own test)
    )
    mapping = load_mapping(mappings)
    return mapping, load_escalation(mappings, mapping), Settings(mappings_dir=mappings, **settings)


def _assign(session, tid, unit, at, *, privacy="PUBLIK", title=None):
    report = add_report(session, tid, opd=unit, at=at, privacy=privacy)
    if title:
        report.title = title
    session.add(
        AssignmentHistory(tracking_id=tid, at=at, actor="sync", to_opd=unit, mapped_by="rule:x")
    )
    session.flush()
    refresh_clocks(session, [tid], now=at, policies=default_policies())


def _pass(engine, mapping, escalation, settings, now):
    with write_session(engine) as session:
        record_events(session, now=now, mapping=mapping, escalation=escalation, time_pass=True)
    compose_pending(engine, now=now, mapping=mapping, escalation=escalation, settings=settings)
    return deliver_pending(
        engine, mapping=mapping, escalation=escalation, settings=settings, now_fn=lambda: now
    )


def test_one_message_per_recipient_per_run_then_clock_levels_once(engine, tmp_path):
    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx)
        with write_session(engine) as session:
            for tid in (101, 102, 103):
                _assign(session, tid, "DINKES", NOW)
            _assign(session, 104, "DPUPR", NOW, privacy="RAHASIA", title="Rahasia: nama pejabat X")
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        _pass(engine, mapping, escalation, settings, NOW)
        first = list(rx.received)
        # 19 h later the 24 h clocks are at risk; 25 h later breached; twice at the same time
        for hours in (19, 25, 25):
            _pass(engine, mapping, escalation, settings, NOW + timedelta(hours=hours))
        later = rx.received[len(first) :]

    assert sorted(m.path for m in first) == ["/DINKES", "/DPUPR"]
    dinkes = next(m for m in first if m.path == "/DINKES")
    assert dinkes.title.startswith("LAPOR! DINKES: 3 laporan baru")
    assert [tid for tid, _ in sections(dinkes.body)[NEW]] == [101, 102, 103]
    assert "Batas waktu (bupati-24h): 3 Mar 2026 10.00 WIB (sisa 1 hari)" in dinkes.body
    assert "https://www.lapor.go.id/laporan/detil/101" in dinkes.body
    dpupr = next(m for m in first if m.path == "/DPUPR")
    assert "[RAHASIA]" in dpupr.body and "pejabat" not in dpupr.body + dpupr.title
    paths = [m.path for m in later]
    assert paths.count("/DINKES") == 2 and paths.count("/DINKES/head") == 1
    at_risk, breached = [m for m in later if m.path == "/DINKES"]
    assert {tid for tid, _ in sections(at_risk.body)[NEARLY_DUE]} == {101, 102, 103}
    assert {tid for tid, _ in sections(breached.body)[OVERDUE]} == {101, 102, 103}
    assert "1 hampir terlambat" not in breached.title and "3 terlambat" in breached.title


def test_a_backlog_is_one_message_listing_the_first_reports_and_counting_the_rest(engine, tmp_path):
    """150 reports reach DINKES at once (a remap, a bridge that was off): one
    message lists MAX_ITEMS of them and counts the other 50; every event is told
    in that one batch, and the next run has nothing left to say."""
    from lapor_bridge.notify.compose import MAX_ITEMS

    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx)
        with write_session(engine) as session:
            for tid in range(1001, 1151):
                _assign(session, tid, "DINKES", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        _pass(engine, mapping, escalation, settings, NOW)
        first = [m for m in rx.received if m.path == "/DINKES"]
        _pass(engine, mapping, escalation, settings, NOW + timedelta(minutes=5))
        again = [m for m in rx.received if m.path == "/DINKES"]
    assert len(first) == 1 == len(again)
    (message,) = first
    assert len(sections(message.body)[NEW]) == MAX_ITEMS == 100
    assert message.title == "LAPOR! DINKES: 100 laporan baru, 50 lainnya"
    assert (
        "50 laporan lain tidak dicantumkan di sini: lapor-bridge sla --opd DINKES" in message.body
    )
    with read_session(engine) as session:
        waiting = session.scalars(
            select(NotifyEvent.id).where(
                NotifyEvent.recipient == "DINKES", NotifyEvent.batch_id.is_(None)
            )
        ).all()
    assert waiting == []


def test_english_by_setting(engine, tmp_path):
    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx, language="en")
        with write_session(engine) as session:
            _assign(session, 201, "DINKES", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        _pass(engine, mapping, escalation, settings, NOW)
    (message,) = rx.received
    assert message.title == "LAPOR! DINKES: 1 new report"
    assert "New reports for you:" in message.body
    assert "Due (bupati-24h): 3 Mar 2026 10.00 WIB (1 day left)" in message.body


def test_quiet_events_make_one_summary_and_stand_for_the_digest(engine, tmp_path):
    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx, digest_at="07:00")
        with write_session(engine) as session:
            for tid in range(300, 340):
                _assign(session, tid, "DINKES", NOW - timedelta(days=30))
            record_events(session, now=NOW, mapping=mapping, escalation=escalation, quiet=True)
        _pass(engine, mapping, escalation, settings, NOW)  # 10:00 WIB, after digest time
        summary = list(rx.received)
        _pass(engine, mapping, escalation, settings, NOW + timedelta(hours=1))
        same_day = rx.received[len(summary) :]
        next_morning = NOW + timedelta(hours=21, minutes=5)  # 07:05 WIB next day
        _pass(engine, mapping, escalation, settings, next_morning)
        _pass(engine, mapping, escalation, settings, next_morning + timedelta(minutes=10))
        digests = rx.received[len(summary) :]
    assert len(summary) == 1 and not sections(summary[0].body)
    assert "40 laporan masuk dari riwayat" in summary[0].body
    assert same_day == []
    assert len(digests) == 1, [d.title for d in digests]
    digest = digests[0]
    assert digest.title == "LAPOR! DINKES: 40 laporan terbuka per 3 Mar 2026"
    assert "yang paling mendesak lebih dulu" in digest.body and "terlambat" in digest.body


def test_admin_alerts_for_dead_outbox_quarantine_and_stale_sync(engine, tmp_path):
    with JsonReceiver() as rx:
        mapping, _, settings = _setup(tmp_path, rx, admin_notify=rx.url("/admin"))
        with write_session(engine) as session:
            add_report(session, 401, opd="DINKES", at=NOW)
            session.add(
                TindakLanjut(
                    tracking_id=401,
                    external_ref="lb-1-x",
                    opd="DINKES",
                    status="DIPROSES",
                    content="x",
                    created_at=NOW,
                    state="dead",
                    last_attempt_at=NOW,
                )
            )
            session.add(
                Quarantine(
                    digest="d1",
                    tracking_id=402,
                    source="listing",
                    reason="bad",
                    raw={},
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                )
            )
            session.add(
                SyncRun(
                    kind="sync",
                    started_at=NOW - timedelta(hours=2),
                    finished_at=NOW - timedelta(hours=2),
                    ok=True,
                )
            )
        for minutes in (0, 5):
            run_notifications(
                engine,
                mapping=mapping,
                settings=settings,
                now_fn=lambda m=minutes: NOW + timedelta(minutes=m),
            )
    (alert,) = rx.received
    assert alert.path == "/admin"
    assert alert.title == (
        "lapor-bridge perlu diperiksa: 1 tindak lanjut gagal terkirim, 1 data di karantina, "
        "sinkronisasi belum berhasil"
    )
    assert "outbox #1 (laporan 401)" in alert.body
    assert "karantina #1 (laporan 402)" in alert.body
    assert "tidak ada sinkronisasi yang berhasil sejak 2 Mar 2026 08.00 WIB" in alert.body


def test_a_worker_whose_lease_was_taken_over_never_sends(engine, tmp_path):
    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx, notify_lease_s=60)
        with write_session(engine) as session:
            _assign(session, 501, "DINKES", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        compose_pending(engine, now=NOW, mapping=mapping, escalation=escalation, settings=settings)
        slow = _claim(engine, "slow", NOW, 60, set())
        assert slow is not None
        later = NOW + timedelta(seconds=90)  # the slow worker's lease ran out
        summary = deliver_pending(
            engine, mapping=mapping, escalation=escalation, settings=settings, now_fn=lambda: later
        )
        assert summary.sent == 1 and summary.repeated == 1
        assert not _fence(engine, slow, "slow", later, 60), "the fence stops the old holder"
        with read_session(engine) as session:
            message = session.scalars(select(NotifyMessage)).one()
    assert len(rx.received) == 1
    assert message.state == "sent" and message.repeats == 1
    assert "lease ran out" in message.note


def test_a_failing_channel_waits_without_holding_back_the_others(engine, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once closed
    with JsonReceiver() as rx:
        mappings = write_mappings(
            tmp_path / "mappings",
            {"DINKES": [f"json://127.0.0.1:{closed_port}/x"], "DPUPR": [rx.url("/DPUPR")]},
            digest_at="23:59",
        )
        mapping = load_mapping(mappings)
        escalation = load_escalation(mappings, mapping)
        settings = Settings(mappings_dir=mappings)
        with write_session(engine) as session:
            _assign(session, 601, "DINKES", NOW)
            _assign(session, 602, "DPUPR", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        summary = _pass(engine, mapping, escalation, settings, NOW)
        with read_session(engine) as session:
            states = {
                m.recipient: (m.state, m.uncertain, m.next_attempt_at)
                for m in session.scalars(select(NotifyMessage))
            }
    assert [m.path for m in rx.received] == ["/DPUPR"]
    assert summary.sent == 1 and summary.failed == 1 and summary.uncertain == 0
    state, uncertain, next_at = states["DINKES"]
    assert state == "failed" and not uncertain and next_at > NOW  # refused: surely not arrived


def test_citizen_reply_reopen_and_transfer_are_told_to_the_unit(engine, tmp_path):
    from lapor_bridge.store.tables import ReportRow, UpstreamFollowUpRow

    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx)
        with write_session(engine) as session:
            for tid in (701, 702, 703):
                _assign(session, tid, "DINKES", NOW)
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        _pass(engine, mapping, escalation, settings, NOW)
        later = NOW + timedelta(hours=2)
        with write_session(engine) as session:
            # 701: the citizen replies; 703: settled (SELESAI), then the citizen replies
            for fid, tid, author, status, at in (
                (9001, 701, "PELAPOR", "DIPROSES", later),
                (9002, 703, "INSTANSI", "SELESAI", NOW + timedelta(hours=1)),
                (9003, 703, "PELAPOR", "DIPROSES", later),
            ):
                session.add(
                    UpstreamFollowUpRow(
                        id=fid,
                        tracking_id=tid,
                        author=author,
                        status=status,
                        content="Belum diperbaiki, Pak.",
                        created_at=at,
                        first_seen_at=at,
                    )
                )
            report = session.get(ReportRow, 702)
            report.transferred, report.transferred_at = True, later
            session.flush()
            ids = [701, 702, 703]
            refresh_clocks(session, ids, now=later, policies=default_policies())
            for _ in range(2):  # deciding twice adds nothing
                record_events(
                    session, now=later, mapping=mapping, escalation=escalation, tracking_ids=ids
                )
        _pass(engine, mapping, escalation, settings, later)
        _pass(engine, mapping, escalation, settings, later + timedelta(minutes=5))
    assert len(rx.received) == 2
    told = sections(rx.received[1].body)
    assert told["Pelapor membalas:"] == [(701, "bupati-24h")]  # 703's reply: told as reopened
    assert [tid for tid, _ in told["Dibuka kembali oleh pelapor:"]] == [703]
    assert [
        tid for tid, _ in told["Dialihkan oleh LAPOR! ke instansi lain (tidak perlu dijawab):"]
    ] == [702]
    assert "Belum diperbaiki" not in rx.received[1].body  # the reply's text stays local


def test_what_apprise_reports_is_classified_certain_or_uncertain():
    """A drop after the SMTP DATA or the HTTP request was sent is uncertain; a 5xx,
    a refused connection and an SMTP error reply are certain failures."""
    import asyncio

    from aiosmtpd.controller import Controller

    from lapor_bridge.notify.deliver import apprise_send
    from tests.notify.receivers import Flaky

    taken: list[bytes] = []

    class DropAfterData:
        async def handle_DATA(self, server, session, envelope):
            taken.append(envelope.content)
            server.transport.close()  # the message is in; the answer is lost
            await asyncio.sleep(0.1)
            return "250 never heard"

    class Refuse:
        async def handle_DATA(self, server, session, envelope):
            return "554 rejected"

    def port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    outcomes = {}
    for name, handler in (("smtp_drop", DropAfterData()), ("smtp_refused", Refuse())):
        p = port()
        controller = Controller(handler, hostname="127.0.0.1", port=p)
        controller.start()
        try:
            url = f"mailto://127.0.0.1:{p}?from=a@pemalangkab.go.id&to=b@pemalangkab.go.id&mode=insecure"
            outcomes[name] = apprise_send(url, "judul", "isi")
        finally:
            controller.stop()
    with JsonReceiver(Flaky(drop_after=1.0)) as rx:
        outcomes["http_drop"] = apprise_send(rx.url("/x"), "judul", "isi")
    with JsonReceiver(Flaky(error_5xx=1.0)) as rx:
        outcomes["http_5xx"] = apprise_send(rx.url("/x"), "judul", "isi")
    outcomes["refused"] = apprise_send(f"json://127.0.0.1:{port()}/x", "judul", "isi")
    assert taken, "the SMTP server took the message before dropping"
    assert {k: (v.ok, v.uncertain) for k, v in outcomes.items()} == {
        "smtp_drop": (False, True),
        "smtp_refused": (False, False),
        "http_drop": (False, True),
        "http_5xx": (False, False),
        "refused": (False, False),
    }


def test_two_workers_at_once_send_each_message_once(engine, tmp_path):
    import threading

    with JsonReceiver() as rx:
        mappings = write_mappings(
            tmp_path / "mappings",
            {code: [rx.url(f"/{code}")] for code in ("DINKES", "DPUPR", "DINSOS")},
            digest_at="23:59",
        )
        mapping = load_mapping(mappings)
        escalation = load_escalation(mappings, mapping)
        settings = Settings(mappings_dir=mappings)
        for round_ in range(20):  # 20 runs' worth of messages for three units
            at = NOW + timedelta(minutes=round_)
            with write_session(engine) as session:
                for i, unit in enumerate(("DINKES", "DPUPR", "DINSOS")):
                    _assign(session, 800 + round_ * 3 + i, unit, at)
                record_events(session, now=at, mapping=mapping, escalation=escalation)
            compose_pending(
                engine, now=at, mapping=mapping, escalation=escalation, settings=settings
            )
        results = []

        def work() -> None:
            results.append(
                deliver_pending(
                    engine,
                    mapping=mapping,
                    escalation=escalation,
                    settings=settings,
                    now_fn=lambda: NOW + timedelta(hours=1),
                )
            )

        workers = [threading.Thread(target=work) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        received = list(rx.received)
    assert len(received) == 60
    assert len({(m.path, m.batch_id) for m in received}) == 60
    assert sum(r.sent for r in results) == 60


def test_a_store_that_had_data_before_notifications_is_not_told_its_history(tmp_path):
    from alembic import command

    from lapor_bridge.store.db import _alembic_config, create_store_engine, migrate

    with JsonReceiver() as rx:
        mapping, escalation, settings = _setup(tmp_path, rx)
        engine = create_store_engine(f"sqlite:///{tmp_path / 'old.db'}")
        command.upgrade(_alembic_config(engine), "0001")  # a store from before notifications
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO assignment_history (tracking_id, at, actor, to_opd, mapped_by, complex) "
                "VALUES (1, '2026-01-01 00:00:00.000000', 'sync', 'DINKES', 'rule:x', 0)"
            )
        migrate(engine)
        with write_session(engine) as session:
            _assign(session, 901, "DINKES", NOW - timedelta(days=3))  # long breached
        _pass(engine, mapping, escalation, settings, NOW)
        first = list(rx.received)
        with write_session(engine) as session:
            _assign(session, 902, "DINKES", NOW)
            record_events(
                session, now=NOW, mapping=mapping, escalation=escalation, tracking_ids=[902]
            )
        _pass(engine, mapping, escalation, settings, NOW + timedelta(minutes=5))
        second = rx.received[len(first) :]
    assert [m.path for m in first] == ["/DINKES"] and not sections(first[0].body)
    assert "dari riwayat" in first[0].title
    assert [tid for tid, _ in sections(second[0].body)[NEW]] == [902] and len(second) == 1


def test_a_report_made_rahasia_while_its_message_waited_leaves_as_rahasia(engine, tmp_path):
    """Text is fixed when composed; a message that waited for a failing channel
    is sent after the report became RAHASIA (LAPOR! changed it): its title
    stays in the local store."""
    from lapor_bridge.store.tables import ReportRow
    from tests.notify.receivers import Flaky

    with JsonReceiver(Flaky(error_5xx=1.0)) as rx:
        mapping, escalation, settings = _setup(tmp_path, rx)
        with write_session(engine) as session:
            _assign(session, 1101, "DINKES", NOW, title="Jalan berlubang\ndepan rumah Pak Darto")
            _assign(session, 1102, "DINKES", NOW, title="Lampu jalan mati")
            record_events(session, now=NOW, mapping=mapping, escalation=escalation)
        first = _pass(engine, mapping, escalation, settings, NOW)
        with write_session(engine) as session:
            session.get(ReportRow, 1101).privacy = "RAHASIA"  # as the next sync stores it
        rx.flaky = None
        _pass(engine, mapping, escalation, settings, NOW + timedelta(hours=2))
    assert first.failed == 1 and first.sent == 0
    (message,) = rx.received
    assert "- #1101 [RAHASIA]" in message.body
    assert "Darto" not in message.body and "berlubang" not in message.body
    assert "- #1102 Lampu jalan mati" in message.body
