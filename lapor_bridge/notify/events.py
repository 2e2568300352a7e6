"""Deciding what people must be told, from what the store already holds.

`record_events` runs inside the transaction of the change that causes the
events (a sync page, a remap, `assign`, `unassign`) and in a time-driven pass
(the end of `sync`, `notify`). It reads:

- assignment_history after a watermark (notify_watermark "assignment_history",
  moved in the same transaction): `assigned` to the new unit, `moved_away` to
  the old one. Every writer of assignment_history holds the mapping's write
  lock (PostgreSQL advisory lock, SQLite's write lock) and calls this function
  before committing, so ids are seen in order and none is skipped;
- sla_clock against `now`: a clock past a level of escalation.yaml (at-risk
  point, due time, `after_hours` later) gives one event per target;
- citizens' replies (PELAPOR follow-ups), reopened clocks (cycle > 1) and
  reports transferred away, seen in the last RECENT;
- on a store that had data before notifications existed, the first pass
  decides everything already true quietly (migration 0004 marks it);
- for admins ("@admin"): dead outbox items, dead notification messages, open
  quarantine, and (time pass only) a sync that has not succeeded for
  `stale_after_s` (one event per stale episode: the episode is named after the
  last successful sync run, "never" before the first) and, once a sync
  succeeded again, that episode's end (`admin_sync_recovered`, same ref).
  lapor_bridge.notify.stale decides these two right after every sync run's
  outcome is recorded, so a sync that keeps failing tells admins by itself.

Every event has a natural key (kind, ref, recipient) with a unique constraint
and is inserted with ON CONFLICT DO NOTHING: deciding twice inserts nothing,
so a replayed page or a crash between decision and commit is harmless.
Events hold codes and ids only, never report text. `quiet` events (backfill,
the first sync of a new store) are only counted in a summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from lapor_bridge.mapping.model import Mapping
from lapor_bridge.notify.escalation import Escalation, Level
from lapor_bridge.store.bulk import BulkWriter, writer
from lapor_bridge.store.tables import (
    NotifyEvent,
    NotifyMessage,
    NotifyWatermark,
    Quarantine,
    SyncRun,
    TindakLanjut,
)

ADMIN = "@admin"
HISTORY = "assignment_history"
UPGRADE_QUIET = "upgrade_quiet"  # set by migration 0004 on a store that already had data
RECENT = timedelta(days=7)  # replies, reopens and transfers older than this are not news
RECOVERY = timedelta(days=1)  # a stale episode that ended longer ago is not news
CHUNK = 500
EVENT_COLUMNS = ("kind", "recipient", "ref", "tracking_id", "policy", "detail",
                 "occurred_at", "created_at", "quiet", "batch_id")  # fmt: skip
EVENT_KEY = ("kind", "ref", "recipient")  # the unique key uq_notify_event_key

# kinds, in the order a message lists them
ASSIGNED = "assigned"
MOVED_AWAY = "moved_away"
AT_RISK = "at_risk"
BREACHED = "breached"
ESCALATED = "escalated"
REPLY = "reply"
REOPENED = "reopened"
TRANSFERRED = "transferred"
ADMIN_DEAD_OUTBOX = "admin_dead_outbox"
ADMIN_DEAD_MESSAGE = "admin_dead_message"
ADMIN_QUARANTINE = "admin_quarantine"
ADMIN_STALE_SYNC = "admin_stale_sync"
ADMIN_SYNC_RECOVERED = "admin_sync_recovered"  # ref: the stale episode's ref
KINDS = (
    ASSIGNED,
    AT_RISK,
    BREACHED,
    ESCALATED,
    REPLY,
    REOPENED,
    TRANSFERRED,
    MOVED_AWAY,
    ADMIN_DEAD_OUTBOX,
    ADMIN_DEAD_MESSAGE,
    ADMIN_QUARANTINE,
    ADMIN_STALE_SYNC,
    ADMIN_SYNC_RECOVERED,
)


class Decided(NamedTuple):
    """One event decided (a named tuple: a page decides thousands)."""

    kind: str
    recipient: str
    ref: str
    occurred_at: datetime
    tracking_id: int | None = None
    policy: str | None = None
    detail: dict[str, Any] | None = None


def head_of(unit: str) -> str:
    return f"{unit}/head"


def record_events(
    session: Session,
    *,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation | None = None,
    tracking_ids: Sequence[int] | None = None,
    quiet: bool = False,
    time_pass: bool = False,
    stale_after_s: float | None = None,
) -> int:
    """Decide and insert the events of what changed; returns how many are new.

    Runs in the caller's transaction and never commits. `tracking_ids` limits
    the clock, reply and transfer checks to those reports (a sync page);
    None checks all. `time_pass` adds the admin checks (and `stale_after_s`
    the stale-sync check).
    """
    if escalation is None:
        from lapor_bridge.notify.escalation import load_escalation

        escalation = load_escalation(mapping.directory, mapping)
    session.flush()
    ids = None if tracking_ids is None else sorted(set(tracking_ids))
    if session.get(NotifyWatermark, UPGRADE_QUIET) is not None:
        # the first pass after notifications came to a running store; a pass that
        # raced another to it finds the mark already gone and is an ordinary pass
        gone = session.execute(delete(NotifyWatermark).where(NotifyWatermark.name == UPGRADE_QUIET))
        if gone.rowcount == 1:  # type: ignore[attr-defined]
            quiet, ids = True, None
    decided: list[Decided] = []
    decided += _assignments(session)
    for chunk in _chunks(ids):
        decided += _clock_events(session, now, mapping, escalation, chunk)
        decided += _replies_and_transfers(session, now, chunk)
    if time_pass:
        decided += _admin_events(session, now, stale_after_s)
    return _insert(session, decided, now=now, quiet=quiet)


def _chunks(ids: list[int] | None) -> Iterable[list[int] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# --- assignment changes ---------------------------------------------------------


def _assignments(session: Session) -> list[Decided]:
    mark = session.get(NotifyWatermark, HISTORY)
    last = mark.last_id if mark else 0
    bulk = writer(session)
    rows = bulk.query(
        "SELECT id, tracking_id, at, actor, from_opd, to_opd, mapped_by"
        " FROM assignment_history WHERE id > ? ORDER BY id",
        (last,),
    )
    if not rows:
        return []
    out: list[Decided] = []
    for hid, tracking_id, at, actor, from_opd, to_opd, mapped_by in rows:
        if from_opd == to_opd:
            continue
        detail = {"from": from_opd, "to": to_opd, "by": mapped_by, "actor": actor}
        at = BulkWriter.read_time(at)
        out.append(Decided(ASSIGNED, to_opd, str(hid), at, tracking_id, None, detail))
        if from_opd:
            out.append(Decided(MOVED_AWAY, from_opd, str(hid), at, tracking_id, None, detail))
    newest = rows[-1][0]
    if mark is None:
        session.add(NotifyWatermark(name=HISTORY, last_id=newest))
        session.flush()
    else:
        session.execute(
            update(NotifyWatermark)
            .where(NotifyWatermark.name == HISTORY, col(NotifyWatermark.last_id) < newest)
            .values(last_id=newest)
        )
    return out


# --- clocks ------------------------------------------------------------------------------


# the ref of a clock's event, as SQL: "<tracking_id>:<policy>:<cycle>" + ":<level>"
CLOCK_REF = "CAST(c.tracking_id AS TEXT) || ':' || c.policy || ':' || CAST(c.cycle AS TEXT) || ?"


def _kind(level: Level) -> str:
    if level.at == "at_risk":
        return AT_RISK
    return ESCALATED if level.after_hours > 0 else BREACHED


def _clock_events(
    session: Session,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    ids: list[int] | None,
) -> list[Decided]:
    out: list[Decided] = []
    bulk = writer(session)
    read_time = BulkWriter.read_time
    for level in escalation.levels:
        kind = _kind(level)
        point = "at_risk_at" if level.at == "at_risk" else "due_at"
        shift = timedelta(hours=level.after_hours)
        sql = (
            f"SELECT c.tracking_id, c.policy, c.cycle, c.{point}, a.opd FROM sla_clock AS c"
            " JOIN report AS r ON r.tracking_id = c.tracking_id"
            " LEFT JOIN assignment AS a ON a.tracking_id = c.tracking_id"
            f" WHERE c.stopped_at IS NULL AND r.transferred IS FALSE AND c.{point} <= ?"
            " AND NOT EXISTS (SELECT 1 FROM notify_event AS e"
            f" WHERE e.kind = ? AND e.ref = {CLOCK_REF})"
        )
        params: list[Any] = [bulk.time(now - shift), kind, f":{level.id}"]
        if level.at == "at_risk":  # a clock already past due is told as breached instead
            sql += " AND c.due_at > ?"
            params.append(bulk.time(now))
        if level.policies is not None:
            if not level.policies:  # no policy: no clock (and no empty IN list)
                continue
            sql += f" AND c.policy IN ({', '.join(['?'] * len(level.policies))})"
            params += sorted(level.policies)
        sql += " AND {ids}"
        # equal details and targets are built once: (cycle, unit) repeat over many clocks
        details: dict[tuple[Any, str], dict[str, Any]] = {}
        targets: dict[str, list[str]] = {}
        for tracking_id, policy, cycle, at, opd in bulk.query_in(sql, params, "c.tracking_id", ids):
            unit = opd or mapping.default
            detail = details.get((cycle, unit))
            if detail is None:
                detail = details[cycle, unit] = {"level": level.id, "cycle": cycle, "opd": unit}
            told = targets.get(unit)
            if told is None:
                told = targets[unit] = _targets(level, unit, mapping, escalation)
            at = read_time(at) + shift
            ref = f"{tracking_id}:{policy}:{cycle}:{level.id}"
            for recipient in told:
                out.append(Decided(kind, recipient, ref, at, tracking_id, policy, detail))
    return out


def _targets(level: Level, unit: str, mapping: Mapping, escalation: Escalation) -> list[str]:
    out: list[str] = []
    for target in level.notify:
        if target == "unit":
            out.append(unit)
        elif target == "head":
            out.append(head_of(unit))
        elif target == "coordinator":
            out.append(mapping.default)
        elif target in escalation.recipients:
            out.append(f"@{target}")
        else:
            out.append(target)
    return list(dict.fromkeys(out))


# --- citizens' replies, reopened and transferred reports ------------------------------------


def _replies_and_transfers(session: Session, now: datetime, ids: list[int] | None) -> list[Decided]:
    bulk = writer(session)
    since = bulk.time(now - RECENT)
    read_time = BulkWriter.read_time
    out: list[Decided] = []
    replies = bulk.query_in(
        "SELECT f.id, f.tracking_id, f.created_at, a.opd FROM upstream_followup AS f"
        " JOIN report AS r ON r.tracking_id = f.tracking_id"
        " JOIN assignment AS a ON a.tracking_id = f.tracking_id"
        " WHERE f.author = 'PELAPOR' AND f.first_seen_at >= ? AND r.transferred IS FALSE"
        " AND NOT EXISTS (SELECT 1 FROM notify_event AS e"
        " WHERE e.kind = ? AND e.ref = CAST(f.id AS TEXT)) AND {ids}",
        (since, REPLY),
        "f.tracking_id",
        ids,
    )
    for fid, tracking_id, at, opd in replies:
        out.append(Decided(REPLY, opd, str(fid), read_time(at), tracking_id, None, {"opd": opd}))
    reopened = bulk.query_in(
        "SELECT DISTINCT c.tracking_id, c.cycle, c.started_at, a.opd FROM sla_clock AS c"
        " JOIN assignment AS a ON a.tracking_id = c.tracking_id"
        " WHERE c.cycle > 1 AND c.started_at >= ?"
        " AND NOT EXISTS (SELECT 1 FROM notify_event AS e WHERE e.kind = ?"
        " AND e.ref = CAST(c.tracking_id AS TEXT) || ':' || CAST(c.cycle AS TEXT)) AND {ids}",
        (since, REOPENED),
        "c.tracking_id",
        ids,
    )
    seen: set[str] = set()
    for tracking_id, cycle, at, opd in reopened:
        ref = f"{tracking_id}:{cycle}"
        if ref not in seen:
            seen.add(ref)
            out.append(
                Decided(REOPENED, opd, ref, read_time(at), tracking_id, None, {"cycle": cycle})
            )
    transferred = bulk.query_in(
        "SELECT r.tracking_id, r.transferred_at, a.opd FROM report AS r"
        " JOIN assignment AS a ON a.tracking_id = r.tracking_id"
        " WHERE r.transferred IS TRUE AND r.transferred_at >= ?"
        " AND NOT EXISTS (SELECT 1 FROM notify_event AS e"
        " WHERE e.kind = ? AND e.ref = CAST(r.tracking_id AS TEXT)) AND {ids}",
        (since, TRANSFERRED),
        "r.tracking_id",
        ids,
    )
    for tracking_id, at, opd in transferred:
        out.append(
            Decided(TRANSFERRED, opd, str(tracking_id), read_time(at), tracking_id, None, {})
        )
    return out


# --- for admins ------------------------------------------------------------------------------


def _admin_events(session: Session, now: datetime, stale_after_s: float | None) -> list[Decided]:
    out: list[Decided] = []
    for item in session.execute(
        select(
            TindakLanjut.id,
            TindakLanjut.tracking_id,
            TindakLanjut.last_attempt_at,
            TindakLanjut.created_at,
        ).where(TindakLanjut.state == "dead")
    ):
        at = item.last_attempt_at or item.created_at
        out.append(
            Decided(
                ADMIN_DEAD_OUTBOX,
                ADMIN,
                f"{item.id}@{at.isoformat()}",
                at,
                item.tracking_id,
                None,
                {"outbox_id": item.id},
            )
        )
    for message in session.execute(
        select(NotifyMessage.id, NotifyMessage.recipient, NotifyMessage.last_attempt_at).where(
            NotifyMessage.state == "dead", NotifyMessage.recipient != ADMIN
        )
    ):
        at = message.last_attempt_at or now
        out.append(
            Decided(
                ADMIN_DEAD_MESSAGE,
                ADMIN,
                f"{message.id}@{at.isoformat()}",
                at,
                None,
                None,
                {"message_id": message.id, "recipient": message.recipient},
            )
        )
    for q in session.execute(
        select(Quarantine.id, Quarantine.tracking_id, Quarantine.first_seen_at).where(
            col(Quarantine.resolved_at).is_(None)
        )
    ):
        out.append(
            Decided(
                ADMIN_QUARANTINE,
                ADMIN,
                str(q.id),
                q.first_seen_at,
                q.tracking_id,
                None,
                {"quarantine_id": q.id},
            )
        )
    if stale_after_s is not None:
        out += stale_sync(session, now, stale_after_s)
        out += sync_recovered(session, now)
    return out


def stale_sync(
    session: Session,
    now: datetime,
    stale_after_s: float,
    pending: Sequence[dict[str, Any]] = (),
) -> list[Decided]:
    """The stale-sync event of the current episode, if sync has not succeeded for
    `stale_after_s`. `pending`: runs kept beside the lock, not yet in the store
    (a sync refused before it opened the store: LAPOR! down, token refused)."""
    from lapor_bridge.timeutil import parse_upstream_time

    limit = now - timedelta(seconds=stale_after_s)
    kept = [r for r in pending if r.get("kind") == "sync" and r.get("started_at")]
    if any(
        r.get("outcome") in ("ok", "partial")
        and r.get("finished_at")
        and parse_upstream_time(r["finished_at"]) >= limit
        for r in kept
    ):
        return []  # it did succeed (kept beside the lock when the store refused the record)
    last_ok = session.execute(
        select(SyncRun.id, SyncRun.finished_at)
        .where(SyncRun.kind == "sync", col(SyncRun.ok).is_(True))
        .order_by(col(SyncRun.id).desc())
        .limit(1)
    ).first()
    if last_ok is not None:
        if last_ok.finished_at is None or last_ok.finished_at >= limit:
            return []
        since = last_ok.finished_at
        ref = f"after-run-{last_ok.id}"
    else:
        first = session.execute(
            select(func.min(SyncRun.started_at)).where(SyncRun.kind == "sync")
        ).scalar()
        starts = [first] if first is not None else []
        starts += [parse_upstream_time(r["started_at"]) for r in kept]
        if not starts or min(starts) >= limit:
            return []  # never tried, or trying for less than the limit
        since, ref = min(starts), "never"
    return [
        Decided(
            ADMIN_STALE_SYNC,
            ADMIN,
            ref,
            since + timedelta(seconds=stale_after_s),
            None,
            None,
            {"since": since.isoformat(), "stale_after_s": stale_after_s},
        )
    ]


def sync_recovered(session: Session, now: datetime) -> list[Decided]:
    """The end of the newest stale episode told to admins, once a sync run after the
    episode's last success has succeeded: within RECOVERY of now (a store whose
    old episodes ended long ago is not told of them)."""
    told = aliased(NotifyEvent)
    newest = session.execute(
        select(NotifyEvent.ref, NotifyEvent.detail)
        .where(NotifyEvent.kind == ADMIN_STALE_SYNC, NotifyEvent.recipient == ADMIN)
        .order_by(col(NotifyEvent.id).desc())
        .limit(1)
    ).first()
    if newest is None or session.scalar(
        select(
            exists().where(
                told.kind == ADMIN_SYNC_RECOVERED, told.recipient == ADMIN, told.ref == newest.ref
            )
        )
    ):
        return []
    ref, detail = newest
    after = int(ref.removeprefix("after-run-")) if ref.startswith("after-run-") else 0
    ok = session.execute(
        select(SyncRun.id, SyncRun.finished_at)
        .where(
            SyncRun.kind == "sync",
            col(SyncRun.ok).is_(True),
            col(SyncRun.id) > after,
            col(SyncRun.finished_at).is_not(None),
        )
        .order_by(col(SyncRun.id))
        .limit(1)
    ).first()
    if ok is None or ok.finished_at < now - RECOVERY:
        return []
    return [
        Decided(
            ADMIN_SYNC_RECOVERED,
            ADMIN,
            ref,
            ok.finished_at,
            None,
            None,
            {"since": (detail or {}).get("since"), "at": ok.finished_at.isoformat()},
        )
    ]


# --- writing ---------------------------------------------------------------------------------


def _insert(session: Session, decided: list[Decided], *, now: datetime, quiet: bool) -> int:
    if not decided:
        return 0
    # one order for every writer (kind, ref, recipient: the unique key), so two
    # transactions deciding overlapping events wait for each other, never in a circle
    keyed = {(d.kind, d.ref, d.recipient): d for d in reversed(decided)}  # the first decided
    decided = [keyed[key] for key in sorted(keyed)]
    bulk = writer(session)
    created, stored, time = bulk.time(now), _DetailTexts().stored, bulk.time
    rows = [
        (kind, recipient, ref, tracking_id, policy, stored(detail), time(at), created, quiet, None)
        for kind, recipient, ref, at, tracking_id, policy, detail in decided
    ]
    return bulk.insert_new("notify_event", EVENT_COLUMNS, rows, key=EVENT_KEY)


class _DetailTexts:
    """Each event's detail as stored JSON, written once for equal details (a
    clock's level, cycle and unit repeat for every target and many clocks)."""

    def __init__(self) -> None:
        # the type is in the key: 1, 1.0 and True are equal but not written alike
        self._texts: dict[tuple[tuple[str, type, Any], ...], str | None] = {}

    def stored(self, detail: dict[str, Any] | None) -> str | None:
        if detail is None:
            return None
        try:
            key = tuple((name, type(value), value) for name, value in detail.items())
            found = self._texts.get(key)
        except TypeError:  # a value that is not hashable: written as it is
            return BulkWriter.json(detail)
        if found is None:
            found = self._texts[key] = BulkWriter.json(detail)
        return found
