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
from typing import IO

from rich.console import Console
from rich.table import Table

from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.clock import ClockState
from lapor_bridge.sla.policy import SlaPolicies, default_policies
from lapor_bridge.sla.refresh import refresh_clocks
from lapor_bridge.sla.views import ClockRow, PolicySummary, list_clocks, summarize
from lapor_bridge.store import read_session, write_session
from lapor_bridge.timeutil import utcnow


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
    """Print the clocks, most urgent first, as a table, JSON or CSV. Returns the row count."""
    policies = _policies(rt)
    now = now or utcnow()
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
    elif fmt == "csv":
        write_csv(rows, out)
    else:
        _console(out).print(clocks_table(rows, policies))
    return len(rows)


def show_summary(
    rt: Runtime,
    *,
    since: datetime | None,
    fmt: str,
    out: IO[str] | None = None,
    now: datetime | None = None,
) -> list[PolicySummary]:
    """Print the per-OPD summary as a table or JSON."""
    policies = _policies(rt)
    with read_session(rt.engine) as session:
        summary = summarize(session, now=now or utcnow(), policies=policies, since=since)
    out = out or sys.stdout
    if fmt == "json":
        json.dump([s.as_dict() for s in summary], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _console(out).print(summary_table(summary))
    return summary


# --- rendering ---------------------------------------------------------------


def _console(out: IO[str]) -> Console:
    """Rich on `out`; a pipe or file gets a wide page instead of 80 columns."""
    return Console(file=out, width=None if out.isatty() else 160)


def human_duration(seconds: float) -> str:
    """`1d 3h`, `5h 12m`, `40m`: coarse, for people."""
    total = int(abs(seconds)) // 60
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def time_left(row: ClockRow) -> str:
    word = "left" if row.time_left_s >= 0 else "overdue"
    if row.stopped_at is not None:
        word = "early" if row.time_left_s >= 0 else "late"
    return f"{human_duration(row.time_left_s)} {word}"


_STYLE = {
    ClockState.BREACHED: "bold red",
    ClockState.AT_RISK: "yellow",
    ClockState.ON_TRACK: "green",
    ClockState.MET_LATE: "magenta",
    ClockState.MET: "cyan",
    ClockState.STOPPED: "dim",
}


def clocks_table(rows: Sequence[ClockRow], policies: SlaPolicies) -> Table:
    zone = policies.tz
    table = Table(title=f"SLA clocks ({len(rows)}), times in {policies.zone}")
    for name in ("tracking id", "OPD", "policy", "state", "due", "time", "stopped", "cycle"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r.tracking_id),
            r.opd + (" (complex)" if r.complex else ""),
            r.policy,
            f"[{_STYLE[ClockState(r.state)]}]{r.state}[/]",
            r.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            time_left(r),
            ""
            if r.stopped_at is None
            else f"{r.stopped_at.astimezone(zone):%Y-%m-%d %H:%M} {r.stop_reason}",
            str(r.cycle),
        )
    return table


def write_csv(rows: Sequence[ClockRow], out: IO[str]) -> None:
    fields = list(ClockRow.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.as_dict())


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}h"


_SHORT = {
    ClockState.ON_TRACK: "on track",
    ClockState.AT_RISK: "at risk",
    ClockState.BREACHED: "breached",
    ClockState.MET: "met",
    ClockState.MET_LATE: "late",
    ClockState.STOPPED: "stopped",
}


def summary_table(summary: Sequence[PolicySummary]) -> Table:
    table = Table(title="SLA summary per OPD (time from start to the stop event)")
    table.add_column("OPD", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    for name in ("total", *_SHORT.values(), "on time", "median", "p90"):
        table.add_column(name, justify="right")
    for s in summary:
        table.add_row(
            s.opd,
            s.policy,
            str(s.total),
            *(str(s.counts[state.value]) for state in _SHORT),
            "-" if s.on_time_share is None else f"{s.on_time_share:.0%}",
            _hours(s.median_s),
            _hours(s.p90_s),
        )
    return table
