"""Mapping status for liaisons and the coordinator, from SQL aggregates.

- reports per OPD by report status (transferred ones counted apart);
  with `opd`, also the reports that OPD is co-assigned to;
- unmapped reports: routed to the default unit because no rule matched;
- reports not assigned at all (stored before a mapping existed: run remap);
- topics seen in reports that no rule names, neither directly nor through an
  ancestor topic (those reports reach a rule only through other conditions,
  or the default unit);
- idle rules: rules that no report active in the last 90 days is assigned
  by; a report is active when its created_at or updated_at is within the
  window. It counts current assignments, so a report a rule matched but an
  admin reassigned by hand does not count for the rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, func, or_, select, type_coerce
from sqlmodel import Session

from lapor_bridge.mapping.apply import require_unit
from lapor_bridge.mapping.model import DEFAULT, Mapping
from lapor_bridge.mapping.topics import load_topic_tree, topic_names, topic_path
from lapor_bridge.store.tables import Assignment, ReportRow

IDLE_DAYS = 90
EXAMPLES = 10


def mapping_status(
    session: Session, mapping: Mapping, *, opd: str | None, now: datetime
) -> dict[str, Any]:
    """The status as plain data (what `mappings status --json` prints)."""
    if opd is not None:
        require_unit(mapping, opd)
    cutoff = now - timedelta(days=IDLE_DAYS)
    return {
        "as_of": now.isoformat(),
        "opd": opd,
        "per_opd": _per_opd(session, mapping, opd),
        "co_assigned": _co_assigned(session, opd) if opd else None,
        "unmapped": _unmapped(session, mapping),
        "not_assigned": _not_assigned(session),
        "topics_without_rule": _topics_without_rule(session, mapping),
        "idle_rules": _idle_rules(session, mapping, opd, cutoff),
        "idle_window_days": IDLE_DAYS,
    }


def _per_opd(session: Session, mapping: Mapping, opd: str | None) -> list[dict[str, Any]]:
    query = (
        select(Assignment.opd, ReportRow.status, ReportRow.transferred, func.count())
        .join(ReportRow, ReportRow.tracking_id == Assignment.tracking_id)
        .group_by(Assignment.opd, ReportRow.status, ReportRow.transferred)
    )
    if opd is not None:
        query = query.where(Assignment.opd == opd)
    table: dict[str, dict[str, Any]] = {}
    for code, status, transferred, count in session.execute(query):
        entry = table.setdefault(code, _empty_entry(mapping, code))
        _count(entry, status, transferred, count)
    return sorted(table.values(), key=lambda e: (-e["total"], e["opd"]))


def _empty_entry(mapping: Mapping, code: str) -> dict[str, Any]:
    unit = mapping.units.get(code)
    return {
        "opd": code,
        "name": unit.name if unit else "(no longer in units.yaml)",
        "total": 0,
        "by_status": {},
        "transferred": 0,
    }


def _count(entry: dict[str, Any], status: str, transferred: bool, count: int) -> None:
    entry["total"] += count
    if transferred:
        entry["transferred"] += count
    else:
        entry["by_status"][status] = entry["by_status"].get(status, 0) + count


def _co_assigned(session: Session, opd: str) -> dict[str, Any]:
    pattern = '%"' + opd.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    query = (
        select(ReportRow.status, ReportRow.transferred, func.count())
        .join(Assignment, ReportRow.tracking_id == Assignment.tracking_id)
        .where(type_coerce(Assignment.co_opd, Text).like(pattern, escape="\\"))
        .group_by(ReportRow.status, ReportRow.transferred)
    )
    entry: dict[str, Any] = {"total": 0, "by_status": {}, "transferred": 0}
    for status, transferred, count in session.execute(query):
        _count(entry, status, transferred, count)
    return entry


def _unmapped(session: Session, mapping: Mapping) -> dict[str, Any]:
    where = and_(Assignment.mapped_by == DEFAULT, ReportRow.transferred.is_(False))  # type: ignore[attr-defined]
    joined = select(Assignment.tracking_id).join(
        ReportRow, ReportRow.tracking_id == Assignment.tracking_id
    )
    count = session.execute(
        select(func.count()).select_from(joined.where(where).subquery())
    ).scalar_one()
    examples = session.execute(
        joined.where(where).order_by(ReportRow.created_at.desc()).limit(EXAMPLES)  # type: ignore[attr-defined]
    ).scalars()
    return {"default_unit": mapping.default, "count": count, "examples": list(examples)}


def _not_assigned(session: Session) -> int:
    query = (
        select(func.count())
        .select_from(ReportRow)
        .outerjoin(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
        .where(Assignment.tracking_id.is_(None), ReportRow.transferred.is_(False))  # type: ignore[union-attr,attr-defined]
    )
    return int(session.execute(query).scalar_one())


def _topics_without_rule(session: Session, mapping: Mapping) -> list[dict[str, Any]]:
    named: set[int] = set()
    for rule in mapping.rules:
        named |= rule.topic
    tree = load_topic_tree(session) or {}
    names = topic_names(session)
    seen = session.execute(
        select(ReportRow.topic_id, func.count())
        .where(ReportRow.topic_id.is_not(None))  # type: ignore[union-attr]
        .group_by(ReportRow.topic_id)
    )
    missing = [
        {"topic": topic, "name": names.get(topic), "reports": count}
        for topic, count in seen
        if named.isdisjoint(topic_path(tree, topic))
    ]
    return sorted(missing, key=lambda e: (-e["reports"], e["topic"]))


def _idle_rules(
    session: Session, mapping: Mapping, opd: str | None, cutoff: datetime
) -> list[dict[str, Any]]:
    hits = dict(
        session.execute(
            select(Assignment.mapped_by, func.count())
            .join(ReportRow, ReportRow.tracking_id == Assignment.tracking_id)
            .where(or_(ReportRow.created_at >= cutoff, ReportRow.updated_at >= cutoff))
            .group_by(Assignment.mapped_by)
        ).all()
    )
    return [
        {"rule": rule.id, "where": rule.where, "opd": rule.opd}
        for rule in mapping.rules
        if not hits.get(rule.mapped_by) and (opd is None or opd == rule.opd or opd in rule.co_opd)
    ]
