"""The sync engine: pull changed reports page by page, map them, clock them,
then push the outbox.

A page flows one way: ingest stores what the pull saw, the outbox settles
echoes of its own answers among it, mapping assigns, SLA clocks.

Each page is one transaction: the page's reports, their assignment, their
SLA clocks and the checkpoint that covers them are committed together, so a
crash at any line loses nothing and the next run repeats at most one page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from lapor_bridge.errors import CursorExpired, UpstreamError
from lapor_bridge.job import check_stop, start_job
from lapor_bridge.mapping import Mapping, load_mapping
from lapor_bridge.notify import record_events
from lapor_bridge.notify.escalation import load_escalation
from lapor_bridge.outbox.echoes import reconcile_echoes
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla import SlaPolicies, default_policies, refresh_clocks
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import ReportRow, SyncCheckpoint, SyncRun
from lapor_bridge.sync.ingest import (
    PageResult,
    mark_echoes,
    parse_topics,
    store_page,
    store_topics,
)
from lapor_bridge.sync.window import (
    CursorGuard,
    Window,
    advance_high_water,
    checkpoint_ahead,
    incremental_window,
    position_after_page,
    safe_restart_point,
    window_end,
)
from lapor_bridge.timeutil import human_time, parse_upstream_time, rfc3339, utcnow

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
    checkpoint_repair: str | None = None  # a checkpoint found ahead of now, and how it was repaired
    topics: int = 0
    push: dict[str, Any] | None = None
    stuck: list[str] = field(default_factory=list)
    run_id: int | None = None
    outcome: str = "ok"  # ok | partial (lapor_bridge.job)
    quarantine_open: int = 0  # records in quarantine not yet settled (any run's)
    notify: dict[str, Any] | None = None


def record_page(
    session: Session,
    records: list[Any],
    *,
    instansi_id: int,
    mapping: Mapping,
    policies: SlaPolicies,
    now: datetime,
    texts: Sequence[str] | None = None,
) -> PageResult:
    """One listing page through the data path, in the caller's transaction:
    store what the pull saw (`texts`: the records' JSON as received, see
    `store_page`), let the outbox settle echoes of its own answers, assign
    the stored reports, refresh their clocks."""
    result = store_page(session, records, instansi_id=instansi_id, now=now, texts=texts)
    if result.referenced:
        mark_echoes(session, reconcile_echoes(session, result.referenced, now=now))
    if result.tracking_ids:
        from lapor_bridge.mapping.apply import assign_reports  # the routing: when reports came

        assign_reports(session, mapping, result.tracking_ids, actor="sync", now=now)
        refresh_clocks(session, result.tracking_ids, now=now, policies=policies)
    return result


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
    guard = CursorGuard(ctx.page_limit)
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
            restart_position, cursor, guard = position, None, CursorGuard(ctx.page_limit)
            continue
        done = page.next_cursor is None
        now = ctx.now()
        with write_session(ctx.engine) as session:
            result = record_page(
                session,
                page.data,
                instansi_id=ctx.instansi_id,
                mapping=ctx.mapping,
                policies=ctx.policies,
                now=now,
                texts=getattr(page, "texts", None),
            )
            if result.tracking_ids:
                record_events(
                    session,
                    now=now,
                    mapping=ctx.mapping,
                    tracking_ids=result.tracking_ids,
                    quiet=ctx.notify_quiet,
                )
            position = (
                window.end
                if done
                else position_after_page(position, result.last_updated_at, window.end)
            )
            save(session, position, done, result)
        counts.add_page(result)
        if ctx.on_page is not None:
            ctx.on_page(result)
        if done:
            return
        check_stop()  # SIGTERM/SIGINT: the page is committed, stop here
        guard.check(page.next_cursor, position)
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


def prepare_pull(
    runtime: Runtime, stack: ExitStack
) -> tuple[Any, list, list, Mapping, SlaPolicies]:
    """What can refuse a pull (sync or backfill), before the store is touched:
    the client (closed with `stack`), the topic tree, and the rules checked
    against it."""
    client = stack.enter_context(runtime.client())
    topics, bad_topics = parse_topics(client.list_topics())
    mapping, policies = load_rules(runtime, {t.id: t.parent for t in topics})
    return client, topics, bad_topics, mapping, policies


def run_sync(
    runtime: Runtime, *, push: bool = True, now: Callable[[], datetime] = utcnow
) -> SyncSummary:
    """`lapor-bridge sync`: one incremental pull, then the push of the outbox.

    Runs as a job (lapor_bridge.job): the lock comes before any request;
    the topic tree is read and the mapping checked before the store is
    opened, so a run refused by them (or by an unreachable server) creates
    nothing and is kept beside the lock. Records quarantined or outbox
    items dead in this run make its outcome `partial`.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        prepare = partial(prepare_pull, runtime, stack)
        with start_job(runtime, "sync", precheck=prepare, now=now) as job:
            client, topics, bad_topics, mapping, policies = job.prepared
            settings, engine = runtime.settings, runtime.engine
            with write_session(engine) as session:
                store_topics(session, topics, bad_topics, now=now())
            ctx = PullContext(
                engine, client, runtime.instansi_id, mapping, policies, settings.page_limit, now=now
            )
            summary = _pull(runtime, ctx)
            summary.topics = len(topics)
            if push:
                check_stop()
                summary.push, summary.stuck = _push(runtime, client, now)
            from lapor_bridge.notify.service import notify_after_sync

            summary.notify = notify_after_sync(engine, mapping, settings, now)
            summary.quarantine_open = _open_quarantine(engine)
            summary.requests = client.requests_made
            summary.duration_s = round(time.monotonic() - started, 3)
            summary.run_id = job.run_id
            if summary.quarantined:
                job.mark_partial(f"{summary.quarantined} record(s) quarantined (see status)")
            if summary.push and summary.push.get("dead"):
                job.mark_partial(f"{summary.push['dead']} outbox item(s) died (see status)")
            job.summary = summary.to_dict()
        summary.outcome = job.outcome
        return summary


def _pull(runtime: Runtime, ctx: PullContext) -> SyncSummary:
    settings = runtime.settings
    engine = runtime.engine
    now = ctx.now
    lookback = timedelta(seconds=settings.lookback_s)
    upstream_now = getattr(ctx.client, "upstream_now", lambda: None)()
    with read_session(engine) as session:
        checkpoint = session.get(SyncCheckpoint, (ctx.instansi_id, INCREMENTAL))
        high_water = checkpoint.high_water if checkpoint else None
        # the first sync of a new store (also when resumed after a crash): summaries only
        ever_ok = session.scalar(
            select(SyncRun.id).where(SyncRun.kind == "sync", SyncRun.ok.is_(True)).limit(1)
        )
    ctx.notify_quiet = checkpoint is None or ever_ok is None
    end = window_end(now(), upstream_now)
    repair: str | None = None
    if checkpoint_ahead(high_water, end):
        assert high_water is not None
        safe = safe_restart_point(newest_stored_update(engine, end), end, settings.initial_since)
        repair = (
            f"the checkpoint {rfc3339(high_water)} was ahead of the current time {rfc3339(end)} "
            "(a clock that stepped, or a store written under a wrong clock); re-reading from "
            f"{rfc3339(safe - lookback)}, the newest change stored minus the look-back"
        )
        log.warning("%s", repair)
        with write_session(engine) as session:
            row = session.get(SyncCheckpoint, (ctx.instansi_id, INCREMENTAL))
            assert row is not None
            row.high_water, row.window_to, row.updated_at = safe, None, now()
        high_water = safe
    window = incremental_window(
        high_water,
        run_start=now(),
        lookback=lookback,
        initial_since=settings.initial_since,
        upstream_now=upstream_now,
    )

    def save(session: Session, position: datetime, done: bool, _page: PageResult) -> None:
        row = session.get(SyncCheckpoint, (ctx.instansi_id, INCREMENTAL))
        stamp = now()
        if row is None:
            session.add(
                SyncCheckpoint(
                    instansi_id=ctx.instansi_id,
                    name=INCREMENTAL,
                    high_water=min(position, window.end),
                    window_to=None if done else window.end,
                    updated_at=stamp,
                )
            )
        else:
            row.high_water = advance_high_water(row.high_water, position, window.end)
            row.window_to = None if done else window.end
            row.updated_at = stamp

    summary = SyncSummary(window_from=rfc3339(window.start), window_to=rfc3339(window.end))
    summary.checkpoint_repair = repair
    pull_window(ctx, window, window.start, save, summary)
    with read_session(engine) as session:
        checkpoint = session.get(SyncCheckpoint, (ctx.instansi_id, INCREMENTAL))
    summary.checkpoint = rfc3339(checkpoint.high_water) if checkpoint else ""
    return summary


def newest_stored_update(engine: Engine, until: datetime) -> datetime | None:
    """The newest `updated_at` stored up to `until`: the listing is read in order,
    so every change before it was read."""
    with read_session(engine) as session:
        return session.scalar(
            select(func.max(ReportRow.updated_at)).where(ReportRow.updated_at <= until)
        )


def _push(
    runtime: Runtime, client: Any, now: Callable[[], datetime]
) -> tuple[dict[str, Any], list[str]]:
    from lapor_bridge.outbox import push_outbox, stuck_items

    result = push_outbox(
        runtime.engine,
        client,
        settings=runtime.settings,
        now_fn=now,
        worker="sync",
        instansi_id=runtime.instansi_id,
    )
    with read_session(runtime.engine) as session:
        stuck = stuck_items(session, now=now())
    return result.to_dict(), stuck


def _open_quarantine(engine: Engine) -> int:
    from sqlalchemy import func

    from lapor_bridge.store.tables import Quarantine

    with read_session(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Quarantine).where(Quarantine.resolved_at.is_(None))
            )
            or 0
        )


# --- run records (written by lapor_bridge.job) ------------------------------


def last_runs(engine: Engine, kind: str, limit: int = 5) -> list[SyncRun]:
    with read_session(engine) as session:
        return list(
            session.scalars(
                select(SyncRun).where(SyncRun.kind == kind).order_by(SyncRun.id.desc()).limit(limit)
            )
        )


# --- text output -------------------------------------------------------------


def format_sync(s: SyncSummary) -> str:
    """The one summary line of `sync` (times in WIB)."""
    start, end = (human_time(parse_upstream_time(t)) for t in (s.window_from, s.window_to))
    line = (
        f"sync {start} .. {end}: fetched {s.fetched} (new {s.inserted}, updated {s.updated}, "
        f"unchanged {s.unchanged}, quarantined {s.quarantined}) in {s.pages} pages, "
        f"{s.requests} requests, {s.duration_s} s"
    )
    if s.push:
        p = s.push
        line += (
            f"; push: {p.get('delivered', 0)} delivered, {p.get('failed', 0)} to retry, "
            f"{p.get('dead', 0)} dead, {p.get('due_left', 0)} still due"
        )
        if p.get("stopped"):
            line += f" (stopped: {p['stopped']})"
    if s.notify:
        line += "; notify: " + ", ".join(f"{k} {v}" for k, v in s.notify.items())
    if s.outcome != "ok":
        line += f" [{s.outcome}]"
    return line
