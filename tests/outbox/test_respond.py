"""Capturing follow-ups: one row is the follow-up and its queue entry; bad input
changes nothing; the CSV import keeps the good rows and reports the bad ones."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from lapor_bridge.outbox import import_csv
from lapor_bridge.outbox.claim import claim_next
from lapor_bridge.outbox.errors import InvalidCsv, InvalidFollowUp
from lapor_bridge.store import open_store, read_session, write_session
from lapor_bridge.store.tables import SlaClock, TindakLanjut
from tests.conftest import PG_URL
from tests.outbox.helpers import NOW, POLICIES, UNITS, add_report, items, respond, respond_in


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
        respond_in(session, 101, "x")
        raise RuntimeError("crash before commit")
    assert count(reports) == 0


# --- CSV ----------------------------------------------------------------------

ARGS = {"now": NOW, "units": UNITS, "policies": POLICIES}


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
    result = import_csv(reports, path, created_by="admin", **ARGS)
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
    result = import_csv(local, path, **ARGS)
    assert result.ok and len(result.recorded) == 1
    assert items(local)[0].content == "Jalan sudah diperbaiki"


def test_importing_the_same_file_twice_sends_nothing_twice(reports, tmp_path):
    path = write(
        tmp_path,
        "tracking_id,status,text\n101,DIPROSES,Sedang dicek\n101,DIPROSES,Sedang dicek\n",
    )
    first = import_csv(reports, path, **ARGS)
    assert [line for line, _ in first.recorded] == [2]
    assert [line for line, _ in first.bad] == [3]
    assert "already has this follow-up" in first.bad[0][1]
    second = import_csv(reports, path, **ARGS)
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
        import_csv(local, write(tmp_path, text), **ARGS)
    assert count(local) == 0


def test_csv_not_utf8_says_how_to_save_it(local, tmp_path):
    path = write(tmp_path, "tracking_id,status,text\n101,DIPROSES,Sudah ditangani é\n", "cp1252")
    with pytest.raises(InvalidCsv, match="CSV UTF-8"):
        import_csv(local, path, **ARGS)


def test_csv_a_nul_byte_is_reported_with_its_line_and_the_rest_goes_in(reports, tmp_path):
    path = write(
        tmp_path,
        "tracking_id,status,text,opd\n"
        "101,DIPROSES,Sedang dicek,\n"
        "102,DIPROSES,Ada\x00nol,DPUPR\n"
        "106,SELESAI,Sudah selesai,DPUPR\x00\n",
    )
    result = import_csv(reports, path, **ARGS)
    assert [line for line, _ in result.recorded] == [2]
    assert [line for line, _ in result.bad] == [3, 4]
    reasons = dict(result.bad)
    assert "column text contains a NUL byte" in reasons[3]
    assert "column opd contains a NUL byte" in reasons[4]
    assert [i.tracking_id for i in items(reports)] == [101]


@pytest.fixture(params=["refused-by-driver", "refused-by-server"])
def latin1_store(request):
    """A PostgreSQL store in LATIN1: the driver (client encoding LATIN1) or the
    server (client encoding UTF8) refuses a character LATIN1 has no place for."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("LAPOR_BRIDGE_TEST_PG_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL")
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' "
                "LC_CTYPE 'C' TEMPLATE template0"
            )
        )
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    if request.param == "refused-by-server":
        url += "?client_encoding=utf8"
    engine = open_store(url)
    try:
        yield _reports(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_csv_text_postgresql_refuses_is_reported_with_its_line_and_the_rest_goes_in(
    latin1_store, tmp_path
):
    path = write(
        tmp_path,
        "tracking_id,status,text\n"
        "101,DIPROSES,Sedang dicek petugas\n"
        "102,DIPROSES,Terima kasih \U0001f600\n"
        "106,SELESAI,Sudah selesai dikerjakan\n",
    )
    result = import_csv(latin1_store, path, **ARGS)
    assert [line for line, _ in result.bad] == [3]
    reason = result.bad[0][1]
    assert "the database refused the text of this row" in reason
    assert "Terima kasih" not in reason  # no values in error text
    assert [line for line, _ in result.recorded] == [2, 4]
    assert [i.tracking_id for i in items(latin1_store)] == [101, 106]
