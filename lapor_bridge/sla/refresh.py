"""Recompute the stored clocks of reports from what the store knows about them.

`refresh_clocks` runs inside the caller's transaction: it reads the reports,
their assignment, local follow-ups and upstream follow-ups with a few bulk
queries per chunk of ids, computes every policy's clock with the pure rules
of `clock.py`, and upserts `sla_clock` rows. It never begins or commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, false, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from lapor_bridge.sla.clock import (
    Clock,
    LocalFollowUp,
    ReportFacts,
    UpstreamFollowUp,
    compute_clock,
)
from lapor_bridge.sla.policy import SlaPolicies, default_policies
from lapor_bridge.store.tables import (
    Assignment,
    Report,
    SlaClock,
    TindakLanjut,
)
from lapor_bridge.store.tables import (
    UpstreamFollowUp as UpstreamFollowUpRow,
)

CHUNK = 1000  # ids per bulk query (well under SQLite's and psycopg's parameter limits)
_UPSERT_BATCH = 2000


def refresh_clocks(
    session: Session,
    tracking_ids: Sequence[int] | None,
    *,
    now: datetime,
    policies: SlaPolicies | None = None,
) -> int:
    """Recompute and upsert the clocks of these reports (None = every report).

    Runs in the caller's transaction. Ids without a stored report are skipped.
    Clocks of policies no longer configured are removed for these reports.
    Returns the number of clock rows written.
    """
    policies = policies if policies is not None else default_policies()
    written = 0
    for chunk in _chunks(tracking_ids):
        facts = _load_facts(session, chunk)
        clocks = [
            compute_clock(report, policy, policies.calendar)
            for report in facts
            for policy in policies.policies.values()
        ]
        _drop_unknown_policies(session, chunk, list(policies.policies))
        written += _upsert(session, clocks, now)
    return written


def _chunks(tracking_ids: Sequence[int] | None) -> Iterator[list[int] | None]:
    if tracking_ids is None:
        yield None
        return
    ids = sorted(set(tracking_ids))
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


# --- reading ---------------------------------------------------------------


def _load_facts(session: Session, ids: list[int] | None) -> list[ReportFacts]:
    """The facts of these reports (None = all) in four queries."""
    reports = select(
        Report.tracking_id,
        Report.created_at,
        Report.disposed_at,
        Report.status,
        Report.updated_at,
        Report.transferred,
        Report.transferred_at,
        Assignment.complex,
    ).outerjoin(Assignment, Assignment.tracking_id == Report.tracking_id)
    local = select(TindakLanjut.tracking_id, TindakLanjut.created_at, TindakLanjut.status)
    upstream = select(
        UpstreamFollowUpRow.tracking_id,
        UpstreamFollowUpRow.created_at,
        UpstreamFollowUpRow.author,
        UpstreamFollowUpRow.status,
        UpstreamFollowUpRow.is_echo,
    ).where(UpstreamFollowUpRow.is_echo == false())
    if ids is not None:
        reports = reports.where(Report.tracking_id.in_(ids))  # type: ignore[attr-defined]
        local = local.where(TindakLanjut.tracking_id.in_(ids))  # type: ignore[attr-defined]
        upstream = upstream.where(UpstreamFollowUpRow.tracking_id.in_(ids))  # type: ignore[attr-defined]

    local_by_id: dict[int, list[LocalFollowUp]] = defaultdict(list)
    for tracking_id, at, status in session.execute(local):
        local_by_id[tracking_id].append(LocalFollowUp(at=at, status=status))
    upstream_by_id: dict[int, list[UpstreamFollowUp]] = defaultdict(list)
    for tracking_id, at, author, status, is_echo in session.execute(upstream):
        upstream_by_id[tracking_id].append(
            UpstreamFollowUp(at=at, author=author, status=status, is_echo=is_echo)
        )
    return [
        ReportFacts(
            tracking_id=row.tracking_id,
            created_at=row.created_at,
            disposed_at=row.disposed_at,
            status=row.status,
            updated_at=row.updated_at,
            transferred=row.transferred,
            transferred_at=row.transferred_at,
            complex=bool(row.complex),
            local=tuple(local_by_id.get(row.tracking_id, ())),
            upstream=tuple(upstream_by_id.get(row.tracking_id, ())),
        )
        for row in session.execute(reports)
    ]


# --- writing ---------------------------------------------------------------


def _drop_unknown_policies(session: Session, ids: list[int] | None, known: list[str]) -> None:
    stale = delete(SlaClock).where(SlaClock.policy.not_in(known))  # type: ignore[attr-defined]
    if ids is not None:
        stale = stale.where(SlaClock.tracking_id.in_(ids))  # type: ignore[attr-defined]
    session.execute(stale)


def _row(clock: Clock, now: datetime) -> dict[str, Any]:
    elapsed = clock.elapsed
    return {
        "tracking_id": clock.tracking_id,
        "policy": clock.policy,
        "cycle": clock.cycle,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "at_risk_at": clock.at_risk_at,
        "stopped_at": clock.stopped_at,
        "stop_reason": None if clock.stop_reason is None else str(clock.stop_reason),
        "elapsed_s": None if elapsed is None else int(elapsed.total_seconds()),
        "computed_at": now,
    }


def _upsert(session: Session, clocks: list[Clock], now: datetime) -> int:
    """INSERT ... ON CONFLICT (tracking_id, policy) DO UPDATE, on SQLite and PostgreSQL."""
    if not clocks:
        return 0
    dialect = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"SLA clocks need SQLite or PostgreSQL, not {dialect}")
    table = SlaClock.__table__  # type: ignore[attr-defined]
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.tracking_id, table.c.policy],
        set_={
            name: stmt.excluded[name]
            for name in (
                "cycle",
                "started_at",
                "due_at",
                "at_risk_at",
                "stopped_at",
                "stop_reason",
                "elapsed_s",
                "computed_at",
            )
        },
    )
    rows = [_row(clock, now) for clock in clocks]
    for i in range(0, len(rows), _UPSERT_BATCH):
        session.execute(stmt, rows[i : i + _UPSERT_BATCH])
    return len(rows)
