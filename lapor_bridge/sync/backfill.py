"""Backfill: a bounded range `[since, until)` walked in windows, resumable.

It keeps its own progress record (`backfill_run`) and never moves the
incremental checkpoint. A second run over the same range continues where the
first stopped (without `--until`, the unfinished run with the same `--since`
is continued with its own end); a finished range is walked again only with
`--restart`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlmodel import Session

from lapor_bridge.errors import ConfigError
from lapor_bridge.job import check_stop, start_job
from lapor_bridge.runtime import Runtime
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import BackfillRun
from lapor_bridge.sync.engine import PullContext, PullCounts, prepare_pull, pull_window
from lapor_bridge.sync.ingest import PageResult, store_topics
from lapor_bridge.sync.window import Window, split_windows, window_end
from lapor_bridge.timeutil import human_time, parse_upstream_time, rfc3339, utcnow

Progress = Callable[[int, int, int], None]  # (windows done, windows total, reports fetched)


@dataclass(kw_only=True)
class BackfillSummary(PullCounts):
    run_id: int
    since: str
    until: str
    resumed: bool
    windows: int
    already_done: bool = False
    reports_per_s: float = 0.0
    outcome: str = "ok"  # ok | partial (lapor_bridge.job)


def run_backfill(
    runtime: Runtime,
    since: datetime,
    until: datetime | None = None,
    *,
    window: timedelta | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utcnow,
) -> BackfillSummary:
    """`lapor-bridge backfill --since ... [--until ...]`."""
    settings = runtime.settings
    if until is not None and since >= until:
        raise ConfigError(f"--since {rfc3339(since)} is not before --until {rfc3339(until)}")
    size = window or timedelta(hours=settings.backfill_window_h)
    started = time.monotonic()
    with ExitStack() as stack:
        prepare = partial(prepare_pull, runtime, stack)
        with start_job(runtime, "backfill", precheck=prepare, now=now) as job:
            client, topics, bad_topics, mapping, policies = job.prepared
            engine = runtime.engine
            with write_session(engine) as session:
                store_topics(session, topics, bad_topics, now=now())
                open_end = window_end(now(), client.upstream_now())  # LAPOR!'s "now"
                run, resumed = _find_or_start(
                    session, since, until, size, now(), restart=restart, open_end=open_end
                )
                run_id, end, position, done = run.id, run.until, run.position, run.done
            assert run_id is not None
            all_windows = split_windows(since, end, timedelta(seconds=run.window_s))
            summary = BackfillSummary(
                run_id=run_id,
                since=rfc3339(since),
                until=rfc3339(end),
                resumed=resumed,
                windows=len(all_windows),
            )
            if done:
                summary.already_done = True
            else:
                ctx = PullContext(
                    engine,
                    client,
                    runtime.instansi_id,
                    mapping,
                    policies,
                    settings.page_limit,
                    now=now,
                )
                ctx.notify_quiet = True  # history: one summary per unit, no per-report messages
                _walk(ctx, run_id, all_windows, position, end, progress, now, summary)
            summary.requests = client.requests_made
            summary.duration_s = round(time.monotonic() - started, 3)
            summary.reports_per_s = (
                round(summary.fetched / summary.duration_s, 1) if summary.duration_s else 0.0
            )
            if summary.quarantined:
                job.mark_partial(f"{summary.quarantined} record(s) quarantined (see status)")
            job.summary = summary.to_dict()
        summary.outcome = job.outcome
    return summary


def _find_or_start(
    session: Session,
    since: datetime,
    until: datetime | None,
    size: timedelta,
    now: datetime,
    *,
    restart: bool,
    open_end: datetime | None = None,
) -> tuple[BackfillRun, bool]:
    """The run to continue, or a new one. Returns (run, resumed).

    With `until`, the run of exactly `[since, until)` is continued (a finished
    one is reported done). Without it, the range is `[since, open_end)` (LAPOR!'s
    "now", else the host's): an
    unfinished run from `since` is continued; after a finished one, a new run
    starts where that one ended. `restart` always walks from `since` again.
    """
    runs = select(BackfillRun).where(BackfillRun.since == since).order_by(BackfillRun.id.desc())
    if until is not None:
        runs = runs.where(BackfillRun.until == until)
    latest = None if restart else session.scalars(runs).first()
    if latest is not None and (until is not None or not latest.done):
        return latest, True
    end = until or open_end or now.replace(microsecond=0)
    if since >= end:
        raise ConfigError(f"--since {rfc3339(since)} is in the future: nothing to backfill")
    position = latest.until if latest is not None else since  # what a finished run covered
    run = BackfillRun(
        since=since,
        until=end,
        position=min(position, end),
        window_s=int(size.total_seconds()),
        started_at=now,
    )
    session.add(run)
    session.flush()
    return run, latest is not None


def _walk(
    ctx: PullContext,
    run_id: int,
    windows: list[Window],
    position: datetime,
    until: datetime,
    progress: Progress | None,
    now: Callable[[], datetime],
    summary: BackfillSummary,
) -> None:
    todo = [w for w in windows if w.end > position]
    done_windows = len(windows) - len(todo)

    def on_page(_page: PageResult) -> None:
        if progress is not None:
            progress(done_windows, len(windows), summary.fetched)

    ctx.on_page = on_page
    for win in todo:

        def save(
            session: Session, pos: datetime, window_done: bool, page: PageResult, win: Window = win
        ) -> None:
            row = session.get(BackfillRun, run_id)
            assert row is not None
            row.position = max(row.position, pos)
            row.fetched += page.fetched
            if window_done and win.end >= until:
                row.done, row.finished_at = True, now()

        pull_window(ctx, win, max(win.start, position), save, summary)
        done_windows += 1
        if progress is not None:
            progress(done_windows, len(windows), summary.fetched)
        check_stop()


def backfill_runs(runtime: Runtime, limit: int = 10) -> list[BackfillRun]:
    with read_session(runtime.engine) as session:
        return list(
            session.scalars(select(BackfillRun).order_by(BackfillRun.id.desc()).limit(limit))
        )


def format_backfill(summary: BackfillSummary) -> str:
    """The one summary line of `backfill` (times in WIB)."""
    since, until = (human_time(parse_upstream_time(t)) for t in (summary.since, summary.until))
    state = "resumed" if summary.resumed else "new"
    line = (
        f"backfill {since} .. {until} ({state} run {summary.run_id}): fetched {summary.fetched} "
        f"(new {summary.inserted}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"quarantined {summary.quarantined}) in {summary.windows} windows, "
        f"{summary.duration_s} s ({summary.reports_per_s}/s)"
    )
    if summary.already_done:
        line += "; already done (use --restart to walk it again)"
    return line
