"""`lapor-bridge export`: one row per report, for the regency's own reporting.

RAHASIA content never leaves the local database: a confidential report's
title is withheld here. Reporter identity is never exported at all. Rows are
streamed, so exporting the whole store needs little memory.

CSV never lets citizen text act as a formula (reports.cells.safe_text);
`excel=True` writes what Excel opens right on a double click: UTF-8 with BOM,
`;` as separator, times in the regency's zone (`2026-12-03 10:00`, which
Excel reads as a date-time), `ya`/`tidak` for booleans.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import IO, Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import aliased

from lapor_bridge.reports.cells import safe_text
from lapor_bridge.sla.views import state_expression
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Assignment, ReportRow, SlaClock
from lapor_bridge.timeutil import WIB, rfc3339, utcnow
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
    opd: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Every report as an export row, in tracking_id order, with `due_at` and
    `sla_state` per SLA policy (the state as of `now`). Filters: assigned to
    `opd`; reached the regency (disposed, else created) in [since, until)."""
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
    if opd is not None:
        query = query.where(Assignment.opd == opd)
    reached = func.coalesce(ReportRow.disposed_at, ReportRow.created_at)
    if since is not None:
        query = query.where(reached >= since)
    if until is not None:
        query = query.where(reached < until)
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


TIME_COLUMNS = ("updated_at", "created_at", "disposed_at")


def _excel_value(column: str, value: Any, zone: tzinfo) -> Any:
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if value and (column in TIME_COLUMNS or column.endswith("_due_at")):
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return value


def write_export(
    engine: Engine,
    out: IO[str],
    *,
    fmt: str,
    policies: Sequence[str] = (),
    masbupsiaga_only: bool = False,
    opd: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    excel: bool = False,
    zone: tzinfo = WIB,
) -> int:
    """Write every row as `jsonl` or `csv` (`excel`: for Excel); returns the number of rows."""
    count = 0
    rows = export_rows(
        engine,
        policies=policies,
        masbupsiaga_only=masbupsiaga_only,
        opd=opd,
        since=since,
        until=until,
    )
    if fmt == "jsonl":
        if excel:
            raise ValueError("--excel goes with --format csv")
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        delimiter = ";" if excel else ","
        if excel:
            out.write("\ufeff")
        header = BASE_COLUMNS + [c for p in policies for c in sla_columns(p)]
        writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter)
        writer.writeheader()
        for row in rows:
            flat = {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}
            if excel:
                flat = {k: _excel_value(k, v, zone) for k, v in flat.items()}
            writer.writerow({k: safe_text(v) for k, v in flat.items()})
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    return count
