"""The sync engine: pull changed reports page by page, map them, clock them,
then push the outbox.

Each page is one transaction: the page's reports, their assignment, their
SLA clocks and the checkpoint that covers them are committed together, so a
crash at any line loses nothing and the next run repeats at most one page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from lapor_bridge.errors import BridgeError, CursorExpired, UpstreamError
from lapor_bridge.lock import job_lock
from lapor_bridge.mapping import Mapping, assign_reports, load_mapping
from lapor_bridge.metrics import write_metrics
from lapor_bridge.notify import record_events
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla import SlaPolicies, default_policies, refresh_clocks
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import SyncCheckpoint, SyncRun
from lapor_bridge.sync.ingest import PageResult, parse_topics, store_page, store_topics
from lapor_bridge.sync.window import (
    CursorGuard,
    Window,
    advance_high_water,
    incremental_window,
    position_after_page,
)
from lapor_bridge.timeutil import rfc3339, utcnow

log = logging.getLogger("lapor_bridge.sync")

INCREMENTAL = "incremental"
MAX_STALLED_RESTARTS = 3

SavePosition = Callable[[Session, datetime, bool, PageResult], None]


@dataclass
class PullContext:
    """What walking a listing needs."""

    engine: Engine
    client: Any  # LaporClient
    instansi_id: int
    mapping: Mapping
    policies: SlaPolicies
    page_limit: int
    now: Callable[[], datetime] = utcnow
    on_page: Callable[[PageResult], None] | None = None
    notify_quiet: bool = False  # backfill, first sync: no per-report messages


@dataclass(kw_only=True)
class PullCounts:
    """What a pull did, summed over its pages."""

    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    cursor_restarts: int = 0
    requests: int = 0
    duration_s: float = 0.0

    def add_page(self, page: PageResult) -> None:
        self.pages += 1
        for name in ("fetched", "inserted", "updated", "unchanged", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(page, name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(kw_only=True)
class SyncSummary(PullCounts):
    window_from: str
    window_to: str
    checkpoint: str = ""
    topics: int = 0
    push: dict[str, Any] | None = None
    stuck: list[str] = field(default_factory=list)
    notify: dict[str, Any] | None = None


def pull_window(
    ctx: PullContext, window: Window, start_at: datetime, save: SavePosition, counts: PullCounts
) -> None:
    """Walk `[start_at, window.end)` page by page, storing each page with its position.

    `save(session, position, window_done, page)` records progress inside the page's
    transaction. A 410 restarts the listing from the last durable position.
    What happened is added to `counts`.
    """
    position = start_at
    cursor: str | None = None
    guard = CursorGuard()
    stalled = 0
    restart_position = position
    while True:
        try:
            page = ctx.client.list_reports(
                ctx.instansi_id,
                updated_from=position,
                updated_to=window.end,
                limit=ctx.page_limit,
                cursor=cursor,
            )
        except CursorExpired:
            counts.cursor_restarts += 1
            stalled = stalled + 1 if position == restart_position else 0
            if stalled >= MAX_STALLED_RESTARTS:
                raise UpstreamError(
                    f"listing cursors expired {stalled} times in a row without progress at "
                    f"{rfc3339(position)} (more reports share that second than a page holds): raise "
                    "LAPOR_BRIDGE_PAGE_LIMIT (up to 500), or ask the API operator about cursor lifetime"
                ) from None
            log.warning("cursor expired; restarting the window from %s", rfc3339(position))
            restart_position, cursor, guard = position, None, CursorGuard()
            continue
        done = page.next_cursor is None
        now = ctx.now()
        with write_session(ctx.engine) as session:
            result = store_page(session, page.data, instansi_id=ctx.instansi_id, now=now)
            if result.tracking_ids:
                assign_reports(session, ctx.mapping, result.tracking_ids, actor="sync", now=now)
                refresh_clocks(session, result.tracking_ids, now=now, policies=ctx.policies)
                record_events(
                    session,
                    now=now,
                    mapping=ctx.mapping,
                    tracking_ids=result.tracking_ids,
                    quiet=ctx.notify_quiet,
                )
            position = window.end if done else position_after_page(position, result.last_updated_at)
            save(session, position, done, result)
        counts.add_page(result)
        if ctx.on_page is not None:
            ctx.on_page(result)
        if done:
            return
        guard.check(page.next_cursor)
        cursor = page.next_cursor


def load_rules(runtime: Runtime, topics: dict[int, int] | None) -> tuple[Mapping, SlaPolicies]:
    """The mapping (validated against the topic tree) and the SLA policies.
    Either being invalid stops the run before anything is written."""
    mappings_dir = runtime.settings.mappings_dir
    mapping, policies = load_mapping(mappings_dir, topics=topics), default_policies(mappings_dir)
    load_escalation(
        mappings_dir, mapping, tuple(policies.policies)
    )  # refuses a bad escalation.yaml
    return mapping, policies


def run_sync(
    runtime: Runtime, *, push: bool = True, now: Callable[[], datetime] = utcnow
) -> SyncSummary:
    """`lapor-bridge sync`: one incremental pull, then the push of the outbox.

    Everything that can refuse the run (settings, token, an unreachable
    server, an invalid mapping) fails before the store is opened, so such a
    run changes nothing at all.
    """
    settings = runtime.settings
    instansi_id = runtime.instansi_id
    started = time.monotonic()
    with runtime.client() as client:
        topics, bad_topics = parse_topics(client.list_topics())
        mapping, policies = load_rules(runtime, {t.id: t.parent for t in topics})
        engine = runtime.engine
        with job_lock(engine, "sync", lock_dir=settings.lock_dir):
            run_id = _start_run(engine, "sync", now())
            try:
                with write_session(engine) as session:
                    store_topics(session, topics, bad_topics, now=now())
                ctx = PullContext(
                    engine, client, instansi_id, mapping, policies, settings.page_limit, now=now
                )
                summary = _pull(runtime, ctx)
                summary.topics = len(topics)
                if push:
                    summary.push, summary.stuck = _push(runtime, client, now)
                from lapor_bridge.notify.service import notify_after_sync

                summary.notify = notify_after_sync(engine, mapping, settings, now)
            except BaseException as exc:
                _finish_run(engine, run_id, now(), ok=False, error=_describe(exc))
                write_metrics(engine, settings.metrics_file)
                raise
            summary.requests = client.requests_made
            summary.duration_s = round(time.monotonic() - started, 3)
            _finish_run(engine, run_id, now(), ok=True, summary=summary.to_dict())
            write_metrics(engine, settings.metrics_file)
            return summary


def _pull(runtime: Runtime, ctx: PullContext) -> SyncSummary:
    settings = runtime.settings
    engine = runtime.engine
    now = ctx.now
    with read_session(engine) as session:
        checkpoint = session.get(SyncCheckpoint, INCREMENTAL)
        high_water = checkpoint.high_water if checkpoint else None
        # the first sync of a new store (also when resumed after a crash): summaries only
        ever_ok = session.scalar(
            select(SyncRun.id).where(SyncRun.kind == "sync", SyncRun.ok.is_(True)).limit(1)
        )
    ctx.notify_quiet = checkpoint is None or ever_ok is None
    window = incremental_window(
        high_water,
        run_start=now(),
        lookback=timedelta(seconds=settings.lookback_s),
        initial_since=settings.initial_since,
    )

    def save(session: Session, position: datetime, done: bool, _page: PageResult) -> None:
        row = session.get(SyncCheckpoint, INCREMENTAL)
        stamp = now()
        if row is None:
            session.add(
                SyncCheckpoint(
                    name=INCREMENTAL,
                    high_water=position,
                    window_to=None if done else window.end,
                    updated_at=stamp,
                )
            )
        else:
            row.high_water = advance_high_water(row.high_water, position)
            row.window_to = None if done else window.end
            row.updated_at = stamp

    summary = SyncSummary(window_from=rfc3339(window.start), window_to=rfc3339(window.end))
    pull_window(ctx, window, window.start, save, summary)
    with read_session(engine) as session:
        checkpoint = session.get(SyncCheckpoint, INCREMENTAL)
    summary.checkpoint = rfc3339(checkpoint.high_water) if checkpoint else ""
    return summary


def _push(
    runtime: Runtime, client: Any, now: Callable[[], datetime]
) -> tuple[dict[str, Any], list[str]]:
    from lapor_bridge.outbox import push_outbox, stuck_items

    result = push_outbox(
        runtime.engine, client, settings=runtime.settings, now_fn=now, worker="sync"
    )
    with read_session(runtime.engine) as session:
        stuck = stuck_items(session, now=now())
    return result.to_dict(), stuck


# --- run records -------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BridgeError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _start_run(engine: Engine, kind: str, at: datetime) -> int:
    with write_session(engine) as session:
        run = SyncRun(kind=kind, started_at=at)
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def _finish_run(
    engine: Engine,
    run_id: int,
    at: datetime,
    *,
    ok: bool,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with write_session(engine) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            run.finished_at, run.ok, run.summary, run.error = at, ok, summary, error


def last_runs(engine: Engine, kind: str, limit: int = 5) -> list[SyncRun]:
    with read_session(engine) as session:
        return list(
            session.scalars(
                select(SyncRun).where(SyncRun.kind == kind).order_by(SyncRun.id.desc()).limit(limit)
            )
        )
