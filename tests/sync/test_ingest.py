"""Storing pages: version-guarded upserts, quarantine, privacy, transfers, echoes.
Runs on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy import text as text_sql

from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Quarantine, ReportRow, UpstreamFollowUpRow
from lapor_bridge.sync.ingest import store_page

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
OURS = 3327


def record(tracking_id: int = 1916449, version: int = 1, **fields) -> dict:
    base = {
        "tracking_id": tracking_id,
        "title": "Jalan rusak di Desa Beji",
        "content": "Jalan berlubang besar, mohon diperbaiki.",
        "classification": "PENGADUAN",
        "privacy": "PUBLIK",
        "channel": "WEB",
        "created_at": "2026-11-27T08:00:00+07:00",
        "disposed_at": "2026-11-27T09:00:00+07:00",
        "instansi_id": OURS,
        "status": "DISPOSISI",
        "updated_at": f"2026-11-27T10:00:{version:02d}+07:00",
        "version": version,
        "topic_id": 101,
        "reporter": {"name": "Siti", "phone": "0812", "email": None},
        "location": {"kecamatan": "Taman", "desa": "Beji"},
        "tags": [],
        "followups": [],
        "skor": 7,  # an unknown field: ignored, but kept in raw
    }
    base.update(fields)
    return base


def stored(engine, tracking_id: int) -> ReportRow | None:
    with read_session(engine) as s:
        return s.get(ReportRow, tracking_id)


def put(engine, records):
    with write_session(engine) as s:
        return store_page(s, records, instansi_id=OURS, now=NOW)


def test_insert_then_newer_version_updates_and_older_never_overwrites(engine):
    r = put(engine, [record(version=1)])
    assert (r.inserted, r.updated, r.unchanged) == (1, 0, 0)
    r = put(engine, [record(version=3, status="DIPROSES")])
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 0)
    r = put(engine, [record(version=2, status="DISPOSISI"), record(version=3, status="DIPROSES")])
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 1)
    row = stored(engine, 1916449)
    assert (row.version, row.status) == (3, "DIPROSES")
    assert row.raw["skor"] == 7
    assert row.updated_at == datetime(2026, 11, 27, 3, 0, 3, tzinfo=UTC)


def test_same_report_twice_in_one_page_keeps_the_newest(engine):
    r = put(engine, [record(version=2, status="DIPROSES"), record(version=1)])
    assert (r.inserted, r.fetched) == (1, 2)
    assert stored(engine, 1916449).version == 2


def test_legacy_time_without_offset_is_wib(engine):
    put(
        engine,
        [
            record(
                created_at="2021-09-21 10:15:00", updated_at="2021-09-21 10:15:00", disposed_at=None
            )
        ],
    )
    row = stored(engine, 1916449)
    assert row.created_at == datetime(2021, 9, 21, 3, 15, tzinfo=UTC)
    assert row.disposed_at is None


def test_anonymous_reporter_is_never_stored(engine):
    leaked = record(privacy="ANONIM", reporter={"name": "Budi", "phone": "0813", "email": "b@x.id"})
    put(engine, [leaked])
    row = stored(engine, 1916449)
    assert (row.reporter_name, row.reporter_phone, row.reporter_email) == (None, None, None)
    assert row.raw["reporter"] is None
    assert "Budi" not in str(row.raw)


def test_bad_record_is_quarantined_and_the_page_goes_on(engine):
    bad = record(tracking_id=2, version=1, status="BOGUS")
    r = put(engine, [record(tracking_id=1), bad, record(tracking_id=3)])
    assert (r.inserted, r.quarantined) == (2, 1)
    put(engine, [bad])  # a replay counts, it does not duplicate
    with read_session(engine) as s:
        rows = s.scalars(select(Quarantine)).all()
    assert len(rows) == 1
    assert rows[0].tracking_id == 2 and rows[0].times_seen == 2
    assert "status" in rows[0].reason and rows[0].resolved_at is None
    assert stored(engine, 2) is None

    put(engine, [record(tracking_id=2, version=2)])  # the fixed version settles it
    with read_session(engine) as s:
        assert s.scalars(select(Quarantine)).one().resolved_at is not None
    assert stored(engine, 2).version == 2


def test_non_object_and_non_integer_ids_are_quarantined(engine):
    r = put(engine, ["nonsense", record(tracking_id="12ab")])
    assert r.quarantined == 2 and r.inserted == 0
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Quarantine)) == 2


def test_transfer_is_marked_once_and_cleared_when_disposed_back(engine):
    put(engine, [record(version=1)])
    put(engine, [record(version=2, status="DIALIHKAN", instansi_id=3328)])
    row = stored(engine, 1916449)
    assert row.transferred and row.instansi_id == 3328
    first_seen_leaving = row.transferred_at
    assert first_seen_leaving == row.updated_at
    put(engine, [record(version=3, status="DIALIHKAN", instansi_id=3300)])
    assert stored(engine, 1916449).transferred_at == first_seen_leaving
    put(engine, [record(version=4, status="DISPOSISI", instansi_id=OURS)])
    row = stored(engine, 1916449)
    assert not row.transferred and row.transferred_at is None


def test_followups_are_stored_once(engine):
    reply = {
        "id": 77,
        "tracking_id": 1916449,
        "content": "Terima kasih, tapi belum diperbaiki.",
        "status": "DIPROSES",
        "author": "PELAPOR",
        "created_at": "2026-11-27T12:00:00+07:00",
    }
    put(engine, [record(version=1, followups=[reply])])
    put(engine, [record(version=2, followups=[reply, {**reply, "id": 78}])])
    with read_session(engine) as s:
        rows = s.scalars(select(UpstreamFollowUpRow).order_by(UpstreamFollowUpRow.id)).all()
    assert [(f.id, f.author, f.is_echo) for f in rows] == [
        (77, "PELAPOR", False),
        (78, "PELAPOR", False),
    ]


def test_masbupsiaga_sms_is_marked(engine):
    put(engine, [record(channel="SMS", content="MASBUPSIAGA lampu jalan mati di Comal")])
    assert stored(engine, 1916449).masbupsiaga is True


def test_input_records_are_not_mutated(engine):
    original = record(privacy="ANONIM")
    snapshot = copy.deepcopy(original)
    put(engine, [original])
    assert original == snapshot


def put_as_received(engine, records: list[dict]) -> object:
    """A page the way the client hands it over: the records and their texts."""
    from lapor_bridge.upstream.client import split_listing

    text = json.dumps({"data": records, "next_cursor": None}, indent=1)
    body, texts = split_listing(text)
    with write_session(engine) as s:
        return store_page(s, body["data"], instansi_id=OURS, now=NOW, texts=texts)


def test_records_are_stored_as_received_except_an_anonim_reporter(engine):
    public = record(tracking_id=1, title="Lampu \u00e9 mati")
    anonim = record(
        tracking_id=2, privacy="ANONIM", reporter={"name": "Budi", "phone": "0813", "email": None}
    )
    r = put_as_received(engine, [public, anonim])
    assert r.inserted == 2
    assert stored(engine, 1).raw == public
    assert stored(engine, 2).raw == {**anonim, "reporter": None}
    with read_session(engine) as s:
        texts = dict(s.execute(text_sql("SELECT tracking_id, raw FROM report")).all())
    page = json.dumps({"data": [public, anonim], "next_cursor": None}, indent=1)
    assert "\n" in texts[1] and texts[1] in page  # the text as it came, not serialised again
    assert "Budi" not in texts[2]


def test_an_escaped_lone_surrogate_or_nul_in_a_received_text_is_still_quarantined(engine):
    r = put_as_received(
        engine, [record(tracking_id=1, title="a\ud800b"), record(tracking_id=2, content="x\x00")]
    )
    assert (r.inserted, r.quarantined) == (0, 2)
