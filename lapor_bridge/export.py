"""`lapor-bridge export`: one row per report, for the regency's own reporting.

RAHASIA content never leaves the local database: a confidential report's
title is withheld here. Reporter identity is never exported at all. Rows are
streamed, so exporting the whole store needs little memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import aliased

from lapor_bridge.sla.views import state_expression
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Assignment, ReportRow, SlaClock
from lapor_bridge.timeutil import rfc3339, utcnow
from lapor_bridge.upstream.models import Privacy

WITHHELD = "[RAHASIA]"

BASE_COLUMNS = [
    "tracking_id",
    "version",
    "status",
    "updated_at",
    "created_at",
    "disposed_at",
    "transferred",
    "instansi_id",
    "topic_id",
    "classification",
    "channel",
    "privacy",
    "masbupsiaga",
    "kecamatan",
    "desa",
    "title",
    "opd",
    "co_opd",
    "complex",
    "mapped_by",
]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    return value


def sla_columns(policy: str) -> tuple[str, str]:
    """The export's column names for one SLA policy."""
    stem = policy.replace("-", "_")
    return f"{stem}_due_at", f"{stem}_sla_state"


def export_rows(
    engine: Engine,
    *,
    policies: Sequence[str] = (),
    now: datetime | None = None,
    masbupsiaga_only: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every report as an export row, in tracking_id order, with `due_at` and
    `sla_state` per SLA policy (the state as of `now`)."""
    now = now or utcnow()
    clock_columns: list[Any] = []
    names = list(BASE_COLUMNS)
    clocks = []
    for policy in policies:
        clock = aliased(SlaClock)
        due, state = sla_columns(policy)
        clocks.append((clock, policy))
        clock_columns += [clock.due_at.label(due), state_expression(now, clock).label(state)]
        names += [due, state]
    query = (
        select(
            ReportRow.tracking_id,
            ReportRow.version,
            ReportRow.status,
            ReportRow.updated_at,
            ReportRow.created_at,
            ReportRow.disposed_at,
            ReportRow.transferred,
            ReportRow.instansi_id,
            ReportRow.topic_id,
            ReportRow.classification,
            ReportRow.channel,
            ReportRow.privacy,
            ReportRow.masbupsiaga,
            ReportRow.kecamatan,
            ReportRow.desa,
            ReportRow.title,
            Assignment.opd,
            Assignment.co_opd,
            Assignment.complex,
            Assignment.mapped_by,
            *clock_columns,
        )
        .outerjoin(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
        .order_by(ReportRow.tracking_id)
        .execution_options(yield_per=2000)
    )
    if masbupsiaga_only:
        query = query.where(ReportRow.masbupsiaga.is_(True))
    for clock, policy in clocks:
        query = query.outerjoin(
            clock, and_(clock.tracking_id == ReportRow.tracking_id, clock.policy == policy)
        )
    with read_session(engine) as session:
        for row in session.execute(query).mappings():
            out = {name: _value(row[name]) for name in names}
            for _, policy in clocks:
                due, state = sla_columns(policy)
                if out[due] is None:
                    out[state] = None
            if row["privacy"] == Privacy.RAHASIA:
                out["title"] = WITHHELD
            yield out


def write_export(
    engine: Engine,
    out: IO[str],
    *,
    fmt: str,
    policies: Sequence[str] = (),
    masbupsiaga_only: bool = False,
) -> int:
    """Write every row as `jsonl` or `csv`; returns the number of rows."""
    count = 0
    rows = export_rows(engine, policies=policies, masbupsiaga_only=masbupsiaga_only)
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            flat = {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}
            writer.writerow(flat)
            count += 1
        if writer is None:
            csv.writer(out).writerow(BASE_COLUMNS + [c for p in policies for c in sla_columns(p)])
    else:
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    return count
