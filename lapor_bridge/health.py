"""`lapor-bridge health`: is a person needed? For a monitoring check, and for
the admin alerts of lapor_bridge.notify (call `check_health`).

Each problem class has its own exit status; with several problems the
command exits with the most urgent one's (the order below) and prints one
line per problem:

| status | problem |
|---|---|
| 10 | no store, or it cannot be read |
| 11 | the store's schema is behind the code (`lapor-bridge db upgrade`, or the next sync) |
| 12 | no successful sync for `LAPOR_BRIDGE_STALE_AFTER_S` |
| 13 | outbox items dead or stuck |
| 14 | open quarantine |
| 15 | SLA working days beyond the `holidays` library's last year of cuti bersama |

Reading only: health never creates or migrates a store.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from lapor_bridge.config import Settings
    from lapor_bridge.runtime import Runtime

STORE, SCHEMA, STALE, OUTBOX, QUARANTINE, HOLIDAYS = (
    "store",
    "schema",
    "stale",
    "outbox",
    "quarantine",
    "holidays",
)
EXIT_STATUS = {STORE: 10, SCHEMA: 11, STALE: 12, OUTBOX: 13, QUARANTINE: 14, HOLIDAYS: 15}
HOLIDAYS_WARN_DAYS = 45  # say so this long before the year the library does not know


@dataclass(frozen=True)
class HealthProblem:
    code: str  # one of EXIT_STATUS
    message: str  # one line: what is wrong and what to do

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_status": self.exit_status}


def check_health(
    engine: Engine | None,
    settings: Settings,
    now: datetime,
    *,
    pending: list[dict[str, Any]] | None = None,
) -> list[HealthProblem]:
    """Every problem a person must look at, most urgent first (empty: all well).

    `engine` None means there is no store; `pending` are the runs kept beside
    the lock (lapor_bridge.job.pending_runs), which count as failures."""
    if engine is None:
        return [
            HealthProblem(
                STORE,
                f"no store at {settings.database_url.split('@')[-1]}: no sync has run yet "
                "(check LAPOR_BRIDGE_DATABASE_URL and that the cron job or timer runs)",
            ),
            *_holidays(settings, now),
        ]
    from lapor_bridge.job import store_is_current
    from lapor_bridge.store.errors import describe_db_error, is_db_error

    try:
        if not store_is_current(engine):
            return [
                HealthProblem(
                    SCHEMA,
                    "the store's schema is older than this bridge: run `lapor-bridge db upgrade` "
                    "(or let the next sync migrate it)",
                ),
                *_holidays(settings, now),
            ]
        return [*_store_problems(engine, settings, now, pending or []), *_holidays(settings, now)]
    except Exception as exc:
        if not is_db_error(exc):
            raise
        return [
            HealthProblem(STORE, f"cannot read the store: {describe_db_error(exc, url=engine.url)}")
        ]


def _store_problems(
    engine: Engine, settings: Settings, now: datetime, pending: list[dict[str, Any]]
) -> list[HealthProblem]:
    from sqlalchemy import func, select

    from lapor_bridge.outbox import stuck_items
    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import Quarantine, SyncRun, TindakLanjut
    from lapor_bridge.timeutil import human_time

    problems: list[HealthProblem] = []
    stale_after = timedelta(seconds=settings.stale_after_s)
    with read_session(engine) as session:
        last_ok = session.scalar(
            select(func.max(SyncRun.finished_at)).where(
                SyncRun.kind == "sync", SyncRun.ok.is_(True)
            )
        )
        last = session.scalars(
            select(SyncRun)
            .where(SyncRun.kind == "sync", SyncRun.outcome.is_not(None))
            .order_by(SyncRun.started_at.desc())
        ).first()
        last_error = last.error if last is not None and not last.ok else None
        for record in pending:
            if record.get("kind") == "sync" and record.get("error"):
                last_error = record["error"]
        if last_ok is None or now - last_ok > stale_after:
            since = f"since {human_time(last_ok)}" if last_ok else "ever"
            why = f"; last error: {last_error}" if last_error else ""
            problems.append(
                HealthProblem(
                    STALE,
                    f"no successful sync {since} (more than {stale_after.total_seconds() / 60:g} "
                    f"min){why}",
                )
            )
        dead = session.scalar(
            select(func.count()).select_from(TindakLanjut).where(TindakLanjut.state == "dead")
        )
        stuck = stuck_items(session, now=now)
        if stuck:
            problems.append(
                HealthProblem(
                    OUTBOX,
                    f"{len(stuck)} outbox item(s) need a person ({dead or 0} dead): "
                    "see `lapor-bridge status` or `lapor-bridge outbox`",
                )
            )
        quarantined = session.scalar(
            select(func.count()).select_from(Quarantine).where(Quarantine.resolved_at.is_(None))
        )
        if quarantined:
            problems.append(
                HealthProblem(
                    QUARANTINE,
                    f"{quarantined} quarantined record(s) from LAPOR! are open: see "
                    "`lapor-bridge status` and ask the API operator about them",
                )
            )
    return problems


def _holidays(settings: Settings, now: datetime) -> list[HealthProblem]:
    """Working-day clocks need the year's cuti bersama: the library learns them by decree."""
    from importlib.metadata import version

    import holidays

    local = now.astimezone(settings.zone).date()
    years = {local.year}
    if (local.replace(month=12, day=31) - local).days < HOLIDAYS_WARN_DAYS:
        years.add(local.year + 1)
    unknown = [
        y
        for y in sorted(years)
        if not holidays.country_holidays("ID", years=y, categories=("government",))
    ]
    if not unknown:
        return []
    return [
        HealthProblem(
            HOLIDAYS,
            f"the holidays library ({version('holidays')}) has no cuti bersama for "
            f"{', '.join(map(str, unknown))}: working-day SLA clocks would count them as working "
            "days. Upgrade it (pip install -U holidays) and run `lapor-bridge sla recompute`",
        )
    ]


def show_health(rt: Runtime, *, fmt: str = "text", now: datetime | None = None) -> int:
    """`lapor-bridge health`: one line per problem; returns the exit status."""
    from lapor_bridge.job import existing_store, pending_runs, refusal_log
    from lapor_bridge.store.db import create_store_engine
    from lapor_bridge.timeutil import utcnow

    settings = rt.settings
    now = now or utcnow()
    engine = existing_store(settings.database_url)
    pending = pending_runs(
        refusal_log(create_store_engine(settings.database_url), settings.lock_dir)
    )
    problems = check_health(engine, settings, now, pending=pending)
    if fmt == "json":
        print(json.dumps({"ok": not problems, "problems": [p.to_dict() for p in problems]}))
    elif problems:
        for p in problems:
            print(f"{p.code}: {p.message}")
    else:
        print("ok")
    return problems[0].exit_status if problems else 0
