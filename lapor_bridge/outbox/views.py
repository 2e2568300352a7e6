"""Terminal tables of the outbox (for admins, English) and the citizens'
replies (for liaisons, in the `language` setting) (rich)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from rich import box
from rich.table import Table

from lapor_bridge.outbox.admin import OutboxRow, ReplyRow
from lapor_bridge.timeutil import WIB

RAHASIA_MARK = "[RAHASIA: text kept in the local store only]"


def _when(value: datetime | None) -> str:
    return value.astimezone(WIB).strftime("%Y-%m-%d %H:%M") if value else ""


def outbox_table(rows: Sequence[OutboxRow]) -> Table:
    table = Table(title="Outbox (times WIB)", show_lines=False)
    for name in (
        "#",
        "report",
        "OPD",
        "status",
        "state",
        "tries",
        "written",
        "next / sent",
        "detail",
    ):
        table.add_column(name, overflow="fold")
    for row in rows:
        if row.state == "sent":
            when, detail = _when(row.sent_at), f"LAPOR! id {row.upstream_id}"
        else:
            when = _when(row.next_attempt_at)
            detail = row.last_error or ""
            if row.waits_for is not None:
                detail = f"waits behind #{row.waits_for}" + (f"; {detail}" if detail else "")
            if row.uncertain:
                detail = "maybe sent: checks LAPOR! first" + (f"; {detail}" if detail else "")
        if row.errors:
            detail += " [" + "; ".join(row.errors) + "]"
        table.add_row(
            str(row.id),
            str(row.tracking_id),
            row.opd,
            row.status,
            row.state,
            str(row.attempts),
            _when(row.created_at),
            when,
            detail or (row.preview if row.preview is not None else RAHASIA_MARK),
        )
    return table


def replies_table(rows: Sequence[ReplyRow], *, lang: str = "id", zone: tzinfo = WIB) -> Table:
    """The citizens' replies for a liaison: in their language (the `terminal`
    catalog), times written the Indonesian way."""
    from lapor_bridge.i18n import format_local_time, translations

    _ = translations("terminal", lang).gettext  # type: ignore[arg-type]
    table = Table(title=_("Citizens' replies"), box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(_("report"), no_wrap=True)
    table.add_column("OPD", no_wrap=True)
    table.add_column(_("at"), min_width=10)
    table.add_column(_("reply"), overflow="fold", ratio=1, min_width=20)
    for row in rows:
        table.add_row(
            str(row.tracking_id),
            row.opd or _("(unassigned)"),
            format_local_time(row.created_at, lang, zone),  # type: ignore[arg-type]
            row.content if row.content is not None else _(RAHASIA_MARK),
        )
    return table
