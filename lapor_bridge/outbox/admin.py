"""What the admin and the OPD liaisons see and do: the outbox view, retry and
cancel, the stuck-item summary, and the citizens' replies.

RAHASIA: the text of a follow-up or reply on a RAHASIA report never leaves
the local store, so these views carry `None` in its place (and say so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from lapor_bridge.outbox.errors import OutboxCommandError
from lapor_bridge.outbox.states import SETTLED, OutboxState, add_note
from lapor_bridge.store.tables import Assignment, ReportRow, TindakLanjut, UpstreamFollowUpRow
from lapor_bridge.timeutil import rfc3339

if TYPE_CHECKING:
    from lapor_bridge.sla import SlaPolicies

PREVIEW_CHARS = 80
STUCK_ATTEMPTS = 3
STUCK_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    tracking_id: int
    opd: str
    status: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    last_status: int | None
    errors: list[str] | None
    uncertain: bool
    upstream_id: int | None
    sent_at: datetime | None
    external_ref: str
    note: str | None
    waits_for: int | None  # the earlier item of the same report it waits behind
    preview: str | None  # None on a RAHASIA report

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_at", "next_attempt_at", "sent_at"):
            data[key] = rfc3339(data[key]) if data[key] else None
        return data


def list_outbox(
    session: Session,
    *,
    state: OutboxState | None = None,
    opd: str | None = None,
    tracking_id: int | None = None,
    limit: int = 200,
) -> list[OutboxRow]:
    """Outbox items: oldest first, except `sent` (newest first)."""
    query = select(TindakLanjut)
    if state is not None:
        query = query.where(TindakLanjut.state == state)
    if opd is not None:
        query = query.where(TindakLanjut.opd == opd)
    if tracking_id is not None:
        query = query.where(TindakLanjut.tracking_id == tracking_id)
    order = col(TindakLanjut.id).desc() if state == OutboxState.SENT else col(TindakLanjut.id)
    items = list(session.exec(query.order_by(order).limit(limit)).all())
    waits = _waits_for(session, items)
    secret = _rahasia(session, {i.tracking_id for i in items})
    return [_row(i, waits.get(i.id), i.tracking_id in secret) for i in items]


def _row(item: TindakLanjut, waits_for: int | None, rahasia: bool) -> OutboxRow:
    assert item.id is not None
    preview = None if rahasia else _shorten(item.content, PREVIEW_CHARS)
    return OutboxRow(
        id=item.id,
        tracking_id=item.tracking_id,
        opd=item.opd,
        status=item.status,
        state=item.state,
        attempts=item.attempts,
        created_at=item.created_at,
        next_attempt_at=item.next_attempt_at,
        last_error=item.last_error,
        last_status=item.last_status,
        errors=item.errors,
        uncertain=item.uncertain,
        upstream_id=item.upstream_id,
        sent_at=item.sent_at,
        external_ref=item.external_ref,
        note=item.note,
        waits_for=waits_for,
        preview=preview,
    )


def _shorten(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _queues(session: Session, reports: Iterable[int]) -> dict[int, list[int]]:
    """The unsettled item ids of each report, in delivery order."""
    ids = list(set(reports))
    if not ids:
        return {}
    rows = session.exec(
        select(TindakLanjut.tracking_id, TindakLanjut.id)
        .where(col(TindakLanjut.tracking_id).in_(ids))
        .where(col(TindakLanjut.state).not_in(SETTLED))
        .order_by(col(TindakLanjut.id))
    ).all()
    queues: dict[int, list[int]] = defaultdict(list)
    for tracking_id, item_id in rows:
        queues[tracking_id].append(item_id)
    return queues


def _waits_for(session: Session, items: Sequence[TindakLanjut]) -> dict[int | None, int]:
    """For each unsettled item, the first earlier unsettled item of its report."""
    queues = _queues(session, (i.tracking_id for i in items if i.state not in SETTLED))
    return {
        i.id: queues[i.tracking_id][0]
        for i in items
        if i.state not in SETTLED and queues.get(i.tracking_id, [i.id])[0] != i.id
    }


def _rahasia(session: Session, tracking_ids: Iterable[int]) -> set[int]:
    from lapor_bridge.upstream.models import Privacy  # the client's models: not for `status`

    ids = list(tracking_ids)
    if not ids:
        return set()
    rows = session.exec(
        select(ReportRow.tracking_id).where(
            col(ReportRow.tracking_id).in_(ids), ReportRow.privacy == Privacy.RAHASIA
        )
    ).all()
    return set(rows)


# --- retry and cancel -----------------------------------------------------------


def retry_items(
    session: Session,
    ids: Sequence[int] = (),
    *,
    all_dead: bool = False,
    now: datetime,
    by: str | None = None,
) -> list[int]:
    """Requeue items: dead -> pending with attempts reset (the last error is kept
    in the note); a failed item is made due now. Returns the ids requeued."""
    if all_dead:
        items = list(
            session.exec(select(TindakLanjut).where(TindakLanjut.state == OutboxState.DEAD))
        )
    else:
        items = [_get(session, item_id) for item_id in ids]
    for item in items:
        if item.state == OutboxState.DEAD:
            item.note = add_note(
                item.note,
                now,
                f"retried{f' by {by}' if by else ''} after {item.attempts} attempt(s); "
                f"was dead: {item.last_error}",
            )
            item.state = OutboxState.PENDING
            item.attempts = 0
            item.last_status = None
            item.errors = None
            item.next_attempt_at = None
        elif item.state == OutboxState.FAILED:
            item.note = add_note(item.note, now, f"made due now{f' by {by}' if by else ''}")
            item.next_attempt_at = now
        else:
            raise OutboxCommandError(
                f"outbox #{item.id} is {item.state}: only dead or failed items can be retried."
            )
        session.add(item)
    return [i.id for i in items if i.id is not None]


def cancel_item(
    session: Session,
    item_id: int,
    *,
    now: datetime,
    policies: SlaPolicies,
    by: str | None = None,
    reason: str = "",
) -> TindakLanjut:
    """Withdraw an unsent item (pending, failed or dead): it is never sent and
    no longer holds back the later items of its report."""
    item = _get(session, item_id)
    if item.state not in (OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD):
        raise OutboxCommandError(
            f"outbox #{item.id} is {item.state}: only pending, failed or dead items can be "
            "cancelled."
        )
    text = f"cancelled{f' by {by}' if by else ''} while {item.state}"
    if reason:
        text += f": {reason}"
    if item.uncertain:
        text += " (an earlier attempt may have reached LAPOR!; a later pull will show it)"
    item.note = add_note(item.note, now, text)
    item.state = OutboxState.CANCELLED
    item.next_attempt_at = None
    session.add(item)
    session.flush()
    from lapor_bridge.sla import refresh_clocks  # the SLA rules load with the first cancel

    refresh_clocks(session, [item.tracking_id], now=now, policies=policies)
    return item


def _get(session: Session, item_id: int) -> TindakLanjut:
    item = session.get(TindakLanjut, item_id)
    if item is None:
        raise OutboxCommandError(
            f"there is no outbox item #{item_id}: see `lapor-bridge outbox` for the ids."
        )
    return item


# --- stuck items -----------------------------------------------------------------


def stuck_items(
    session: Session,
    *,
    now: datetime,
    min_attempts: int = STUCK_ATTEMPTS,
    older_than: timedelta = STUCK_AGE,
) -> list[str]:
    """One line per item that needs a person: dead, failed `min_attempts` times or
    more, or not sent `older_than` after it was written. Repeats every run until
    resolved (sent, retried into success, or cancelled)."""
    cutoff = now - older_than
    items = session.exec(
        select(TindakLanjut)
        .where(col(TindakLanjut.state).not_in(SETTLED))
        .where(
            (TindakLanjut.state == OutboxState.DEAD)
            | (col(TindakLanjut.attempts) >= min_attempts)
            | (col(TindakLanjut.created_at) < cutoff)
        )
        .order_by(col(TindakLanjut.id))
    ).all()
    queues = _queues(session, (i.tracking_id for i in items))
    lines = []
    for item in items:
        queue = queues.get(item.tracking_id, [])
        head = queue[0] if queue and queue[0] != item.id else None
        behind = len(queue) - 1 if head is None else 0
        lines.append(_stuck_line(item, now, head, behind))
    return lines


def _stuck_line(item: TindakLanjut, now: datetime, waits_for: int | None, behind: int) -> str:
    where = f"outbox #{item.id} (report {item.tracking_id}, OPD {item.opd})"
    error = _shorten(item.last_error or "", 300)
    if item.state == OutboxState.DEAD:
        line = f"{where} is dead after {item.attempts} attempt(s): {error.rstrip('.')}"
        if behind:
            line += f"; {behind} later item(s) of this report wait behind it"
        return f"{line}. {_dead_advice(item)}"
    age = _age(now - item.created_at)
    if waits_for is not None:
        return f"{where} is not sent after {age}: it waits behind outbox #{waits_for}."
    if item.state == OutboxState.FAILED:
        when = rfc3339(item.next_attempt_at) if item.next_attempt_at else "now"
        return f"{where} has failed {item.attempts} time(s) in {age}, next attempt {when}: {error}"
    if item.state == OutboxState.SENDING:
        lease = f" (lease until {rfc3339(item.lease_until)})" if item.lease_until else ""
        return f"{where} is still being sent after {age}{lease}."
    return f"{where} is still pending after {age}: is `lapor-bridge push` (or sync) running?"


def _dead_advice(item: TindakLanjut) -> str:
    """What to do about a dead item; never "retry" for a refusal no retry can fix."""
    cancel = f"`lapor-bridge outbox cancel {item.id}`"
    if item.last_status == 409:  # closed or no longer ours: LAPOR! will never take it
        return f"LAPOR! will not take it: withdraw it with {cancel}."
    if item.last_status == 422:  # the follow-up itself is invalid
        return (
            "Record a corrected follow-up with `lapor-bridge respond` and withdraw this one "
            f"with {cancel}."
        )
    if item.last_status is not None and 400 <= item.last_status < 500:
        return (
            f"Check it on LAPOR! with the API operator; once fixed there run "
            f"`lapor-bridge outbox retry {item.id}`, otherwise {cancel}."
        )
    return (
        f"Fix the cause and run `lapor-bridge outbox retry {item.id}`, or withdraw it with "
        f"{cancel}."
    )


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


# --- citizens' replies ---------------------------------------------------------------


@dataclass(frozen=True)
class ReplyRow:
    id: int
    tracking_id: int
    opd: str | None
    created_at: datetime
    status: str
    content: str | None  # None on a RAHASIA report
    rahasia: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = rfc3339(self.created_at)
        return data


def list_replies(
    session: Session,
    *,
    opd: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[ReplyRow]:
    """The citizens' replies (author PELAPOR) pulled from LAPOR!, newest first,
    with the OPD the report is assigned to."""
    from lapor_bridge.upstream.models import Author, Privacy

    query = (
        select(UpstreamFollowUpRow, Assignment.opd, ReportRow.privacy)
        .join(
            Assignment, col(Assignment.tracking_id) == UpstreamFollowUpRow.tracking_id, isouter=True
        )
        .join(
            ReportRow, col(ReportRow.tracking_id) == UpstreamFollowUpRow.tracking_id, isouter=True
        )
        .where(UpstreamFollowUpRow.author == Author.PELAPOR)
    )
    if opd is not None:
        query = query.where(Assignment.opd == opd)
    if since is not None:
        query = query.where(col(UpstreamFollowUpRow.created_at) >= since)
    query = query.order_by(
        col(UpstreamFollowUpRow.created_at).desc(), col(UpstreamFollowUpRow.id).desc()
    )
    rows = session.exec(query.limit(limit)).all()
    return [
        ReplyRow(
            id=f.id,
            tracking_id=f.tracking_id,
            opd=assigned,
            created_at=f.created_at,
            status=f.status,
            content=None if privacy == Privacy.RAHASIA else f.content,
            rahasia=privacy == Privacy.RAHASIA,
        )
        for f, assigned, privacy in rows
    ]
