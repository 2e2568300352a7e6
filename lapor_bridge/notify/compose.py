"""Composing messages: the events of one recipient since its last message
become one batch (one text), delivered to each of its channels.

One transaction per recipient: the batch, its messages (one per channel) and
the events' `batch_id` are written together, so an event is told in exactly
one batch. Text is fixed when composed (times left as of then), from the
Jinja2 templates beside this module, in the configured language (Babel
catalog lapor_bridge/i18n/notify.id.po). A RAHASIA report shows `[RAHASIA]`
instead of its title; no reporter identity is ever read.

One message per recipient per run: at most MAX_ITEMS reports are listed (the
most urgent of each kind first), and the others waiting for that recipient
are counted in the same message ("N more: see `sla --opd`"), so a backlog
(a remap that moves thousands, a bridge that was off for days) is one
message, not thousands, and every event is still told in exactly one batch.
The daily digest (per unit with channels, at `digest_at` local time) lists the
unit's open reports, most urgent first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from lapor_bridge.config import Settings
from lapor_bridge.i18n import Language, format_local_date, format_local_time, format_time_left
from lapor_bridge.i18n import translations as catalog
from lapor_bridge.mapping.channel import strip_keyword
from lapor_bridge.mapping.model import Mapping
from lapor_bridge.notify import events as ev
from lapor_bridge.notify.channels import Channel
from lapor_bridge.notify.escalation import Escalation
from lapor_bridge.store import write_session
from lapor_bridge.store.db import is_sqlite
from lapor_bridge.store.tables import (
    Assignment,
    NotifyBatch,
    NotifyEvent,
    NotifyMessage,
    ReportRow,
    SlaClock,
)

TEMPLATES = Path(__file__).parent / "templates"
MAX_ITEMS = 100
DIGEST_ITEMS = 50
RAHASIA = "RAHASIA"
HIDDEN = "[RAHASIA]"


_ITEM_LINE = re.compile(r"^(- #(\d+) ).*$", re.MULTILINE)


def withhold_confidential(session: Session, batch: NotifyBatch) -> str:
    """The batch's body as it may leave now: a report made RAHASIA since the text
    was composed (a message that waited for its channel) shows `[RAHASIA]`."""
    ids = batch.tracking_ids or []
    if not ids:
        return batch.body
    hidden: set[int] = set()
    for start in range(0, len(ids), 500):
        hidden.update(
            session.scalars(
                select(ReportRow.tracking_id).where(
                    col(ReportRow.tracking_id).in_(ids[start : start + 500]),
                    ReportRow.privacy == RAHASIA,
                )
            )
        )
    if not hidden:
        return batch.body
    return _ITEM_LINE.sub(
        lambda m: f"{m.group(1)}{HIDDEN}" if int(m.group(2)) in hidden else m.group(0),
        batch.body,
    )


# --- recipients and their channels --------------------------------------------------


def channels_of(
    recipient: str, mapping: Mapping, escalation: Escalation, settings: Settings
) -> list[Channel]:
    """The apprise URLs (as written) that reach `recipient` now."""
    if recipient == ev.ADMIN:
        urls = (settings.admin_notify or "").split()
    elif recipient.startswith("@"):
        found = escalation.recipients.get(recipient[1:])
        urls = [url for url, _ in found.notify] if found else []
    elif recipient.endswith("/head"):
        unit = mapping.units.get(recipient[: -len("/head")])
        urls = [url for url, _ in unit.notify_head] if unit else []
    else:
        unit = mapping.units.get(recipient)
        urls = [url for url, _ in unit.notify] if unit else []
    return [Channel(url) for url in dict.fromkeys(urls)]


def recipient_name(recipient: str, mapping: Mapping, escalation: Escalation, lang: Language) -> str:
    _ = catalog("notify", lang).gettext
    if recipient == ev.ADMIN:
        return _("lapor-bridge administrators")
    if recipient.startswith("@"):
        found = escalation.recipients.get(recipient[1:])
        return found.title if found else recipient[1:]
    if recipient.endswith("/head"):
        code = recipient[: -len("/head")]
        return _("Head of %(unit)s") % {"unit": code}
    return recipient


# --- text -------------------------------------------------------------------------------


@cache
def _environment(lang: Language) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(catalog("notify", lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, lang: Language, **values: Any) -> str:
    text = _environment(lang).get_template(template).render(**values)
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:  # at most one empty line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


@dataclass
class Item:
    tracking_id: int
    title: str
    opd_name: str
    kecamatan: str | None
    link: str
    due: str | None = None
    time_left: str | None = None
    policy: str | None = None
    extra: str | None = None
    urgency: float = 0.0


@dataclass
class Section:
    kind: str
    heading: str
    items: list[Item] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _headings(lang: Language) -> dict[str, str]:
    _ = catalog("notify", lang).gettext
    return {
        ev.ASSIGNED: _("New reports for you:"),
        ev.AT_RISK: _("Nearly due:"),
        ev.BREACHED: _("Overdue:"),
        ev.ESCALATED: _("Still overdue (escalated):"),
        ev.REPLY: _("The citizen replied:"),
        ev.REOPENED: _("Reopened by the citizen:"),
        ev.TRANSFERRED: _("Transferred away by LAPOR! (no answer needed):"),
        ev.MOVED_AWAY: _("Moved to another unit (no longer yours):"),
        ev.ADMIN_DEAD_OUTBOX: _("Follow-ups that could not be sent to LAPOR! (dead):"),
        ev.ADMIN_DEAD_MESSAGE: _("Notifications that could not be delivered (dead):"),
        ev.ADMIN_QUARANTINE: _("Records from LAPOR! in quarantine:"),
        ev.ADMIN_STALE_SYNC: _("Sync has not succeeded:"),
        ev.ADMIN_SYNC_RECOVERED: _("Sync works again:"),
    }


def _admin_words(kind: str, count: int, lang: Language) -> str:
    """What an admin message's title says of one kind, in the message's language."""
    t = catalog("notify", lang)
    words = {
        ev.ADMIN_DEAD_OUTBOX: t.ngettext("%(n)s dead follow-up", "%(n)s dead follow-ups", count),
        ev.ADMIN_DEAD_MESSAGE: t.ngettext(
            "%(n)s dead notification", "%(n)s dead notifications", count
        ),
        ev.ADMIN_QUARANTINE: t.ngettext(
            "%(n)s record in quarantine", "%(n)s records in quarantine", count
        ),
        ev.ADMIN_STALE_SYNC: t.gettext("sync has not succeeded"),
        ev.ADMIN_SYNC_RECOVERED: t.gettext("sync works again"),
    }
    return words[kind] % {"n": count} if "%(n)s" in words[kind] else words[kind]


def _summary_words(kind: str, count: int, lang: Language) -> str:
    t = catalog("notify", lang)
    words = {
        ev.ASSIGNED: t.ngettext("%(n)s new report", "%(n)s new reports", count),
        ev.AT_RISK: t.ngettext("%(n)s nearly due", "%(n)s nearly due", count),
        ev.BREACHED: t.ngettext("%(n)s overdue", "%(n)s overdue", count),
        ev.ESCALATED: t.ngettext("%(n)s still overdue", "%(n)s still overdue", count),
        ev.REPLY: t.ngettext("%(n)s citizen reply", "%(n)s citizen replies", count),
        ev.REOPENED: t.ngettext("%(n)s reopened", "%(n)s reopened", count),
        ev.TRANSFERRED: t.ngettext("%(n)s transferred away", "%(n)s transferred away", count),
        ev.MOVED_AWAY: t.ngettext("%(n)s moved away", "%(n)s moved away", count),
    }
    return words.get(kind, f"{count} {kind}") % {"n": count}


@dataclass(frozen=True)
class _Facts:
    title: str
    privacy: str
    kecamatan: str | None
    opd: str | None


def _facts(session: Session, ids: list[int]) -> dict[int, _Facts]:
    out: dict[int, _Facts] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(
                ReportRow.tracking_id,
                ReportRow.title,
                ReportRow.privacy,
                ReportRow.kecamatan,
                Assignment.opd,
            )
            .outerjoin(Assignment, Assignment.tracking_id == ReportRow.tracking_id)
            .where(col(ReportRow.tracking_id).in_(chunk))
        )
        for tracking_id, title, privacy, kecamatan, opd in rows:
            shown = HIDDEN if privacy == RAHASIA else (strip_keyword(title) or title)
            shown = " ".join(shown.split())  # one line: a title never spills into the next
            out[tracking_id] = _Facts(shown, privacy, kecamatan, opd)
    return out


def _clocks(
    session: Session, ids: list[int]
) -> dict[int, list[tuple[str, datetime, datetime | None]]]:
    out: dict[int, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for tracking_id, policy, due_at, stopped_at in session.execute(
            select(
                SlaClock.tracking_id, SlaClock.policy, SlaClock.due_at, SlaClock.stopped_at
            ).where(col(SlaClock.tracking_id).in_(chunk))
        ):
            out[tracking_id].append((policy, due_at, stopped_at))
    return out


def _item(
    tracking_id: int,
    facts: _Facts | None,
    clocks: list[tuple[str, datetime, datetime | None]],
    *,
    policy: str | None,
    now: datetime,
    mapping: Mapping,
    settings: Settings,
    lang: Language,
) -> Item:
    title = facts.title if facts else "?"
    opd = facts.opd if facts and facts.opd else mapping.default
    unit = mapping.units.get(opd)
    item = Item(
        tracking_id=tracking_id,
        title=title,
        opd_name=f"{opd} ({unit.name})" if unit else opd,
        kecamatan=facts.kecamatan if facts else None,
        link=settings.report_link(tracking_id),
    )
    open_clocks = [c for c in clocks if c[2] is None and (policy is None or c[0] == policy)]
    if open_clocks:
        chosen_policy, due_at, _ = min(open_clocks, key=lambda c: c[1])
        item.due = format_local_time(due_at, lang, settings.zone)
        left = (due_at - now).total_seconds()
        item.time_left = format_time_left(left, lang)
        item.policy = chosen_policy
        item.urgency = left
    return item


# --- composing ------------------------------------------------------------------------


@dataclass
class ComposeSummary:
    batches: int = 0
    messages: int = 0
    events: int = 0
    digests: int = 0
    no_channel: int = 0  # batches for recipients that have no channel configured


def compose_pending(
    engine: Engine,
    *,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
) -> ComposeSummary:
    """Compose every recipient's events since its last message, then the digests due."""
    summary = ComposeSummary()
    with write_session(engine) as session:
        recipients = list(
            session.scalars(
                select(NotifyEvent.recipient)
                .where(col(NotifyEvent.batch_id).is_(None))
                .group_by(NotifyEvent.recipient)
                .order_by(NotifyEvent.recipient)
            )
        )
    for recipient in recipients:
        while _compose_one(engine, recipient, now, mapping, escalation, settings, summary):
            pass
    _compose_digests(engine, now, mapping, escalation, settings, summary)
    return summary


def compose_admin(engine: Engine, *, now: datetime, settings: Settings) -> ComposeSummary:
    """Compose the admins' pending events alone: needs no mapping (a sync refused
    for an invalid mapping still tells admins)."""
    from datetime import time

    summary = ComposeSummary()
    mapping = Mapping(directory="", units={}, rules=(), default="")
    escalation = Escalation(levels=(), recipients={}, digest_at=time(23, 59), file=None)
    while _compose_one(engine, ev.ADMIN, now, mapping, escalation, settings, summary):
        pass
    return summary


def _compose_one(
    engine: Engine,
    recipient: str,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
    summary: ComposeSummary,
) -> bool:
    """One batch of `recipient`'s oldest events; False when none was left."""
    lang: Language = settings.language
    with write_session(engine) as session:
        waiting = and_(col(NotifyEvent.batch_id).is_(None), NotifyEvent.recipient == recipient)
        query = (
            select(NotifyEvent)
            .where(waiting, col(NotifyEvent.quiet).is_(False))
            .order_by(col(NotifyEvent.id))
            .limit(5000)
        )
        if not is_sqlite(engine):
            query = query.with_for_update(skip_locked=True)
        loud = list(session.scalars(query))
        # history (quiet events) is one count in one message, however long it is
        last_quiet, quiet = session.execute(
            select(
                func.max(NotifyEvent.id), func.count(func.distinct(NotifyEvent.tracking_id))
            ).where(waiting, col(NotifyEvent.quiet).is_(True))
        ).one()
        if not loud and last_quiet is None:
            return False
        # at most MAX_ITEMS listed reports per message; the rest counted in it
        taken: list[NotifyEvent] = []
        listed: set[int] = set()
        for event in loud:
            key = event.tracking_id or 0
            if key not in listed and len(listed) >= MAX_ITEMS:
                continue
            listed.add(key)
            taken.append(event)
        more = 0
        if recipient != ev.ADMIN and len(taken) < len(loud):
            more = int(
                session.execute(
                    select(func.count(func.distinct(NotifyEvent.tracking_id))).where(
                        waiting,
                        col(NotifyEvent.quiet).is_(False),
                        col(NotifyEvent.tracking_id).not_in(sorted(listed)),
                    )
                ).scalar_one()
            )
        batch = NotifyBatch(
            recipient=recipient,
            kind="admin" if recipient == ev.ADMIN else "update",
            title="",
            body="",
            created_at=now,
            events=len(taken),
        )
        session.add(batch)
        session.flush()
        assert batch.id is not None
        ids = sorted({e.tracking_id for e in taken if e.tracking_id is not None})
        batch.tracking_ids = ids
        if recipient == ev.ADMIN:
            batch.title, batch.body = _admin_text(taken, batch.id, lang, settings.zone)
        else:
            batch.title, batch.body = _update_text(
                session,
                recipient,
                taken,
                ids,
                quiet,
                more,
                batch.id,
                now,
                mapping,
                escalation,
                settings,
            )
        for event in taken:
            event.batch_id = batch.id
        if more:
            session.flush()  # the listed events carry the batch before the rest join it
            result = session.execute(
                update(NotifyEvent)
                .where(waiting, col(NotifyEvent.quiet).is_(False))
                .values(batch_id=batch.id)
            )
            batch.events += result.rowcount  # type: ignore[attr-defined]
        if last_quiet is not None:
            result = session.execute(
                update(NotifyEvent)
                .where(waiting, col(NotifyEvent.quiet).is_(True), col(NotifyEvent.id) <= last_quiet)
                .values(batch_id=batch.id)
            )
            batch.events += result.rowcount  # type: ignore[attr-defined]
        if quiet and recipient in mapping.units:
            # the summary of the queue stands for today's digest (one summary a day)
            key = _digest_key(recipient, now, escalation, settings)
            if key and session.scalar(select(NotifyBatch.id).where(NotifyBatch.key == key)) is None:
                batch.key = key
        channels = channels_of(recipient, mapping, escalation, settings)
        if not taken and recipient not in mapping.units:
            channels = []  # history is summarised to units only, not to heads or escalation
        for channel in channels:
            session.add(
                NotifyMessage(
                    batch_id=batch.id,
                    recipient=recipient,
                    channel=channel.fingerprint,
                    channel_label=channel.label,
                    created_at=now,
                )
            )
        summary.batches += 1
        summary.events += batch.events
        summary.messages += len(channels)
        summary.no_channel += 0 if channels else 1
    return True


def _update_text(
    session: Session,
    recipient: str,
    events: list[NotifyEvent],
    ids: list[int],
    quiet: int,
    more: int,
    batch_id: int,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
) -> tuple[str, str]:
    lang: Language = settings.language
    facts = _facts(session, ids)
    clocks = _clocks(session, ids)
    headings = _headings(lang)
    by_kind: dict[str, list[NotifyEvent]] = defaultdict(list)
    for event in events:
        if not event.quiet:
            by_kind[event.kind].append(event)
    reopened = {e.tracking_id for e in by_kind.get(ev.REOPENED, [])}
    if reopened:  # a reply that reopened a report is told once, as reopened
        by_kind[ev.REPLY] = [e for e in by_kind.get(ev.REPLY, []) if e.tracking_id not in reopened]
    sections: list[Section] = []
    counts: list[str] = []
    t = catalog("notify", lang)
    for kind in ev.KINDS:
        group = by_kind.get(kind)
        if not group:
            continue
        section = Section(kind, headings[kind])
        seen: set[tuple[int, str | None]] = set()
        for event in group:
            assert event.tracking_id is not None
            key = (event.tracking_id, event.policy)
            if key in seen:
                continue
            seen.add(key)
            item = _item(
                event.tracking_id,
                facts.get(event.tracking_id),
                clocks.get(event.tracking_id, []),
                policy=event.policy,
                now=now,
                mapping=mapping,
                settings=settings,
                lang=lang,
            )
            if kind == ev.MOVED_AWAY and event.detail:
                item.extra = t.gettext("now with %(unit)s") % {"unit": event.detail.get("to")}
                item.due = None
            if kind == ev.TRANSFERRED:
                item.due = None
            section.items.append(item)
        section.items.sort(key=lambda i: (i.urgency if i.due else float("inf"), i.tracking_id))
        sections.append(section)
        counts.append(_summary_words(kind, len(section.items), lang))
    open_count = 0
    code = recipient.split("/", 1)[0]
    if quiet:
        open_count = _open_count(session, code)
        counts.append(t.gettext("%(n)s from history") % {"n": quiet})
    if more:
        counts.append(t.gettext("%(n)s more") % {"n": more})
    name = recipient_name(recipient, mapping, escalation, lang)
    title = f"LAPOR! {name}: " + ", ".join(counts)
    body = render(
        "update.txt.j2",
        lang,
        sections=sections,
        quiet=quiet,
        open_count=open_count,
        more=more,
        unit=code,
        batch_id=batch_id,
    )
    return title, body


def _open_count(session: Session, unit: str) -> int:
    return int(
        session.execute(
            select(func.count(func.distinct(SlaClock.tracking_id)))
            .join(Assignment, Assignment.tracking_id == SlaClock.tracking_id)
            .where(Assignment.opd == unit, col(SlaClock.stopped_at).is_(None))
        ).scalar_one()
    )


def _admin_text(
    events: list[NotifyEvent], batch_id: int, lang: Language, zone: Any = None
) -> tuple[str, str]:
    from lapor_bridge.i18n import WIB

    zone = zone or WIB
    t = catalog("notify", lang)
    headings = _headings(lang)
    sections: list[Section] = []
    for kind in ev.KINDS:
        group = [e for e in events if e.kind == kind]
        if not group:
            continue
        section = Section(kind, headings[kind])
        for event in group:
            d = event.detail or {}
            if kind == ev.ADMIN_DEAD_OUTBOX:
                line = t.gettext(
                    "outbox #%(id)s (report %(tid)s): lapor-bridge outbox --state dead, then outbox retry %(id)s"
                ) % {"id": d.get("outbox_id"), "tid": event.tracking_id}
            elif kind == ev.ADMIN_DEAD_MESSAGE:
                line = t.gettext(
                    "notification message #%(id)s to %(to)s: lapor-bridge notifications --state dead, then notifications retry %(id)s"
                ) % {"id": d.get("message_id"), "to": d.get("recipient")}
            elif kind == ev.ADMIN_QUARANTINE:
                line = t.gettext("quarantine #%(id)s (report %(tid)s)") % {
                    "id": d.get("quarantine_id"),
                    "tid": event.tracking_id,
                }
            elif kind == ev.ADMIN_SYNC_RECOVERED:
                since = datetime.fromisoformat(d["since"]) if d.get("since") else None
                line = t.gettext("sync succeeded again at %(at)s (no success since %(since)s)") % {
                    "at": format_local_time(event.occurred_at, lang, zone),
                    "since": format_local_time(since, lang, zone) if since else "?",
                }
            else:
                since = datetime.fromisoformat(d["since"]) if d.get("since") else event.occurred_at
                line = t.gettext(
                    "no successful sync since %(at)s: check cron and lapor-bridge status"
                ) % {"at": format_local_time(since, lang, zone)}
            section.lines.append(line)
        sections.append(section)
    what = ", ".join(_admin_words(s.kind, len(s.lines), lang) for s in sections)
    if all(s.kind == ev.ADMIN_SYNC_RECOVERED for s in sections):
        title = t.gettext("lapor-bridge: %(what)s") % {"what": what}
    else:
        title = t.gettext("lapor-bridge needs attention: %(what)s") % {"what": what}
    return title, render("admin.txt.j2", lang, sections=sections, batch_id=batch_id)


# --- the daily digest --------------------------------------------------------------------


def _digest_key(code: str, now: datetime, escalation: Escalation, settings: Settings) -> str | None:
    """The key of `code`'s digest of today, once its local time has come."""
    local = now.astimezone(settings.zone)
    if local.time() < escalation.digest_at:
        return None
    return f"digest:{code}:{local.date().isoformat()}"


def _compose_digests(
    engine: Engine,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
    summary: ComposeSummary,
) -> None:
    local = now.astimezone(settings.zone)
    if local.time() < escalation.digest_at:
        return
    day = local.date()
    for code, unit in mapping.units.items():
        if not unit.notify:
            continue
        key = f"digest:{code}:{day.isoformat()}"
        with write_session(engine) as session:
            if session.scalar(select(NotifyBatch.id).where(NotifyBatch.key == key)) is not None:
                continue
            try:
                with session.begin_nested():
                    if _digest(session, code, key, day, now, mapping, escalation, settings):
                        summary.digests += 1
                        summary.messages += len(unit.notify)
            except IntegrityError:  # another worker composed it meanwhile
                continue


def _digest(
    session: Session,
    code: str,
    key: str,
    day: date,
    now: datetime,
    mapping: Mapping,
    escalation: Escalation,
    settings: Settings,
) -> bool:
    lang: Language = settings.language
    ids = list(
        session.scalars(
            select(SlaClock.tracking_id)
            .join(Assignment, Assignment.tracking_id == SlaClock.tracking_id)
            .join(ReportRow, ReportRow.tracking_id == SlaClock.tracking_id)
            .where(
                Assignment.opd == code,
                col(SlaClock.stopped_at).is_(None),
                col(ReportRow.transferred).is_(False),
            )
            .group_by(SlaClock.tracking_id)
            .order_by(func.min(SlaClock.due_at), SlaClock.tracking_id)
        )
    )
    if not ids:
        return False
    shown = ids[:DIGEST_ITEMS]
    facts = _facts(session, shown)
    clocks = _clocks(session, shown)
    items = [
        _item(
            tid,
            facts.get(tid),
            clocks.get(tid, []),
            policy=None,
            now=now,
            mapping=mapping,
            settings=settings,
            lang=lang,
        )
        for tid in shown
    ]
    t = catalog("notify", lang)
    batch = NotifyBatch(
        recipient=code,
        kind="digest",
        key=key,
        title="",
        body="",
        tracking_ids=shown,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    unit = mapping.units[code]
    batch.title = t.gettext("LAPOR! %(unit)s: %(n)s open reports on %(day)s") % {
        "unit": code,
        "n": len(ids),
        "day": format_local_date(day, lang),
    }
    batch.body = render(
        "digest.txt.j2",
        lang,
        unit_name=f"{code} ({unit.name})",
        unit_code=code,
        day=format_local_date(day, lang),
        items=items,
        more=len(ids) - len(shown),
        batch_id=batch.id,
    )
    for channel in channels_of(code, mapping, escalation, settings):
        session.add(
            NotifyMessage(
                batch_id=batch.id,  # type: ignore[arg-type]
                recipient=code,
                channel=channel.fingerprint,
                channel_label=channel.label,
                created_at=now,
            )
        )
    return True


def compose_test(
    session: Session, code: str, *, now: datetime, mapping: Mapping, settings: Settings
) -> NotifyBatch:
    """A test message for a unit (its channels are sent at once by the caller)."""
    lang: Language = settings.language
    t = catalog("notify", lang)
    unit = mapping.units[code]
    batch = NotifyBatch(recipient=code, kind="test", title="", body="", created_at=now)
    session.add(batch)
    session.flush()
    batch.title = t.gettext("LAPOR! %(unit)s: test message") % {"unit": code}
    batch.body = render(
        "test.txt.j2",
        lang,
        unit_name=f"{code} ({unit.name})",
        at=format_local_time(now, lang, settings.zone),
        batch_id=batch.id,
    )
    return batch
