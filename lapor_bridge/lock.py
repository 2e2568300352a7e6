"""One job of a kind at a time.

PostgreSQL (several hosts may share the work): a session-level
`pg_try_advisory_lock` held on a dedicated connection for the job's life.
SQLite (one host): a `filelock` next to the database file (or in
`LAPOR_BRIDGE_LOCK_DIR`). Either way a second job of the same kind fails at
once with LockHeld (exit status 75), which cron can ignore.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text

from lapor_bridge.errors import LockHeld


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(f"lapor-bridge:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_path(engine: Engine, name: str, lock_dir: Path | None) -> Path:
    database = engine.url.database
    if lock_dir is not None:
        base = lock_dir
        stem = hashlib.sha256(str(engine.url).encode()).hexdigest()[:12]
    elif database and database != ":memory:":
        db_path = Path(database).resolve()
        base, stem = db_path.parent, db_path.name
    else:
        base, stem = Path(tempfile.gettempdir()), "lapor-bridge-memory"
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
