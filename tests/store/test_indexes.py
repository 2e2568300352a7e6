"""The time pass of every sync reads only open clocks: migration 0005's partial
indexes exist on both engines, and SQLite's planner uses them for the query the
time pass asks (so a no-op sync does not grow with the store's history)."""

from __future__ import annotations

from sqlalchemy import inspect, text

OPEN_CLOCKS = ("ix_sla_clock_open_due", "ix_sla_clock_open_at_risk")


def test_open_clocks_are_indexed_on_both_engines(engine):
    names = {index["name"] for index in inspect(engine).get_indexes("sla_clock")}
    assert set(OPEN_CLOCKS) <= names


def test_the_time_pass_reads_open_clocks_through_the_index(sqlite_url):
    from lapor_bridge.store import open_store

    engine = open_store(sqlite_url)
    with engine.connect() as connection:
        plan = connection.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT c.tracking_id FROM sla_clock AS c"
                " WHERE c.stopped_at IS NULL AND c.due_at <= :at"
            ),
            {"at": "2026-12-02 00:00:00.000000"},
        ).all()
    engine.dispose()
    assert any("ix_sla_clock_open_due" in row[-1] for row in plan), plan
