"""Recompute the stored clocks of reports from what the store knows about them.

`refresh_clocks` runs inside the caller's transaction: it reads the reports,
their assignment, local follow-ups and upstream follow-ups with a few bulk
queries per chunk of ids, computes every policy's clock with the pure rules
of `clock.py`, and upserts `sla_clock` rows. It never begins or commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, bindparam, delete, false, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from lapor_bridge.sla.clock import (
    Clock,
    ClockFacts,
    ClockFollowUp,
    LocalFollowUp,
    compute_clock,
)
from lapor_bridge.sla.policy import SlaPolicies, default_policies
from lapor_bridge.store.tables import (
    Assignment,
    ReportRow,
    SlaClock,
    TindakLanjut,
    UpstreamFollowUpRow,
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
    session.flush()  # the caller's pending rows (a new follow-up) must be seen below
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


def _load_facts(session: Session, ids: list[int] | None) -> list[ClockFacts]:
    """The facts of these reports (None = all) in four queries."""
    reports = select(
        ReportRow.tracking_id,
        ReportRow.created_at,
        ReportRow.disposed_at,
        ReportRow.status,
        ReportRow.updated_at,
        ReportRow.transferred,
        ReportRow.transferred_at,
        Assignment.complex,
    ).outerjoin(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
    # imported here: lapor_bridge.outbox imports the SLA package, so a module-level
    # import would be a cycle; the state names stay in one place all the same
    from lapor_bridge.outbox.states import OutboxState

    # a follow-up an admin withdrew (outbox `cancelled`) was never an answer
    local = select(TindakLanjut.tracking_id, TindakLanjut.created_at, TindakLanjut.status).where(
        TindakLanjut.state != OutboxState.CANCELLED
    )
    upstream = select(
        UpstreamFollowUpRow.tracking_id,
        UpstreamFollowUpRow.created_at,
        UpstreamFollowUpRow.author,
        UpstreamFollowUpRow.status,
        UpstreamFollowUpRow.is_echo,
    ).where(UpstreamFollowUpRow.is_echo == false())
    if ids is not None:
        reports = reports.where(ReportRow.tracking_id.in_(ids))  # type: ignore[attr-defined]
        local = local.where(TindakLanjut.tracking_id.in_(ids))  # type: ignore[attr-defined]
        upstream = upstream.where(UpstreamFollowUpRow.tracking_id.in_(ids))  # type: ignore[attr-defined]

    conn = session.connection()  # Core rows: the ORM layer adds nothing here
    local_by_id: dict[int, list[LocalFollowUp]] = defaultdict(list)
    for tracking_id, at, status in conn.execute(local).all():
        local_by_id[tracking_id].append(LocalFollowUp(at, status))
    upstream_by_id: dict[int, list[ClockFollowUp]] = defaultdict(list)
    for tracking_id, at, author, status, is_echo in conn.execute(upstream).all():
        upstream_by_id[tracking_id].append(ClockFollowUp(at, author, status, is_echo))
    return [
        ClockFacts(
            tracking_id,
            created_at,
            disposed_at,
            status,
            updated_at,
            transferred,
            transferred_at,
            bool(complex_case),
            tuple(local_by_id.get(tracking_id, ())),
            tuple(upstream_by_id.get(tracking_id, ())),
        )
        for (
            tracking_id,
            created_at,
            disposed_at,
            status,
            updated_at,
            transferred,
            transferred_at,
            complex_case,
        ) in conn.execute(reports).all()
    ]


# --- writing ---------------------------------------------------------------


def _drop_unknown_policies(session: Session, ids: list[int] | None, known: list[str]) -> None:
    stale = delete(SlaClock).where(SlaClock.policy.not_in(known))  # type: ignore[attr-defined]
    if ids is not None:
        stale = stale.where(SlaClock.tracking_id.in_(ids))  # type: ignore[attr-defined]
    session.execute(stale)


_COLUMNS = (
    "tracking_id",
    "policy",
    "cycle",
    "started_at",
    "due_at",
    "at_risk_at",
    "stopped_at",
    "stop_reason",
    "elapsed_s",
    "computed_at",
)
_INDEX = {name: i for i, name in enumerate(_COLUMNS)}


def _upsert_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """INSERT ... ON CONFLICT (tracking_id, policy) DO UPDATE, compiled for the dialect,
    and the parameter order when the driver takes positional parameters."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect.name)
    if insert is None:
        raise NotImplementedError(f"SLA clocks need SQLite or PostgreSQL, not {dialect.name}")
    table = SlaClock.__table__  # type: ignore[attr-defined]
    stmt = insert(table).values({name: bindparam(name) for name in _COLUMNS})
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.tracking_id, table.c.policy],
        set_={name: stmt.excluded[name] for name in _COLUMNS[2:]},
    )
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return str(compiled), order


def _upsert(session: Session, clocks: list[Clock], now: datetime) -> int:
    """Write the clocks in batches straight to the driver.

    SQLAlchemy's per-value bind processing cost more than everything else at
    100,000 reports, so the values are given in the form UTCDateTime stores:
    naive UTC, and on SQLite the text SQLAlchemy's SQLite DATETIME writes
    (`YYYY-MM-DD HH:MM:SS.ffffff`), so comparisons and reads stay the same.
    """
    if not clocks:
        return 0
    conn = session.connection()
    sql, order = _upsert_sql(conn.dialect)
    as_text = conn.dialect.name == "sqlite"

    memo: dict[datetime, datetime | str] = {}  # due times repeat a lot (local midnights)

    def stored(value: datetime | None) -> datetime | str | None:
        if value is None:
            return None
        found = memo.get(value)
        if found is None:
            naive = value.astimezone(UTC).replace(tzinfo=None)
            found = memo[value] = naive.isoformat(" ", "microseconds") if as_text else naive
        return found

    computed_at = stored(now)
    reorder = order is not None and order != _COLUMNS
    rows: list[Any] = []
    for clock in clocks:
        elapsed = clock.elapsed
        values = (
            clock.tracking_id,
            clock.policy,
            clock.cycle,
            stored(clock.started_at),
            stored(clock.due_at),
            stored(clock.at_risk_at),
            stored(clock.stopped_at),
            None if clock.stop_reason is None else clock.stop_reason.value,
            None if elapsed is None else int(elapsed.total_seconds()),
            computed_at,
        )
        if reorder:
            assert order is not None
            values = tuple(values[_INDEX[name]] for name in order)
        rows.append(values)
    if order is None:  # named parameters
        rows = [dict(zip(_COLUMNS, values, strict=True)) for values in rows]
    for i in range(0, len(rows), _UPSERT_BATCH):
        conn.exec_driver_sql(sql, rows[i : i + _UPSERT_BATCH])
    return len(rows)
