"""Benchmark: a full remap of 100,000 stored reports.

Inserts 100,000 reports (simulator-like texts over Pemalang's topics and
kecamatan) into a temporary SQLite file, and into PostgreSQL when
LAPOR_BRIDGE_TEST_PG_URL is set (a scratch database is created and
dropped), then times with the shipped mapping:

- the first remap (every report gets an assignment and a history row),
- a re-run with nothing to change (reads and routes everything, writes nothing),
- a remap after a rule edit that moves about a tenth of the reports.

Run by hand: `python bench/bench_remap.py [N]`. Prints the figures.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text

from lapor_bridge.mapping import assign_reports, load_mapping
from lapor_bridge.simulator.seed import KECAMATAN, TOPICS
from lapor_bridge.simulator.textgen import TEMPLATES, report_text
from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import ReportRow, TopicRow

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def reports(n: int) -> list[dict[str, object]]:
    rng = random.Random(1708)
    topics = [*TEMPLATES, None]
    rows: list[dict[str, object]] = []
    for tracking_id in range(1, n + 1):
        topic = rng.choice(topics)
        kec = rng.choice(tuple(KECAMATAN))
        desa = rng.choice(KECAMATAN[kec])
        title, content = report_text(rng, topic, kec, desa)
        at = NOW - timedelta(minutes=tracking_id)
        rows.append(
            {
                "tracking_id": tracking_id,
                "version": 1,
                "title": title,
                "content": content,
                "topic_id": topic,
                "classification": rng.choice(
                    ("PENGADUAN", "PENGADUAN", "ASPIRASI", "PERMINTAAN_INFORMASI")
                ),
                "privacy": "PUBLIK",
                "channel": rng.choice(("WEB", "SMS", "TWITTER", "APP")),
                "status": rng.choice(("DISPOSISI", "DIPROSES", "SELESAI")),
                "instansi_id": 3327,
                "kecamatan": kec if rng.random() < 0.9 else None,
                "desa": desa,
                "masbupsiaga": rng.random() < 0.1,
                "transferred": False,
                "created_at": at,
                "updated_at": at,
                "raw": {},
                "first_seen_at": at,
                "last_synced_at": at,
            }
        )
    return rows


def fill(engine: Engine, rows: list[dict[str, object]]) -> None:
    with write_session(engine) as session:
        session.execute(
            insert(TopicRow.__table__),  # type: ignore[attr-defined]
            [{"id": t, "parent": p, "name": n, "synced_at": NOW} for t, p, n in TOPICS],
        )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(ReportRow.__table__), rows[start : start + 10_000])  # type: ignore[attr-defined]


def timed_remap(engine: Engine, mappings: Path, label: str) -> None:
    mapping = load_mapping(mappings, topics={t: p for t, p, _ in TOPICS})
    started = time.perf_counter()
    with write_session(engine) as session:
        result = assign_reports(session, mapping, None, actor="remap", now=NOW)
    elapsed = time.perf_counter() - started
    print(
        f"  {label:<28} {elapsed:6.2f} s  ({result.examined} routed, {len(result.changes)} changed, "
        f"{result.unmapped} unmapped)"
    )


def edited_mappings(directory: Path) -> Path:
    directory.mkdir()
    (directory / "units.yaml").write_text((REPO / "mappings" / "units.yaml").read_text())
    rules = (REPO / "mappings" / "rules.yaml").read_text()
    (directory / "rules.yaml").write_text(rules.replace("opd: DISHUB\n", "opd: DPUPR\n", 1))
    return directory


def run(name: str, url: str, rows: list[dict[str, object]], scratch: Path) -> None:
    engine = open_store(url)
    started = time.perf_counter()
    fill(engine, rows)
    print(f"{name}: inserted {len(rows)} reports in {time.perf_counter() - started:.1f} s")
    timed_remap(engine, REPO / "mappings", "first remap")
    timed_remap(engine, REPO / "mappings", "re-run, nothing to change")
    timed_remap(engine, edited_mappings(scratch / f"edited-{name}"), "after a rule edit")
    engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = reports(n)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        run("SQLite", f"sqlite:///{scratch / 'bench.db'}", rows, scratch)
        pg_url = os.environ.get("LAPOR_BRIDGE_TEST_PG_URL")
        if not pg_url:
            print("PostgreSQL: skipped (set LAPOR_BRIDGE_TEST_PG_URL)")
            return
        name = f"lb_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", pg_url.rsplit("/", 1)[0] + "/" + name, rows, scratch)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
