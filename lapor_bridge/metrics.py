"""Cron observability: a Prometheus textfile for node_exporter's collector.

Every figure is read from the store, so a failed run still writes a correct
file and `last_success` moves only when a run succeeded. prometheus_client's
`write_to_textfile` writes a temporary file and renames it.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from sqlalchemy import Engine, func, select

from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Quarantine, ReportRow, SyncCheckpoint, SyncRun, TindakLanjut


def write_metrics(engine: Engine, path: Path | None) -> None:
    """Write the metrics file when `LAPOR_BRIDGE_METRICS_FILE` is set."""
    if path is None:
        return
    registry = CollectorRegistry()
    last_success = Gauge(
        "lapor_bridge_last_success_timestamp_seconds",
        "End of the last successful run",
        ["kind"],
        registry=registry,
    )
    last_failure = Gauge(
        "lapor_bridge_last_failure_timestamp_seconds",
        "End of the last failed run",
        ["kind"],
        registry=registry,
    )
    checkpoint = Gauge(
        "lapor_bridge_checkpoint_timestamp_seconds",
        "Incremental pull high-water mark",
        registry=registry,
    )
    reports = Gauge(
        "lapor_bridge_reports", "Reports in the store", ["transferred"], registry=registry
    )
    quarantined = Gauge(
        "lapor_bridge_quarantined_open", "Quarantined records not yet resolved", registry=registry
    )
    outbox = Gauge(
        "lapor_bridge_outbox_items",
        "Local follow-ups by delivery state",
        ["state"],
        registry=registry,
    )
    with read_session(engine) as session:
        for kind, ok, finished in session.execute(
            select(SyncRun.kind, SyncRun.ok, func.max(SyncRun.finished_at)).group_by(
                SyncRun.kind, SyncRun.ok
            )
        ):
            if finished is None:
                continue
            (last_success if ok else last_failure).labels(kind).set(_epoch(finished))
        row = session.get(SyncCheckpoint, "incremental")
        if row is not None:
            checkpoint.set(row.high_water.timestamp())
        for transferred, count in session.execute(
            select(ReportRow.transferred, func.count()).group_by(ReportRow.transferred)
        ):
            reports.labels(str(bool(transferred)).lower()).set(count)
        quarantined.set(
            session.scalar(
                select(func.count()).select_from(Quarantine).where(Quarantine.resolved_at.is_(None))
            )
            or 0
        )
        for state, count in session.execute(
            select(TindakLanjut.state, func.count()).group_by(TindakLanjut.state)
        ):
            outbox.labels(state).set(count)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _epoch(value) -> float:  # UTCDateTime values come back aware
    return value.timestamp()
