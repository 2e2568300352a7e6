"""store/bulk.py on a real SQLite file and a real PostgreSQL: the statements
both engines run (executemany, and COPY + staging for large batches on
PostgreSQL), the conflict rules, and values that read back as the ORM writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.bulk import (
    COPY_FROM,
    Add,
    BulkWriter,
    KeepWhile,
    UnsupportedStore,
    Upsert,
    writer,
)
from lapor_bridge.store.tables import NotifyEvent, Quarantine, TindakLanjut, TopicRow

T0 = datetime(2026, 3, 2, 3, 0, 0, 123456, tzinfo=UTC)
COLUMNS = ("digest", "tracking_id", "version", "source", "reason", "raw",
           "first_seen_at", "last_seen_at", "times_seen")  # fmt: skip
# the conflict rules of the test, on a table with a unique key and a counter
RULE = Upsert(key=("digest",), keep=frozenset({"first_seen_at", "source"}),
              rules={"times_seen": Add(1)}, newer="version")  # fmt: skip


def rows(bulk, n: int, *, version: int, at: datetime, source: str = "listing"):
    return [
        (f"d{i}", i, version, source, f"v{version}", bulk.json({"i": i}), bulk.time(at),
         bulk.time(at), 1)
        for i in range(n)
    ]  # fmt: skip


def quarantined(engine) -> dict[str, Quarantine]:
    with read_session(engine) as s:
        return {q.digest: q for q in s.scalars(select(Quarantine))}


@pytest.mark.parametrize("n", [3, COPY_FROM + 50], ids=["small", "copy"])
def test_upsert_rules_hold_for_small_and_large_batches(engine, n):
    later = T0 + timedelta(hours=1)
    with write_session(engine) as s:
        bulk = writer(s)
        bulk.insert("quarantine", COLUMNS, rows(bulk, n, version=2, at=T0), on_conflict=RULE)
    with write_session(engine) as s:  # an older version: only the counter moves
        bulk = writer(s)
        bulk.insert("quarantine", COLUMNS, rows(bulk, n, version=1, at=later), on_conflict=RULE)
    got = quarantined(engine)
    assert len(got) == n
    assert {(q.version, q.reason, q.times_seen) for q in got.values()} == {(2, "v2", 1)}
    with write_session(engine) as s:  # a newer one: updated, except the kept columns
        bulk = writer(s)
        bulk.insert(
            "quarantine", COLUMNS, rows(bulk, n, version=3, at=later, source="topics"),
            on_conflict=RULE,
        )  # fmt: skip
    got = quarantined(engine)
    assert {(q.version, q.reason, q.times_seen, q.source) for q in got.values()} == {
        (3, "v3", 2, "listing")
    }
    q = got["d0"]
    assert (q.first_seen_at, q.last_seen_at) == (T0, later)  # microseconds kept, aware UTC
    assert q.raw == {"i": 0}


@pytest.mark.parametrize("n", [2, COPY_FROM + 10], ids=["small", "copy"])
def test_keep_while_keeps_the_first_value_and_clears_when_false(engine, n):
    columns = ("tracking_id", "external_ref", "opd", "status", "content", "created_at",
               "state", "attempts", "uncertain", "sent_at")  # fmt: skip
    # KeepWhile on sent_at, with the boolean `uncertain` as the flag
    rule = Upsert(key=("external_ref",), rules={"sent_at": KeepWhile("uncertain")})

    def put(at, flag):
        with write_session(engine) as s:
            bulk = writer(s)
            t = bulk.time(at)
            bulk.insert(
                "tindak_lanjut", columns,
                [(1, f"lb-{i}", "DPU", "DIPROSES", "isi", t, "pending", 0, flag, t)
                 for i in range(n)],
                on_conflict=rule,
            )  # fmt: skip

    def sent_at():
        with read_session(engine) as s:
            return set(s.scalars(select(TindakLanjut.sent_at)))

    put(T0, True)
    put(T0 + timedelta(days=1), True)
    assert sent_at() == {T0}
    put(T0 + timedelta(days=2), False)
    assert sent_at() == {None}


@pytest.mark.parametrize("n", [2, 2 * COPY_FROM + 10], ids=["small", "copy"])
def test_ignore_update_and_select_in(engine, n):
    with write_session(engine) as s:
        bulk = writer(s)
        t = bulk.time(T0)
        once = Upsert(key=("id",), ignore=True)
        topics = [(i, 0, f"t{i}", t) for i in range(1, n + 1)]
        bulk.insert("topic", ("id", "parent", "name", "synced_at"), topics, on_conflict=once)
        renamed = [(i, 0, "again", t) for i in range(1, n + 1)]
        bulk.insert("topic", ("id", "parent", "name", "synced_at"), renamed, on_conflict=once)
        bulk.update("topic", ("id", "parent"), [(i, 7) for i in range(1, n + 1, 2)])
    with read_session(engine) as s:
        got = {t.id: (t.parent, t.name, t.synced_at) for t in s.scalars(select(TopicRow))}
    assert got == {i: (7 if i % 2 else 0, f"t{i}", T0) for i in range(1, n + 1)}
    with read_session(engine) as s:
        bulk = writer(s)
        found = list(bulk.select_in("topic", ("id", "synced_at"), "id", range(2 * n)))
        assert sorted(i for i, _ in found) == list(range(1, n + 1))
        assert {bulk.read_time(at) for _, at in found} == {T0}
        assert len(list(bulk.select_in("topic", ("id",), "id", [1, 2], where="parent = 7"))) == 1


EVENT_COLUMNS = ("kind", "recipient", "ref", "tracking_id", "detail", "occurred_at",
                 "created_at", "quiet")  # fmt: skip
EVENT_KEY = ("kind", "ref", "recipient")


@pytest.mark.parametrize("n", [4, 2 * COPY_FROM + 10], ids=["small", "copy"])
def test_insert_new_counts_only_the_rows_not_stored_yet(engine, n):
    def events(bulk, refs, *, detail):
        t = bulk.time(T0)
        return [("assigned", "DPU", str(r), r, bulk.json(detail), t, t, False) for r in refs]

    with write_session(engine) as s:
        bulk = writer(s)
        first = events(bulk, range(0, n, 2), detail={"try": 1})  # the even refs
        assert bulk.insert_new("notify_event", EVENT_COLUMNS, first, key=EVENT_KEY) == len(first)
    with write_session(engine) as s:  # every ref: the even ones are conflicts
        bulk = writer(s)
        again = events(bulk, range(n), detail={"try": 2})
        assert bulk.insert_new("notify_event", EVENT_COLUMNS, again, key=EVENT_KEY) == n // 2
        # all of them conflicts now, in the same transaction
        assert bulk.insert_new("notify_event", EVENT_COLUMNS, again, key=EVENT_KEY) == 0
    with read_session(engine) as s:
        got = {e.ref: e for e in s.scalars(select(NotifyEvent))}
    assert len(got) == n
    # a conflict leaves the stored row as it was
    assert {r: e.detail["try"] for r, e in got.items()} == {str(r): 1 + r % 2 for r in range(n)}
    assert got["0"].occurred_at == T0 and got["0"].quiet is False


def test_query_in_runs_every_chunk_and_all_rows_without_ids(engine):
    n = 2 * 900 + 7  # more than one IN list on SQLite
    with write_session(engine) as s:
        bulk = writer(s)
        t = bulk.time(T0)
        event_rows = [("assigned", "DPU", str(r), r, None, t, t, r % 2 == 0) for r in range(n)]
        bulk.insert_new("notify_event", EVENT_COLUMNS, event_rows, key=EVENT_KEY)
    sql = "SELECT tracking_id, occurred_at FROM notify_event WHERE quiet IS TRUE AND kind = ? AND {ids}"
    with read_session(engine) as s:
        bulk = writer(s)
        some = sorted(r for r, *_ in bulk.query_in(sql, ("assigned",), "tracking_id", range(n)))
        every = sorted(r for r, *_ in bulk.query_in(sql, ("assigned",), "tracking_id", None))
        none = list(bulk.query_in(sql, ("moved_away",), "tracking_id", range(n)))
        (stored,) = bulk.query("SELECT occurred_at FROM notify_event WHERE ref = ?", ("1",))
    assert some == every == list(range(0, n, 2))
    assert none == []
    assert BulkWriter.read_time(stored[0]) == T0


def test_values_written_by_the_orm_compare_equal_in_stored_form(engine):
    with write_session(engine) as s:
        s.add(TopicRow(id=1, parent=0, name="x", synced_at=T0))
    with read_session(engine) as s:
        bulk = writer(s)
        (stored,) = [at for _, at in bulk.select_in("topic", ("id", "synced_at"), "id", [1])]
        assert stored == bulk.time(T0)  # what refresh compares to skip unchanged clocks


def test_an_unknown_engine_gets_one_clear_error():
    connection = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))
    with pytest.raises(UnsupportedStore, match="SQLite or PostgreSQL, not mysql"):
        writer(SimpleNamespace(connection=lambda: connection, info={}))


def test_a_session_keeps_one_writer_per_connection(engine):
    with write_session(engine) as s:
        bulk = writer(s)
        assert writer(s) is bulk  # one page's steps share the stored forms of times
        assert bulk.time(T0) is writer(s).time(T0)
    with write_session(engine) as s:
        assert writer(s) is not bulk and writer(s).connection is s.connection()
