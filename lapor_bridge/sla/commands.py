"""What the `lapor-bridge sla ...` commands do: one function per command.

Each opens its own session on the store, reads the policies from the
runtime's mappings folder, and prints (table, JSON or CSV). The output holds
tracking ids, OPD codes and times only: no titles or content, so nothing of a
RAHASIA report leaves the store through it.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.clock import ClockState
from lapor_bridge.sla.policy import SlaPolicies, default_policies
from lapor_bridge.sla.refresh import refresh_clocks
from lapor_bridge.store import read_session, write_session
from lapor_bridge.timeutil import utcnow

# rich and the views are imported by the commands that print: `sla recompute`
# prints one line and needs neither (a twentieth of a second of its start)
if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from lapor_bridge.sla.views import ClockRow, PolicySummary, Worklist


def _policies(rt: Runtime) -> SlaPolicies:
    return default_policies(rt.settings.mappings_dir)


def recompute(rt: Runtime, *, now: datetime | None = None) -> int:
    """Recompute every report's clocks (after a policy edit); one transaction."""
    policies = _policies(rt)
    with write_session(rt.engine) as session:
        return refresh_clocks(session, None, now=now or utcnow(), policies=policies)


def show_clocks(
    rt: Runtime,
    *,
    opd: str | None,
    state: str | None,
    policy: str | None,
    include_closed: bool,
    limit: int | None,
    fmt: str,
    out: IO[str] | None = None,
    now: datetime | None = None,
) -> int:
    """Print the clocks, most urgent first: as a table one row per report (both
    clocks, title, kecamatan; "N more, use --limit" when cut), as JSON or CSV
    one row per clock. Returns the row count."""
    from rich.console import Console

    from lapor_bridge.sla.views import list_clocks, list_report_clocks

    policies = _policies(rt)
    now = now or utcnow()
    opd = _opd_code(rt, opd)
    if fmt == "table":
        with read_session(rt.engine) as session:
            worklist = list_report_clocks(
                session,
                now=now,
                policies=policies,
                opd=opd,
                state=state,
                policy=policy,
                include_closed=include_closed,
                limit=limit,
            )
        out = out or sys.stdout
        console = Console(file=out, width=None if out.isatty() else 80, highlight=False)
        lang = rt.settings.language
        console.print(
            worklist_table(worklist, policies, lang=lang, one_opd=opd, zone=rt.settings.zone)
        )
        if worklist.more:
            _ = _catalog(lang).gettext
            console.print(
                _("%(more)s more, use --limit %(total)s (or --limit 0 for all)")
                % {"more": worklist.more, "total": worklist.total},
                markup=False,
            )
        return len(worklist.reports)
    with read_session(rt.engine) as session:
        rows = list_clocks(
            session,
            now=now,
            policies=policies,
            opd=opd,
            state=state,
            policy=policy,
            include_closed=include_closed,
            limit=limit,
        )
    out = out or sys.stdout
    if fmt == "json":
        json.dump([r.as_dict() for r in rows], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        write_csv(rows, out)
    return len(rows)


def _opd_code(rt: Runtime, opd: str | None) -> str | None:
    """The unit code `opd` names (any case), or an error with a "did you mean"."""
    from lapor_bridge.mapping.apply import unit_code
    from lapor_bridge.sla.views import UNASSIGNED

    return unit_code(rt.settings.mappings_dir, opd, also=(UNASSIGNED,))


def show_summary(
    rt: Runtime,
    *,
    since: datetime | None,
    fmt: str,
    until: datetime | None = None,
    opd: str | None = None,
    sort: str = "name",
    out: IO[str] | None = None,
    now: datetime | None = None,
) -> list[PolicySummary]:
    """Print the per-OPD summary (clocks started in [since, until)) as a table,
    JSON or CSV, OPD ordered by `sort` (breaches, on-time, name)."""
    from lapor_bridge.sla.views import rank_opds, summarize

    policies = _policies(rt)
    opd = _opd_code(rt, opd)
    with read_session(rt.engine) as session:
        summary = summarize(
            session, now=now or utcnow(), policies=policies, since=since, until=until, opd=opd
        )
    ranking = rank_opds(summary, sort)
    summary = [s for r in ranking for s in r.policies.values()]
    out = out or sys.stdout
    if fmt == "json":
        json.dump([s.as_dict() for s in summary], out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt == "csv":
        write_summary_csv(summary, out)
    else:
        lang = rt.settings.language
        console = _console(out)
        for table in summary_tables(summary, lang=lang):
            console.print(table)
        console.print(_catalog(lang).gettext(SUMMARY_LEGEND), markup=False)
    return summary


# --- rendering ---------------------------------------------------------------


def _catalog(lang: str) -> Any:
    """The liaison's terminal views in their language: the `terminal` catalog."""
    from lapor_bridge.i18n import translations

    return translations("terminal", lang)  # type: ignore[arg-type]


def _console(out: IO[str]) -> Console:
    """Rich on `out`: the terminal's width, 80 columns on a pipe or file."""
    from rich.console import Console

    return Console(file=out, width=None if out.isatty() else 80, highlight=False)


_STYLE = {
    ClockState.BREACHED: "bold red",
    ClockState.AT_RISK: "yellow",
    ClockState.ON_TRACK: "green",
    ClockState.MET_LATE: "magenta",
    ClockState.MET: "cyan",
    ClockState.STOPPED: "dim",
}


def write_csv(rows: Sequence[ClockRow], out: IO[str]) -> None:
    from lapor_bridge.sla.views import ClockRow

    fields = list(ClockRow.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.as_dict())


def _hours(seconds: float | None, lang: str = "en") -> str:
    if seconds is None:
        return "-"
    hours = seconds / 3600
    text = f"{hours:.1f}" if hours < 100 else f"{hours:.0f}"  # narrow: 80 columns
    return f"{text.replace('.', ',')}j" if lang == "id" else f"{text}h"


# Source strings (English) of the states as the terminal views name them.
_SHORT = {
    ClockState.ON_TRACK: "on track",
    ClockState.AT_RISK: "at risk",
    ClockState.BREACHED: "breached",
    ClockState.MET: "met",
    ClockState.MET_LATE: "late",
    ClockState.STOPPED: "stopped",
}


# The summary's column headers (source strings, two lines where English has two words).
SUMMARY_HEADERS = ("total", "on\ntrack", "at\nrisk", "breached", "met", "late", "stopped", "on\ntime", "median", "p90")  # fmt: skip


def summary_tables(summary: Sequence[PolicySummary], *, lang: str = "id") -> list[Table]:
    """One table per policy, one row per OPD: fits 80 columns."""
    from rich import box
    from rich.table import Table

    catalog = _catalog(lang)
    _ = catalog.gettext
    by_policy: dict[str, list[PolicySummary]] = {}
    for s in summary:
        by_policy.setdefault(s.policy, []).append(s)
    tables = []
    for policy, rows in by_policy.items():
        table = Table(
            title=_("SLA summary per OPD, policy %(policy)s") % {"policy": policy},
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=0,
            show_edge=False,
        )
        table.add_column("OPD", no_wrap=True, min_width=max(len(s.opd) for s in rows))
        for name in SUMMARY_HEADERS:
            # short headers, said in full in the legend below; a number folds, never cut
            header = catalog.pgettext("summary column", name)
            longest = max(len(line) for line in header.splitlines())
            table.add_column(header, justify="right", overflow="fold", min_width=longest)
        for s in rows:
            table.add_row(
                s.opd,
                str(s.total),
                *(str(s.counts[state.value]) for state in _SHORT),
                "-" if s.on_time_share is None else f"{s.on_time_share:.0%}",
                _hours(s.median_s, lang),
                _hours(s.p90_s, lang),
            )
        tables.append(table)
    return tables


SUMMARY_LEGEND = """\
columns: total = clocks started in the period (current cycle); on track / at
risk / breached = still running (breached: past due); met / late = stopped
before / after the due time; stopped = transferred away; on time = met / (met
+ late + breached); median, p90 = time from start to the policy's stop event
over met and late clocks (h = hours)."""


def write_summary_csv(summary: Sequence[PolicySummary], out: IO[str]) -> None:
    states = [s.value for s in _SHORT]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "opd",
            "policy",
            "total",
            *(s.lower() for s in states),
            "on_time_share",
            "median_s",
            "p90_s",
        ]
    )
    for s in summary:
        writer.writerow(
            [s.opd, s.policy, s.total, *(s.counts[st] for st in states),
             "" if s.on_time_share is None else round(s.on_time_share, 4),
             "" if s.median_s is None else round(s.median_s), "" if s.p90_s is None else round(s.p90_s)]
        )  # fmt: skip


def worklist_table(
    worklist: Worklist,
    policies: SlaPolicies,
    *,
    lang: str = "id",
    one_opd: str | None = None,
    zone: Any = None,
) -> Table:
    """One row per report: id, OPD (unless one), each clock's state and time
    left (or when it stopped), title and kecamatan, in the liaison's language.
    Codes and ids never wrap; title and kecamatan wrap to fit the terminal (80
    columns when piped)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from lapor_bridge.i18n import format_local_time, format_time_left

    _ = _catalog(lang).gettext
    zone = zone or policies.tz
    title = _("%(n)s report(s), most urgent first") % {"n": worklist.total}
    table = Table(
        title=title + (_(", OPD %(opd)s") % {"opd": one_opd} if one_opd else ""),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column(_("id"), no_wrap=True, min_width=7)
    if one_opd is None:
        table.add_column("OPD", no_wrap=True)
    for name in policies.policies:
        # wraps between words: a state or policy name stays whole
        table.add_column(name, ratio=1, min_width=max(13, len(name)))
    table.add_column(_("title"), ratio=4, overflow="fold", min_width=10)
    table.add_column(_("kecamatan"), ratio=1, overflow="fold", min_width=9)
    for r in worklist.reports:
        cells = [str(r.tracking_id)]
        if one_opd is None:
            cells.append(r.opd + ("*" if r.complex else ""))
        for name in policies.policies:
            c = r.clocks.get(name)
            if c is None:
                cells.append("-")
                continue
            state = ClockState(c.state)
            when = (
                format_time_left(c.time_left_s, lang)  # type: ignore[arg-type]
                if c.stopped_at is None
                else format_local_time(c.stopped_at, lang, zone)  # type: ignore[arg-type]
            )
            cells.append(f"[{_STYLE[state]}]{escape(_(_SHORT[state]))}[/]\n{escape(when)}")
        cells.append(escape("[RAHASIA]" if r.title is None else r.title))
        cells.append(escape(r.kecamatan or "-"))
        table.add_row(*cells)
    return table
