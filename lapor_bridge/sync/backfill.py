"""Backfill: a bounded range `[since, until)` walked in windows, resumable.

It keeps its own progress record (`backfill_run`) and never moves the
incremental checkpoint. A second run over the same range continues where the
first stopped; a finished range is not walked again unless asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from lapor_bridge.errors import ConfigError
from lapor_bridge.lock import job_lock
from lapor_bridge.runtime import Runtime
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import BackfillRun
from lapor_bridge.sync.engine import PullContext, load_checked_mapping, pull_window
from lapor_bridge.sync.ingest import PageResult, parse_topics, store_topics
from lapor_bridge.sync.window import Window, split_windows
from lapor_bridge.timeutil import rfc3339, utcnow

Progress = Callable[[int, int, int], None]  # (windows done, windows total, reports fetched)


@dataclass
class BackfillSummary:
    run_id: int
    since: str
    until: str
    resumed: bool
    windows: int
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    cursor_restarts: int = 0
    requests: int = 0
    duration_s: float = 0.0
    reports_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _find_or_start(
    session: Session,
    since: datetime,
    until: datetime,
    window_s: int,
    now: datetime,
    *,
    restart: bool,
) -> tuple[BackfillRun, bool]:
    existing = session.scalars(
        select(BackfillRun)
        .where(BackfillRun.since == since, BackfillRun.until == until)
        .order_by(BackfillRun.id.desc())
    ).first()
    if existing is not None and not restart and not existing.done:
        return existing, True
    run = BackfillRun(since=since, until=until, position=since, window_s=window_s, started_at=now)
    session.add(run)
    session.flush()
    return run, False


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
    until = until or now().replace(microsecond=0)
    if since >= until:
        raise ConfigError(f"--since {rfc3339(since)} is not before --until {rfc3339(until)}")
    size = window or timedelta(hours=settings.backfill_window_h)
    instansi_id = runtime.instansi_id
    engine = runtime.engine
    started = time.monotonic()
    with job_lock(engine, "backfill", lock_dir=settings.lock_dir), runtime.client() as client:
        topics, bad_topics = parse_topics(client.list_topics())
        mapping = load_checked_mapping(runtime, {t.id: t.parent for t in topics})
        with write_session(engine) as session:
            store_topics(session, topics, bad_topics, now=now())
            run, resumed = _find_or_start(
                session, since, until, int(size.total_seconds()), now(), restart=restart
            )
            run_id, position = run.id, run.position
        assert run_id is not None

        all_windows = split_windows(since, until, size)
        todo = [w for w in all_windows if w.end > position]
        summary = BackfillSummary(
            run_id=run_id,
            since=rfc3339(since),
            until=rfc3339(until),
            resumed=resumed,
            windows=len(all_windows),
        )
        done_windows = len(all_windows) - len(todo)
        totals = PageResult()

        def on_page(result: PageResult) -> None:
            totals.add(result)
            if progress is not None:
                progress(done_windows, len(all_windows), totals.fetched)

        ctx = PullContext(
            engine, client, instansi_id, mapping, settings.page_limit, now=now, on_page=on_page
        )
        for win in todo:
            start_at = max(win.start, position)

            def save(
                session: Session,
                pos: datetime,
                window_done: bool,
                page: PageResult,
                win: Window = win,
            ) -> None:
                row = session.get(BackfillRun, run_id)
                assert row is not None
                row.position = max(row.position, pos)
                row.fetched += page.fetched
                if window_done and win.end >= until:
                    row.done, row.finished_at = True, now()

            _, pages, restarts = pull_window(ctx, win, start_at, save)
            summary.pages += pages
            summary.cursor_restarts += restarts
            done_windows += 1
            if progress is not None:
                progress(done_windows, len(all_windows), totals.fetched)

        with write_session(engine) as session:
            row = session.get(BackfillRun, run_id)
            if row is not None:
                row.done, row.finished_at = True, row.finished_at or now()

        summary.fetched, summary.inserted, summary.updated = (
            totals.fetched,
            totals.inserted,
            totals.updated,
        )
        summary.unchanged, summary.quarantined = totals.unchanged, totals.quarantined
        summary.requests = client.requests_made
        summary.duration_s = round(time.monotonic() - started, 3)
        summary.reports_per_s = (
            round(totals.fetched / summary.duration_s, 1) if summary.duration_s else 0.0
        )
        return summary


def backfill_runs(runtime: Runtime, limit: int = 10) -> list[BackfillRun]:
    with read_session(runtime.engine) as session:
        return list(
            session.scalars(select(BackfillRun).order_by(BackfillRun.id.desc()).limit(limit))
        )
