"""The admin's and liaisons' view: outbox listing, retry, cancel, stuck items, replies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lapor_bridge.outbox import (
    cancel_item,
    list_outbox,
    list_replies,
    retry_items,
    stuck_items,
)
from lapor_bridge.outbox.errors import OutboxCommandError
from lapor_bridge.outbox.respond import record_tindak_lanjut
from lapor_bridge.outbox.states import OutboxState
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import TindakLanjut, UpstreamFollowUpRow
from tests.outbox.helpers import NOW, add_report, items


def make(engine, *, plan, rahasia=()):
    with write_session(engine) as session:
        for tracking_id in sorted(set(plan)):
            privacy = "RAHASIA" if tracking_id in rahasia else "PUBLIK"
            add_report(session, tracking_id, privacy=privacy, opd=f"OPD{tracking_id}")
        return [
            record_tindak_lanjut(
                session, t, status="DIPROSES", content=f"Rahasia isi {n}", now=NOW
            ).id
            for n, t in enumerate(plan)
        ]


def set_state(engine, item_id, **values):
    with write_session(engine) as session:
        row = session.get(TindakLanjut, item_id)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)


def test_listing_filters_shows_the_waiting_order_and_hides_rahasia_text(engine):
    a1, a2, b1 = make(engine, plan=[1, 1, 2], rahasia={2})
    set_state(engine, a1, state="dead", attempts=1, last_error="409 closed", last_status=409)
    with read_session(engine) as session:
        rows = list_outbox(session)
        dead = list_outbox(session, state=OutboxState.DEAD)
        by_opd = list_outbox(session, opd="OPD2")
    assert [r.id for r in rows] == [a1, a2, b1]
    assert [r.waits_for for r in rows] == [None, a1, None]
    assert [r.id for r in dead] == [a1] and dead[0].last_status == 409
    assert [r.id for r in by_opd] == [b1]
    assert rows[0].preview == "Rahasia isi 0" and by_opd[0].preview is None
    assert "Rahasia isi 2" not in str(by_opd[0].to_dict())
    assert rows[0].to_dict()["created_at"] == "2026-03-02T03:00:00Z"


def test_retry_requeues_dead_items_and_keeps_the_story_in_the_note(engine):
    a1, b1, c1 = make(engine, plan=[1, 2, 3])
    for item_id in (a1, b1):
        set_state(engine, item_id, state="dead", attempts=12, last_error="gave up", errors=["x"])
    set_state(engine, c1, state="failed", attempts=2, next_attempt_at=NOW + timedelta(hours=1))
    with write_session(engine) as session:
        assert retry_items(session, [c1], now=NOW, by="admin") == [c1]
        assert sorted(retry_items(session, all_dead=True, now=NOW, by="admin")) == [a1, b1]
    stored = {i.id: i for i in items(engine)}
    assert (stored[a1].state, stored[a1].attempts, stored[a1].errors) == ("pending", 0, None)
    assert "retried by admin after 12 attempt(s); was dead: gave up" in stored[a1].note
    assert stored[c1].state == "failed" and stored[c1].next_attempt_at == NOW
    assert stored[c1].attempts == 2


def test_retry_and_cancel_refuse_what_they_cannot_do(engine):
    (a1,) = make(engine, plan=[1])
    with write_session(engine) as session, pytest.raises(OutboxCommandError, match="pending"):
        retry_items(session, [a1], now=NOW)
    with (
        write_session(engine) as session,
        pytest.raises(OutboxCommandError, match="no outbox item #99"),
    ):
        retry_items(session, [99], now=NOW)
    set_state(engine, a1, state="sent", upstream_id=5)
    with write_session(engine) as session, pytest.raises(OutboxCommandError, match="is sent"):
        cancel_item(session, a1, now=NOW)


def test_cancel_withdraws_an_item_and_says_when_it_may_already_be_upstream(engine):
    (a1,) = make(engine, plan=[1])
    set_state(engine, a1, state="dead", uncertain=True)
    with write_session(engine) as session:
        cancel_item(session, a1, now=NOW, by="admin", reason="dijawab lewat telepon")
    [stored] = items(engine)
    assert stored.state == "cancelled"
    assert "cancelled by admin while dead: dijawab lewat telepon" in stored.note
    assert "may have reached LAPOR!" in stored.note


def test_stuck_items_repeat_until_resolved(engine):
    a1, a2, b1, c1, d1 = make(engine, plan=[1, 1, 2, 3, 4])
    set_state(engine, a1, state="dead", attempts=3, last_error="HTTP 409: closed")
    set_state(engine, b1, state="failed", attempts=3, last_error="HTTP 502",
              next_attempt_at=NOW + timedelta(minutes=5))  # fmt: skip
    set_state(engine, c1, state="failed", attempts=1, last_error="HTTP 502")
    set_state(engine, d1, state="sent", upstream_id=1)
    with read_session(engine) as session:
        soon = stuck_items(session, now=NOW + timedelta(minutes=10))
        late = stuck_items(session, now=NOW + timedelta(hours=3))
    assert len(soon) == 2
    assert soon[0].startswith(f"outbox #{a1} (report 1, OPD OPD1) is dead after 3 attempt(s)")
    assert "1 later item(s) of this report wait behind it" in soon[0]
    assert soon[1].startswith(f"outbox #{b1} (report 2, OPD OPD2) has failed 3 time(s)")
    assert len(late) == 4  # now also the waiting one and the young failure
    assert f"outbox #{a2} (report 1, OPD OPD1) is not sent after 3 h" in late[1]
    assert f"waits behind outbox #{a1}" in late[1]
    for item_id in (a1, a2):
        set_state(engine, item_id, state="sent")
    set_state(engine, b1, state="cancelled")
    set_state(engine, c1, state="sent")
    with read_session(engine) as session:
        assert stuck_items(session, now=NOW + timedelta(hours=3)) == []


def test_citizen_replies_are_shown_per_opd_with_rahasia_withheld(engine):
    make(engine, plan=[1, 2], rahasia={2})
    with write_session(engine) as session:
        for id_, tracking_id, author in ((1, 1, "PELAPOR"), (2, 2, "PELAPOR"), (3, 1, "INSTANSI")):
            session.add(
                UpstreamFollowUpRow(
                    id=id_,
                    tracking_id=tracking_id,
                    author=author,
                    status="DIPROSES",
                    content=f"Balasan warga {id_}",
                    created_at=NOW + timedelta(minutes=id_),
                    first_seen_at=NOW,
                )
            )
    with read_session(engine) as session:
        replies = list_replies(session)
        opd1 = list_replies(session, opd="OPD1")
        since = list_replies(session, since=NOW + timedelta(minutes=2))
    assert [(r.id, r.opd, r.content, r.rahasia) for r in replies] == [
        (2, "OPD2", None, True),
        (1, "OPD1", "Balasan warga 1", False),
    ]
    assert [r.id for r in opd1] == [1] and [r.id for r in since] == [2]
