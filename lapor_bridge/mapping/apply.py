"""Writing assignments: the rules' answer for stored reports, manual overrides,
and a history row for every change.

`assign_reports` is called by the sync inside each page's transaction (with
that page's tracking ids) and by `remap` for all reports. It never begins or
commits: the caller owns the transaction. It reads the few report columns
the rules need in bulk, routes in Python, and writes only what changed
through lapor_bridge.store.bulk, so a remap of 100,000 reports takes seconds.

- A manual assignment (mapped_by "manual") always beats the rules: it is
  skipped here and survives every remap, until `unassign_manual`.
- A transferred report (`report.transferred`: LAPOR! disposed it to another
  body) keeps its last assignment, for the record, and is not remapped; one
  first seen already transferred gets none, since nobody here must answer it.
- On PostgreSQL writers of assignments take a transaction-level advisory
  lock, so a remap and a sync page never race on the same rows; SQLite's
  `BEGIN IMMEDIATE` already serialises writers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from lapor_bridge.errors import BridgeError
from lapor_bridge.mapping.match import Route, Router, RoutingFacts, report_facts, route, why
from lapor_bridge.mapping.model import DEFAULT, MANUAL, Mapping
from lapor_bridge.mapping.schema import did_you_mean
from lapor_bridge.mapping.topics import TopicTree, load_topic_tree
from lapor_bridge.store.bulk import Upsert, writer

_LOCK_KEY = 0x4C41504F52  # "LAPOR": the advisory lock of assignment writers (PostgreSQL)


class MappingRequestError(BridgeError):
    """A mapping command asked for something that does not exist or cannot be
    done (an unknown report or unit code, a manual assignment without reason)."""


def require_unit(mapping: Mapping, opd: str) -> None:
    """MappingRequestError (with a suggestion) unless `opd` is a unit code."""
    if opd not in mapping.units:
        hint = did_you_mean(opd, list(mapping.units))
        raise MappingRequestError(
            f"{opd!r} is not a unit of the mapping; "
            + (
                f"did you mean {hint}?"
                if hint
                else f"see the codes in {mapping.directory}/units.yaml"
            )
        )


def resolve_unit(mapping: Mapping, opd: str, *, also: Sequence[str] = ()) -> str:
    """The unit code `opd` names, ignoring case (`dpupr` -> `DPUPR`); `also` are
    extra accepted codes (e.g. "(unassigned)"). An unknown code is a
    MappingRequestError with a "did you mean" (the one check for every command
    that takes --opd)."""
    choices = [*mapping.units, *also]
    by_fold = {code.casefold(): code for code in choices}
    found = by_fold.get(opd.strip().casefold())
    if found is not None:
        return found
    hint = did_you_mean(opd.strip(), choices)
    raise MappingRequestError(
        f"{opd!r} is not a unit code of the mapping; "
        + (
            f"did you mean {hint}?"
            if hint
            else f"see the codes in {mapping.directory}/units.yaml (`lapor-bridge mappings status`)"
        )
    )


def unit_code(mappings_dir: Any, opd: str | None, *, also: Sequence[str] = ()) -> str | None:
    """resolve_unit against the mapping in `mappings_dir`; None stays None."""
    if opd is None:
        return None
    from lapor_bridge.mapping.loader import load_mapping

    return resolve_unit(load_mapping(mappings_dir), opd, also=also)


@dataclass(frozen=True, slots=True)
class AssignmentChange:
    tracking_id: int
    from_opd: str | None
    from_mapped_by: str | None
    to_opd: str
    mapped_by: str
    co_opd: tuple[str, ...]
    complex: bool
    reason: str


@dataclass(frozen=True)
class Move:
    from_opd: str | None
    to_opd: str
    count: int
    examples: tuple[int, ...]


@dataclass
class RemapResult:
    dry_run: bool = False
    examined: int = 0  # reports routed by the rules
    unchanged: int = 0
    manual: int = 0  # kept: a manual assignment beats the rules
    transferred: int = 0  # kept: transferred away, not remapped
    unmapped: int = 0  # routed to the default unit (among `examined`)
    not_found: int = 0  # requested tracking ids with no stored report
    changes: list[AssignmentChange] = field(default_factory=list)

    def moves(self, examples: int = 3) -> list[Move]:
        """Changes grouped by (from, to), largest first, with a few tracking ids each."""
        counts: Counter[tuple[str | None, str]] = Counter()
        samples: dict[tuple[str | None, str], list[int]] = {}
        for change in self.changes:
            key = (change.from_opd, change.to_opd)
            counts[key] += 1
            bucket = samples.setdefault(key, [])
            if len(bucket) < examples:
                bucket.append(change.tracking_id)
        return [
            Move(key[0], key[1], count, tuple(samples[key]))
            for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "examined": self.examined,
            "changed": len(self.changes),
            "unchanged": self.unchanged,
            "kept_manual": self.manual,
            "kept_transferred": self.transferred,
            "unmapped": self.unmapped,
            "not_found": self.not_found,
            "moves": [
                {"from": m.from_opd, "to": m.to_opd, "count": m.count, "examples": list(m.examples)}
                for m in self.moves()
            ],
        }


# (opd, co_opd, complex, mapped_by) of a stored assignment
_Current = tuple[str, tuple[str, ...], bool, str]


def assign_reports(
    session: Session,
    mapping: Mapping,
    tracking_ids: Sequence[int] | None,
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> RemapResult:
    """Apply the rules to the given stored reports (None: all of them).

    Writes an Assignment for every report whose result changed and an
    AssignmentHistory row per change; with `dry_run` computes the same result
    and writes nothing. Runs inside the caller's transaction.
    """
    session.flush()  # reports the caller added in this transaction must be visible
    if not dry_run:
        _lock(session)
    ids = None if tracking_ids is None else sorted(set(tracking_ids))
    router = Router(mapping, load_topic_tree(session) or {})
    current = _current(session, ids)
    result = RemapResult(dry_run=dry_run)
    found = 0
    for row in _report_rows(session, ids):
        found += 1
        tracking_id = row.tracking_id
        existing = current.get(tracking_id)
        if row.transferred:
            result.transferred += 1
            continue
        if existing is not None and existing[3] == MANUAL:
            result.manual += 1
            continue
        facts = _facts(router.tree, row, router.path(row.topic_id))
        answer = router.route(facts)
        result.examined += 1
        if answer.mapped_by == DEFAULT:
            result.unmapped += 1
        if existing == (answer.opd, answer.co_opd, answer.complex, answer.mapped_by):
            result.unchanged += 1
            continue
        result.changes.append(_change(tracking_id, existing, answer, router.why(answer, facts)))
    if ids is not None:
        result.not_found = len(ids) - found
    if not dry_run:
        _write(session, result.changes, current, actor=actor, now=now)
    return result


def assign_manual(
    session: Session,
    mapping: Mapping,
    tracking_id: int,
    opd: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> AssignmentChange:
    """Assign a report to `opd` by hand; it beats the rules and survives remaps.

    The case keeps its complexity and co-assigned units (from the current
    assignment, or from the rules for a report never assigned).
    """
    require_unit(mapping, opd)
    if not reason.strip():
        raise MappingRequestError("a manual assignment needs a reason: give --reason TEXT")
    _lock(session)
    row = _one_report(session, tracking_id)
    current = _current(session, [tracking_id])
    existing = current.get(tracking_id)
    if existing is not None:
        co_opd, complex_case = existing[1], existing[2]
    else:
        answer = route(mapping, _facts(load_topic_tree(session) or {}, row))
        co_opd, complex_case = answer.co_opd, answer.complex
    change = AssignmentChange(
        tracking_id=tracking_id,
        from_opd=existing[0] if existing else None,
        from_mapped_by=existing[3] if existing else None,
        to_opd=opd,
        mapped_by=MANUAL,
        co_opd=tuple(code for code in co_opd if code != opd),
        complex=complex_case,
        reason=reason.strip(),
    )
    _write(session, [change], current, actor=actor, now=now)
    return change


def unassign_manual(
    session: Session,
    mapping: Mapping,
    tracking_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> AssignmentChange:
    """Remove a manual assignment: the rules decide again from now on."""
    _lock(session)
    row = _one_report(session, tracking_id)
    current = _current(session, [tracking_id])
    existing = current.get(tracking_id)
    if existing is None or existing[3] != MANUAL:
        raise MappingRequestError(f"report {tracking_id} has no manual assignment to remove")
    facts = _facts(load_topic_tree(session) or {}, row)
    answer = route(mapping, facts)
    note = (
        f"manual assignment removed ({reason.strip() or 'no reason given'}); {why(answer, facts)}"
    )
    change = _change(tracking_id, existing, answer, note)
    _write(session, [change], current, actor=actor, now=now)
    return change


# --- reading ------------------------------------------------------------------------


def _lock(session: Session) -> None:
    writer(session).lock_writers(_LOCK_KEY)


class _ReportRow(NamedTuple):
    tracking_id: int
    title: str
    content: str
    topic_id: int | None
    kecamatan: str | None
    desa: str | None
    channel: str
    classification: str
    masbupsiaga: bool
    privacy: str
    transferred: bool


def _report_rows(session: Session, ids: list[int] | None) -> Iterable[_ReportRow]:
    bulk = writer(session)
    columns = _ReportRow._fields
    rows = (
        bulk.select_all("report", columns, order_by="tracking_id")
        if ids is None
        else bulk.select_in("report", columns, "tracking_id", ids)
    )
    for row in rows:
        yield _ReportRow._make(row)


def _one_report(session: Session, tracking_id: int) -> Any:
    row = next(iter(_report_rows(session, [tracking_id])), None)
    if row is None:
        raise MappingRequestError(
            f"no report {tracking_id} in the store; check the tracking id or run `lapor-bridge sync` first"
        )
    if row.transferred:
        raise MappingRequestError(
            f"report {tracking_id} was transferred to another body on LAPOR!; it is no longer the regency's to assign"
        )
    return row


def _current(session: Session, ids: list[int] | None) -> dict[int, _Current]:
    bulk = writer(session)
    columns = ("tracking_id", "opd", "co_opd", "complex", "mapped_by")
    rows = (
        bulk.select_all("assignment", columns)
        if ids is None
        else bulk.select_in("assignment", columns, "tracking_id", ids)
    )
    return {
        tracking_id: (
            opd,
            tuple(json.loads(co_opd)) if co_opd else (),
            bool(complex_case),
            mapped_by,
        )
        for tracking_id, opd, co_opd, complex_case, mapped_by in rows
    }


def _facts(tree: TopicTree, row: Any, path: tuple[int, ...] | None = None) -> RoutingFacts:
    return report_facts(
        tree,
        tracking_id=row.tracking_id,
        title=row.title,
        content=row.content,
        topic_id=row.topic_id,
        kecamatan=row.kecamatan,
        desa=row.desa,
        channel=row.channel,
        classification=row.classification,
        masbupsiaga=row.masbupsiaga,
        privacy=row.privacy,
        path=path,
    )


def _change(
    tracking_id: int, existing: _Current | None, answer: Route, reason: str
) -> AssignmentChange:
    return AssignmentChange(
        tracking_id=tracking_id,
        from_opd=existing[0] if existing else None,
        from_mapped_by=existing[3] if existing else None,
        to_opd=answer.opd,
        mapped_by=answer.mapped_by,
        co_opd=answer.co_opd,
        complex=answer.complex,
        reason=reason,
    )


# --- writing --------------------------------------------------------------------------

_ASSIGNMENT_COLUMNS = (
    "tracking_id", "opd", "co_opd", "complex", "mapped_by", "reason", "assigned_at",
    "assigned_by",
)  # fmt: skip
_ASSIGNMENT_UPSERT = Upsert(key=("tracking_id",))
_HISTORY_COLUMNS = (
    "tracking_id", "at", "actor", "from_opd", "from_mapped_by", "to_opd", "mapped_by",
    "co_opd", "complex", "reason",
)  # fmt: skip


def _write(
    session: Session,
    changes: list[AssignmentChange],
    current: dict[int, _Current],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Bulk writes of the changes: one upsert of `assignment` rows and one
    `assignment_history` row each, values in stored form (store.bulk)."""
    if not changes:
        return
    bulk = writer(session)
    at = bulk.time(now)
    assignments: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    for c in changes:
        co_opd = bulk.json(list(c.co_opd)) if c.co_opd else None
        assignments.append(
            (c.tracking_id, c.to_opd, co_opd, c.complex, c.mapped_by, c.reason, at, actor)
        )
        history.append(
            (c.tracking_id, at, actor, c.from_opd, c.from_mapped_by, c.to_opd, c.mapped_by,
             co_opd, c.complex, c.reason)
        )  # fmt: skip
    bulk.insert("assignment", _ASSIGNMENT_COLUMNS, assignments, on_conflict=_ASSIGNMENT_UPSERT)
    bulk.insert("assignment_history", _HISTORY_COLUMNS, history)
