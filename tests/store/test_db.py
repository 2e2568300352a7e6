"""The store's engines, sessions and column types, on a real SQLite file and a
real PostgreSQL: what every table relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text

from lapor_bridge.errors import ConfigError
from lapor_bridge.store import create_store_engine, open_store, write_session
from lapor_bridge.store.types import JSONText, UTCDateTime

WIB = timezone(timedelta(hours=7))


@pytest.fixture
def probe(engine):
    """A scratch table with the store's column types."""
    metadata = MetaData()
    table = Table(
        "store_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime),
        Column("doc", JSONText),
    )
    metadata.create_all(engine)
    yield table
    metadata.drop_all(engine)


def test_sqlite_is_durable_and_waits_for_locks(sqlite_engine):
    with sqlite_engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL: the outbox survives a power cut
        assert pragma("busy_timeout") == 30000
        assert pragma("foreign_keys") == 1


def test_sqlite_holds_a_large_page_in_cache_and_checkpoints_seldom(sqlite_engine):
    """A 500-report page on a 100,000-report store dirties ~3,500 pages of 4 KiB
    (its reports interleave with the stored ones): the cache holds them all
    (no spill, no re-read) and a commit of that size is not followed by a
    checkpoint copying all of them again (the per-page cost stays flat)."""
    with sqlite_engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        page_kib = pragma("page_size") / 1024
        cache = pragma("cache_size")
        cache_pages = -cache / page_kib if cache < 0 else cache
        assert cache_pages >= 4000
        assert pragma("wal_autocheckpoint") >= 2 * 3500


def test_times_are_stored_naive_utc_and_read_back_aware_utc(engine, probe):
    at_wib = datetime(2026, 3, 2, 10, 0, 0, 250000, tzinfo=WIB)
    with write_session(engine) as session:
        session.execute(probe.insert().values(id=1, at=at_wib))
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT at FROM store_probe")).scalar()
        read = conn.execute(select(probe.c.at)).scalar()
    assert str(raw).startswith("2026-03-02 03:00:00.25")  # naive UTC on both engines
    assert read == at_wib and read.tzinfo == UTC


def test_a_naive_time_is_refused_before_it_reaches_the_store(engine, probe):
    with pytest.raises(Exception, match="naive datetime"), write_session(engine) as session:
        session.execute(probe.insert().values(id=1, at=datetime(2026, 3, 2, 10, 0)))
    with engine.connect() as conn:
        assert conn.execute(select(probe.c.id)).all() == []


def test_json_is_kept_as_text_as_received(engine, probe):
    doc = {"judul": "Jalan rusak di Désa Sima", "b": [1, None], "a": True}
    with write_session(engine) as session:
        session.execute(probe.insert().values(id=1, doc=doc))
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT doc FROM store_probe")).scalar()
        assert conn.execute(select(probe.c.doc)).scalar() == doc
    assert raw == '{"a":true,"b":[1,null],"judul":"Jalan rusak di Désa Sima"}'


def test_a_write_session_commits_all_or_nothing(engine, probe):
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.execute(probe.insert().values(id=1))
        raise RuntimeError("crash before commit")
    with write_session(engine) as session:
        session.execute(probe.insert().values(id=2))
    with engine.connect() as conn:
        assert conn.execute(select(probe.c.id)).scalars().all() == [2]


def test_opening_a_store_twice_migrates_once_and_keeps_the_data(store_url):
    first = open_store(store_url)
    with first.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO topic (id, parent, name, synced_at) VALUES (1, 0, 'Infrastruktur', '2026-03-02 03:00:00')"
            )
        )
    first.dispose()
    again = open_store(store_url)
    with again.connect() as conn:
        assert conn.execute(text("SELECT name FROM topic")).scalars().all() == ["Infrastruktur"]
    again.dispose()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y"])
def test_a_bad_database_url_is_a_config_error_in_one_line(url):
    with pytest.raises(ConfigError) as info:
        create_store_engine(url)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
