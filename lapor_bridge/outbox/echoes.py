"""Echoes: the bridge's own follow-ups coming back in later pulls.

LAPOR! stores the `external_ref` of every follow-up the bridge posts and lists
it with the report. The sync passes every follow-up it pulls here (inside its
page transaction); those whose external_ref is one of ours are echoes, never
new activity. An echo also settles delivery: a local item LAPOR! lists is
delivered, whatever its state says (for example a POST whose answer was lost
and whose item is waiting to be reconciled), so it is marked `sent` with the
upstream id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from lapor_bridge.outbox.states import OutboxState, add_note
from lapor_bridge.store.tables import TindakLanjut
from lapor_bridge.upstream.models import ApiFollowUp


def reconcile_echoes(
    session: Session, followups: Sequence[ApiFollowUp], *, now: datetime
) -> set[str]:
    """The external_refs among `followups` that are ours; marks those items sent.

    Runs in the caller's transaction. A worker holding such an item finds,
    when it writes its outcome, that the item is no longer `sending` under its
    lease, and leaves it alone.
    """
    by_ref = {f.external_ref: f for f in followups if f.external_ref}
    if not by_ref:
        return set()
    items = session.exec(
        select(TindakLanjut).where(TindakLanjut.external_ref.in_(list(by_ref)))
    ).all()
    for item in items:
        echo = by_ref[item.external_ref]
        if item.state == OutboxState.SENT and item.upstream_id is not None:
            continue
        if item.state != OutboxState.SENT:
            item.note = add_note(
                item.note, now, f"LAPOR! lists it (id {echo.id}) while it was {item.state}: sent"
            )
            item.state = OutboxState.SENT
            item.sent_at = echo.created_at
            item.uncertain = False
            item.next_attempt_at = None
            item.lease_until = None
            item.lease_owner = None
        item.upstream_id = echo.id
        session.add(item)
    session.flush()
    return {item.external_ref for item in items}
