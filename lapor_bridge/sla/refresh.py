"""Recompute the stored clocks of reports from what the store knows about them.

`refresh_clocks` runs inside the caller's transaction: it reads the reports,
their assignment, local follow-ups, upstream follow-ups and the stored clocks
with a few bulk queries per chunk of ids (lapor_bridge.store.bulk), computes
every policy's clock with the pure rules of `clock.py`, and writes only the
clocks whose values changed (and removes those of policies no longer
configured). It never begins or commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
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
    bulk = writer(session)
    counts = RefreshCounts()
    known = set(policies.policies)
    for chunk in _chunks(bulk, tracking_ids):
        facts = _load_facts(bulk, chunk)
        clocks = [
            compute_clock(report, policy, policies.calendar)
            for report in facts
            for policy in policies.policies.values()
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

    time = bulk.read_time
    local_by_id: dict[int, list[LocalFollowUp]] = defaultdict(list)
    # a follow-up an admin withdrew (outbox `cancelled`) was never an answer
    for tracking_id, at, status in bulk.select_in(
        "tindak_lanjut", ("tracking_id", "created_at", "status"), "tracking_id", ids,
        where=f"state <> '{OutboxState.CANCELLED.value}'",
    ):  # fmt: skip
        local_by_id[tracking_id].append(LocalFollowUp(time(at), status))
    upstream_by_id: dict[int, list[ClockFollowUp]] = defaultdict(list)
    for tracking_id, at, author, status in bulk.select_in(
        "upstream_followup", ("tracking_id", "created_at", "author", "status"), "tracking_id", ids,
        where="NOT is_echo",
    ):  # fmt: skip
        upstream_by_id[tracking_id].append(ClockFollowUp(time(at), author, status, False))
    columns = (
        "report.tracking_id", "report.created_at", "report.disposed_at", "report.status",
        "report.updated_at", "report.transferred", "report.transferred_at", "assignment.complex",
    )  # fmt: skip
    return [
        ClockFacts(
            tracking_id,
            time(created_at),
            time(disposed_at),
            status,
            time(updated_at),
            bool(transferred),
            time(transferred_at),
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
    """The stored clocks of these reports, keyed (tracking_id, policy), values
    in stored form without computed_at."""
    return {
        (row[0], row[1]): row
        for row in bulk.select_in("sla_clock", _COLUMNS[:-1], "tracking_id", ids)
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
    back (cheaper than writing every computed time in stored form); only the
    clocks that changed are put in stored form."""
    time, read = bulk.time, bulk.read_time
    computed_at = time(now)
    rows: list[tuple[Any, ...]] = []
    for clock in clocks:
        started_at, stopped_at = clock.started_at, clock.stopped_at
        reason = None if clock.stop_reason is None else clock.stop_reason.value
        elapsed = None if stopped_at is None else int((stopped_at - started_at).total_seconds())
        row = stored.get((clock.tracking_id, clock.policy))
        if (
            row is not None
            and row[2] == clock.cycle
            and row[7] == reason
            and row[8] == elapsed
            and read(row[3]) == started_at
            and read(row[4]) == clock.due_at
            and read(row[5]) == clock.at_risk_at
            and read(row[6]) == stopped_at
        ):
            continue
        rows.append(
            (
                clock.tracking_id,
                clock.policy,
                clock.cycle,
                time(started_at),
                time(clock.due_at),
                time(clock.at_risk_at),
                time(stopped_at),
                reason,
                elapsed,
                computed_at,
            )
        )
    bulk.insert("sla_clock", _COLUMNS, rows, on_conflict=_UPSERT)
    return len(rows)
