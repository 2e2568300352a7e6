"""Delivering composed messages through apprise, each once per channel.

    pending --claim--> sending --fence--> apprise --ok--> sent
                                            |--refused / not reached--> failed (backoff) --> dead at max
                                            |--lost after hand-over---> failed, uncertain (repeat allowed once, recorded)
                                            \\--URL unusable----------> dead (the reason kept; `notifications retry`)
    sending with an expired lease --claim--> sending, uncertain (the holder may have handed it over)

One message at a time: the claim is committed with a lease; right before the
message goes to apprise the lease is checked and renewed in its own
transaction (the fence), so a worker whose lease ran out and was taken over
never sends; the outcome is written only while the lease is still held.

apprise reports only success or failure. What counts as **uncertain** (the
message may have arrived): the connection dropped or timed out after the
request or the SMTP DATA was sent (RemoteDisconnected, connection reset or
aborted, read timeout, SMTPServerDisconnected). A refused connection, a DNS
failure, a connect timeout, an HTTP error status or an SMTP error reply is
certain: nothing arrived (the receiver said it did not take it). An uncertain message is sent again (there is no way to ask a mailbox),
and every such repeat is counted in `repeats` and written to the note.

A failing channel never slows the run: after one failure its other messages
wait for the next run, and the pass stops at its time budget.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, or_, update
from sqlmodel import col, select

from lapor_bridge.config import Settings
from lapor_bridge.mapping.model import Mapping
from lapor_bridge.notify.channels import Channel, ChannelError, scrub
from lapor_bridge.notify.compose import channels_of, withhold_confidential
from lapor_bridge.notify.escalation import Escalation
from lapor_bridge.store import write_session
from lapor_bridge.store.db import is_sqlite
from lapor_bridge.store.tables import NotifyBatch, NotifyMessage
from lapor_bridge.timeutil import utcnow

log = logging.getLogger("lapor_bridge.notify")
# apprise logs whole payloads at DEBUG: report text must never reach our logs.
# Its lines are read (LogCapture) to classify failures, and we log our own.
logging.getLogger("apprise").propagate = False

PENDING, SENDING, SENT, FAILED, DEAD, CANCELLED = (
    "pending",
    "sending",
    "sent",
    "failed",
    "dead",
    "cancelled",
)
_UNCERTAIN = re.compile(
    r"RemoteDisconnected|Remote end closed|Connection aborted|Connection reset|"
    r"ReadTimeout|Read timed out|IncompleteRead|SMTPServerDisconnected|"
    r"Connection unexpectedly closed|BrokenPipe|Broken pipe",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    uncertain: bool = False
    final: bool = False  # no retry can help (an unusable URL)
    error: str | None = None


Sender = Callable[[str, str, str], SendResult]  # (expanded url, title, body)


def apprise_send(url: str, title: str, body: str) -> SendResult:
    """Hand one message to apprise and classify what happened from its log."""
    import apprise

    notifier = apprise.Apprise()
    with apprise.LogCapture(level=logging.DEBUG) as captured:
        added = notifier.add(url)
        if not added:
            return SendResult(False, final=True, error="apprise cannot use this URL (check it)")
        ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        text = captured.getvalue()
    if ok:
        return SendResult(True)
    warnings = [
        line.split(" - WARNING - ", 1)[1] for line in text.splitlines() if " - WARNING - " in line
    ]
    error = "; ".join(warnings[:2]) or "apprise reported a failure"
    return SendResult(False, uncertain=bool(_UNCERTAIN.search(text)), error=error[:300])


def backoff_s(attempts: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential with equal jitter, as the follow-up outbox does."""
    ceiling = min(max_s, base_s * 2.0 ** min(max(attempts - 1, 0), 60))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _note(now: datetime, text: str) -> Any:
    line = f"{now.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%SZ')} {text}"
    note = col(NotifyMessage.note)
    return case((note.is_(None), line), else_=note + "\n" + line)


@dataclass
class DeliverySummary:
    worker: str
    claimed: int = 0
    sent: int = 0
    repeated: int = 0  # sent again after an uncertain outcome (each recorded)
    failed: int = 0
    uncertain: int = 0  # failures that may have arrived
    dead: int = 0
    cancelled: int = 0
    lost_lease: int = 0
    skipped_channels: list[str] = field(default_factory=list)  # failed once: rest waits
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Claimed:
    id: int
    batch_id: int
    recipient: str
    channel: str
    label: str
    attempts: int
    uncertain: bool
    expired: bool  # taken over from a worker whose lease ran out


def _claim(
    engine: Engine,
    worker: str,
    now: datetime,
    lease_s: float,
    skip: set[str],
    recipients: tuple[str, ...] | None = None,
) -> _Claimed | None:
    m = NotifyMessage
    due = or_(
        and_(
            col(m.state).in_((PENDING, FAILED)),
            or_(col(m.next_attempt_at).is_(None), col(m.next_attempt_at) <= now),
        ),
        and_(m.state == SENDING, col(m.lease_until) < now),
    )
    query = select(m).where(due).order_by(col(m.id)).limit(1)
    if skip:
        query = query.where(col(m.channel).not_in(sorted(skip)))
    if recipients is not None:
        query = query.where(col(m.recipient).in_(recipients))
    if not is_sqlite(engine):
        query = query.with_for_update(skip_locked=True)
    with write_session(engine) as session:
        row = session.scalars(query).first()
        if row is None:
            return None
        expired = row.state == SENDING
        if expired:
            row.uncertain = True
        row.state = SENDING
        row.lease_owner = worker
        row.lease_until = now + timedelta(seconds=lease_s)
        session.add(row)
        assert row.id is not None
        return _Claimed(
            row.id,
            row.batch_id,
            row.recipient,
            row.channel,
            row.channel_label,
            row.attempts,
            row.uncertain,
            expired,
        )


def _held(claimed: _Claimed, worker: str) -> Any:
    return and_(
        NotifyMessage.id == claimed.id,
        NotifyMessage.state == SENDING,
        NotifyMessage.lease_owner == worker,
    )


def _fence(engine: Engine, claimed: _Claimed, worker: str, now: datetime, lease_s: float) -> bool:
    """Right before the hand-over: still ours and not expired? Renew, record the attempt,
    and when an earlier attempt may have arrived, record that this one is a repeat."""
    values: dict[str, Any] = {
        "lease_until": now + timedelta(seconds=lease_s),
        "last_attempt_at": now,
    }
    if claimed.uncertain:
        why = "its lease ran out" if claimed.expired else "the last attempt was uncertain"
        values["repeats"] = NotifyMessage.repeats + 1
        values["note"] = _note(
            now, f"sending again after an uncertain outcome ({why}): may arrive twice"
        )
    with write_session(engine) as session:
        result = session.execute(
            update(NotifyMessage)
            .where(_held(claimed, worker), col(NotifyMessage.lease_until) > now)
            .values(**values)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _finish(engine: Engine, claimed: _Claimed, worker: str, **values: Any) -> bool:
    values |= {"lease_owner": None, "lease_until": None}
    with write_session(engine) as session:
        result = session.execute(
            update(NotifyMessage).where(_held(claimed, worker)).values(**values)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def new_worker_id(name: str) -> str:
    return f"{name}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_pending(
    engine: Engine,
    *,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
    now_fn: Callable[[], datetime] = utcnow,
    sender: Sender = apprise_send,
    worker: str = "notify",
    budget_s: float | None = None,
    rng: random.Random | None = None,
    env: dict[str, str] | None = None,
    recipients: tuple[str, ...] | None = None,
) -> DeliverySummary:
    """Send due messages until none is due, every channel failed once, or the budget ends.
    `recipients`: only their messages (the admins' alone, after a failed sync)."""
    worker = new_worker_id(worker)
    rng = rng or random.Random()
    budget = settings.notify_budget_s if budget_s is None else budget_s
    deadline = time.monotonic() + budget
    summary = DeliverySummary(worker=worker)
    skip: set[str] = set()
    lease_s = settings.notify_lease_s
    while True:
        if time.monotonic() >= deadline:
            summary.stopped = f"time budget of {budget:g} s used; the rest waits for the next run"
            break
        claimed = _claim(engine, worker, now_fn(), lease_s, skip, recipients)
        if claimed is None:
            break
        summary.claimed += 1
        _deliver_one(
            engine,
            claimed,
            worker,
            mapping,
            escalation,
            settings,
            now_fn,
            sender,
            rng,
            env,
            summary,
            skip,
        )
    summary.skipped_channels = sorted(skip)
    return summary


def _deliver_one(
    engine: Engine,
    claimed: _Claimed,
    worker: str,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
    now_fn: Callable[[], datetime],
    sender: Sender,
    rng: random.Random,
    env: dict[str, str] | None,
    summary: DeliverySummary,
    skip: set[str],
) -> None:
    channels = {
        c.fingerprint: c for c in channels_of(claimed.recipient, mapping, escalation, settings)
    }
    channel: Channel | None = channels.get(claimed.channel)
    now = now_fn()
    if channel is None:
        if _finish(
            engine,
            claimed,
            worker,
            state=CANCELLED,
            note=_note(
                now, f"channel {claimed.label} is no longer configured for {claimed.recipient}"
            ),
        ):
            summary.cancelled += 1
        return
    with write_session(engine) as session:
        batch = session.get(NotifyBatch, claimed.batch_id)
        title, body = (batch.title, withhold_confidential(session, batch)) if batch else ("", "")
    secrets = channel.secrets(env)
    try:
        url = channel.expand(env)
    except ChannelError as exc:
        _failed(
            engine, claimed, worker, now, settings, rng, summary, skip, str(exc), uncertain=False
        )
        return
    if not _fence(engine, claimed, worker, now_fn(), settings.notify_lease_s):
        summary.lost_lease += 1
        return
    try:
        result = sender(url, title, body)
    except Exception as exc:  # a bug in a plugin: maybe handed over
        result = SendResult(False, uncertain=True, error=f"{type(exc).__name__} while sending")
    now = now_fn()
    error = scrub(result.error or "", secrets) or None
    if result.ok:
        values: dict[str, Any] = {
            "state": SENT,
            "sent_at": now,
            "attempts": claimed.attempts + 1,
            "uncertain": False,
            "last_error": None,
            "next_attempt_at": None,
        }
        if _finish(engine, claimed, worker, **values):
            summary.sent += 1
            summary.repeated += 1 if claimed.uncertain else 0
        else:
            summary.lost_lease += 1
        return
    if result.final:
        if _finish(
            engine,
            claimed,
            worker,
            state=DEAD,
            attempts=claimed.attempts + 1,
            last_error=error,
            note=_note(now, f"dead: {error}"),
        ):
            summary.dead += 1
        skip.add(claimed.channel)
        return
    _failed(
        engine,
        claimed,
        worker,
        now,
        settings,
        rng,
        summary,
        skip,
        error or "failed",
        uncertain=result.uncertain,
    )


def _failed(
    engine: Engine,
    claimed: _Claimed,
    worker: str,
    now: datetime,
    settings: Settings,
    rng: random.Random,
    summary: DeliverySummary,
    skip: set[str],
    error: str,
    *,
    uncertain: bool,
) -> None:
    attempts = claimed.attempts + 1
    skip.add(claimed.channel)
    # once an attempt may have arrived, the message stays uncertain until it is sent
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error,
        "uncertain": uncertain or claimed.uncertain,
    }
    if uncertain:
        values["note"] = _note(now, f"uncertain outcome: {error}; it will be sent again")
    if attempts >= settings.notify_max_attempts:
        values |= {"state": DEAD, "next_attempt_at": None}
    else:
        delay = backoff_s(
            attempts, settings.notify_backoff_base_s, settings.notify_backoff_max_s, rng
        )
        values |= {"state": FAILED, "next_attempt_at": now + timedelta(seconds=delay)}
    if not _finish(engine, claimed, worker, **values):
        summary.lost_lease += 1
        return
    summary.failed += 1
    summary.uncertain += 1 if uncertain else 0
    summary.dead += 1 if values["state"] == DEAD else 0
    log.warning("notification #%d to %s: %s", claimed.id, claimed.label, error)
