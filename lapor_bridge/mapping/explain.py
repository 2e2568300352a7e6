"""Why a report is assigned where it is: the rule that matched and on what,
and for every rule before it, why it did not match.

The explanation never carries the report's content, and for a RAHASIA
report not even its title: only ids, codes, places and the rules' own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from lapor_bridge.mapping.apply import MappingRequestError
from lapor_bridge.mapping.match import (
    check_key,
    check_rule,
    report_facts,
    route,
    why,
    withhold_keywords,
)
from lapor_bridge.mapping.model import MANUAL, RULE_PREFIX, Mapping
from lapor_bridge.mapping.topics import load_topic_tree, topic_names
from lapor_bridge.store.tables import Assignment, AssignmentHistory, ReportRow


@dataclass(frozen=True)
class RuleVerdict:
    rule_id: str
    where: str  # file:line
    opd: str
    matched: bool
    reason: str  # what matched, or why not


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    from_opd: str | None
    to_opd: str
    mapped_by: str
    reason: str | None


@dataclass(frozen=True)
class Explanation:
    tracking_id: int
    title: str | None  # None for RAHASIA reports
    privacy: str
    topic: str  # "101 Jalan Rusak < 100 Infrastruktur"
    kecamatan: str | None
    desa: str | None
    channel: str
    masbupsiaga: bool
    classification: str
    transferred: bool
    rules_say: str  # the unit the rules choose now
    rules_mapped_by: str
    rules_reason: str
    matched: RuleVerdict | None
    earlier: tuple[RuleVerdict, ...]  # every rule before the match (all rules if none matched)
    assigned_opd: str | None  # what is stored now
    assigned_mapped_by: str | None
    assigned_reason: str | None
    assigned_at: datetime | None
    assigned_by: str | None
    notes: tuple[str, ...]
    history: tuple[HistoryEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        from lapor_bridge.timeutil import jsonable

        return jsonable(asdict(self))  # type: ignore[return-value]


def explain(
    session: Session,
    mapping: Mapping,
    tracking_id: int,
    *,
    topics: tuple[dict[int, int], dict[int, str]] | None = None,
) -> Explanation:
    """Why report `tracking_id` is assigned where it is. `topics` is (tree, names)
    when the caller already read them."""
    found = explain_many(session, mapping, [tracking_id], topics=topics)
    if tracking_id not in found:
        raise MappingRequestError(
            f"no report {tracking_id} in the store; check the tracking id or run `lapor-bridge sync` first"
        )
    return found[tracking_id]


def explain_many(
    session: Session,
    mapping: Mapping,
    tracking_ids: Sequence[int],
    *,
    topics: tuple[dict[int, int], dict[int, str]] | None = None,
    earlier: bool = True,
) -> dict[int, Explanation]:
    """`explain` for many reports, read in a few queries per 500 ids (the site's
    report pages). Unknown ids are left out. `earlier=False` leaves out why each
    earlier rule did not match (only the rule that matched is checked)."""
    if topics is None:
        topics = (load_topic_tree(session) or {}, topic_names(session))
    out: dict[int, Explanation] = {}
    ids = list(tracking_ids)
    cache: dict[Any, RuleVerdict] = {}
    for start in range(0, len(ids), 500):
        reports, assignments, history = load_for_explanation(session, ids[start : start + 500])
        for tid, report in reports.items():
            out[tid] = explanation_of(
                mapping, report, assignments.get(tid), history.get(tid, []), topics, earlier, cache
            )
    return out


# What an explanation reads of a report: the routing facts and what the report
# page shows beside them; neither the raw record nor who reported it.
REPORT_COLUMNS = (
    ReportRow.tracking_id,
    ReportRow.version,
    ReportRow.title,
    ReportRow.content,
    ReportRow.topic_id,
    ReportRow.privacy,
    ReportRow.status,
    ReportRow.kecamatan,
    ReportRow.desa,
    ReportRow.channel,
    ReportRow.masbupsiaga,
    ReportRow.classification,
    ReportRow.created_at,
    ReportRow.disposed_at,
    ReportRow.transferred,
)


def load_for_explanation(
    session: Session, tracking_ids: Sequence[int]
) -> tuple[dict[int, Any], dict[int, Assignment], dict[int, list[AssignmentHistory]]]:
    """The rows `explanation_of` needs for up to a few hundred reports, in three
    queries: report rows (REPORT_COLUMNS), assignments, assignment history."""
    chunk = list(tracking_ids)
    reports = {
        r.tracking_id: r
        for r in session.execute(
            select(*REPORT_COLUMNS).where(ReportRow.tracking_id.in_(chunk))  # type: ignore[attr-defined]
        )
    }
    # rows, not ORM objects: read-only, and many at a time (the site)
    assignments = {
        a.tracking_id: a
        for a in session.execute(
            select(
                Assignment.tracking_id,
                Assignment.opd,
                Assignment.mapped_by,
                Assignment.reason,
                Assignment.assigned_at,
                Assignment.assigned_by,
            ).where(Assignment.tracking_id.in_(chunk))  # type: ignore[attr-defined]
        )
    }
    history: dict[int, list[AssignmentHistory]] = {}
    for h in session.execute(
        select(
            AssignmentHistory.id,
            AssignmentHistory.tracking_id,
            AssignmentHistory.at,
            AssignmentHistory.actor,
            AssignmentHistory.from_opd,
            AssignmentHistory.to_opd,
            AssignmentHistory.mapped_by,
            AssignmentHistory.reason,
        )
        .where(AssignmentHistory.tracking_id.in_(chunk))  # type: ignore[attr-defined]
        .order_by(AssignmentHistory.id)  # type: ignore[arg-type]
    ):
        history.setdefault(h.tracking_id, []).append(h)  # type: ignore[arg-type]
    return reports, assignments, history


def explanation_of(
    mapping: Mapping,
    report: Any,  # a ReportRow, or a row of REPORT_COLUMNS
    assignment: Assignment | None,
    history: Sequence[AssignmentHistory],
    topics: tuple[dict[int, int], dict[int, str]],
    earlier: bool = True,
    cache: dict[Any, RuleVerdict] | None = None,
) -> Explanation:
    """The explanation from rows already read (load_for_explanation). `cache`
    (one dict per mapping) keeps each rule's verdict per match.check_key, so
    reports with the same facts share them."""
    tree, names = topics
    facts = report_facts(
        tree,
        tracking_id=report.tracking_id,
        title=report.title,
        content=report.content,
        topic_id=report.topic_id,
        kecamatan=report.kecamatan,
        desa=report.desa,
        channel=report.channel,
        classification=report.classification,
        masbupsiaga=report.masbupsiaga,
        privacy=report.privacy,
    )
    answer = route(mapping, facts)
    verdicts: list[RuleVerdict] = []
    matched: RuleVerdict | None = None
    rules = mapping.rules
    if not earlier:
        chosen = mapping.rule(answer.mapped_by.removeprefix(RULE_PREFIX))
        rules = (chosen,) if chosen is not None else ()
    for rule in rules:
        key = None if cache is None else check_key(rule, facts)
        verdict = None if cache is None else cache.get(key)
        if verdict is None:
            result = check_rule(rule, facts)
            verdict = RuleVerdict(rule.id, rule.where, rule.opd, result.matched, result.summary())
            if cache is not None:
                cache[key] = verdict
        if verdict.matched:
            matched = verdict
            break
        verdicts.append(verdict)
    notes = _notes(report, assignment, answer.opd, answer.mapped_by)
    return Explanation(
        tracking_id=report.tracking_id,
        title=None if report.privacy == "RAHASIA" else report.title,
        privacy=report.privacy,
        topic=_topic(report.topic_id, facts.topic_path, names),
        kecamatan=report.kecamatan,
        desa=report.desa,
        channel=report.channel,
        masbupsiaga=report.masbupsiaga,
        classification=report.classification,
        transferred=report.transferred,
        rules_say=answer.opd,
        rules_mapped_by=answer.mapped_by,
        rules_reason=why(answer, facts),
        matched=matched,
        earlier=tuple(verdicts),
        assigned_opd=assignment.opd if assignment else None,
        assigned_mapped_by=assignment.mapped_by if assignment else None,
        assigned_reason=_shown(report, assignment.reason) if assignment else None,
        assigned_at=assignment.assigned_at if assignment else None,
        assigned_by=assignment.assigned_by if assignment else None,
        notes=notes,
        history=tuple(
            HistoryEntry(h.at, h.actor, h.from_opd, h.to_opd, h.mapped_by, _shown(report, h.reason))
            for h in history
        ),
    )


def _shown(report: Any, reason: str | None) -> str | None:
    """A stored reason as it may be shown: for a RAHASIA report without the words."""
    if reason is None or report.privacy != "RAHASIA":
        return reason
    return withhold_keywords(reason)


def _topic(topic_id: int | None, path: tuple[int, ...], names: dict[int, str]) -> str:
    if topic_id is None:
        return "none"
    return " < ".join(f"{tid} {names.get(tid, '(not in the synced topic tree)')}" for tid in path)


def _notes(
    report: ReportRow, assignment: Assignment | None, opd: str, mapped_by: str
) -> tuple[str, ...]:
    notes: list[str] = []
    if report.transferred:
        notes.append(
            "transferred to another body on LAPOR!: it keeps its last assignment and is not remapped"
        )
    if assignment is None:
        if not report.transferred:
            notes.append(
                "not assigned yet: run `lapor-bridge remap` (or the next sync) to assign it"
            )
    elif assignment.mapped_by == MANUAL:
        notes.append(
            f"assigned by hand to {assignment.opd} by {assignment.assigned_by or 'an admin'}: "
            "a manual assignment beats the rules and survives remaps"
        )
    elif not report.transferred and (assignment.opd, assignment.mapped_by) != (opd, mapped_by):
        notes.append(
            f"the stored assignment ({assignment.opd}, {assignment.mapped_by}) differs from what the "
            "rules say now: run `lapor-bridge remap --dry-run` to see what a remap would move"
        )
    return tuple(notes)
