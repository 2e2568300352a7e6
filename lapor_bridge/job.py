"""The job lifecycle: what every run of sync, backfill, push, remap (and
notify) goes through, in this order, whatever ends it.

    settings checks -> job lock -> prechecks -> open and migrate the store
    -> run record -> work -> run outcome -> metrics

- The **job lock** comes before any request upstream and before the store
  is migrated, so ten `sync` started at once on a new store end with one
  migrating and working and nine exiting with the lock status (75) at once.
  A run refused by the lock did nothing and is not recorded: the holder's
  run is the record.
- **Every other run is recorded** in `sync_run` with its outcome: `ok`,
  `partial` (done, but items died or records were quarantined: exit 6),
  `failed`, `refused` (settings, paths or mapping files: nothing was
  done) or `interrupted` (SIGTERM/SIGINT: the current page or item was
  finished first). A run refused before the store could be opened is
  appended to a small JSON-lines file beside the lock and folded into the
  store by the next run that opens it; `status` and the metrics file read
  that file too, so a refusal is visible at once.
- **Errors carry no data**: the stored error is one line built by
  lapor_bridge.store.errors for database errors, the message of a
  BridgeError, and only the class name of anything else.

Adopting it is one `with`:

    with start_job(runtime, "notify", precheck=...) as job:
        ...work, calling check_stop() between items...
        job.summary = {...}
        if something_died:
            job.mark_partial("2 messages dead")
    sys.exit(job.exit_status)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lapor_bridge.errors import BridgeError, ConfigError, LockHeld
from lapor_bridge.timeutil import to_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from lapor_bridge.config import Settings
    from lapor_bridge.runtime import Runtime

log = logging.getLogger("lapor_bridge.job")

OK, PARTIAL, FAILED, REFUSED, INTERRUPTED = "ok", "partial", "failed", "refused", "interrupted"
OUTCOMES = (OK, PARTIAL, FAILED, REFUSED, INTERRUPTED)
EXIT_PARTIAL = 6
"""Exit status of a run that did its work but in which items died or records were
quarantined: a person should look (`status`), the next run goes on regardless."""


class Interrupted(BridgeError):
    """SIGTERM or SIGINT: the run stopped after finishing its current page or item."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} after finishing the current page or item; "
            "the next run continues where this one stopped"
        )
        self.exit_code = 128 + signum


# --- graceful stop -------------------------------------------------------------


class _StopFlag:
    def __init__(self) -> None:
        self.signum: int | None = None

    def request(self, signum: int) -> None:
        self.signum = signum

    def clear(self) -> None:
        self.signum = None


STOP = _StopFlag()


def stop_requested() -> bool:
    """A SIGTERM/SIGINT arrived: finish the current page or item, then stop."""
    return STOP.signum is not None


def check_stop() -> None:
    """Raise Interrupted when a stop was requested (call between pages or items)."""
    if STOP.signum is not None:
        raise Interrupted(STOP.signum)


@contextmanager
def graceful_stop() -> Iterator[None]:
    """SIGTERM/SIGINT set the stop flag instead of killing the run; a second
    SIGINT (Ctrl-C twice) stops at once. Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if STOP.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        STOP.request(signum)
        log.warning("%s received: finishing the current page or item", signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    STOP.clear()
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# --- the refusal log beside the lock ------------------------------------------------


def refusal_log(engine: Engine, lock_dir: Path | None) -> Path:
    from lapor_bridge.lock import state_dir

    base, stem = state_dir(engine, lock_dir)
    return base / f"{stem}.runs.jsonl"


def _stamp(value: datetime) -> str:
    """Times in the kept-runs file: full precision (they become store values)."""
    return to_utc(value).isoformat()


def _append(path: Path, record: dict[str, Any]) -> None:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=10), path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())


def pending_runs(path: Path | None) -> list[dict[str, Any]]:
    """Runs recorded beside the lock and not yet folded into the store."""
    if path is None or not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("kind"):
                records.append(record)
    return records


def fold_pending_runs(engine: Engine, path: Path) -> int:
    """Move the runs kept beside the lock into `sync_run` (idempotent), then
    empty the file. Returns how many were added or completed."""
    from filelock import FileLock

    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import SyncRun
    from lapor_bridge.timeutil import parse_upstream_time

    if not path.is_file():
        return 0
    with FileLock(str(path) + ".lock", timeout=10):
        records = pending_runs(path)
        folded = 0
        with write_session(engine) as session:
            for r in records:
                started = parse_upstream_time(r["started_at"])
                finished = parse_upstream_time(r["finished_at"]) if r.get("finished_at") else None
                values = {
                    "finished_at": finished,
                    "ok": r.get("outcome") in (OK, PARTIAL),
                    "outcome": r.get("outcome"),
                    "exit_status": r.get("exit_status"),
                    "host": r.get("host"),
                    "error": r.get("error"),
                    "summary": r.get("summary"),
                }
                row = session.get(SyncRun, r["run_id"]) if r.get("run_id") else None
                if row is None:
                    row = session.scalars(
                        _select(SyncRun).where(
                            SyncRun.kind == r["kind"], SyncRun.started_at == started
                        )
                    ).first()
                if row is None:
                    session.add(SyncRun(kind=r["kind"], started_at=started, **values))
                    folded += 1
                elif row.outcome is None:
                    for key, value in values.items():
                        setattr(row, key, value)
                    folded += 1
        path.write_text("", encoding="utf-8")
    return folded


def _select(*args: Any) -> Any:
    from sqlalchemy import select

    return select(*args)


# --- checks before the run ---------------------------------------------------------


def check_writable_paths(settings: Settings, engine: Engine) -> None:
    """The metrics file, the lock folder (SQLite) and the refusal log must be
    writable: one line naming the path, before anything else happens."""
    from lapor_bridge.lock import state_dir

    base, _ = state_dir(engine, settings.lock_dir)
    paths: list[tuple[str, Path]] = [("lock folder (LAPOR_BRIDGE_LOCK_DIR)", base)]
    if settings.metrics_file is not None:
        paths.append(("metrics file (LAPOR_BRIDGE_METRICS_FILE)", settings.metrics_file))
    for what, path in paths:
        problem = unwritable(path, directory=path is base)
        if problem:
            raise ConfigError(f"{what} {path}: {problem}")


def unwritable(path: Path, *, directory: bool = False) -> str | None:
    """Why `path` (a file, or a folder) cannot be written, or None."""
    folder = path if directory else path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {existing} is not writable by this user"
    if not directory and path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
        return "is a folder" if path.is_dir() else "is not writable by this user"
    return None


# --- the job ---------------------------------------------------------------------


@dataclass
class Job:
    """A running job: its run record id, and what ends up in it."""

    kind: str
    runtime: Runtime
    run_id: int
    started_at: datetime
    now: Callable[[], datetime]
    outcome: str = OK
    partial_reasons: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    error: str | None = None
    exit_status: int = 0
    prepared: Any = None  # what `precheck` returned (checked before the store was opened)

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def mark_partial(self, reason: str) -> None:
        """The run did its work, but something needs a person (exit 6)."""
        self.partial_reasons.append(reason)


def describe_error(exc: BaseException, *, url: Any = None) -> str:
    """One line for the run record and stderr: never parameters or report text."""
    from lapor_bridge.store.errors import describe_db_error, is_db_error

    if isinstance(exc, BridgeError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by SIGINT at once (Ctrl-C twice); the next run continues"
    if is_db_error(exc):
        return describe_db_error(exc, url=url)
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        if exc.errno == errno.ENOSPC:
            return f"disk full: free space for {exc.filename or 'the bridge files'}, then run again"
        return f"{type(exc).__name__} (errno {exc.errno}) on {exc.filename or 'a file'}"
    return f"unexpected {type(exc).__name__}; run again with -vvv for the traceback"


def _outcome_of(exc: BaseException) -> tuple[str, int]:
    from lapor_bridge.errors import MappingInvalid

    if isinstance(exc, Interrupted):
        return INTERRUPTED, exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, 130
    if isinstance(exc, ConfigError | MappingInvalid):
        return REFUSED, exc.exit_code
    if isinstance(exc, BridgeError):
        return FAILED, exc.exit_code
    return FAILED, 1


@contextmanager
def start_job(
    runtime: Runtime,
    kind: str,
    *,
    precheck: Callable[[], Any] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Iterator[Job]:
    """Run the block as job `kind` (see the module docstring). Database errors
    leave it as StoreError (one line); the run is recorded either way."""
    from lapor_bridge.lock import job_lock
    from lapor_bridge.store.db import create_store_engine

    settings = runtime.settings
    started = now()
    # the runtime's engine when it has one already (tests, the demo), else a new one:
    # creating it makes no connection
    engine = runtime.__dict__.get("engine") or create_store_engine(settings.database_url)
    clock = time.monotonic()  # started up: from here to the lock is what LockHeld costs
    pending = refusal_log(engine, settings.lock_dir)
    context = _log_context(kind, None)
    with graceful_stop(), context:
        try:
            check_writable_paths(settings, engine)
            lock = job_lock(engine, kind, lock_dir=settings.lock_dir)
            lock.__enter__()
        except LockHeld:
            log.info(
                "lock held: another %s job is running; nothing done",
                kind,
                extra={"after_s": round(time.monotonic() - clock, 3)},
            )
            raise
        except BaseException as exc:
            _refused_outside(runtime, pending, kind, started, exc, now)
            raise _public(exc, engine) from None
        try:
            try:
                prepared = precheck() if precheck is not None else None
                _open_store(runtime, engine)
            except BaseException as exc:
                _refused_outside(runtime, pending, kind, started, exc, now)
                raise _public(exc, engine) from None
            with suppress(Exception):
                fold_pending_runs(engine, pending)
            run_id = _insert_run(engine, kind, started)
            job = Job(kind=kind, runtime=runtime, run_id=run_id, started_at=started, now=now)
            job.prepared = prepared
            _set_run_id(run_id)
            log.info("job started")
            try:
                yield job
                if stop_requested():  # the work returned early on a stop request
                    check_stop()
            except BaseException as exc:
                job.outcome, job.exit_status = _outcome_of(exc)
                job.error = describe_error(exc, url=engine.url)
                _finish(job, pending)
                raise _public(exc, engine) from None
            if job.partial_reasons:
                job.outcome, job.exit_status = PARTIAL, EXIT_PARTIAL
                job.error = "; ".join(job.partial_reasons)
            _finish(job, pending)
        finally:
            lock.__exit__(None, None, None)


def _public(exc: BaseException, engine: Engine) -> BaseException:
    """What leaves the lifecycle: database errors as one-line StoreError."""
    from lapor_bridge.store.errors import StoreError, is_db_error

    if is_db_error(exc):
        return StoreError(describe_error(exc, url=engine.url))
    return exc


def _open_store(runtime: Runtime, engine: Engine) -> None:
    """Migrate under the schema lock (the job lock is held) and hand the engine over."""
    from lapor_bridge.lock import schema_lock
    from lapor_bridge.store.db import bind_identity, migrate

    settings = runtime.settings
    with schema_lock(engine, lock_dir=settings.lock_dir):
        migrate(engine)
    bind_identity(engine, instansi_id=settings.instansi_id, api_url=settings.api_url)
    runtime.__dict__["engine"] = engine  # Runtime.engine is a cached_property


def _insert_run(engine: Engine, kind: str, started: datetime) -> int:
    """The run's record; runs of this kind left unfinished are dead (we hold the lock)."""
    from sqlalchemy import update

    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import SyncRun

    with write_session(engine) as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.kind == kind, SyncRun.outcome.is_(None), SyncRun.finished_at.is_(None))
            .values(
                outcome=FAILED,
                ok=False,
                error="the process ended without recording its outcome (killed or crashed)",
            )
        )
        run = SyncRun(kind=kind, started_at=started, host=socket.gethostname())
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def _record(job: Job) -> dict[str, Any]:
    return {
        "run_id": job.run_id,
        "kind": job.kind,
        "started_at": _stamp(job.started_at),
        "finished_at": _stamp(job.now()),
        "outcome": job.outcome,
        "exit_status": job.exit_status,
        "host": socket.gethostname(),
        "error": job.error,
        "summary": job.summary,
    }


def _finish(job: Job, pending: Path) -> None:
    """Write the outcome into the run record (or beside the lock if the store
    refuses, e.g. a full disk), then the metrics file. Never raises."""
    from lapor_bridge.store import write_session
    from lapor_bridge.store.tables import SyncRun

    finished = job.now()
    stored = False
    try:
        with write_session(job.engine) as session:
            run = session.get(SyncRun, job.run_id)
            if run is not None:
                run.finished_at, run.outcome = finished, job.outcome
                run.ok = job.outcome in (OK, PARTIAL)
                run.exit_status, run.error, run.summary = job.exit_status, job.error, job.summary
        stored = True
    except Exception as exc:
        log.error(
            "could not record the run in the store (%s); kept beside the lock",
            describe_error(exc, url=job.engine.url),
        )
        with suppress(OSError):
            _append(pending, _record(job))
    seconds = (to_utc(finished) - to_utc(job.started_at)).total_seconds()
    log.info(
        "job finished",
        extra={
            "outcome": job.outcome,
            "exit_status": job.exit_status,
            "duration_s": round(seconds, 3),
        },
    )
    _write_metrics(job.runtime.settings, job.engine, pending)
    # a store that just refused the run's record is not asked again (it may hang)
    engine = job.engine if stored else None
    _after_sync(job.kind, job.outcome, job.runtime.settings, engine, pending, job.now)


def _after_sync(
    kind: str,
    outcome: str,
    settings: Settings,
    engine: Engine | None,
    pending: Path,
    now: Callable[[], datetime],
) -> None:
    """A sync run, whatever its outcome: admins hear of a stale sync (and of its
    end) from the sync itself (lapor_bridge.notify.stale; never raises)."""
    if kind != "sync" or outcome == INTERRUPTED or stop_requested():
        return
    from lapor_bridge.notify.stale import after_sync_run

    after_sync_run(settings, engine, outcome=outcome, now=now, pending=pending)


def _write_metrics(settings: Settings, engine: Engine | None, pending: Path | None) -> None:
    if settings.metrics_file is None or unwritable(settings.metrics_file):
        return  # an unwritable metrics file refuses the run (check_writable_paths) and says so
    from lapor_bridge.metrics import write_metrics  # prometheus_client: only when written

    try:
        write_metrics(engine, settings.metrics_file, pending=pending_runs(pending))
    except Exception as exc:
        log.error(
            "could not write the metrics file %s: %s", settings.metrics_file, describe_error(exc)
        )


def _refused_outside(
    runtime: Runtime,
    pending: Path,
    kind: str,
    started: datetime,
    exc: BaseException,
    now: Callable[[], datetime],
) -> None:
    """A run that ended before its run record existed: kept beside the lock."""
    outcome, status = _outcome_of(exc)
    record = {
        "kind": kind,
        "started_at": _stamp(started),
        "finished_at": _stamp(now()),
        "outcome": outcome,
        "exit_status": status,
        "host": socket.gethostname(),
        "error": describe_error(exc),
    }
    try:
        _append(pending, record)
    except OSError as err:
        log.error("could not keep the refused run in %s: %s", pending, describe_error(err))
        return
    settings = runtime.settings
    engine = None
    with suppress(Exception):
        engine = existing_store(settings.database_url)
        if engine is not None and not store_is_current(engine):
            engine = None
    _write_metrics(settings, engine, pending)
    _after_sync(kind, outcome, settings, engine, pending, now)


def existing_store(url: str) -> Engine | None:
    """An engine on the store if it exists (never creates a SQLite file), else None."""
    from sqlalchemy import inspect

    from lapor_bridge.store.db import create_store_engine

    engine = create_store_engine(url)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or not Path(database).is_file():
            return None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("sync_run"):
                return None
    except Exception:
        return None
    return engine


def store_is_current(engine: Engine) -> bool:
    """The store's schema is the code's newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from lapor_bridge.store.db import _alembic_config

    heads = set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads


# --- log context -----------------------------------------------------------------


@contextmanager
def _log_context(kind: str, run_id: int | None) -> Iterator[None]:
    from lapor_bridge import logs

    token = logs.JOB.set({"job": kind, "run_id": run_id})
    try:
        yield
    finally:
        logs.JOB.reset(token)


def _set_run_id(run_id: int) -> None:
    from lapor_bridge import logs

    current = dict(logs.JOB.get() or {})
    current["run_id"] = run_id
    logs.JOB.set(current)


def exit_status(outcome: str | None) -> int:
    """0 for ok, EXIT_PARTIAL for partial (what the CLI exits with after a finished run)."""
    return EXIT_PARTIAL if outcome == PARTIAL else 0
