"""One job of a kind at a time, and one migration at a time.

PostgreSQL (several hosts may share the work): a session-level
`pg_try_advisory_lock` held on a dedicated connection for the job's life.
SQLite (one host): a `filelock` next to the database file (or in
`LAPOR_BRIDGE_LOCK_DIR`). Either way a second job of the same kind fails at
once with LockHeld (exit status 75), which cron can ignore.

The job lock needs no schema: lapor_bridge.job takes it before the store is
migrated and before any request upstream. Migrations then run under
`schema_lock`, which waits (bounded) instead of failing, so that a `push`
and a `sync` started together on a new store migrate it once, one after the
other.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text

from lapor_bridge.errors import BridgeError, LockHeld

SCHEMA_LOCK_WAIT_S = 120.0


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(f"lapor-bridge:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def state_dir(engine: Engine, lock_dir: Path | None) -> tuple[Path, str]:
    """(folder, file stem) of the store's lock files and refusal log.

    `LAPOR_BRIDGE_LOCK_DIR` when set; next to a SQLite file; otherwise (a
    PostgreSQL store) `$XDG_STATE_HOME/lapor-bridge` or `~/.local/state/lapor-bridge`.
    """
    database = engine.url.database
    if lock_dir is not None:
        stem = hashlib.sha256(str(engine.url).encode()).hexdigest()[:12]
        return lock_dir, stem
    if engine.dialect.name == "sqlite":
        if database and database != ":memory:":
            db_path = Path(database).resolve()
            return db_path.parent, db_path.name
        return Path(tempfile.gettempdir()), "lapor-bridge-memory"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    stem = hashlib.sha256(str(engine.url).encode()).hexdigest()[:12]
    return Path(state) / "lapor-bridge", stem


def _lock_path(engine: Engine, name: str, lock_dir: Path | None) -> Path:
    base, stem = state_dir(engine, lock_dir)
    base.mkdir(parents=True, exist_ok=True)
    return base / f"{stem}.{name}.lock"


@contextmanager
def job_lock(engine: Engine, name: str, *, lock_dir: Path | None = None) -> Iterator[None]:
    """Hold the `name` lock for the block, or raise LockHeld at once."""
    held = LockHeld(
        f"another '{name}' job is running on this database; this run did nothing "
        "(cron: the next slot will try again)"
    )
    if engine.dialect.name == "postgresql":
        key = _advisory_key(name)
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise held
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    lock = FileLock(_lock_path(engine, name, lock_dir), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise held from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def schema_lock(
    engine: Engine, *, lock_dir: Path | None = None, wait_s: float = SCHEMA_LOCK_WAIT_S
) -> Iterator[None]:
    """Hold the migration lock for the block, waiting at most `wait_s` for it."""
    late = BridgeError(
        f"another process kept the store's migration lock for {wait_s:g} s; "
        "is a `lapor-bridge db upgrade` still running? Run again when it is done"
    )
    if engine.dialect.name == "postgresql":
        key = _advisory_key("schema")
        with engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = '{int(wait_s * 1000)}ms'"))
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            except Exception as exc:  # lock_timeout: LockNotAvailable
                if getattr(getattr(exc, "orig", None), "sqlstate", None) == "55P03":
                    raise late from None
                raise
            conn.execute(text("SET lock_timeout = 0"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    lock = FileLock(_lock_path(engine, "schema", lock_dir), timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        raise late from None
    try:
        yield
    finally:
        lock.release()
