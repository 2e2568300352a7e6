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
from lapor_bridge.store.identity import incremental_checkpoint
from lapor_bridge.store.tables import (
    Assignment,
    BackfillRun,
    Quarantine,
    ReportRow,
    SyncRun,
)
from lapor_bridge.timeutil import human_time, rfc3339, utcnow


def _run(row: SyncRun | None) -> dict[str, Any] | None:
    if row is None:
        return None
    outcome = row.outcome or (None if row.ok is None else "ok" if row.ok else "failed")
    return {
        "id": row.id,
        "kind": row.kind,
        "started_at": rfc3339(row.started_at),
        "finished_at": rfc3339(row.finished_at) if row.finished_at else None,
        "ok": row.ok,
        "outcome": outcome,
        "exit_status": row.exit_status,
        "error": row.error,
    }


def _pending_run(record: dict[str, Any]) -> dict[str, Any]:
    """A run kept beside the lock (refused before the store opened), as `_run` shows it."""
    return {
        "id": record.get("run_id"),
        "kind": record["kind"],
        "started_at": record["started_at"],
        "finished_at": record.get("finished_at"),
        "ok": record.get("outcome") in ("ok", "partial"),
        "outcome": record.get("outcome"),
        "exit_status": record.get("exit_status"),
        "error": record.get("error"),
    }


def _latest(*runs: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [r for r in runs if r is not None]
    return max(present, key=lambda r: r["started_at"]) if present else None


def bridge_status(
    engine: Engine, *, now: datetime | None = None, pending: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Everything `status` shows; `pending` are the runs kept beside the lock
    (lapor_bridge.job.pending_runs) that the store does not hold yet."""
    now = now or utcnow()
    pending = [_pending_run(r) for r in pending or []]
    with read_session(engine) as session:
        checkpoint = incremental_checkpoint(session)
        last = session.scalars(
            select(SyncRun).where(SyncRun.kind == "sync").order_by(SyncRun.started_at.desc())
        ).first()
        last_ok = session.scalars(
            select(SyncRun)
            .where(SyncRun.kind == "sync", SyncRun.ok.is_(True))
            .order_by(SyncRun.started_at.desc())
        ).first()
        repair = next(
            (
                {"at": rfc3339(r.started_at), "what": r.summary["checkpoint_repair"]}
                for r in session.scalars(
                    select(SyncRun)
                    .where(SyncRun.kind == "sync", SyncRun.summary.is_not(None))
                    .order_by(SyncRun.id.desc())
                    .limit(100)
                )
                if isinstance(r.summary, dict) and r.summary.get("checkpoint_repair")
            ),
            None,
        )
        reports = session.scalar(select(func.count()).select_from(ReportRow)) or 0
        transferred = (  # set exactly while transferred: 0006's index counts them
            session.scalar(
                select(func.count())
                .select_from(ReportRow)
                .where(ReportRow.transferred_at.is_not(None))
            )
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
        from lapor_bridge.notify.commands import dead_messages

        dead_notifications = dead_messages(session)
    last_runs = {}
    with read_session(engine) as session:
        for kind in sorted({k for (k,) in session.execute(select(SyncRun.kind).distinct())}):
            row = session.scalars(
                select(SyncRun).where(SyncRun.kind == kind).order_by(SyncRun.started_at.desc())
            ).first()
            last_runs[kind] = _run(row)
    for record in pending:
        last_runs[record["kind"]] = _latest(last_runs.get(record["kind"]), record)
    pending_sync = [r for r in pending if r["kind"] == "sync"]
    return {
        "checkpoint": rfc3339(checkpoint.high_water) if checkpoint else None,
        "last_sync": _latest(_run(last), *pending_sync),
        "last_success": _latest(_run(last_ok), *(r for r in pending_sync if r["ok"])),
        "last_runs": last_runs,
        "checkpoint_repair": repair,  # the latest checkpoint found ahead of now, and its repair
        "reports": reports,
        "transferred": transferred,
        "unmapped": unmapped,
        "quarantine_open": quarantine,
        "backfills": backfills,
        "stuck_outbox": stuck,
        "dead_notifications": dead_notifications,
    }


# --- text output -------------------------------------------------------------------


def _describe_run(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never"
    when = human_time(_parse(run["finished_at"] or run["started_at"]))
    outcome = run["outcome"]
    if outcome is None:
        return f"running since {human_time(_parse(run['started_at']))}"
    text = f"{when} {outcome.upper() if outcome not in ('ok',) else 'ok'}"
    if run.get("exit_status"):
        text += f" (exit {run['exit_status']})"
    if run.get("error"):
        text += f": {run['error']}"
    return text


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_status(data: dict[str, Any]) -> list[str]:
    """`status` as text lines: times in WIB, `attention:` lines last."""
    lines = [
        f"checkpoint:   {human_time(_parse(data['checkpoint'])) if data['checkpoint'] else 'none (no sync yet)'}",
        f"last sync:    {_describe_run(data['last_sync'])}",
    ]
    if data["last_success"]:
        lines.append(
            f"last success: {human_time(_parse(data['last_success']['finished_at'] or data['last_success']['started_at']))}"
        )
    if repair := data.get("checkpoint_repair"):
        lines.append(
            f"clock:        run of {human_time(_parse(repair['at']))} repaired {repair['what']}"
        )
    for kind, run in sorted(data.get("last_runs", {}).items()):
        if kind != "sync":
            lines.append(f"last {kind + ':':<10}{_describe_run(run)}")
    lines.append(
        f"reports:      {data['reports']} ({data['transferred']} transferred, {data['unmapped']} unmapped)"
    )
    for b in data["backfills"]:
        state = "done" if b["done"] else f"at {human_time(_parse(b['position']))}"
        lines.append(
            f"backfill {b['id']}:   {human_time(_parse(b['since']))} .. "
            f"{human_time(_parse(b['until']))} {state}, {b['fetched']} fetched"
        )
    for q in data["quarantine_open"]:
        lines.append(
            f"attention: quarantined record {q['tracking_id']} v{q['version']}: {q['reason']}"
        )
    for line in (*data["stuck_outbox"], *data.get("dead_notifications", [])):
        lines.append(f"attention: {line}")
    return lines


def show_status(rt: Any, *, fmt: str = "text") -> dict[str, Any]:
    """`lapor-bridge status`: the store's view plus the runs kept beside the lock.
    Never creates a store: without one, the kept runs and a one-line error."""
    import json

    from lapor_bridge.job import pending_runs, refusal_log
    from lapor_bridge.runtime import StoreMissing
    from lapor_bridge.store.db import create_store_engine

    pending = pending_runs(
        refusal_log(create_store_engine(rt.settings.database_url), rt.settings.lock_dir)
    )
    try:
        engine = rt.engine
    except StoreMissing:
        for record in pending:
            print(f"attention: {record['kind']} {_describe_run(_pending_run(record))}")
        raise
    data = bridge_status(engine, pending=pending)
    if fmt == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in format_status(data):
            print(line)
    return data
