"""`lapor-bridge export`: one row per report, for the regency's own reporting.

RAHASIA content never leaves the local database: a confidential report's
title is withheld here. Reporter identity is never exported at all. Rows are
streamed, so exporting the whole store needs little memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Engine, select

from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Assignment, Report
from lapor_bridge.timeutil import rfc3339
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


def export_rows(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every report as an export row, in tracking_id order."""
    query = (
        select(
            Report.tracking_id,
            Report.version,
            Report.status,
            Report.updated_at,
            Report.created_at,
            Report.disposed_at,
            Report.transferred,
            Report.instansi_id,
            Report.topic_id,
            Report.classification,
            Report.channel,
            Report.privacy,
            Report.masbupsiaga,
            Report.kecamatan,
            Report.desa,
            Report.title,
            Assignment.opd,
            Assignment.co_opd,
            Assignment.complex,
            Assignment.mapped_by,
        )
        .outerjoin(Assignment, Assignment.tracking_id == Report.tracking_id)
        .order_by(Report.tracking_id)
        .execution_options(yield_per=2000)
    )
    with read_session(engine) as session:
        for row in session.execute(query).mappings():
            out = {name: _value(row[name]) for name in BASE_COLUMNS}
            if row["privacy"] == Privacy.RAHASIA:
                out["title"] = WITHHELD
            yield out


def write_export(engine: Engine, out: IO[str], *, fmt: str) -> int:
    """Write every row as `jsonl` or `csv`; returns the number of rows."""
    count = 0
    if fmt == "jsonl":
        for row in export_rows(engine):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        writer: csv.DictWriter[str] | None = None
        for row in export_rows(engine):
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            flat = {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}
            writer.writerow(flat)
            count += 1
        if writer is None:
            csv.writer(out).writerow(BASE_COLUMNS)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    return count
