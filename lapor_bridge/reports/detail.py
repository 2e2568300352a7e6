"""`lapor-bridge show TRACKING_ID`: one report in the terminal, the same facts
as its page on the site (content, location, thread, clocks, assignment and
why), in the configured language. RAHASIA text prints as `[RAHASIA]`."""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console

from lapor_bridge.i18n import format_local_time, format_time_left, translations
from lapor_bridge.mapping.commands import load_for_store
from lapor_bridge.reports.data import PROGRAMME, DetailReader, ReportDetail
from lapor_bridge.reports.site import AUTHOR_LABELS, DELIVERY_LABELS, STATE_LABELS
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.store import read_session
from lapor_bridge.timeutil import utcnow


def show_report(rt: Runtime, tracking_id: int, *, out: IO[str] | None = None) -> ReportDetail:
    mapping = load_for_store(rt)
    policies = default_policies(rt.settings.mappings_dir)
    with read_session(rt.engine) as session:
        detail = DetailReader(session, mapping, policies, utcnow()).detail(tracking_id)
    out = out or sys.stdout
    console = Console(file=out, highlight=False, soft_wrap=True)
    for line in report_lines(
        detail, rt.settings.language, rt.settings.zone, rt.settings.report_link(tracking_id)
    ):
        console.print(line, markup=False)
    return detail


def report_lines(d: ReportDetail, lang: str, zone, link: str) -> list[str]:  # type: ignore[no-untyped-def]
    t = translations("reports", lang).gettext  # type: ignore[arg-type]
    wib = lambda m: "-" if m is None else format_local_time(m, lang, zone)  # type: ignore[arg-type]  # noqa: E731
    channel = "Mas Bup Siaga" if d.channel == PROGRAMME else d.channel
    lines = [
        f"{t('Report')} {d.tracking_id}: {d.title}",
        f"  {link}",
        f"  {t('Status')}: {d.status}"
        + (f" ({t('transferred to another body')})" if d.transferred else ""),
        f"  {t('Topic')}: {d.topic}",
        f"  {t('Location')}: {t('Kecamatan')} {d.kecamatan or '-'}, {t('Desa')} {d.desa or '-'}",
        f"  {t('Channel')}: {channel}, {d.classification}",
        f"  {t('Reached the regency')}: {wib(d.disposed_at or d.created_at)}",
        "",
        f"{t('Content')}:",
        *(f"  {line}" for line in d.content.splitlines() or [""]),
        "",
        f"{t('SLA clocks')}:",
    ]
    if d.clocks is None:
        lines.append(f"  {t('No clock.')}")
    else:
        for p, c in d.clocks.clocks.items():
            when = (
                format_time_left(c.time_left_s, lang)  # type: ignore[arg-type]
                if c.stopped_at is None
                else f"{t('Stopped')} {wib(c.stopped_at)}"
            )
            lines.append(
                f"  {p}: {t(STATE_LABELS.get(c.state, c.state))}, {t('Due')} {wib(c.due_at)}, {when}"
            )
    lines += ["", f"{t('Follow-ups and replies')}:"]
    if not d.thread:
        lines.append(f"  {t('No follow-up yet.')}")
    for e in d.thread:
        who = t(AUTHOR_LABELS.get(e.who, e.who)) + (f" ({e.unit})" if e.unit else "")
        state = f" [{t(DELIVERY_LABELS.get(e.delivery, e.delivery))}]" if e.delivery else ""
        lines.append(f"  {wib(e.at)} {who}, {e.status}{state}:")
        lines += [f"    {line}" for line in e.text.splitlines() or [""]]
    x = d.explanation
    lines += ["", f"{t('Assignment and why')}:"]
    if x.assigned_opd:
        lines.append(
            f"  {t('Assigned to')} {x.assigned_opd} ({x.assigned_mapped_by})"
            + (f": {x.assigned_reason}" if x.assigned_reason else "")
        )
    else:
        lines.append(f"  {t('Not assigned.')}")
    lines.append("  " + t("The rules say %(opd)s:") % {"opd": x.rules_say})
    if x.matched:
        lines.append(
            "  "
            + t("Rule %(rule)s (%(where)s) matched on: %(reason)s")
            % {"rule": x.matched.rule_id, "where": x.matched.where, "reason": x.matched.reason}
        )
    else:
        lines.append(f"  {t('No rule matched: the default unit receives it.')}")
    if x.earlier:
        lines.append(f"  {t('Rules before it that did not match')} ({len(x.earlier)}):")
        lines += [f"    {v.rule_id} ({v.where}, {v.opd}): {v.reason}" for v in x.earlier]
    lines += [f"  - {n}" for n in x.notes]
    if x.history:
        lines.append(f"  {t('History of the assignment')}:")
        lines += [
            f"    {wib(h.at)} {h.actor}: {h.from_opd or '-'} -> {h.to_opd} ({h.mapped_by})"
            + (f" {h.reason}" if h.reason else "")
            for h in x.history
        ]
    return lines
