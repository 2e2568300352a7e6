"""A store that knows itself: what is at a database URL, and whom a store serves.

Before anything is written, the database at LAPOR_BRIDGE_DATABASE_URL is looked
at (a SQLite file read-only, through its own connection, so nothing is changed,
not even its journal mode) and refused in one line when it is:

- not a database at all, or damaged (a SQLite file that does not open);
- not a lapor-bridge store (tables of something else, or another Alembic history);
- a lapor-bridge store written by a newer bridge (a schema revision this code
  does not know): running older code on it could corrupt it.

A store records the instansi and the API it serves (`store_meta`), the first
time a command that talks to LAPOR! opens it, and refuses another afterwards:
two regencies on one store would share checkpoints and push each other's
follow-ups to the wrong server.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from lapor_bridge.errors import ConfigError
from lapor_bridge.store.tables import StoreMeta, SyncCheckpoint
from lapor_bridge.timeutil import utcnow

UNBOUND = 0  # checkpoints from before the store knew its instansi (migration 0002)
OUR_TABLES = frozenset({"store_meta", "report", "sync_checkpoint", "tindak_lanjut"})


@dataclass(frozen=True)
class StoreState:
    """What is at a database URL, as far as it matters before migrating."""

    exists: bool  # False: a SQLite file not created yet, or an empty database
    revision: str | None  # alembic_version, None when there is none
    tables: frozenset[str]


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def inspect_store(engine: Engine) -> StoreState:
    """The state of the database behind `engine`, without changing anything."""
    if engine.dialect.name == "sqlite":
        return _inspect_sqlite(engine)
    try:
        with engine.connect() as conn:
            tables = frozenset(inspect(conn).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        raise ConfigError(
            f"cannot open the database {_where(engine)}: {type(exc.orig).__name__}; "
            "check LAPOR_BRIDGE_DATABASE_URL and that the server is up."
        ) from None
    return StoreState(bool(tables), revision, tables)


def _inspect_sqlite(engine: Engine) -> StoreState:
    database = engine.url.database or ""
    path = Path(database)
    if database in ("", ":memory:") or not path.exists() or path.stat().st_size == 0:
        return StoreState(False, None, frozenset())
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = frozenset(
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path} is not a SQLite database or is damaged ({exc}); nothing was changed. "
            "Restore it from a backup, or point LAPOR_BRIDGE_DATABASE_URL at another file."
        ) from None
    return StoreState(bool(tables), revision, tables)


def check_store(engine: Engine, known_revisions: set[str], head: str | None) -> StoreState:
    """Refuse, in one line and before anything is written, a database that is not a
    lapor-bridge store or a store newer than this code. Returns its state."""
    state = inspect_store(engine)
    where = _where(engine)
    if state.revision is None and state.tables - {"alembic_version"}:
        shown = ", ".join(sorted(state.tables)[:3])
        raise ConfigError(
            f"{where} holds tables that are not a lapor-bridge store ({shown}, ...); nothing "
            "was changed. Point LAPOR_BRIDGE_DATABASE_URL at an empty database or a lapor-bridge store."
        )
    if state.revision is not None and state.revision not in known_revisions:
        if state.tables & OUR_TABLES:
            raise ConfigError(
                f"the store {where} was written by a newer lapor-bridge (schema {state.revision}; "
                f"this one knows up to {head}); nothing was changed. Upgrade lapor-bridge."
            )
        raise ConfigError(
            f"{where} is managed by another application (Alembic revision {state.revision}); "
            "nothing was changed. Point LAPOR_BRIDGE_DATABASE_URL at a lapor-bridge store."
        )
    return state


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def bind_store(
    session: Session, *, instansi_id: int, api_url: str, now: datetime | None = None
) -> None:
    """Record the instansi and API this store serves, the first time; refuse another."""
    meta = session.get(StoreMeta, 1)
    now = now or utcnow()
    if meta is None:
        meta = StoreMeta(id=1, created_at=now)
        session.add(meta)
    if meta.instansi_id is None:
        meta.instansi_id, meta.api_url, meta.bound_at = instansi_id, api_url.rstrip("/"), now
        session.execute(
            update(SyncCheckpoint)
            .where(SyncCheckpoint.instansi_id == UNBOUND)
            .values(instansi_id=instansi_id)
        )
        return
    if meta.instansi_id != instansi_id or not _same_url(meta.api_url or "", api_url):
        raise ConfigError(
            f"this store serves instansi {meta.instansi_id} at {meta.api_url}, not instansi "
            f"{instansi_id} at {api_url.rstrip('/')}; nothing was changed. Give each instansi its "
            "own LAPOR_BRIDGE_DATABASE_URL (or fix LAPOR_BRIDGE_INSTANSI_ID / LAPOR_BRIDGE_API_URL)."
        )


def store_meta(session: Session) -> StoreMeta | None:
    return session.get(StoreMeta, 1)


def incremental_checkpoint(
    session: Session, instansi_id: int | None = None
) -> SyncCheckpoint | None:
    """The incremental checkpoint of `instansi_id`, by default of the instansi this
    store serves."""
    if instansi_id is None:
        meta = session.get(StoreMeta, 1)
        instansi_id = meta.instansi_id if meta is not None else None
    query = select(SyncCheckpoint).where(SyncCheckpoint.name == "incremental")
    if instansi_id is not None:
        query = query.where(SyncCheckpoint.instansi_id == instansi_id)
    return session.scalars(query.order_by(SyncCheckpoint.instansi_id).limit(1)).first()
