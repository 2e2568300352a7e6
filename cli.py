"""The `lapor-bridge` command line: parses arguments, calls the package, prints.

Each command calls one function of the package. Errors of the bridge become
one line on stderr and the exit status their class carries.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from lapor_bridge.errors import BridgeError
from lapor_bridge.runtime import Runtime

app = typer.Typer(no_args_is_help=True, add_completion=False)
F = TypeVar("F", bound=Callable[..., Any])


def bridge_command(func: F) -> F:
    """Turn BridgeError into `error: <message>` and its exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BridgeError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the next run continues where this one stopped", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _global_options(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="-v: retries and warnings on stderr; -vv: every request",
    ),
) -> None:
    """lapor-bridge: SP4N-LAPOR! <-> the regency's OPD. Pull, map, SLA, push."""
    level = {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def runtime() -> Runtime:
    return Runtime()


def cli_time(value: str | None, option: str) -> datetime | None:
    """A date or time typed by an admin (no offset = WIB), or a usage error."""
    from lapor_bridge.timeutil import parse_cli_time

    if value is None:
        return None
    try:
        return parse_cli_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- pull commands -----------------------------------------------------------


@app.command()
@bridge_command
def sync(
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
    push: bool = typer.Option(True, "--push/--no-push", help="push the outbox after the pull"),
) -> None:
    """Pull the changes since the last checkpoint, map them, clock them, push the outbox."""
    from lapor_bridge.sync.engine import run_sync

    summary = run_sync(runtime(), push=push)
    if as_json:
        print_json(summary.to_dict())
    else:
        typer.echo(format_sync(summary.to_dict()))
    for line in summary.stuck:
        typer.echo(f"attention: {line}", err=True)


def format_sync(s: dict[str, Any]) -> str:
    line = (
        f"sync {s['window_from']} .. {s['window_to']}: fetched {s['fetched']} "
        f"(new {s['inserted']}, updated {s['updated']}, unchanged {s['unchanged']}, "
        f"quarantined {s['quarantined']}) in {s['pages']} pages, {s['requests']} requests, "
        f"{s['duration_s']} s; checkpoint {s['checkpoint']}"
    )
    if s.get("push"):
        line += "\npush: " + ", ".join(f"{k} {v}" for k, v in s["push"].items())
    return line


@app.command()
@bridge_command
def backfill(
    since: str = typer.Option(..., help="start, e.g. 2025-01-01 (WIB unless an offset is given)"),
    until: str | None = typer.Option(None, help="end, exclusive (default: now)"),
    window_hours: int | None = typer.Option(
        None, help="window size (default LAPOR_BRIDGE_BACKFILL_WINDOW_H)"
    ),
    restart: bool = typer.Option(False, help="walk the range again even if a run of it finished"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Pull a bounded range of history in windows; a second run continues where one stopped."""
    from datetime import timedelta

    from lapor_bridge.sync.backfill import run_backfill

    start = cli_time(since, "--since")
    end = cli_time(until, "--until")
    assert start is not None
    window = timedelta(hours=window_hours) if window_hours else None
    with progress_bar("backfill", enabled=not as_json) as progress:
        summary = run_backfill(
            runtime(), start, end, window=window, restart=restart, progress=progress
        )
    if as_json:
        print_json(summary.to_dict())
    else:
        typer.echo(
            f"backfill {summary.since} .. {summary.until} ({'resumed' if summary.resumed else 'new'} run "
            f"{summary.run_id}): fetched {summary.fetched} (new {summary.inserted}, updated "
            f"{summary.updated}, unchanged {summary.unchanged}, quarantined {summary.quarantined}) "
            f"in {summary.windows} windows, {summary.duration_s} s ({summary.reports_per_s}/s)"
        )


@contextmanager
def progress_bar(label: str, *, enabled: bool) -> Iterator[Callable[[int, int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when cron runs us."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, TextColumn("{task.fields[fetched]} reports"), transient=True) as bar:
        task = bar.add_task(label, total=None, fetched=0)

        def update(done: int, total: int, fetched: int) -> None:
            bar.update(task, completed=done, total=total, fetched=fetched)

        yield update


@app.command()
@bridge_command
def export(
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="file to write (default: stdout)"
    ),
    masbupsiaga: bool = typer.Option(
        False, "--masbupsiaga", help="only Mas Bup Siaga reports (SMS keyword or #masbupsiaga)"
    ),
    excel: bool = typer.Option(
        False, "--excel", help="CSV for Excel: UTF-8 BOM, ';', WIB times, ya/tidak"
    ),
    opd: str | None = typer.Option(None, "--opd", help="only reports assigned to this OPD"),
    since: str | None = typer.Option(None, help="only reports that reached us on/after (WIB)"),
    until: str | None = typer.Option(None, help="only reports that reached us before (WIB)"),
) -> None:
    """One row per report (RAHASIA titles withheld, no reporter identity)."""
    from lapor_bridge.export import write_export
    from lapor_bridge.mapping.apply import unit_code
    from lapor_bridge.sla import default_policies

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("use jsonl or csv", param_hint="--format")
    if excel and fmt != "csv":
        raise typer.BadParameter("--excel goes with --format csv", param_hint="--excel")
    rt = runtime()
    policies = list(default_policies(rt.settings.mappings_dir).policies)
    options = dict(
        fmt=fmt,
        policies=policies,
        masbupsiaga_only=masbupsiaga,
        opd=unit_code(rt.settings.mappings_dir, opd),
        since=cli_time(since, "--since"),
        until=cli_time(until, "--until"),
        excel=excel,
        zone=rt.settings.zone,
    )
    if output is None:
        write_export(rt.engine, sys.stdout, **options)  # type: ignore[arg-type]
        return
    tmp = output.with_name(output.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        count = write_export(rt.engine, out, **options)  # type: ignore[arg-type]
    tmp.replace(output)
    typer.echo(f"exported {count} reports to {output}", err=True)


@app.command()
@bridge_command
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Checkpoint, last runs, quarantine and stuck outbox items (repeated until resolved)."""
    from lapor_bridge.status import bridge_status

    data = bridge_status(runtime().engine)
    if as_json:
        print_json(data)
        return
    last = data["last_sync"]
    typer.echo(f"checkpoint:   {data['checkpoint'] or 'none (no sync yet)'}")
    typer.echo(
        "last sync:    "
        + (
            f"{last['finished_at'] or last['started_at']} {'ok' if last['ok'] else 'FAILED: ' + str(last['error'])}"
            if last
            else "never"
        )
    )
    if data["last_success"]:
        typer.echo(f"last success: {data['last_success']['finished_at']}")
    typer.echo(
        f"reports:      {data['reports']} ({data['transferred']} transferred, {data['unmapped']} unmapped)"
    )
    for b in data["backfills"]:
        state = "done" if b["done"] else f"at {b['position']}"
        typer.echo(
            f"backfill {b['id']}:   {b['since']} .. {b['until']} {state}, {b['fetched']} fetched"
        )
    for q in data["quarantine_open"]:
        typer.echo(
            f"attention: quarantined record {q['tracking_id']} v{q['version']}: {q['reason']}"
        )
    for line in data["stuck_outbox"]:
        typer.echo(f"attention: {line}")


# --- what people read: the site, the recap, one report -----------------------


@app.command()
@bridge_command
def report(
    out: Path = typer.Option(..., "--out", help="folder of the site (created if missing)"),
    since: str | None = typer.Option(None, help="ranking period start, e.g. 2026-11-01 (WIB)"),
    until: str | None = typer.Option(None, help="ranking period end, exclusive (WIB)"),
) -> None:
    """Write the static SLA site (overview, one page per OPD and per open report) to --out."""
    from lapor_bridge.reports.site import build_site

    result = build_site(
        runtime(), out, since=cli_time(since, "--since"), until=cli_time(until, "--until")
    )
    typer.echo(result.describe(), err=True)


@app.command()
@bridge_command
def recap(
    month: str = typer.Option(..., "--month", help="the month, e.g. 2026-11"),
    out: Path = typer.Option(..., "--out", help="the xlsx file to write"),
    csv_out: Path | None = typer.Option(
        None, "--csv", help="the ranking as CSV (default: --out with .csv)"
    ),
) -> None:
    """Monthly recap for the Regent's office: xlsx (ranking, per OPD, kecamatan) + ranking CSV."""
    from lapor_bridge.reports.recap import write_recap

    typer.echo(write_recap(runtime(), month, out, csv_path=csv_out).describe(), err=True)


@app.command()
@bridge_command
def show(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
) -> None:
    """One report: content, thread (ours, LAPOR!'s, the citizen's), clocks, assignment and why."""
    from lapor_bridge.reports.detail import show_report

    show_report(runtime(), tracking_id)


# --- mapping commands --------------------------------------------------------

mappings_app = typer.Typer(
    no_args_is_help=True, help="The routing of reports to OPD (mappings/units.yaml, rules.yaml)."
)
app.add_typer(mappings_app, name="mappings")


@mappings_app.command("check")
@bridge_command
def mappings_check() -> None:
    """Validate the mapping files: errors (exit 3) and warnings, each with file:line."""
    from lapor_bridge.mapping.commands import check

    check(runtime())


@mappings_app.command("explain")
@bridge_command
def mappings_explain(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which rule sends a report where, on what, and why the rules before it did not match."""
    from lapor_bridge.mapping.commands import show_explanation

    show_explanation(runtime(), tracking_id, fmt="json" if as_json else "text")


@mappings_app.command("status")
@bridge_command
def mappings_status(
    opd: str | None = typer.Option(None, "--opd", help="only this OPD code"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Reports per OPD by state, unmapped reports, topics without rule, idle rules."""
    from lapor_bridge.mapping.commands import show_status

    show_status(runtime(), opd=opd, fmt="json" if as_json else "table")


@app.command()
@bridge_command
def remap(
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would move; change nothing"),
) -> None:
    """Apply the mapping to every stored report (after editing mappings/), showing what moves."""
    from lapor_bridge.mapping.commands import remap as run_remap

    run_remap(runtime(), dry_run=dry_run)


@app.command()
@bridge_command
def assign(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
    opd: str = typer.Argument(..., help="the unit code from mappings/units.yaml"),
    reason: str = typer.Option(..., "--reason", help="why (kept in the assignment history)"),
    by: str | None = typer.Option(None, "--by", help="your name (default: the login name)"),
) -> None:
    """Assign a report to an OPD by hand: beats the rules and survives remaps."""
    from lapor_bridge.mapping.commands import assign as run_assign

    run_assign(runtime(), tracking_id, opd, reason=reason, by=by)


@app.command()
@bridge_command
def unassign(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
    reason: str = typer.Option(..., "--reason", help="why (kept in the assignment history)"),
    by: str | None = typer.Option(None, "--by", help="your name (default: the login name)"),
) -> None:
    """Remove a manual assignment: the rules decide again."""
    from lapor_bridge.mapping.commands import unassign as run_unassign

    run_unassign(runtime(), tracking_id, reason=reason, by=by)


# --- SLA commands ------------------------------------------------------------

sla_app = typer.Typer(no_args_is_help=False, help="SLA clocks: list, summary, recompute.")
app.add_typer(sla_app, name="sla")


@sla_app.callback(invoke_without_command=True)
@bridge_command
def sla(
    ctx: typer.Context,
    opd: str | None = typer.Option(None, "--opd", help="only this OPD code"),
    state: str | None = typer.Option(
        None, "--state", help="ON_TRACK AT_RISK BREACHED MET MET_LATE STOPPED (default: open ones)"
    ),
    policy: str | None = typer.Option(None, "--policy", help="only this policy, e.g. bupati-24h"),
    include_closed: bool = typer.Option(False, "--all", help="also MET, MET_LATE and STOPPED"),
    limit: int = typer.Option(200, "--limit", help="at most this many rows (0: all)"),
    as_json: bool = typer.Option(False, "--json"),
    as_csv: bool = typer.Option(False, "--csv"),
) -> None:
    """Reports with their clocks, most urgent first: one row per report (both clocks)."""
    if ctx.invoked_subcommand is not None:
        return
    from lapor_bridge.sla.commands import show_clocks

    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json or --csv")
    fmt = "json" if as_json else "csv" if as_csv else "table"
    show_clocks(
        runtime(),
        opd=opd,
        state=state,
        policy=policy,
        include_closed=include_closed,
        limit=limit or None,
        fmt=fmt,
    )


@sla_app.command("summary")
@bridge_command
def sla_summary(
    since: str | None = typer.Option(
        None, help="only clocks started on/after, e.g. 2026-01-01 (WIB)"
    ),
    until: str | None = typer.Option(None, help="only clocks started before, e.g. 2026-12-01"),
    opd: str | None = typer.Option(None, "--opd", help="only this OPD code"),
    sort: str = typer.Option("name", "--sort", help="breaches | on-time | name"),
    as_json: bool = typer.Option(False, "--json"),
    as_csv: bool = typer.Option(False, "--csv"),
) -> None:
    """Per OPD: counts by state, share met on time, median and p90 time to the stop event."""
    from lapor_bridge.sla.commands import show_summary

    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json or --csv")
    show_summary(
        runtime(),
        since=cli_time(since, "--since"),
        until=cli_time(until, "--until"),
        opd=opd,
        sort=sort,
        fmt="json" if as_json else "csv" if as_csv else "table",
    )


@sla_app.command("recompute")
@bridge_command
def sla_recompute() -> None:
    """Recompute every report's clocks, e.g. after editing mappings/sla.yaml."""
    from lapor_bridge.sla.commands import recompute

    typer.echo(f"recomputed {recompute(runtime())} SLA clocks")


# --- push commands -----------------------------------------------------------


def _who(by: str | None) -> str | None:
    if by:
        return by
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@app.command()
@bridge_command
def respond(
    tracking_id: int | None = typer.Argument(None, help="the report's tracking ID"),
    status: str | None = typer.Option(None, "--status", help="DIPROSES or SELESAI"),
    text: str | None = typer.Option(None, "--text", help="the follow-up, 1..5000 characters"),
    opd: str | None = typer.Option(None, "--opd", help="answering OPD code (default: assigned)"),
    attach: list[str] = typer.Option([], "--attach", help="attachment URL (repeatable)"),
    from_csv: Path | None = typer.Option(
        None,
        "--from-csv",
        help="record many: CSV with columns tracking_id,status,text[,opd][,attach] "
        "(UTF-8, ',' or ';'; attach: URLs separated by spaces)",
    ),
    by: str | None = typer.Option(None, "--by", help="who writes it (default: the OS user)"),
) -> None:
    """Record an OPD follow-up (tindak lanjut); it is queued for LAPOR! at once."""
    from lapor_bridge.outbox import commands

    if from_csv is not None:
        if tracking_id is not None or status or text or opd or attach:
            raise typer.BadParameter(
                "--from-csv takes no TRACKING_ID, --status, --text, --opd or --attach"
            )
        result = commands.respond_csv(runtime(), from_csv, by=_who(by))
        if not result.ok:
            raise typer.Exit(1)
        return
    if tracking_id is None or not status or text is None:
        raise typer.BadParameter("give TRACKING_ID, --status and --text (or --from-csv FILE)")
    commands.respond(
        runtime(), tracking_id, status=status, text=text, opd=opd, attach=attach, by=_who(by)
    )


@app.command()
@bridge_command
def push(as_json: bool = typer.Option(False, "--json")) -> None:
    """Send the due follow-ups of the outbox to LAPOR! (also part of `sync`)."""
    from lapor_bridge.outbox import commands

    commands.push(runtime(), fmt="json" if as_json else "text")


outbox_app = typer.Typer(no_args_is_help=False, help="The push outbox: list, retry, cancel.")
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
@bridge_command
def outbox(
    ctx: typer.Context,
    state: str | None = typer.Option(
        None, "--state", help="only items in this outbox state (pending, failed, dead, ...)"
    ),
    opd: str | None = typer.Option(None, "--opd", help="only this OPD code"),
    report: int | None = typer.Option(None, "--report", help="only this tracking ID"),
    limit: int = typer.Option(200, "--limit", help="at most this many rows"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List outbox items with attempts, next attempt and last error (sent: newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from lapor_bridge.outbox import commands
    from lapor_bridge.outbox.states import OutboxState

    if state is not None and state not in set(OutboxState):
        raise typer.BadParameter(f"use one of {', '.join(OutboxState)}", param_hint="--state")
    commands.show_outbox(
        runtime(),
        state=state,
        opd=opd,
        tracking_id=report,
        limit=limit,
        fmt="json" if as_json else "table",
    )


@outbox_app.command("retry")
@bridge_command
def outbox_retry(
    ids: list[int] = typer.Argument(None, help="outbox item id(s)"),
    all_dead: bool = typer.Option(False, "--all-dead", help="every dead item"),
    by: str | None = typer.Option(None, "--by", help="who retries (default: the OS user)"),
) -> None:
    """Requeue dead items (attempts reset, history kept in the note); make failed ones due now."""
    from lapor_bridge.outbox import commands

    if bool(ids) == all_dead:
        raise typer.BadParameter("give outbox item id(s) or --all-dead")
    commands.retry(runtime(), ids or [], all_dead=all_dead, by=_who(by))


@outbox_app.command("cancel")
@bridge_command
def outbox_cancel(
    item_id: int = typer.Argument(..., help="outbox item id"),
    reason: str = typer.Option("", "--reason", help="why, kept in the item's note"),
    by: str | None = typer.Option(None, "--by", help="who cancels (default: the OS user)"),
) -> None:
    """Withdraw an unsent item: never sent, and later items of its report go ahead."""
    from lapor_bridge.outbox import commands

    commands.cancel(runtime(), item_id, reason=reason, by=_who(by))


@app.command()
@bridge_command
def replies(
    opd: str | None = typer.Option(None, "--opd", help="only reports assigned to this OPD"),
    since: str | None = typer.Option(
        None, "--since", help="only replies on/after, e.g. 2026-01-01 (WIB)"
    ),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Citizens' replies (author PELAPOR) pulled from LAPOR!, newest first, per OPD."""
    from lapor_bridge.outbox import commands

    commands.show_replies(
        runtime(),
        opd=opd,
        since=cli_time(since, "--since"),
        limit=limit,
        fmt="json" if as_json else "table",
    )


# --- simulator commands ------------------------------------------------------

simulator_app = typer.Typer(
    no_args_is_help=True, help="The embedded LAPOR! simulator (demos and tests)."
)
app.add_typer(simulator_app, name="simulator")


@simulator_app.command("serve")
@bridge_command
def simulator_serve(
    port: int = typer.Option(8708, help="port on 127.0.0.1"),
    reports: int = typer.Option(300, help="seeded reports"),
    change_rate: float = typer.Option(0.5, help="generated changes per second (0: none)"),
    seed: int = typer.Option(1708),
    token: str = typer.Option("sim-token", help="the bearer token it accepts"),
    faults: str | None = typer.Option(
        None, help="traps as JSON, e.g. '{\"visibility_lag_s\": 120}'"
    ),
) -> None:
    """Serve a LAPOR! simulator on 127.0.0.1 until Ctrl-C."""
    from lapor_bridge.simulator import Faults, SimulatorConfig, serve

    try:
        fault_config = Faults.model_validate_json(faults) if faults else Faults()
    except ValueError as exc:
        raise typer.BadParameter(str(exc).splitlines()[0], param_hint="--faults") from None
    config = SimulatorConfig(
        seed=seed,
        token=token,
        initial_reports=reports,
        change_rate_per_s=change_rate,
        faults=fault_config,
    )
    serve(config, host="127.0.0.1", port=port)


@app.command()
@bridge_command
def demo(
    database: Path = typer.Option(Path("demo.db"), help="SQLite file to sync into"),
    reports: int = typer.Option(300, help="reports the simulator starts with"),
) -> None:
    """The whole job end to end on the embedded defaults: simulator + SQLite."""
    from lapor_bridge.demo import run_demo

    run_demo(database, reports=reports, echo=typer.echo)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
