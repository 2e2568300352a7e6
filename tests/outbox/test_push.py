"""Delivery against the simulator over real HTTP: each outcome of the contract."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lapor_bridge.errors import Unauthorized
from lapor_bridge.outbox import push as push_module
from lapor_bridge.outbox import push_outbox, record_follow_up, stuck_items
from lapor_bridge.store import read_session
from lapor_bridge.timeutil import utcnow
from tests.outbox.helpers import items, make_client, ours_upstream, seed_from_simulator


@pytest.fixture
def sim(make_simulator):
    return make_simulator(initial_reports=40)


@pytest.fixture
def open_ids(sqlite_engine, sim):
    return seed_from_simulator(sqlite_engine, sim)


def push(engine, client, **kw):
    kw.setdefault("lease_s", 30)
    kw.setdefault("max_attempts", 5)
    kw.setdefault("backoff_base_s", 60.0)
    kw.setdefault("backoff_max_s", 60.0)
    return push_outbox(engine, client, **kw)


def later():
    """The clock of a run after every backoff has passed."""
    return utcnow() + timedelta(minutes=2)


UNITS = {"DPUPR": "Dinas Pekerjaan Umum dan Penataan Ruang"}


def respond(engine, tracking_id, text, status="DIPROSES", **kw):
    return record_follow_up(engine, tracking_id, status=status, content=text, now=utcnow(), **kw)


def posts(sim, tracking_id=None):
    suffix = f"/laporan/{tracking_id}/tindak-lanjut" if tracking_id else "/tindak-lanjut"
    return [r for r in sim.request_log() if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_follow_ups_reach_lapor_once_in_order_with_their_fields(sqlite_engine, sim, open_ids):
    a, b = open_ids[:2]
    respond(sqlite_engine, a, "Pertama", attachments=["https://pemalangkab.go.id/a.jpg"])
    respond(sqlite_engine, b, "Untuk laporan b")
    respond(sqlite_engine, a, "Kedua", status="SELESAI", opd="DPUPR", units=UNITS)
    with make_client(sim) as client:
        summary = push(sqlite_engine, client)
    assert (summary.sent, summary.failed, summary.dead, summary.due_left) == (3, 0, 0, 0)
    local = items(sqlite_engine)
    assert all(i.state == "sent" and i.upstream_id and i.sent_at for i in local)
    upstream = {f["external_ref"]: f for f in ours_upstream(sim)}
    assert set(upstream) == {i.external_ref for i in local}
    for item in local:
        f = upstream[item.external_ref]
        assert (f["id"], f["tracking_id"], f["content"], f["status"], f["unit"]) == (
            item.upstream_id,
            item.tracking_id,
            item.content,
            item.status,
            item.unit or item.opd,
        )
    assert [f["unit"] for f in ours_upstream(sim)] == ["DINKES", "DINKES", UNITS["DPUPR"]]
    assert [f["content"] for f in sim.followups(a) if f.get("external_ref")] == [
        "Pertama",
        "Kedua",
    ]
    first = next(i for i in local if i.content == "Pertama")
    assert sim.followups(a)[-2]["external_ref"] == first.external_ref
    # nothing due: a second run sends nothing
    with make_client(sim) as client:
        assert push(sqlite_engine, client).claimed == 0
    assert len(posts(sim)) == 3


def test_a_post_applied_but_unanswered_is_found_by_listing_not_posted_again(
    sqlite_engine, sim, open_ids
):
    tid = open_ids[0]
    item = respond(sqlite_engine, tid, "Jawaban")
    sim.set_faults(drop_after_apply_rate=1.0)
    with make_client(sim) as client:
        first = push(sqlite_engine, client)
    [stored] = items(sqlite_engine)
    assert first.failed == 1 and stored.state == "failed" and stored.uncertain
    assert [f["external_ref"] for f in ours_upstream(sim)] == [item.external_ref]
    sim.set_faults(drop_after_apply_rate=0.0)
    with make_client(sim) as client:
        assert push(sqlite_engine, client).claimed == 0  # backing off
        second = push(sqlite_engine, client, now_fn=later)
    [stored] = items(sqlite_engine)
    assert second.found_upstream == 1 and second.sent == 0
    assert stored.state == "sent" and not stored.uncertain
    assert stored.upstream_id == ours_upstream(sim)[0]["id"]
    assert "found on LAPOR!" in stored.note and "not posted again" in stored.note
    assert len(posts(sim, tid)) == 1  # never posted twice


def test_a_dropped_request_that_was_not_applied_is_listed_then_posted_once(
    sqlite_engine, sim, open_ids
):
    tid = open_ids[0]
    respond(sqlite_engine, tid, "Jawaban")
    sim.set_faults(drop_rate=1.0)
    with make_client(sim) as client:
        push(sqlite_engine, client)
    [stored] = items(sqlite_engine)
    assert stored.state == "failed" and stored.uncertain and ours_upstream(sim) == []
    sim.set_faults(drop_rate=0.0)
    with make_client(sim) as client:
        summary = push(sqlite_engine, client, now_fn=later)
    assert summary.sent == 1
    assert len(ours_upstream(sim)) == 1
    gets = [r for r in sim.request_log() if r["method"] == "GET" and r["status"] == 200]
    assert gets, "the uncertain item must be reconciled by listing first"


def test_a_closed_report_dead_letters_with_the_reason_and_holds_back_its_later_items(
    sqlite_engine, sim, open_ids
):
    tid, other = open_ids[:2]
    first = respond(sqlite_engine, tid, "Jawaban pertama")
    second = respond(sqlite_engine, tid, "Jawaban kedua")
    respond(sqlite_engine, other, "Laporan lain")
    sim.update_report(tid, status="DITUTUP")  # closed upstream after we wrote the answers
    with make_client(sim) as client:
        summary = push(sqlite_engine, client)
    assert (summary.dead, summary.sent) == (1, 1)
    by_id = {i.id: i for i in items(sqlite_engine)}
    dead = by_id[first.id]
    assert dead.state == "dead" and dead.last_status == 409
    assert "closed" in dead.last_error and "409" in dead.last_error
    assert by_id[second.id].state == "pending"  # never posted before the first is sent
    assert len(posts(sim, tid)) == 1
    with read_session(sqlite_engine) as session:
        lines = stuck_items(session, now=utcnow())
    assert len(lines) == 1
    assert f"outbox #{first.id}" in lines[0] and "dead" in lines[0]
    assert "1 later item(s) of this report wait behind it" in lines[0]
    assert f"outbox retry {first.id}" in lines[0]


def test_a_report_transferred_since_the_answer_was_written_is_never_pushed(
    sqlite_engine, sim, open_ids
):
    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import ReportRow

    tid = open_ids[0]
    item = respond(sqlite_engine, tid, "Jawaban")
    with write_session(sqlite_engine) as session:  # the next pull saw it leave
        report = session.get(ReportRow, tid)
        report.transferred, report.instansi_id, report.status = True, 3328, "DIALIHKAN"
    with make_client(sim) as client:
        summary = push(sqlite_engine, client)
    [stored] = items(sqlite_engine)
    assert summary.dead == 1 and stored.id == item.id and stored.state == "dead"
    assert "transferred to instansi 3328" in stored.last_error
    assert posts(sim) == []


def test_an_invalid_body_dead_letters_with_the_servers_errors(
    sqlite_engine, sim, open_ids, monkeypatch
):
    respond(sqlite_engine, open_ids[0], "Jawaban")
    real = push_module.follow_up_body
    monkeypatch.setattr(
        push_module, "follow_up_body", lambda c: {k: v for k, v in real(c).items() if k != "unit"}
    )
    with make_client(sim) as client:
        summary = push(sqlite_engine, client)
    [stored] = items(sqlite_engine)
    assert summary.dead == 1 and stored.state == "dead" and stored.last_status == 422
    assert stored.errors == ["unit: required string"]
    assert ours_upstream(sim) == []


def test_a_stored_follow_up_the_contract_cannot_carry_dies_without_a_request(
    sqlite_engine, sim, open_ids
):
    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import TindakLanjut

    item = respond(sqlite_engine, open_ids[0], "Jawaban")
    with write_session(sqlite_engine) as session:
        row = session.get(TindakLanjut, item.id)
        row.content = "x" * 6000  # e.g. edited by hand in the database
        session.add(row)
    with make_client(sim) as client:
        summary = push(sqlite_engine, client)
    [stored] = items(sqlite_engine)
    assert summary.dead == 1 and stored.last_status is None
    assert "cannot be sent as it is" in stored.last_error
    assert posts(sim) == []


def test_a_wrong_token_stops_the_run_and_leaves_the_item_untouched(sqlite_engine, sim, open_ids):
    respond(sqlite_engine, open_ids[0], "Jawaban")
    respond(sqlite_engine, open_ids[1], "Jawaban")
    with (
        make_client(sim, token="salah-token-123") as client,
        pytest.raises(Unauthorized, match="401"),
    ):
        push(sqlite_engine, client)
    stored = items(sqlite_engine)
    assert [(i.state, i.attempts, i.uncertain) for i in stored] == [
        ("pending", 0, False),
        ("pending", 0, False),
    ]
    assert len(posts(sim)) == 1  # stopped at the first
    assert all("salah-token" not in (i.last_error or "") for i in stored)


def test_a_long_retry_after_is_stored_and_stops_the_run(sqlite_engine, sim, open_ids):
    for tid in open_ids[:6]:
        respond(sqlite_engine, tid, "Jawaban")
    sim.set_faults(rate_limit_per_s=2.0)  # a small burst, then 429 with Retry-After: 1
    started = utcnow()
    with make_client(sim, rate_limit_per_s=None, max_retry_after_s=0.0) as client:
        summary = push(sqlite_engine, client)
    assert summary.sent >= 1 and summary.failed == 1 and summary.due_left == 5 - summary.sent
    assert summary.stopped and "429" in summary.stopped
    assert summary.retry_at >= started + timedelta(seconds=1)
    states = [i.state for i in items(sqlite_engine)]
    assert states.count("sent") == summary.sent and states.count("failed") == 1
    limited = next(i for i in items(sqlite_engine) if i.state == "failed")
    assert limited.attempts == 0 and not limited.uncertain  # 429: surely not applied
    assert limited.next_attempt_at == summary.retry_at
    assert len(posts(sim)) == summary.sent + 1  # the run stopped at the 429


def test_a_short_retry_after_is_waited_for_by_the_client(sqlite_engine, sim, open_ids):
    for tid in open_ids[:4]:
        respond(sqlite_engine, tid, "Jawaban")
    sim.set_faults(rate_limit_per_s=2.0)
    with make_client(sim, rate_limit_per_s=None, max_retry_after_s=5.0) as client:
        summary = push(sqlite_engine, client)
    assert summary.sent == 4 and summary.stopped is None
    assert len(ours_upstream(sim)) == 4


def test_a_down_server_stops_the_run_after_a_few_failures_then_dead_letters(
    sqlite_engine, sim, open_ids
):
    for tid in open_ids[:10]:
        respond(sqlite_engine, tid, "Jawaban")
    sim.set_faults(error_rate=1.0, error_burst_len=1000)
    clock = [utcnow()]
    with make_client(sim) as client:
        summary = push(
            sqlite_engine, client, max_attempts=2, max_pause_s=0.0, now_fn=lambda: clock[0]
        )
    assert summary.claimed <= 5 and summary.stopped
    clock[0] += timedelta(hours=1)
    with make_client(sim) as client:
        while push(
            sqlite_engine, client, max_attempts=2, max_pause_s=0.0, now_fn=lambda: clock[0]
        ).claimed:
            clock[0] += timedelta(hours=1)
    stored = items(sqlite_engine)
    assert all(i.state == "dead" for i in stored)
    assert all(i.last_error.startswith("gave up after 2 attempts") for i in stored)
    assert all(i.uncertain for i in stored)  # a 5xx after sending: maybe applied
    with read_session(sqlite_engine) as session:
        assert len(stuck_items(session, now=clock[0])) == 10


def test_the_lease_must_outlast_the_longest_client_call(sqlite_engine, sim):
    from lapor_bridge.errors import ConfigError

    with make_client(sim) as client, pytest.raises(ConfigError, match="PUSH_LEASE_S"):
        push(sqlite_engine, client, lease_s=2.0)  # client: 2 s budget + 1 + 2 s timeouts
