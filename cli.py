"""The `lapor-bridge` command line: parses arguments, calls the package, prints.

Each command calls one function of the package, imported inside the command
(so `--help` loads neither SQLAlchemy nor pydantic). Errors of the bridge
become one line on stderr and the exit status their class carries; any
other error is one line too (its traceback only at -vvv).

Global options (`-v`, `-q`, `--log-format`, `--log-file`) are accepted
before or after the subcommand.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from lapor_bridge.errors import BridgeError

if TYPE_CHECKING:
    from lapor_bridge.runtime import Runtime

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
F = TypeVar("F", bound=Callable[..., Any])
VERBOSITY = {"verbose": 0, "quiet": False}


def bridge_command(func: F) -> F:
    """Turn BridgeError into `error: <message>` and its exit status; any other
    error into one line without data (the traceback at -vvv)."""

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
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except Exception as exc:
            from lapor_bridge.job import describe_error

            if VERBOSITY["verbose"] >= 3:
                import traceback

                traceback.print_exc()
            typer.echo(f"error: {describe_error(exc)}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        from lapor_bridge import __version__

        typer.echo(f"lapor-bridge {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="-v: warnings and retries; -vv: the job's events, every request; -vvv: libraries, tracebacks",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="only the error line and attention lines on stderr"
    ),
    log_format: str = typer.Option(
        "text", "--log-format", help="text or json (one object per line)"
    ),
    log_file: Path | None = typer.Option(
        None, "--log-file", help="append the log here too (info level; rotate with logrotate)"
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """lapor-bridge: SP4N-LAPOR! <-> the regency's OPD. Pull, map, SLA, push."""
    from lapor_bridge.logs import setup_logging

    if log_format not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--log-format")
    if log_file is not None:
        from lapor_bridge.job import unwritable

        problem = unwritable(log_file)
        if problem:
            typer.echo(f"error: log file (--log-file) {log_file}: {problem}", err=True)
            raise typer.Exit(2)
    VERBOSITY.update(verbose=verbose, quiet=quiet)
    setup_logging(verbose=verbose, quiet=quiet, fmt=log_format, log_file=log_file)


def runtime(*, read_only: bool = False) -> Runtime:
    """The settings (a ConfigError is one line, exit 2) and the store, opened on first use."""
    from lapor_bridge.logs import add_secret
    from lapor_bridge.runtime import Runtime

    rt = Runtime(read_only=read_only)
    if rt.settings.token is not None:
        add_secret(rt.settings.token.get_secret_value())
    return rt


def wants_summary(requested: bool) -> bool:
    """Cron jobs print their summary only when asked (--summary, --json) or on a terminal."""
    return requested or sys.stdout.isatty()


def finish(outcome: str) -> None:
    """Exit with the job's status: 6 for a partial run (see README, exit statuses)."""
    from lapor_bridge.job import exit_status

    code = exit_status(outcome)
    if code:
        raise typer.Exit(code)


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
    from lapor_bridge.timeutil import json_default

    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=json_default))


# --- pull commands -----------------------------------------------------------


@app.command()
@bridge_command
def sync(
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
    summary_wanted: bool = typer.Option(
        False, "--summary", help="print the summary line (default: only on a terminal)"
    ),
    push: bool = typer.Option(True, "--push/--no-push", help="push the outbox after the pull"),
) -> None:
    """Pull the changes since the last checkpoint, map them, clock them, push the outbox."""
    from lapor_bridge.sync.engine import format_sync, run_sync

    summary = run_sync(runtime(), push=push)
    if summary.checkpoint_repair:
        typer.echo(f"warning: {summary.checkpoint_repair}", err=True)
    if as_json:
        print_json(summary.to_dict())
    elif wants_summary(summary_wanted):
        typer.echo(format_sync(summary))
    for line in summary.stuck:
        typer.echo(f"attention: {line}", err=True)
    if summary.quarantine_open:
        typer.echo(
            f"attention: {summary.quarantine_open} record(s) from LAPOR! in quarantine: "
            "see `lapor-bridge status`",
            err=True,
        )
    finish(summary.outcome)


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
    summary_wanted: bool = typer.Option(
        False, "--summary", help="print the summary line (default: only on a terminal)"
    ),
) -> None:
    """Pull a bounded range of history in windows; a second run continues where one stopped."""
    from datetime import timedelta

    from lapor_bridge.sync.backfill import format_backfill, run_backfill

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
    elif wants_summary(summary_wanted):
        typer.echo(format_backfill(summary))
    finish(summary.outcome)


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
    rt = runtime(read_only=True)
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
    from lapor_bridge.status import show_status

    show_status(runtime(read_only=True), fmt="json" if as_json else "text")


@app.command()
@bridge_command
def health(as_json: bool = typer.Option(False, "--json")) -> None:
    """For monitoring: exit 0 when all is well, else one line per problem and its class's status."""
    from lapor_bridge.health import show_health

    raise typer.Exit(show_health(runtime(read_only=True), fmt="json" if as_json else "text"))


@app.command()
@bridge_command
def init(
    directory: Path = typer.Argument(
        Path("."), help="where to write lapor-bridge.toml and mappings/"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite existing files"),
) -> None:
    """Start a deployment: write an example lapor-bridge.toml and copy the shipped mappings/."""
    from lapor_bridge.deploy import init_directory

    for line in init_directory(directory, force=force):
        typer.echo(line)


config_app = typer.Typer(no_args_is_help=True, help="The settings: check what is in effect.")
app.add_typer(config_app, name="config")


@config_app.command("check")
@bridge_command
def config_check(as_json: bool = typer.Option(False, "--json")) -> None:
    """The effective settings (secrets masked), where each came from, and what is wrong."""
    from lapor_bridge.config import show_config

    show_config(fmt="json" if as_json else "text")


# --- what people read: the site, the recap, one report -----------------------


@app.command()
@bridge_command
def report(
    out: Path = typer.Option(..., "--out", help="folder of the site (created if missing)"),
    since: str | None = typer.Option(None, help="ranking period start, e.g. 2026-11-01 (WIB)"),
    until: str | None = typer.Option(None, help="ranking period end, exclusive (WIB)"),
) -> None:
    """Write the static SLA site (overview, one page per OPD and per open report) to --out."""
    from lapor_bridge.reports.jobs import run_report

    job, result = run_report(
        runtime(read_only=True),
        out,
        since=cli_time(since, "--since"),
        until=cli_time(until, "--until"),
    )
    typer.echo(result.describe(), err=True)
    finish(job.outcome)


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
    from lapor_bridge.reports.jobs import run_recap

    job, result = run_recap(runtime(read_only=True), month, out, csv_path=csv_out)
    typer.echo(result.describe(), err=True)
    finish(job.outcome)


@app.command()
@bridge_command
def show(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
) -> None:
    """One report: content, thread (ours, LAPOR!'s, the citizen's), clocks, assignment and why."""
    from lapor_bridge.reports.detail import show_report

    show_report(runtime(read_only=True), tracking_id)


# --- mapping commands --------------------------------------------------------

mappings_app = typer.Typer(
    no_args_is_help=True, help="The routing of reports to OPD (mappings/units.yaml, rules.yaml)."
)
app.add_typer(mappings_app, name="mappings")


@mappings_app.command("check")
@bridge_command
def mappings_check() -> None:
    """Validate units.yaml, rules.yaml and sla.yaml: errors (exit 3), warnings, each with file:line."""
    from lapor_bridge.mapping.commands import check

    check(runtime(read_only=True))


@mappings_app.command("explain")
@bridge_command
def mappings_explain(
    tracking_id: int = typer.Argument(..., help="the report's LAPOR! tracking id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which rule sends a report where, on what, and why the rules before it did not match."""
    from lapor_bridge.mapping.commands import show_explanation

    show_explanation(runtime(read_only=True), tracking_id, fmt="json" if as_json else "text")


@mappings_app.command("status")
@bridge_command
def mappings_status(
    opd: str | None = typer.Option(None, "--opd", help="only this OPD code"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Reports per OPD by state, unmapped reports, topics without rule, idle rules."""
    from lapor_bridge.mapping.commands import show_status

    show_status(runtime(read_only=True), opd=opd, fmt="json" if as_json else "table")


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
        runtime(read_only=True),
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
        runtime(read_only=True),
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
    from lapor_bridge.outbox.respond import TindakLanjutDraft

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
    draft = TindakLanjutDraft(
        tracking_id, status, text, opd=opd, attachments=tuple(attach), created_by=_who(by)
    )
    commands.respond(runtime(), draft)


@app.command()
@bridge_command
def push(
    as_json: bool = typer.Option(False, "--json"),
    summary_wanted: bool = typer.Option(
        False, "--summary", help="print the summary line (default: only on a terminal)"
    ),
) -> None:
    """Send the due follow-ups of the outbox to LAPOR! (also part of `sync`)."""
    import io

    from lapor_bridge.outbox import commands

    shown = as_json or wants_summary(summary_wanted)
    summary = commands.push(
        runtime(), fmt="json" if as_json else "text", out=None if shown else io.StringIO()
    )
    finish(summary.outcome)


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
        runtime(read_only=True),
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
    ids: list[int] = typer.Argument(..., help="outbox item id(s)"),
    reason: str = typer.Option("", "--reason", help="why, kept in the items' notes"),
    by: str | None = typer.Option(None, "--by", help="who cancels (default: the OS user)"),
) -> None:
    """Withdraw unsent items: never sent, and later items of their reports go ahead."""
    from lapor_bridge.outbox import commands

    rt = runtime()
    for item_id in ids:
        commands.cancel(rt, item_id, reason=reason, by=_who(by))


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
        runtime(read_only=True),
        opd=opd,
        since=cli_time(since, "--since"),
        limit=limit,
        fmt="json" if as_json else "table",
    )


# --- the store ----------------------------------------------------------------

db_app = typer.Typer(no_args_is_help=True, help="the local store: its schema and whom it serves")
app.add_typer(db_app, name="db")


@db_app.command("current")
@bridge_command
def db_current() -> None:
    """The store's schema revision and the instansi and API it serves (changes nothing)."""
    from lapor_bridge.config import load_settings
    from lapor_bridge.store.commands import db_current as current

    typer.echo(current(load_settings()))


@db_app.command("upgrade")
@bridge_command
def db_upgrade() -> None:
    """Migrate the store to the newest schema (every command also does it on start)."""
    from lapor_bridge.config import load_settings
    from lapor_bridge.store.commands import db_upgrade as upgrade

    typer.echo(upgrade(load_settings()))


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


GLOBAL_FLAGS = ("-q", "--quiet", "--version")
GLOBAL_VALUES = ("--log-format", "--log-file")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move `-v`/`-q`/`--log-format`/`--log-file` found after the subcommand to
    the front, so they work anywhere (`lapor-bridge sync -v`). Stops at `--`."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if (
            arg in GLOBAL_FLAGS
            or arg == "--verbose"
            or (arg.startswith("-v") and set(arg[1:]) == {"v"})
        ):
            front.append(arg)
        elif arg in GLOBAL_VALUES and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        elif arg.split("=", 1)[0] in GLOBAL_VALUES:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


# --- notifications -------------------------------------------------------------

notify_app = typer.Typer(
    no_args_is_help=False, help="Notifications: deliver, test a unit's channels."
)
app.add_typer(notify_app, name="notify")


@notify_app.callback(invoke_without_command=True)
@bridge_command
def notify(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Decide what time made due (at risk, breached, digests), compose and deliver (also part of `sync`)."""
    if ctx.invoked_subcommand is not None:
        return
    from lapor_bridge.notify import commands

    commands.notify(runtime(), fmt="json" if as_json else "text")


@notify_app.command("test")
@bridge_command
def notify_test(unit: str = typer.Argument(..., help="unit code from units.yaml")) -> None:
    """Send one test message to each of a unit's channels now and say what happened."""
    from lapor_bridge.notify import commands

    commands.send_test(runtime(), unit)


notifications_app = typer.Typer(no_args_is_help=False, help="Notification messages: list, retry.")
app.add_typer(notifications_app, name="notifications")


@notifications_app.callback(invoke_without_command=True)
@bridge_command
def notifications(
    ctx: typer.Context,
    state: str | None = typer.Option(
        None, "--state", help="pending|sending|sent|failed|dead|cancelled"
    ),
    unit: str | None = typer.Option(None, "--unit", help="only this unit (and its head)"),
    limit: int = typer.Option(200, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Messages with state, channel (secrets masked), attempts, repeats and last error, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from lapor_bridge.notify import commands

    commands.list_messages(
        runtime(), state=state, unit=unit, limit=limit, fmt="json" if as_json else "table"
    )


@notifications_app.command("retry")
@bridge_command
def notifications_retry(
    ids: list[int] = typer.Argument(..., help="message id(s)"),
    by: str | None = typer.Option(None, "--by", help="who retries (default: the OS user)"),
) -> None:
    """Requeue dead or failed messages (attempts reset, the note keeps the history)."""
    from lapor_bridge.notify import commands

    commands.retry(runtime(), ids, by=_who(by))


def main() -> None:
    # the young generation collected every 5,000 allocations instead of 700: a
    # backfill page allocates hundreds of thousands of objects and hardly any
    # form a cycle (10-15 % less CPU, the same peak memory: bench/NOTES.md)
    gc.set_threshold(5000, 10, 10)
    app(args=hoist_global_options(sys.argv[1:]), prog_name="lapor-bridge")


if __name__ == "__main__":
    sys.exit(main())
