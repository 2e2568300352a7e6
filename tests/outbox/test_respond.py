"""Capturing follow-ups: one row is the follow-up and its queue entry; bad input
changes nothing (the CSV import: test_csv_import.py)."""

from __future__ import annotations

import re

import pytest

from lapor_bridge.outbox.claim import claim_next
from lapor_bridge.outbox.errors import InvalidFollowUp
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SlaClock
from tests.outbox.helpers import NOW, UNITS, count, items, respond


def test_recording_queues_it_in_the_same_row(reports):
    item = respond(
        reports,
        101,
        "  Sedang kami tangani.  ",
        "diproses",
        attachments=("https://pemalangkab.go.id/foto/1.jpg",),
        created_by="liaison-dinkes",
    )
    [stored] = items(reports)
    assert stored.id == item.id
    assert (stored.tracking_id, stored.opd, stored.status) == (101, "DINKES", "DIPROSES")
    assert stored.unit == UNITS["DINKES"]  # the official name LAPOR! shows
    assert stored.content == "Sedang kami tangani."
    assert stored.attachments == [{"url": "https://pemalangkab.go.id/foto/1.jpg"}]
    assert stored.state == "pending" and stored.attempts == 0 and stored.created_at == NOW
    assert stored.created_by == "liaison-dinkes"
    assert re.fullmatch(r"lb-3327-[0-9a-f]{32}", stored.external_ref)
    # queued: a worker can claim it right away
    claimed = claim_next(reports, worker="w", now=NOW, lease_s=60)
    assert claimed is not None and claimed.id == item.id


def test_external_refs_are_unique(local):
    refs = {respond(local, 101, f"n{i}").external_ref for i in range(20)}
    assert len(refs) == 20 and all(len(r) <= 64 for r in refs)


def test_the_sla_clock_stops_at_the_local_follow_up_time(reports):
    respond(reports, 101, "Diterima.")
    with read_session(reports) as session:
        clock = session.get(SlaClock, (101, "nasional-5hk"))
    assert clock is not None and clock.stopped_at == NOW


def test_opd_given_explicitly_wins_and_is_required_without_assignment(local):
    item = respond(local, 101, "Selesai.", "SELESAI", opd="DPUPR")
    assert item.opd == "DPUPR"
    with pytest.raises(InvalidFollowUp, match=r"no OPD assigned.*--opd"):
        respond(local, 102, "x")
    assert respond(local, 102, "x", opd="DISHUB")


def test_the_opd_code_is_always_checked_against_the_units_and_its_name_kept(local):
    units = {"DINKES": "Dinas Kesehatan", "DPUPR": "Dinas Pekerjaan Umum dan Penataan Ruang"}
    item = respond(local, 101, "x", units=units)
    assert (item.opd, item.unit) == ("DINKES", "Dinas Kesehatan")
    with pytest.raises(InvalidFollowUp, match=r"'DINKESS' is not in mappings/units.yaml"):
        respond(local, 101, "y", opd="DINKESS", units=units)
    with pytest.raises(InvalidFollowUp, match=r"'DINKES' is not in mappings/units.yaml"):
        respond(local, 101, "z", units={"DPUPR": "Dinas PU"})  # the assigned OPD too
    assert count(local) == 1


@pytest.mark.parametrize(
    ("tracking_id", "kwargs", "message"),
    [
        (999, {}, "not in the local store.*sync"),
        (103, {}, "closed \\(DITUTUP\\)"),
        (104, {}, "transferred"),
        (105, {}, "transferred"),
        (101, {"status": "DITUTUP"}, "not DIPROSES or SELESAI"),
        (101, {"content": "   "}, "empty"),
        (101, {"content": "x" * 5001}, "5001 characters.*at most 5000"),
        (101, {"content": "ada\x00nol"}, "NUL byte"),
        (101, {"attachments": ("file:///etc/passwd",)}, "not an http\\(s\\) URL"),
    ],
)
def test_bad_follow_ups_are_refused_and_change_nothing(local, tracking_id, kwargs, message):
    args = {"status": "DIPROSES", "content": "Sedang ditangani.", **kwargs}
    with pytest.raises(InvalidFollowUp, match=message):
        respond(local, tracking_id, **args)
    assert count(local) == 0


def test_a_follow_up_of_5000_characters_and_on_a_selesai_report_is_fine(local):
    respond(local, 106, "y" * 5000, "SELESAI")
    assert count(local) == 1


def test_a_failing_transaction_keeps_neither_follow_up_nor_queue_entry(reports):
    with pytest.raises(RuntimeError), write_session(reports) as session:
        respond(session, 101, "x")
        raise RuntimeError("crash before commit")
    assert count(reports) == 0
