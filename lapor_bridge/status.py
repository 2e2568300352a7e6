"""`lapor-bridge status`: how the bridge is doing, in one screen.

Stuck outbox items and open quarantine are repeated here on every run until
someone resolves them: a warning said once is a warning missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from lapor_bridge.outbox import stuck_items
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import (
    Assignment,
    BackfillRun,
    Quarantine,
    ReportRow,
    SyncCheckpoint,
    SyncRun,
)
from lapor_bridge.timeutil import rfc3339, utcnow


def _run(row: SyncRun | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "started_at": rfc3339(row.started_at),
        "finished_at": rfc3339(row.finished_at) if row.finished_at else None,
        "ok": row.ok,
        "error": row.error,
    }


def bridge_status(engine: Engine, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    with read_session(engine) as session:
        checkpoint = session.get(SyncCheckpoint, "incremental")
        last = session.scalars(
            select(SyncRun).where(SyncRun.kind == "sync").order_by(SyncRun.id.desc())
        ).first()
        last_ok = session.scalars(
            select(SyncRun)
            .where(SyncRun.kind == "sync", SyncRun.ok.is_(True))
            .order_by(SyncRun.id.desc())
        ).first()
        reports = session.scalar(select(func.count()).select_from(ReportRow)) or 0
        transferred = (
            session.scalar(select(func.count()).select_from(ReportRow).where(ReportRow.transferred))
            or 0
        )
        unmapped = (
            session.scalar(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.mapped_by == "default")
            )
            or 0
        )
        quarantine = [
            {
                "id": q.id,
                "tracking_id": q.tracking_id,
                "version": q.version,
                "reason": q.reason,
                "times_seen": q.times_seen,
            }
            for q in session.scalars(
                select(Quarantine)
                .where(Quarantine.resolved_at.is_(None))
                .order_by(Quarantine.id)
                .limit(50)
            )
        ]
        backfills = [
            {
                "id": b.id,
                "since": rfc3339(b.since),
                "until": rfc3339(b.until),
                "position": rfc3339(b.position),
                "done": b.done,
                "fetched": b.fetched,
            }
            for b in session.scalars(select(BackfillRun).order_by(BackfillRun.id.desc()).limit(5))
        ]
        stuck = stuck_items(session, now=now)
    return {
        "checkpoint": rfc3339(checkpoint.high_water) if checkpoint else None,
        "last_sync": _run(last),
        "last_success": _run(last_ok),
        "reports": reports,
        "transferred": transferred,
        "unmapped": unmapped,
        "quarantine_open": quarantine,
        "backfills": backfills,
        "stuck_outbox": stuck,
    }
