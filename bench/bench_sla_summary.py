"""Benchmark: SLA clocks over 100,000 stored reports (run by hand, not by pytest).

    python bench/bench_sla_summary.py [--reports 100000]

Builds a temporary SQLite store (and a temporary PostgreSQL database when
LAPOR_BRIDGE_TEST_PG_URL is set) with reports spread over 2025-2026, their
assignments (30 OPD, 10 % complex), local follow-ups, upstream follow-ups
(answers on the LAPOR! site, echoes, citizens' replies) and transfers; then
times `refresh_clocks` over all reports, over one sync page of 500 ids, the
`sla summary` query and the `sla` list (200 most urgent).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from lapor_bridge.sla import load_policies, refresh_clocks
from lapor_bridge.sla.views import list_clocks, summarize
from lapor_bridge.store import open_store, read_session, write_session
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut, UpstreamFollowUpRow

MAPPINGS = Path(__file__).parents[1] / "mappings"
NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
FIRST = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def rows(n: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    span = (NOW - FIRST).total_seconds()
    out: dict[str, list[dict[str, Any]]] = {
        "report": [],
        "assignment": [],
        "local": [],
        "upstream": [],
    }
    upstream_id = 0
    for tracking_id in range(1, n + 1):
        disposed = FIRST + timedelta(seconds=rng.random() * span)
        transferred = rng.random() < 0.02
        updated = disposed + timedelta(hours=rng.random() * 100)
        status = rng.choice(["DISPOSISI", "DIPROSES", "SELESAI", "DITUTUP"])
        out["report"].append(
            {
                "tracking_id": tracking_id,
                "version": 1,
                "title": "t",
                "content": "c",
                "classification": "PENGADUAN",
                "privacy": "PUBLIK",
                "channel": "WEB",
                "status": "DIALIHKAN" if transferred else status,
                "instansi_id": 1,
                "created_at": disposed - timedelta(hours=rng.random() * 48),
                "disposed_at": None if rng.random() < 0.03 else disposed,
                "updated_at": updated,
                "transferred": transferred,
                "transferred_at": updated if transferred else None,
                "raw": {},
                "first_seen_at": disposed,
                "last_synced_at": updated,
                "masbupsiaga": False,
            }
        )
        if rng.random() < 0.97:
            out["assignment"].append(
                {
                    "tracking_id": tracking_id,
                    "opd": f"OPD{rng.randrange(30):02d}",
                    "complex": rng.random() < 0.1,
                    "mapped_by": "rule:bench",
                    "assigned_at": disposed,
                }
            )
        if rng.random() < 0.8:
            answered = disposed + timedelta(hours=rng.expovariate(1 / 30))
            out["local"].append(_local(tracking_id, answered, "DIPROSES"))
            if rng.random() < 0.7:
                settled = answered + timedelta(hours=rng.expovariate(1 / 20))
                out["local"].append(_local(tracking_id, settled, "SELESAI"))
                upstream_id += 1
                out["upstream"].append(
                    _upstream(upstream_id, tracking_id, settled, "INSTANSI", True)
                )
                if rng.random() < 0.05:
                    upstream_id += 1
                    reply = settled + timedelta(hours=rng.random() * 72)
                    out["upstream"].append(
                        _upstream(upstream_id, tracking_id, reply, "PELAPOR", False)
                    )
        elif rng.random() < 0.3:
            upstream_id += 1
            answered = disposed + timedelta(hours=rng.expovariate(1 / 50))
            out["upstream"].append(_upstream(upstream_id, tracking_id, answered, "INSTANSI", False))
    return out


def _local(tracking_id: int, at: datetime, status: str) -> dict[str, Any]:
    return {
        "tracking_id": tracking_id,
        "external_ref": f"lb-bench-{uuid.uuid4().hex}",
        "opd": "OPD",
        "status": status,
        "content": "tindak lanjut",
        "created_at": at,
        "state": "sent",
        "attempts": 1,
        "uncertain": False,
    }


def _upstream(id_: int, tracking_id: int, at: datetime, author: str, echo: bool) -> dict[str, Any]:
    return {
        "id": id_,
        "tracking_id": tracking_id,
        "author": author,
        "status": "SELESAI" if author == "INSTANSI" else "DIPROSES",
        "content": "follow-up",
        "is_echo": echo,
        "created_at": at,
        "first_seen_at": at,
    }


def load(engine: Engine, data: dict[str, list[dict[str, Any]]]) -> None:
    tables = {
        "report": ReportRow,
        "assignment": Assignment,
        "local": TindakLanjut,
        "upstream": UpstreamFollowUpRow,
    }
    with write_session(engine) as session:
        for name, model in tables.items():
            batch = data[name]
            for i in range(0, len(batch), 5000):
                session.execute(insert(model.__table__), batch[i : i + 5000])  # type: ignore[attr-defined]


def timed(label: str, func: Callable[[], Any], repeat: int = 1) -> Any:
    """Run `func` `repeat` times; print the best and median wall time and the best
    CPU time of this process (the SQLite work; PostgreSQL's server is another process)."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"  {label:<44} wall best {min(walls):7.3f} s, median {statistics.median(walls):7.3f} s;"
        f" cpu best {min(cpus):7.3f} s ({repeat} runs)"
    )
    return result


def bench(engine: Engine, data: dict[str, list[dict[str, Any]]], n: int) -> None:
    policies = load_policies(MAPPINGS / "sla.yaml")
    timed("load rows (not SLA work)", lambda: load(engine, data))

    def refresh_all() -> int:
        with write_session(engine) as session:
            return refresh_clocks(session, None, now=NOW, policies=policies)

    def refresh_page() -> int:
        ids = list(range(n // 2, n // 2 + 500))
        with write_session(engine) as session:
            return refresh_clocks(session, ids, now=NOW, policies=policies)

    def refresh_one() -> int:
        with write_session(engine) as session:
            return refresh_clocks(session, [n // 3], now=NOW, policies=policies)

    written = timed(f"refresh_clocks over all {n} reports", refresh_all, repeat=2)
    timed("refresh_clocks, one sync page of 500 ids", refresh_page, repeat=5)
    timed("refresh_clocks, one report (a follow-up)", refresh_one, repeat=5)

    def summary() -> list[Any]:
        with read_session(engine) as session:
            return summarize(session, now=NOW, policies=policies)

    def urgent() -> list[Any]:
        with read_session(engine) as session:
            return list_clocks(session, now=NOW, policies=policies, limit=200)

    result = timed(f"sla summary over {written} clocks", summary, repeat=5)
    timed("sla list, 200 most urgent", urgent, repeat=5)
    since = NOW - timedelta(days=90)

    def summary_since() -> list[Any]:
        with read_session(engine) as session:
            return summarize(session, now=NOW, policies=policies, since=since)

    timed("sla summary --since (last 90 days)", summary_since, repeat=5)
    print(f"  ({len(result)} OPD x policy rows; clocks written {written})")


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    name = f"lb_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    args = parser.parse_args()
    start = time.perf_counter()
    data = rows(args.reports)
    print(
        f"generated {len(data['report'])} reports, {len(data['assignment'])} assignments, "
        f"{len(data['local'])} local and {len(data['upstream'])} upstream follow-ups "
        f"in {time.perf_counter() - start:.1f} s"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite (file, WAL, synchronous=FULL):")
        engine = open_store(f"sqlite:///{tmp}/bench.db")
        bench(engine, data, args.reports)
        engine.dispose()
    pg = os.environ.get("LAPOR_BRIDGE_TEST_PG_URL")
    if pg:
        with postgres_database(pg) as url:
            print("PostgreSQL:")
            engine = open_store(url)
            bench(engine, data, args.reports)
            engine.dispose()
    else:
        print("PostgreSQL: skipped (set LAPOR_BRIDGE_TEST_PG_URL)")


if __name__ == "__main__":
    main()
