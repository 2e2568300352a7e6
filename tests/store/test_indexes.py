"""Every sync's time pass reads only what is open or recent, never the whole
history: each query it runs on SQLite searches an index of the tables that grow
with the years (so a no-op sync does not grow with the store)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from lapor_bridge.mapping import load_mapping
from lapor_bridge.notify import record_events
from lapor_bridge.sla import default_policies, refresh_clocks
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import UpstreamFollowUpRow
from tests.outbox.helpers import add_report

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
INDEXES = {
    "sla_clock": {"ix_sla_clock_open_due", "ix_sla_clock_open_at_risk"},  # 0005
    "report": {"ix_report_transferred_at"},  # 0006
    "upstream_followup": {"ix_upstream_followup_pelapor_seen"},  # 0006
}
# the tables that grow with the store's history
GROWING = {
    "report",
    "sla_clock",
    "upstream_followup",
    "assignment",
    "assignment_history",
    "notify_event",
    "tindak_lanjut",
}


def test_the_time_pass_indexes_exist_on_both_engines(engine):
    for table, names in INDEXES.items():
        assert names <= {index["name"] for index in inspect(engine).get_indexes(table)}, table


def _aliases(sql: str) -> dict[str, str]:
    """alias (or name) -> table, for every FROM / JOIN of a statement."""
    found = {}
    for table, alias in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+AS\s+(\w+))?", sql, re.I):
        found[alias or table] = table
    return found


def test_the_time_pass_scans_no_table_that_grows_with_history(sqlite_url):
    engine = open_store(sqlite_url)
    mapping = load_mapping(MAPPINGS)
    with write_session(engine) as session:
        for tid in range(1, 6):
            add_report(session, tid, opd="DPUPR", at=NOW - timedelta(hours=tid))
        session.add(
            UpstreamFollowUpRow(
                id=1, tracking_id=1, author="PELAPOR", status="PROSES", content="x",
                created_at=NOW, first_seen_at=NOW,
            )
        )  # fmt: skip
        session.flush()
        refresh_clocks(session, list(range(1, 6)), now=NOW, policies=default_policies())
    statements: list[str] = []
    with write_session(engine) as session:
        raw = session.connection().connection.driver_connection
        raw.set_trace_callback(statements.append)
        record_events(session, now=NOW + timedelta(days=2), mapping=mapping, time_pass=True)
        raw.set_trace_callback(None)
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) >= 4, statements  # clocks, replies, reopened, transfers
        scans = []
        for sql in selects:
            aliases = _aliases(sql)
            for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}"):
                match = re.match(r"SCAN (\w+)", row[-1])
                if match and aliases.get(match.group(1), match.group(1)) in GROWING:
                    scans.append((row[-1], sql))
    engine.dispose()
    assert not scans, scans
