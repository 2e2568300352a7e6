"""Cron observability: a Prometheus textfile for node_exporter's collector.

Every figure is read from the store (and from the runs kept beside the lock
that are not folded in yet), so a failed or refused run still writes a
correct file: `last_success` moves only when a run succeeded, `last_failure`
on every failed, refused or interrupted run. prometheus_client's
`write_to_textfile` writes a temporary file and renames it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from lapor_bridge.store import read_session
from lapor_bridge.store.identity import incremental_checkpoint
from lapor_bridge.store.tables import NotifyMessage, Quarantine, ReportRow, SyncRun, TindakLanjut
from lapor_bridge.timeutil import parse_upstream_time, to_utc, utcnow

NOTIFY_STATES = ("pending", "sending", "sent", "failed", "dead", "cancelled")
NOTIFY_WAITING = ("pending", "sending", "failed")  # not delivered yet, still to be tried


class _Totals(Collector):
    """Counters read from the store (messages are never deleted, so they only grow)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.repeats = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "lapor_bridge_notify_delivered",
            "Notification messages delivered (one per batch and channel)",
            value=self.delivered,
        )
        yield CounterMetricFamily(
            "lapor_bridge_notify_repeats",
            "Notification messages sent again after an uncertain outcome (each recorded)",
            value=self.repeats,
        )


def write_metrics(
    engine: Engine | None,
    path: Path | None,
    *,
    pending: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> None:
    """Write the metrics file when `LAPOR_BRIDGE_METRICS_FILE` is set.

    `engine` None: the store cannot be read (a run refused before it was
    opened); the file then holds what `pending` (runs beside the lock) says."""
    if path is None:
        return
    registry = CollectorRegistry()
    last_success = Gauge(
        "lapor_bridge_last_success_timestamp_seconds",
        "End of the last successful run (outcome ok or partial)",
        ["kind"],
        registry=registry,
    )
    last_failure = Gauge(
        "lapor_bridge_last_failure_timestamp_seconds",
        "End of the last failed, refused or interrupted run",
        ["kind"],
        registry=registry,
    )
    last_outcome = Gauge(
        "lapor_bridge_last_run_timestamp_seconds",
        "End of the last run per job and outcome (ok partial failed refused interrupted)",
        ["kind", "outcome"],
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
    notify_messages = Gauge(
        "lapor_bridge_notify_messages",
        "Notification messages by delivery state",
        ["state"],
        registry=registry,
    )
    notify_pending = Gauge(
        "lapor_bridge_notify_pending",
        "Notification messages not delivered yet (pending, sending, failed and retrying)",
        registry=registry,
    )
    notify_dead = Gauge(
        "lapor_bridge_notify_dead",
        "Notification messages given up (lapor-bridge notifications retry ID)",
        registry=registry,
    )
    notify_oldest = Gauge(
        "lapor_bridge_notify_oldest_pending_age_seconds",
        "Age of the oldest notification message not delivered yet (0: none waits)",
        registry=registry,
    )
    totals = _Totals()
    ends: dict[tuple[str, str], float] = {}

    def seen(kind: str, outcome: str, at: float) -> None:
        ends[(kind, outcome)] = max(ends.get((kind, outcome), 0.0), at)

    if engine is not None:
        with read_session(engine) as session:
            for kind, outcome, ok, finished in session.execute(
                select(SyncRun.kind, SyncRun.outcome, SyncRun.ok, func.max(SyncRun.finished_at))
                .where(SyncRun.finished_at.is_not(None))
                .group_by(SyncRun.kind, SyncRun.outcome, SyncRun.ok)
            ):
                seen(kind, outcome or ("ok" if ok else "failed"), finished.timestamp())
            row = incremental_checkpoint(session)
            if row is not None:
                checkpoint.set(row.high_water.timestamp())
            # transferred_at is set exactly while a report is transferred: its partial
            # index counts them without reading every report (0006)
            total = session.scalar(select(func.count()).select_from(ReportRow)) or 0
            transferred = (
                session.scalar(
                    select(func.count())
                    .select_from(ReportRow)
                    .where(ReportRow.transferred_at.is_not(None))
                )
                or 0
            )
            reports.labels("true").set(transferred)
            reports.labels("false").set(total - transferred)
            quarantined.set(
                session.scalar(
                    select(func.count())
                    .select_from(Quarantine)
                    .where(Quarantine.resolved_at.is_(None))
                )
                or 0
            )
            for state, count in session.execute(
                select(TindakLanjut.state, func.count()).group_by(TindakLanjut.state)
            ):
                outbox.labels(state).set(count)
            _notify_figures(
                session, now or utcnow(), notify_messages, notify_pending, notify_dead,
                notify_oldest, totals,
            )  # fmt: skip
            registry.register(totals)
    for record in pending or []:
        if record.get("finished_at") and record.get("outcome"):
            at = parse_upstream_time(record["finished_at"]).timestamp()
            seen(record["kind"], record["outcome"], at)
    for (kind, outcome), at in ends.items():
        last_outcome.labels(kind, outcome).set(at)
        good = outcome in ("ok", "partial")
        gauge = last_success if good else last_failure
        current = _value(gauge, kind)
        if current is None or at > current:
            gauge.labels(kind).set(at)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _notify_figures(
    session: Any,
    now: datetime,
    messages: Gauge,
    waiting: Gauge,
    dead: Gauge,
    oldest: Gauge,
    totals: _Totals,
) -> None:
    """The notification outbox, from the store (lapor_bridge.notify.deliver)."""
    counts = {state: 0 for state in NOTIFY_STATES}
    repeats = 0
    for state, count, repeated in session.execute(
        select(
            NotifyMessage.state, func.count(), func.coalesce(func.sum(NotifyMessage.repeats), 0)
        ).group_by(NotifyMessage.state)
    ):
        counts[state] = count
        repeats += int(repeated or 0)
    for state, count in counts.items():
        messages.labels(state).set(count)
    waiting.set(sum(counts[s] for s in NOTIFY_WAITING))
    dead.set(counts["dead"])
    first = session.scalar(
        select(func.min(NotifyMessage.created_at)).where(
            NotifyMessage.state.in_(NOTIFY_WAITING)  # type: ignore[attr-defined]
        )
    )
    oldest.set(max((to_utc(now) - to_utc(first)).total_seconds(), 0.0) if first else 0.0)
    totals.delivered, totals.repeats = counts["sent"], repeats


def _value(gauge: Gauge, kind: str) -> float | None:
    for metric in gauge.collect():
        for sample in metric.samples:
            if sample.labels.get("kind") == kind:
                return sample.value
    return None
