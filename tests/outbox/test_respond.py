"""Capturing follow-ups: one row is the follow-up and its queue entry; bad input
changes nothing; the CSV import keeps the good rows and reports the bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lapor_bridge.outbox import import_csv, record_follow_up, record_tindak_lanjut
from lapor_bridge.outbox.claim import claim_next
from lapor_bridge.outbox.errors import InvalidCsv, InvalidFollowUp
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SlaClock, TindakLanjut
from tests.outbox.helpers import NOW, add_report, items


def count(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(TindakLanjut))


def _reports(engine):
    with write_session(engine) as session:
        add_report(session, 101)
        add_report(session, 102, opd=None)
        add_report(session, 103, status="DITUTUP")
        add_report(session, 104, status="DIALIHKAN", transferred=True, instansi_id=9999)
        add_report(session, 105, transferred=True)
        add_report(session, 106, status="SELESAI")
    return engine


@pytest.fixture
def reports(engine):
    """On SQLite and PostgreSQL: for what depends on the store."""
    return _reports(engine)


@pytest.fixture
def local(sqlite_engine):
    """On SQLite only: for input checks that do not depend on the store."""
    return _reports(sqlite_engine)


def test_recording_queues_it_in_the_same_row(reports):
    item = record_follow_up(
        reports,
        101,
        status="diproses",
        content="  Sedang kami tangani.  ",
        attachments=["https://pemalangkab.go.id/foto/1.jpg"],
        created_by="liaison-dinkes",
        now=NOW,
    )
    [stored] = items(reports)
    assert stored.id == item.id
    assert (stored.tracking_id, stored.opd, stored.status) == (101, "DINKES", "DIPROSES")
    assert stored.content == "Sedang kami tangani."
    assert stored.attachments == [{"url": "https://pemalangkab.go.id/foto/1.jpg"}]
    assert stored.state == "pending" and stored.attempts == 0 and stored.created_at == NOW
    assert stored.created_by == "liaison-dinkes"
    assert re.fullmatch(r"lb-3327-[0-9a-f]{32}", stored.external_ref)
    # queued: a worker can claim it right away
    claimed = claim_next(reports, worker="w", now=NOW, lease_s=60)
    assert claimed is not None and claimed.id == item.id


def test_external_refs_are_unique(local):
    refs = {
        record_follow_up(local, 101, status="DIPROSES", content=f"n{i}", now=NOW).external_ref
        for i in range(20)
    }
    assert len(refs) == 20 and all(len(r) <= 64 for r in refs)


def test_the_sla_clock_stops_at_the_local_follow_up_time(reports):
    record_follow_up(reports, 101, status="DIPROSES", content="Diterima.", now=NOW)
    with read_session(reports) as session:
        clock = session.get(SlaClock, (101, "nasional-5hk"))
    assert clock is not None and clock.stopped_at == NOW


def test_opd_given_explicitly_wins_and_is_required_without_assignment(local):
    item = record_follow_up(local, 101, status="SELESAI", content="Selesai.", opd="DPUPR", now=NOW)
    assert item.opd == "DPUPR"
    with pytest.raises(InvalidFollowUp, match=r"no OPD assigned.*--opd"):
        record_follow_up(local, 102, status="DIPROSES", content="x", now=NOW)
    assert record_follow_up(local, 102, status="DIPROSES", content="x", opd="DISHUB", now=NOW)


UNITS = {"DINKES": "Dinas Kesehatan", "DPUPR": "Dinas Pekerjaan Umum dan Penataan Ruang"}


def test_with_the_units_the_opd_code_is_checked_and_its_name_kept(local):
    item = record_follow_up(local, 101, status="DIPROSES", content="x", units=UNITS, now=NOW)
    assert (item.opd, item.unit) == ("DINKES", "Dinas Kesehatan")
    with pytest.raises(InvalidFollowUp, match=r"'DINKESS' is not in mappings/units.yaml"):
        record_follow_up(
            local, 101, status="DIPROSES", content="y", opd="DINKESS", units=UNITS, now=NOW
        )
    assert count(local) == 1
    assert record_follow_up(local, 101, status="DIPROSES", content="z", now=NOW).unit is None


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
        (101, {"attachments": ["file:///etc/passwd"]}, "not an http\\(s\\) URL"),
    ],
)
def test_bad_follow_ups_are_refused_and_change_nothing(local, tracking_id, kwargs, message):
    args = {"status": "DIPROSES", "content": "Sedang ditangani.", **kwargs}
    with pytest.raises(InvalidFollowUp, match=message):
        record_follow_up(local, tracking_id, now=NOW, **args)
    assert count(local) == 0


def test_a_follow_up_of_5000_characters_and_on_a_selesai_report_is_fine(local):
    record_follow_up(local, 106, status="SELESAI", content="y" * 5000, now=NOW)
    assert count(local) == 1


def test_a_failing_transaction_keeps_neither_follow_up_nor_queue_entry(reports):
    with pytest.raises(RuntimeError), write_session(reports) as session:
        record_tindak_lanjut(session, 101, status="DIPROSES", content="x", now=NOW)
        raise RuntimeError("crash before commit")
    assert count(reports) == 0


# --- CSV ----------------------------------------------------------------------


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "jawaban.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_good_rows_go_in_and_bad_rows_are_reported_by_line(reports, tmp_path):
    path = write(
        tmp_path,
        "tracking_id,status,text,opd,attach\n"
        '101,DIPROSES,"Sudah dicek,\nmenunggu anggaran",,https://a.id/1.jpg https://a.id/2.jpg\n'
        "abc,DIPROSES,teks,,\n"
        "\n"
        "103,SELESAI,sudah,,\n"
        "102,SELESAI,selesai dikerjakan,DPUPR,\n"
        "101,BATAL,teks,,\n"
        "101,SELESAI,,,\n"
        "101,SELESAI,x,,,extra\n",
    )
    result = import_csv(reports, path, created_by="admin", now=NOW)
    assert [line for line, _ in result.recorded] == [2, 7]
    assert [line for line, _ in result.bad] == [4, 6, 8, 9, 10]
    reasons = dict(result.bad)
    assert "not a number" in reasons[4]
    assert "DITUTUP" in reasons[6]
    assert "DIPROSES or SELESAI" in reasons[8]
    assert "empty" in reasons[9]
    assert "6 cells, the header has 5" in reasons[10]
    stored = items(reports)
    assert [(i.tracking_id, i.opd, i.status) for i in stored] == [
        (101, "DINKES", "DIPROSES"),
        (102, "DPUPR", "SELESAI"),
    ]
    assert stored[0].content == "Sudah dicek,\nmenunggu anggaran"
    assert stored[0].attachments == [{"url": "https://a.id/1.jpg"}, {"url": "https://a.id/2.jpg"}]
    assert not result.ok
    with read_session(reports) as session:  # refreshed in the same transaction
        assert session.get(SlaClock, (101, "nasional-5hk")).stopped_at == NOW


def test_csv_from_excel_with_bom_semicolons_and_capital_headers(local, tmp_path):
    path = write(
        tmp_path, "\ufeffTracking_ID;Status;Text\r\n101;SELESAI;Jalan sudah diperbaiki\r\n"
    )
    result = import_csv(local, path, now=NOW)
    assert result.ok and len(result.recorded) == 1
    assert items(local)[0].content == "Jalan sudah diperbaiki"


def test_importing_the_same_file_twice_sends_nothing_twice(reports, tmp_path):
    path = write(
        tmp_path,
        "tracking_id,status,text\n101,DIPROSES,Sedang dicek\n101,DIPROSES,Sedang dicek\n",
    )
    first = import_csv(reports, path, now=NOW)
    assert [line for line, _ in first.recorded] == [2]
    assert [line for line, _ in first.bad] == [3]
    assert "already has this follow-up" in first.bad[0][1]
    second = import_csv(reports, path, now=NOW)
    assert not second.recorded and len(second.bad) == 2
    assert count(reports) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tracking_id,status,teks\n101,DIPROSES,x\n", "missing column\\(s\\) text; unknown column"),
        ("", "empty"),
        ('tracking_id,status,text\n101,DIPROSES,"unterminated\n', "quoting"),
    ],
)
def test_csv_problems_of_the_whole_file_record_nothing(local, tmp_path, text, message):
    with pytest.raises(InvalidCsv, match=message):
        import_csv(local, write(tmp_path, text), now=NOW)
    assert count(local) == 0


def test_csv_not_utf8_says_how_to_save_it(local, tmp_path):
    path = write(tmp_path, "tracking_id,status,text\n101,DIPROSES,Sudah ditangani é\n", "cp1252")
    with pytest.raises(InvalidCsv, match="CSV UTF-8"):
        import_csv(local, path, now=NOW)
