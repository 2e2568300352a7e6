"""Validating and storing one page of upstream reports (inside the caller's
transaction).

Each raw record is validated on its own. A bad one is quarantined with its
raw JSON and the reason, and the rest of the page goes on. A good one is
upserted by `tracking_id`, guarded by `version` in SQL itself
(`ON CONFLICT ... DO UPDATE ... WHERE excluded.version > report.version`), so
a replayed or older version never overwrites a newer one, even when a
backfill and a sync write at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from lapor_bridge.mapping.channel import is_masbupsiaga
from lapor_bridge.outbox import reconcile_echoes
from lapor_bridge.store.tables import Quarantine, ReportRow, TopicRow, UpstreamFollowUpRow
from lapor_bridge.upstream.models import ApiFollowUp, ApiReport, ApiTopic, Privacy, Status


@dataclass
class PageResult:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    tracking_ids: list[int] = field(default_factory=list)  # stored (new or newer version)
    last_updated_at: datetime | None = None  # of the last valid record, for the checkpoint


def store_page(
    session: Session, records: Sequence[Any], *, instansi_id: int, now: datetime
) -> PageResult:
    """Validate and store one listing page. Returns what happened."""
    result = PageResult(fetched=len(records))
    newest: dict[int, tuple[ApiReport, dict[str, Any]]] = {}
    for raw in records:
        report = _validate(session, raw, now=now)
        if report is None:
            result.quarantined += 1
            continue
        result.last_updated_at = report.updated_at
        held = newest.get(report.tracking_id)
        if held is None or report.version > held[0].version:
            newest[report.tracking_id] = (report, _safe_raw(raw, report))
    if not newest:
        return result

    stored = _stored_versions(session, list(newest))
    rows = []
    for tracking_id, (report, raw) in newest.items():
        before = stored.get(tracking_id)
        if before is not None and before >= report.version:
            result.unchanged += 1
            continue
        if before is None:
            result.inserted += 1
        else:
            result.updated += 1
        rows.append(_row(report, raw, instansi_id=instansi_id, now=now))
        result.tracking_ids.append(tracking_id)
    if rows:
        _upsert_reports(session, rows)
        _store_followups(
            session, [f for tid in result.tracking_ids for f in newest[tid][0].followups], now=now
        )
        _resolve_quarantine(
            session, {tid: newest[tid][0].version for tid in result.tracking_ids}, now
        )
    return result


# --- validation and quarantine ---------------------------------------------


def _validate(session: Session, raw: Any, *, now: datetime) -> ApiReport | None:
    try:
        if not isinstance(raw, dict):
            raise TypeError(f"a report must be a JSON object, got {type(raw).__name__}")
        return ApiReport.model_validate(raw)
    except (ValidationError, TypeError) as exc:
        quarantine(session, raw, reason=_reason(exc), source="listing", now=now)
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
            for err in exc.errors()[:5]
        ]
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return str(exc)


def _redact_anonymous(raw: Any) -> Any:
    """ANONIM reporters stay unknown: the reporter never reaches the store."""
    if (
        isinstance(raw, dict)
        and raw.get("privacy") == Privacy.ANONIM
        and raw.get("reporter") is not None
    ):
        return {**raw, "reporter": None}
    return raw


def quarantine(session: Session, raw: Any, *, reason: str, source: str, now: datetime) -> None:
    """Keep a record that failed validation; a replay of the same record counts, not duplicates."""
    raw = _redact_anonymous(raw)
    digest = hashlib.sha256(
        json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    tracking_id = raw.get("tracking_id") if isinstance(raw, dict) else None
    version = raw.get("version") if isinstance(raw, dict) else None
    values = {
        "digest": digest,
        "tracking_id": tracking_id if type(tracking_id) is int else None,
        "version": version if type(version) is int else None,
        "source": source,
        "reason": reason,
        "raw": raw,
        "first_seen_at": now,
        "last_seen_at": now,
        "times_seen": 1,
    }
    stmt = _dialect_insert(session, Quarantine).values(**values)
    if stmt is None:
        existing = session.scalars(select(Quarantine).where(Quarantine.digest == digest)).first()
        if existing is None:
            session.add(Quarantine(**values))
        else:
            existing.times_seen += 1
            existing.last_seen_at = now
        return
    table = Quarantine.__table__
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["digest"],
            set_={"times_seen": table.c.times_seen + 1, "last_seen_at": now},
        )
    )


def _resolve_quarantine(session: Session, versions: dict[int, int], now: datetime) -> None:
    """A valid version of a report settles its older quarantined versions."""
    open_rows = session.execute(
        select(Quarantine.id, Quarantine.tracking_id, Quarantine.version).where(
            Quarantine.tracking_id.in_(list(versions)), Quarantine.resolved_at.is_(None)
        )
    ).all()
    settled = [
        qid for qid, tracking_id, version in open_rows if (version or 0) <= versions[tracking_id]
    ]
    if settled:
        session.execute(
            update(Quarantine).where(Quarantine.id.in_(settled)).values(resolved_at=now)
        )


# --- reports -----------------------------------------------------------------


def _safe_raw(raw: dict[str, Any], report: ApiReport) -> dict[str, Any]:
    return _redact_anonymous(raw) if report.privacy == Privacy.ANONIM else raw


def _row(
    report: ApiReport, raw: dict[str, Any], *, instansi_id: int, now: datetime
) -> dict[str, Any]:
    reporter = None if report.privacy == Privacy.ANONIM else report.reporter
    location = report.location
    transferred = report.status == Status.DIALIHKAN or report.instansi_id != instansi_id
    return {
        "tracking_id": report.tracking_id,
        "version": report.version,
        "title": report.title,
        "content": report.content,
        "topic_id": report.topic_id,
        "classification": report.classification.value,
        "privacy": report.privacy.value,
        "channel": report.channel.value,
        "status": report.status.value,
        "instansi_id": report.instansi_id,
        "reporter_name": reporter.name if reporter else None,
        "reporter_phone": reporter.phone if reporter else None,
        "reporter_email": reporter.email if reporter else None,
        "kecamatan": location.kecamatan if location else None,
        "desa": location.desa if location else None,
        "tags": list(report.tags),
        "masbupsiaga": is_masbupsiaga(report.channel.value, report.content, list(report.tags)),
        "created_at": report.created_at,
        "disposed_at": report.disposed_at,
        "updated_at": report.updated_at,
        "transferred": transferred,
        "transferred_at": report.updated_at if transferred else None,
        "raw": raw,
        "first_seen_at": now,
        "last_synced_at": now,
    }


def _stored_versions(session: Session, tracking_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(ReportRow.tracking_id, ReportRow.version).where(
            ReportRow.tracking_id.in_(tracking_ids)
        )
    )
    return dict(rows.all())


def _dialect_insert(session: Session, model: Any) -> Any:
    """An INSERT with ON CONFLICT for this engine, on the Core table (an ORM
    entity would make SQLAlchemy emit one statement per row), or None."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model.__table__)
    if name == "sqlite":
        return sqlite.insert(model.__table__)
    return None


_NEVER_UPDATED = {"tracking_id", "first_seen_at", "transferred_at"}


def _transferred_at(old: datetime | None, row: dict[str, Any]) -> datetime | None:
    """When we first saw the report leave; cleared if it is disposed back to us."""
    return (old or row["transferred_at"]) if row["transferred"] else None


def _upsert_reports(session: Session, rows: list[dict[str, Any]]) -> None:
    stmt = _dialect_insert(session, ReportRow)
    if stmt is None:  # another engine: the caller holds the job lock, so check-then-write is safe
        stored = _stored_versions(session, [r["tracking_id"] for r in rows])
        new = [r for r in rows if r["tracking_id"] not in stored]
        newer = [r for r in rows if stored.get(r["tracking_id"], 1 << 62) < r["version"]]
        if new:
            session.execute(insert(ReportRow), new)
        if newer:
            old = dict(
                session.execute(
                    select(ReportRow.tracking_id, ReportRow.transferred_at).where(
                        ReportRow.tracking_id.in_([r["tracking_id"] for r in newer])
                    )
                )
            )
            session.execute(
                update(ReportRow),
                [
                    {
                        **_without(r, {"first_seen_at"}),
                        "transferred_at": _transferred_at(old[r["tracking_id"]], r),
                    }
                    for r in newer
                ],
            )
        return
    excluded = stmt.excluded
    table = ReportRow.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["tracking_id"],
        set_={
            **{c.name: excluded[c.name] for c in table.columns if c.name not in _NEVER_UPDATED},
            "transferred_at": case(
                (
                    excluded.transferred,
                    func.coalesce(table.c.transferred_at, excluded.transferred_at),
                ),
                else_=None,
            ),
        },
        where=excluded.version > table.c.version,
    )
    session.execute(stmt, rows)


def _without(row: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


# --- follow-ups --------------------------------------------------------------


def _store_followups(session: Session, followups: Iterable[ApiFollowUp], *, now: datetime) -> None:
    followups = list(followups)
    if not followups:
        return
    ours = reconcile_echoes(session, followups, now=now)
    known = set(
        session.execute(
            select(UpstreamFollowUpRow.id).where(
                UpstreamFollowUpRow.id.in_([f.id for f in followups])
            )
        ).scalars()
    )
    fresh = {
        f.id: {
            "id": f.id,
            "tracking_id": f.tracking_id,
            "author": f.author.value,
            "status": f.status.value,
            "content": f.content,
            "unit": f.unit,
            "external_ref": f.external_ref,
            "is_echo": f.external_ref is not None and f.external_ref in ours,
            "created_at": f.created_at,
            "first_seen_at": now,
        }
        for f in followups
        if f.id not in known
    }
    if fresh:
        session.execute(insert(UpstreamFollowUpRow.__table__), list(fresh.values()))


# --- topics ------------------------------------------------------------------


def parse_topics(records: Sequence[Any]) -> tuple[list[ApiTopic], list[tuple[Any, str]]]:
    """The valid topics of a `/topics` answer, and the invalid ones with why."""
    topics: list[ApiTopic] = []
    bad: list[tuple[Any, str]] = []
    for raw in records:
        try:
            topics.append(ApiTopic.model_validate(raw))
        except ValidationError as exc:
            bad.append((raw, _reason(exc)))
    return topics, bad


def store_topics(
    session: Session,
    topics: Sequence[ApiTopic],
    bad: Sequence[tuple[Any, str]] = (),
    *,
    now: datetime,
) -> int:
    """Upsert the topic tree (topics no longer listed are kept: old reports name
    them) and quarantine the invalid ones."""
    for raw, reason in bad:
        quarantine(session, raw, reason=reason, source="topics", now=now)
    if not topics:
        return 0
    rows = [{"id": t.id, "parent": t.parent, "name": t.name, "synced_at": now} for t in topics]
    stmt = _dialect_insert(session, TopicRow)
    if stmt is None:
        for row in rows:
            session.merge(TopicRow(**row))
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={"parent": stmt.excluded.parent, "name": stmt.excluded.name, "synced_at": now},
        )
        session.execute(stmt, rows)
    return len(rows)
