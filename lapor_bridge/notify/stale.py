"""Admins hear of a sync that keeps failing from the sync itself.

Cron runs `sync` every few minutes, and `notify` perhaps not at all. A sync
that fails (LAPOR! down, token refused, an error half-way) or is refused (a
broken mapping) delivers nothing at its end, so the job lifecycle
(lapor_bridge.job) calls `after_sync_run` once the run's outcome is recorded,
whatever it was:

- it decides the stale-sync event of the current episode (no successful sync
  for `LAPOR_BRIDGE_STALE_AFTER_S`; the runs kept beside the lock count, since
  a sync refused before it opened the store is only there) and the end of an
  episode already told (`admin_sync_recovered`, once a sync succeeded again);
  both have natural keys, so whichever pass decides first (this one, the end
  of a later sync, `notify`) decides them once, ever;
- it composes and delivers the admins' messages alone, through the
  notification outbox (leases, fence, backoff: a failing channel waits for a
  later run), within `LAPOR_BRIDGE_NOTIFY_BUDGET_S`; it needs no mapping;
- it never raises: the run's outcome and exit status stay what they were.

After a successful run it costs one query (is an episode open?) unless
something is to be told.

Where the store itself cannot be used (the database down, a full disk, a
schema behind the code) nothing can be decided exactly once: the outbox and
its record are the store. What remains is what every such run already does:
one error line on stderr (cron mails it to MAILTO), the run kept beside the
lock, the metrics file's last_failure, and `lapor-bridge health` exiting 10
or 12. This pass then does nothing and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select
from sqlmodel import col

from lapor_bridge.notify import events as ev

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from lapor_bridge.config import Settings
    from lapor_bridge.notify.deliver import Sender

log = logging.getLogger("lapor_bridge.notify")


def after_sync_run(
    settings: Settings,
    engine: Engine | None,
    *,
    outcome: str,
    now: Callable[[], datetime],
    pending: Path | None = None,
    sender: Sender | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Decide the stale-sync and recovered events, then deliver the admins'
    messages; None when there was nothing to do. Never raises."""
    if engine is None:
        log.warning(
            "the store cannot be used: admins cannot be told of a stale sync from it "
            "(this run's error line and `lapor-bridge health` say it)"
        )
        return {"store": "unusable"}
    try:
        return _run(settings, engine, outcome, now, pending, sender, env)
    except Exception as exc:  # second to the sync's own outcome, always
        from lapor_bridge.job import describe_error

        log.error(
            "admin alerts after the sync failed (the run is recorded as it ended): %s",
            describe_error(exc, url=engine.url),
        )
        return {"error": type(exc).__name__}


def _run(
    settings: Settings,
    engine: Engine,
    outcome: str,
    now_fn: Callable[[], datetime],
    pending: Path | None,
    sender: Sender | None,
    env: dict[str, str] | None,
) -> dict[str, Any] | None:
    from lapor_bridge.job import pending_runs
    from lapor_bridge.store import read_session, write_session
    from lapor_bridge.store.tables import NotifyEvent, NotifyMessage

    now = now_fn()
    with read_session(engine) as session:
        decided = ev.sync_recovered(session, now)
        if outcome not in ("ok", "partial"):
            decided += ev.stale_sync(session, now, settings.stale_after_s, pending_runs(pending))
        new = [
            d
            for d in decided
            if not session.scalar(
                select(
                    exists().where(
                        NotifyEvent.kind == d.kind,
                        NotifyEvent.ref == d.ref,
                        NotifyEvent.recipient == d.recipient,
                    )
                )
            )
        ]
        m = NotifyMessage
        waiting = session.scalar(
            select(
                exists().where(
                    NotifyEvent.recipient == ev.ADMIN, col(NotifyEvent.batch_id).is_(None)
                )
            )
        ) or session.scalar(
            select(
                exists().where(
                    m.recipient == ev.ADMIN,
                    or_(
                        and_(
                            col(m.state).in_(("pending", "failed")),
                            or_(col(m.next_attempt_at).is_(None), col(m.next_attempt_at) <= now),
                        ),
                        and_(m.state == "sending", col(m.lease_until) < now),
                    ),
                )
            )
        )
    if not new and not waiting:
        return None  # (a read only: a run with nothing to tell writes nothing)
    if new:
        with write_session(engine) as session:
            written = ev._insert(session, new, now=now, quiet=False)
    else:
        written = 0
    return {"events": written, **_deliver_admin(engine, settings, now_fn, sender, env)}


def _deliver_admin(
    engine: Engine,
    settings: Settings,
    now_fn: Callable[[], datetime],
    sender: Sender | None,
    env: dict[str, str] | None,
) -> dict[str, Any]:
    from lapor_bridge.mapping.model import Mapping
    from lapor_bridge.notify.compose import compose_admin
    from lapor_bridge.notify.deliver import apprise_send, deliver_pending
    from lapor_bridge.notify.escalation import Escalation

    composed = compose_admin(engine, now=now_fn(), settings=settings)
    delivered = deliver_pending(
        engine,
        mapping=Mapping(directory="", units={}, rules=(), default=""),
        escalation=Escalation(levels=(), recipients={}, digest_at=time(23, 59), file=None),
        settings=settings,
        now_fn=now_fn,
        sender=sender or apprise_send,
        worker="sync-admin",
        env=env,
        recipients=(ev.ADMIN,),
    )
    return {
        "batches": composed.batches,
        "sent": delivered.sent,
        "failed": delivered.failed,
        "waiting_channels": len(delivered.skipped_channels),
        **({"stopped": delivered.stopped} if delivered.stopped else {}),
    }
