"""Recompute the stored clocks of reports from what the store knows about them.

`refresh_clocks` runs inside the caller's transaction: it reads the reports,
their assignment, local follow-ups, upstream follow-ups and the stored clocks
with a few bulk queries per chunk of ids (lapor_bridge.store.bulk), computes
every policy's clock with the pure rules of `clock.py`, and writes only the
clocks whose values changed (and removes those of policies no longer
configured). It never begins or commits.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from lapor_bridge.sla.clock import (
    Clock,
    ClockFacts,
    ClockFollowUp,
    LocalFollowUp,
    compute_clock,
)
from lapor_bridge.sla.policy import SlaPolicies
from lapor_bridge.store.bulk import BulkWriter, Upsert, writer

CHUNK = 5000  # reports per round of reads and writes


@dataclass
class RefreshCounts:
    clocks: int = 0  # clocks computed (all now current)
    written: int = 0  # of them, new or changed: the rows written
    removed: int = 0  # clocks of policies no longer configured


def refresh_clocks(
    session: Session,
    tracking_ids: Sequence[int] | None,
    *,
    now: datetime,
    policies: SlaPolicies,
) -> int:
    """Recompute the clocks of these reports (None = every report) and write
    those that changed. Runs in the caller's transaction. Ids without a stored
    report are skipped. Returns the number of clocks computed (all current)."""
    return refresh(session, tracking_ids, now=now, policies=policies).clocks


def refresh(
    session: Session,
    tracking_ids: Sequence[int] | None,
    *,
    now: datetime,
    policies: SlaPolicies,
) -> RefreshCounts:
    """`refresh_clocks` with the counts of what was computed, written and removed."""
    session.flush()  # the caller's pending rows (a new follow-up) must be seen below
    with _collector_paused():
        return _refresh(writer(session), tracking_ids, now, policies)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the clocks are computed: a
    chunk makes hundreds of thousands of rows, facts and clocks (tuples, none in
    a cycle), and the collector's full passes over them cost about a third of a
    100,000-report recompute. Everything made here is freed by reference counts
    at the end of each chunk; the collector is back on (if it was) on the way out."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _refresh(
    bulk: BulkWriter, tracking_ids: Sequence[int] | None, now: datetime, policies: SlaPolicies
) -> RefreshCounts:
    counts = RefreshCounts()
    known = set(policies.policies)
    configured, calendar = tuple(policies.policies.values()), policies.calendar
    for chunk in _chunks(bulk, tracking_ids):
        facts = _load_facts(bulk, chunk)
        clocks = [
            compute_clock(report, policy, calendar) for report in facts for policy in configured
        ]
        stored = _stored_clocks(bulk, chunk)
        stale = [key for key in stored if key[1] not in known]
        if stale:
            bulk.delete("sla_clock", ("tracking_id", "policy"), stale)
        counts.clocks += len(clocks)
        counts.removed += len(stale)
        counts.written += _write(bulk, clocks, stored, now)
    return counts


def _chunks(bulk: BulkWriter, tracking_ids: Sequence[int] | None) -> Iterator[list[int]]:
    ids = (
        [row[0] for row in bulk.select_all("report", ("tracking_id",), order_by="tracking_id")]
        if tracking_ids is None
        else sorted(set(tracking_ids))
    )
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


# --- reading ---------------------------------------------------------------


def _load_facts(bulk: BulkWriter, ids: list[int]) -> list[ClockFacts]:
    """The facts of these reports in three bulk reads."""
    # imported here: lapor_bridge.outbox imports the SLA package, so a module-level
    # import would be a cycle; the state names stay in one place all the same
    from lapor_bridge.outbox.states import OutboxState

    sql, time = bulk.time_column, bulk.read_time_column
    local_by_id: dict[int, list[LocalFollowUp]] = defaultdict(list)
    # a follow-up an admin withdrew (outbox `cancelled`) was never an answer
    for tracking_id, at, status in bulk.select_in(
        "tindak_lanjut", ("tracking_id", sql("created_at"), "status"), "tracking_id", ids,
        where=f"state <> '{OutboxState.CANCELLED.value}'",
    ):  # fmt: skip
        local_by_id[tracking_id].append(LocalFollowUp(time(at), status))
    upstream_by_id: dict[int, list[ClockFollowUp]] = defaultdict(list)
    for tracking_id, at, author, status in bulk.select_in(
        "upstream_followup", ("tracking_id", sql("created_at"), "author", "status"), "tracking_id", ids,
        where="NOT is_echo",
    ):  # fmt: skip
        upstream_by_id[tracking_id].append(ClockFollowUp(time(at), author, status, False))
    columns = (
        "report.tracking_id", sql("report.created_at"), sql("report.disposed_at"), "report.status",
        sql("report.updated_at"), "report.transferred", sql("report.transferred_at"),
        "assignment.complex",
    )  # fmt: skip
    no_followups: tuple[()] = ()
    local_of, upstream_of = local_by_id.get, upstream_by_id.get
    # created_at and updated_at are NOT NULL; the facts are built positionally
    return [
        ClockFacts(
            tracking_id,
            time(created_at),
            None if disposed_at is None else time(disposed_at),
            status,
            time(updated_at),
            bool(transferred),
            None if transferred_at is None else time(transferred_at),
            bool(complex_case),
            tuple(local_of(tracking_id, no_followups)),
            tuple(upstream_of(tracking_id, no_followups)),
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
        ) in bulk.select_in(
            "report LEFT JOIN assignment ON assignment.tracking_id = report.tracking_id",
            columns,
            "report.tracking_id",
            ids,
        )
    ]


_COLUMNS = (
    "tracking_id", "policy", "cycle", "started_at", "due_at", "at_risk_at", "stopped_at",
    "stop_reason", "elapsed_s", "computed_at",
)  # fmt: skip
_UPSERT = Upsert(key=("tracking_id", "policy"))


def _stored_clocks(bulk: BulkWriter, ids: list[int]) -> dict[tuple[int, str], tuple[Any, ...]]:
    """The stored clocks of these reports, keyed (tracking_id, policy), without
    computed_at; the times as `bulk.time_column` selects them."""
    columns = tuple(bulk.time_column(c) if c.endswith("_at") else c for c in _COLUMNS[:-1])
    return {
        (row[0], row[1]): row for row in bulk.select_in("sla_clock", columns, "tracking_id", ids)
    }


# --- writing ---------------------------------------------------------------


def _write(
    bulk: BulkWriter,
    clocks: list[Clock],
    stored: dict[tuple[int, str], tuple[Any, ...]],
    now: datetime,
) -> int:
    """Upsert the clocks that differ from the stored ones, so an unchanged clock
    costs no write. Returns the rows written. The stored times are compared read
    back (one C call each: cheaper than formatting every computed time); only
    the clocks that changed are put in stored form."""
    time, read = bulk.time, bulk.read_time_column
    computed_at = time(now)
    rows: list[tuple[Any, ...]] = []
    found = stored.get
    for clock in clocks:
        tracking_id, policy, cycle, started_at, due_at, at_risk_at, stopped_at, stop_reason = clock
        elapsed = None if stopped_at is None else int((stopped_at - started_at).total_seconds())
        row = found((tracking_id, policy))
        if (
            row is not None
            and row[2] == cycle
            and row[7] == stop_reason  # a StopReason is a str, equal to its stored value
            and row[8] == elapsed
            and read(row[3]) == started_at
            and read(row[4]) == due_at
            and read(row[5]) == at_risk_at
            and (stopped_at is None if row[6] is None else read(row[6]) == stopped_at)
        ):
            continue
        rows.append(
            (
                tracking_id,
                policy,
                cycle,
                time(started_at),
                time(due_at),
                time(at_risk_at),
                time(stopped_at),
                None if stop_reason is None else stop_reason.value,
                elapsed,
                computed_at,
            )
        )
    bulk.insert("sla_clock", _COLUMNS, rows, on_conflict=_UPSERT)
    return len(rows)
