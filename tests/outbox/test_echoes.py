"""Echoes: our own follow-ups coming back in a pull are recognised by external_ref
and settle delivery; other follow-ups are left alone."""

from __future__ import annotations

from datetime import timedelta

from lapor_bridge.outbox import reconcile_echoes
from lapor_bridge.outbox.claim import claim_next, finish
from lapor_bridge.outbox.respond import record_tindak_lanjut
from lapor_bridge.outbox.states import OutboxState, Transition
from lapor_bridge.store import write_session
from lapor_bridge.upstream.models import ApiFollowUp
from tests.outbox.helpers import NOW, add_report, items


def follow_up(id: int, tracking_id: int, external_ref: str | None, author: str = "INSTANSI"):
    return ApiFollowUp(
        id=id,
        tracking_id=tracking_id,
        content="isi",
        status="DIPROSES",
        created_at="2026-03-02T10:05:00+07:00",
        external_ref=external_ref,
        author=author,
    )


def setup(engine, n: int):
    with write_session(engine) as session:
        add_report(session, 1)
        return [
            record_tindak_lanjut(session, 1, status="DIPROSES", content=f"j{i}", now=NOW)
            for i in range(n)
        ]


def test_our_refs_are_returned_and_unsent_items_become_sent(engine):
    pending, failed, sent = setup(engine, 3)
    with write_session(engine) as session:
        for item, state in ((failed, OutboxState.FAILED), (sent, OutboxState.SENT)):
            row = session.get(type(item), item.id)
            row.state, row.upstream_id, row.uncertain = (
                state,
                (900 if state == "sent" else None),
                True,
            )
            session.add(row)
    pulled = [
        follow_up(500, 1, pending.external_ref),
        follow_up(501, 1, failed.external_ref),
        follow_up(900, 1, sent.external_ref),
        follow_up(502, 1, None, author="PELAPOR"),
        follow_up(503, 1, "someone-elses-ref"),
    ]
    with write_session(engine) as session:
        ours = reconcile_echoes(session, pulled, now=NOW + timedelta(hours=1))
    assert ours == {pending.external_ref, failed.external_ref, sent.external_ref}
    stored = {i.id: i for i in items(engine)}
    assert [(stored[i.id].state, stored[i.id].upstream_id) for i in (pending, failed, sent)] == [
        ("sent", 500),
        ("sent", 501),
        ("sent", 900),
    ]
    assert stored[pending.id].sent_at == NOW + timedelta(minutes=5)  # 10:05 WIB
    assert not stored[failed.id].uncertain
    assert "LAPOR! lists it (id 501) while it was failed" in stored[failed.id].note
    assert stored[sent.id].note is None  # already sent: untouched


def test_no_refs_no_work(engine):
    setup(engine, 1)
    with write_session(engine) as session:
        assert reconcile_echoes(session, [follow_up(1, 1, None)], now=NOW) == set()
        assert reconcile_echoes(session, [], now=NOW) == set()
    assert items(engine)[0].state == "pending"


def test_an_echo_while_a_worker_holds_the_item_wins_over_the_workers_late_outcome(engine):
    (item,) = setup(engine, 1)
    claimed = claim_next(engine, worker="w", now=NOW, lease_s=60)
    with write_session(engine) as session:
        reconcile_echoes(session, [follow_up(777, 1, item.external_ref)], now=NOW)
    failed = Transition(OutboxState.FAILED, 1, True, NOW + timedelta(minutes=1), "read timeout")
    assert not finish(engine, claimed, worker="w", transition=failed)
    [stored] = items(engine)
    assert (stored.state, stored.upstream_id, stored.lease_owner) == ("sent", 777, None)
