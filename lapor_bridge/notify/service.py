"""One notification pass: decide the time-driven events, compose, deliver.

Run at the end of every `sync` (after the push) and by `lapor-bridge notify`.
It never fails the sync: a channel that fails makes its messages wait, and
the pass stops at its time budget (LAPOR_BRIDGE_NOTIFY_BUDGET_S).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from lapor_bridge.config import Settings
from lapor_bridge.mapping.model import Mapping
from lapor_bridge.notify.compose import compose_pending
from lapor_bridge.notify.deliver import Sender, apprise_send, deliver_pending
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.notify.events import record_events
from lapor_bridge.store import write_session
from lapor_bridge.timeutil import utcnow

log = logging.getLogger("lapor_bridge.notify")


def run_notifications(
    engine: Engine,
    *,
    mapping: Mapping,
    settings: Settings,
    now_fn: Callable[[], datetime] = utcnow,
    syncing: bool = False,
    sender: Sender = apprise_send,
    budget_s: float | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Decide (time pass), compose and deliver; a summary for the run record."""
    escalation = load_escalation(mapping.directory, mapping)
    now = now_fn()
    with write_session(engine) as session:
        decided = record_events(
            session,
            now=now,
            mapping=mapping,
            escalation=escalation,
            time_pass=True,
            stale_after_s=None if syncing else settings.stale_after_s,
        )
    composed = compose_pending(
        engine, now=now, mapping=mapping, escalation=escalation, settings=settings
    )
    delivered = deliver_pending(
        engine,
        mapping=mapping,
        escalation=escalation,
        settings=settings,
        now_fn=now_fn,
        sender=sender,
        budget_s=budget_s,
        env=env,
    )
    return {
        "events": decided,
        "batches": composed.batches,
        "digests": composed.digests,
        "sent": delivered.sent,
        "repeated": delivered.repeated,
        "failed": delivered.failed,
        "uncertain": delivered.uncertain,
        "dead": delivered.dead,
        "waiting_channels": len(delivered.skipped_channels),
        **({"stopped": delivered.stopped} if delivered.stopped else {}),
    }


def notify_after_sync(
    engine: Engine, mapping: Mapping, settings: Settings, now_fn: Callable[[], datetime]
) -> dict[str, Any]:
    """The pass at the end of `sync`: whatever goes wrong here is logged, never raised."""
    try:
        return run_notifications(
            engine, mapping=mapping, settings=settings, now_fn=now_fn, syncing=True
        )
    except Exception as exc:  # notifications are second to the sync itself
        log.error("notifications failed (the sync itself is fine): %s", type(exc).__name__)
        return {"error": f"{type(exc).__name__}: see the log; lapor-bridge notify retries"}
