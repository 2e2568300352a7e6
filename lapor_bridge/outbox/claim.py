"""Claiming outbox items with a lease, and writing back what an attempt did.

A worker claims one item at a time, in a transaction of its own that is
committed before the item goes on the wire, and writes the outcome in another
transaction after it. So a crash at any point leaves either an unclaimed item
or a `sending` item whose lease runs out, which the next worker treats as an
uncertain outcome (list first, post only if absent).

Only the head of each report's queue is claimable: an item waits while any
earlier item of the same report is not `sent` or `cancelled`. That keeps the
order written and means one report is never pushed by two workers at once.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers pass
over each other's rows instead of waiting. SQLite: `write_session` opens
`BEGIN IMMEDIATE`, so claims are serialized by the database write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from lapor_bridge.outbox.states import CLAIMABLE, SETTLED, OutboxState, Transition, add_note
from lapor_bridge.store import write_session
from lapor_bridge.store.db import is_sqlite
from lapor_bridge.store.tables import TindakLanjut
from lapor_bridge.store.types import UTCDateTime
from lapor_bridge.timeutil import utcnow


@dataclass(frozen=True)
class ClaimedItem:
    """A snapshot of a claimed item: all a worker needs to deliver it."""

    id: int
    tracking_id: int
    external_ref: str
    opd: str
    unit: str | None
    status: str
    content: str
    attachments: list[dict[str, Any]]
    attempts: int
    uncertain: bool
    state_before: OutboxState
    lease_until: datetime


def _claimable(now: Any) -> Any:
    """SQL condition: due at `now`, and the head of its report's queue."""
    item = TindakLanjut
    earlier = aliased(TindakLanjut)
    due = or_(
        and_(
            col(item.state).in_(CLAIMABLE),
            or_(col(item.next_attempt_at).is_(None), col(item.next_attempt_at) <= now),
        ),
        and_(item.state == OutboxState.SENDING, col(item.lease_until) < now),
    )
    waits = exists().where(
        earlier.tracking_id == item.tracking_id,
        earlier.id < item.id,  # type: ignore[operator]
        col(earlier.state).not_in(SETTLED),
    )
    return and_(due, ~waits)


# Built once (building the aliased subquery costs milliseconds); `now` is bound per call.
_NOW = bindparam("claim_now", type_=UTCDateTime())
_CLAIM = select(TindakLanjut).where(_claimable(_NOW)).order_by(col(TindakLanjut.id)).limit(1)
_CLAIM_SKIP_LOCKED = _CLAIM.with_for_update(skip_locked=True, of=TindakLanjut)
_COUNT_DUE = select(func.count()).select_from(TindakLanjut).where(_claimable(_NOW))


def count_due(session: Session, *, now: datetime) -> int:
    """How many items a worker could claim at `now`."""
    return int(session.execute(_COUNT_DUE, {"claim_now": now}).scalar_one())


def claim_next(engine: Engine, *, worker: str, now: datetime, lease_s: float) -> ClaimedItem | None:
    """Claim the oldest claimable item for `worker`, or None when nothing is due."""
    query = _CLAIM if is_sqlite(engine) else _CLAIM_SKIP_LOCKED
    with write_session(engine) as session:
        item = session.execute(query, {"claim_now": now}).scalars().first()
        if item is None:
            return None
        before = OutboxState(item.state)
        if before == OutboxState.SENDING:  # its lease ran out: the holder may have posted it
            item.uncertain = True
        item.state = OutboxState.SENDING
        item.lease_owner = worker
        item.lease_until = now + timedelta(seconds=lease_s)
        item.last_attempt_at = now
        session.add(item)
        assert item.id is not None
        return ClaimedItem(
            id=item.id,
            tracking_id=item.tracking_id,
            external_ref=item.external_ref,
            opd=item.opd,
            unit=item.unit,
            status=item.status,
            content=item.content,
            attachments=list(item.attachments or []),
            attempts=item.attempts,
            uncertain=item.uncertain,
            state_before=before,
            lease_until=item.lease_until,
        )


def _held(claimed: ClaimedItem, worker: str) -> Any:
    return and_(
        TindakLanjut.id == claimed.id,
        TindakLanjut.state == OutboxState.SENDING,
        TindakLanjut.lease_owner == worker,
    )


def renew_lease(
    engine: Engine, claimed: ClaimedItem, *, worker: str, now: datetime, lease_s: float
) -> bool:
    """Extend the lease before a POST; False when the item is no longer ours."""
    with write_session(engine) as session:
        result = session.execute(
            update(TindakLanjut)
            .where(_held(claimed, worker))
            .values(lease_until=now + timedelta(seconds=lease_s))
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def finish(
    engine: Engine,
    claimed: ClaimedItem,
    *,
    worker: str,
    transition: Transition,
    now: datetime | None = None,
) -> bool:
    """Write the outcome of an attempt; False when the lease was lost meanwhile
    (another worker reclaimed it, or a pulled echo already marked it sent)."""
    values: dict[str, Any] = {
        "state": transition.state,
        "attempts": transition.attempts,
        "uncertain": transition.uncertain,
        "next_attempt_at": transition.next_attempt_at,
        "last_error": transition.last_error,
        "lease_until": None,
        "lease_owner": None,
    }
    if transition.state == OutboxState.SENT:
        values |= {"upstream_id": transition.upstream_id, "sent_at": transition.sent_at}
    if transition.state == OutboxState.DEAD:
        values |= {
            "last_status": transition.last_status,
            "errors": list(transition.errors) if transition.errors else None,
        }
    if transition.note:
        line = add_note(None, now or transition.sent_at or utcnow(), transition.note)
        note = col(TindakLanjut.note)
        values["note"] = case((note.is_(None), line), else_=note + "\n" + line)
    with write_session(engine) as session:
        result = session.execute(
            update(TindakLanjut).where(_held(claimed, worker)).values(**values)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]
