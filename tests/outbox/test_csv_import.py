"""The CSV import: the good rows go in, each bad row is reported with its line
(also a NUL byte, or text the database refuses), a broken file records nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lapor_bridge.outbox import import_csv
from lapor_bridge.outbox.errors import InvalidCsv, InvalidFollowUp
from lapor_bridge.store import open_store, read_session
from lapor_bridge.store.tables import SlaClock
from tests.conftest import fresh_pg_database
from tests.outbox.helpers import NOW, POLICIES, UNITS, add_answerable_reports, count, items, respond

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
    latin1 = "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    with fresh_pg_database(latin1) as url:
        if request.param == "refused-by-server":
            url += "?client_encoding=utf8"
        engine = open_store(url)
        try:
            yield add_answerable_reports(engine)
        finally:
            engine.dispose()


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
    assert "the database refused the text of the follow-up for report 102" in reason
    assert "Terima kasih" not in reason  # no values in error text
    assert [line for line, _ in result.recorded] == [2, 4]
    assert [i.tracking_id for i in items(latin1_store)] == [101, 106]


@pytest.mark.postgres
def test_one_follow_up_with_text_postgresql_refuses_is_a_clear_error(latin1_store):
    with pytest.raises(InvalidFollowUp, match=r"database refused the text .* report 101"):
        respond(latin1_store, 101, "Terima kasih \U0001f600")
    assert count(latin1_store) == 0
    assert respond(latin1_store, 101, "Terima kasih, sudah kami tangani.")
