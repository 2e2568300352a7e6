"""Deciding events from several processes at once on PostgreSQL: sync pages
(the assignment writers' advisory lock held, a page's tracking ids) and time
passes (`notify` and the end of `sync`: every clock, then composing) race on
the same clocks crossing the same levels. None may deadlock, and each event
exists once.

Every process moves the same injected clock forward together (virtual time
from the wall clock), so at each moment the processes decide overlapping sets
of events in whatever order their queries return them: a page reads its
clocks through the index, a time pass scans the
table (clocks were rewritten in a shuffled order, as years of page updates
leave them). Run longer with LB_CONCURRENCY_SECONDS."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lapor_bridge.store import open_store, write_session
from lapor_bridge.store.tables import NotifyEvent, SlaClock
from tests.conftest import REPO

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
REPORTS = 1500
SECONDS = float(os.environ.get("LB_CONCURRENCY_SECONDS", 15))
SWEEP = timedelta(days=8)
UNITS = ("DINKES", "DPUPR", "DINSOS", "DISDIK", "DLH")


def _seed(url: str) -> None:
    from lapor_bridge.sla import default_policies, refresh_clocks
    from tests.outbox.helpers import add_report

    ids = list(range(10_000, 10_000 + REPORTS))
    random.Random(4).shuffle(ids)  # physical order differs from id order
    engine = open_store(url)
    with write_session(engine) as session:
        for n, tid in enumerate(ids):
            add_report(session, tid, opd=UNITS[n % len(UNITS)], at=T0 + timedelta(minutes=n))
        session.flush()
        refresh_clocks(session, ids, now=T0, policies=default_policies())
    # as years of page updates leave them: a clock's row version is wherever its
    # last update put it, so a scan returns clocks in no particular order
    with engine.begin() as conn:
        for tid in ids:
            conn.exec_driver_sql(
                "UPDATE sla_clock SET cycle = cycle WHERE tracking_id = %(t)s", {"t": tid}
            )
    engine.dispose()


def worker(role: str, url: str, seed: int, start_at: float) -> None:
    """One process: `page` or `time` decisions over the shared sweep of the clock."""
    from sqlalchemy.exc import DBAPIError

    from lapor_bridge.config import Settings
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.mapping.apply import _lock
    from lapor_bridge.notify import record_events
    from lapor_bridge.notify.compose import compose_pending
    from lapor_bridge.notify.escalation import load_escalation
    from lapor_bridge.store import create_store_engine
    from lapor_bridge.store.tables import Assignment, AssignmentHistory

    mapping = load_mapping(REPO / "mappings")
    escalation = load_escalation(REPO / "mappings", mapping)
    settings = Settings(mappings_dir=REPO / "mappings")
    engine = create_store_engine(url)
    rng = random.Random(seed)
    ids = list(range(10_000, 10_000 + REPORTS))
    counts = {"deadlocks": 0, "other_errors": 0, "passes": 0, "events": 0}
    while time.time() < start_at:
        time.sleep(0.01)
    while (elapsed := time.time() - start_at) < SECONDS:
        now = T0 + SWEEP * (elapsed / SECONDS)  # the same virtual time in every process
        try:
            if role == "page":
                page = rng.sample(ids, 300)
                with write_session(engine) as session:
                    _lock(session)  # as a sync page does (assign_reports): then history
                    # a large store's plan: the page's clocks through the index, in id
                    # order, while a time pass scans them in the table's order
                    for setting in ("seqscan", "hashjoin", "bitmapscan"):
                        session.execute(text(f"SET LOCAL enable_{setting} = off"))
                    for tid in page[:10]:  # a few of the page's reports move
                        row = session.get(Assignment, tid)
                        to = rng.choice([u for u in UNITS if u != row.opd])
                        session.add(
                            AssignmentHistory(
                                tracking_id=tid,
                                at=now,
                                actor="sync",
                                from_opd=row.opd,
                                to_opd=to,
                                mapped_by="rule:x",
                            )
                        )
                        row.opd = to
                    session.flush()
                    counts["events"] += record_events(
                        session,
                        now=now,
                        mapping=mapping,
                        escalation=escalation,
                        tracking_ids=page,
                    )
            else:
                with write_session(engine) as session:
                    counts["events"] += record_events(
                        session,
                        now=now,
                        mapping=mapping,
                        escalation=escalation,
                        time_pass=True,
                        stale_after_s=1800,
                    )
                compose_pending(
                    engine, now=now, mapping=mapping, escalation=escalation, settings=settings
                )
            counts["passes"] += 1
        except DBAPIError as exc:
            if type(exc.orig).__name__ == "DeadlockDetected":
                counts["deadlocks"] += 1
            else:
                counts["other_errors"] += 1
                print(f"{type(exc.orig).__name__}", file=sys.stderr)
    engine.dispose()
    print(json.dumps(counts))


def test_concurrent_deciders_on_postgresql_never_deadlock(pg_url, tmp_path: Path):
    _seed(pg_url)
    start_at = time.time() + 4  # every process imported and connected first
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    roles = ["page", "page", "time", "time"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from tests.notify.test_pg_concurrency import worker; "
                "worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))",
                role,
                pg_url,
                str(seed),
                str(start_at),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed, role in enumerate(roles)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    engine = open_store(pg_url)
    with write_session(engine) as session:
        events = session.scalar(select(func.count()).select_from(NotifyEvent))
        keys = session.scalar(
            select(func.count()).select_from(
                select(NotifyEvent.kind, NotifyEvent.ref, NotifyEvent.recipient)
                .distinct()
                .subquery()
            )
        )
        clocks = session.scalar(select(func.count()).select_from(SlaClock))
    engine.dispose()
    assert clocks >= REPORTS
    assert sum(r["passes"] for r in results) > 0
    assert [r["deadlocks"] for r in results] == [0] * len(roles), results
    assert [r["other_errors"] for r in results] == [0] * len(roles), results
    assert events == keys > 1000, results
    # each event counted once, by the pass that inserted it (RETURNING: right on PostgreSQL)
    assert sum(r["events"] for r in results) == events, results
