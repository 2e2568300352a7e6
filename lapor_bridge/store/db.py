"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL` (the outbox must survive a
power cut) and a busy timeout. pysqlite's own transaction handling is turned
off so that `write_session` can open `BEGIN IMMEDIATE`: SQLite has no
`SELECT ... FOR UPDATE`, and taking the write lock up front is how two
writers are kept from deadlocking on a lock upgrade.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from lapor_bridge.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_IMMEDIATE = "lapor_bridge_sqlite_immediate"
SQLITE_CACHE_KIB = 16 * 1024  # per connection, filled only as pages are read
SQLITE_AUTOCHECKPOINT_PAGES = 10_000  # ~40 MiB of WAL between checkpoints


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # a sync or backfill page's reports land all over the big tables (their
        # tracking ids interleave with those already stored), so one page's
        # transaction dirties thousands of 4 KiB pages on a large store: SQLite's
        # default 2 MiB cache spilled and re-read them, and the default
        # checkpoint (every 1,000 WAL pages) copied every page of every commit
        # into the database file; both cost more the larger the store
        cursor.execute(f"PRAGMA cache_size={-SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_store_engine(url: str) -> Engine:
    """An engine for `url` (any SQLAlchemy URL; SQLite and PostgreSQL tuned)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"LAPOR_BRIDGE_DATABASE_URL is not a database URL: {url!r}; "
            "use sqlite:///path.db or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
            _sqlite_events(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    except Exception as exc:  # unknown driver and the like
        raise ConfigError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading (and small writes that can wait for a lock)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any error.

    On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock first.
    """
    bind = engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def known_revisions(engine: Engine) -> tuple[set[str], str | None]:
    """The schema revisions this code knows, and the newest."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config(engine))
    return {rev.revision for rev in scripts.walk_revisions()}, scripts.get_current_head()


_REVISION_LINE = re.compile(
    r"""^(down_)?revision\s*(?::[^=]*)?=\s*(?:['"]([\w.-]+)['"]|(None))\s*$""", re.M
)


@functools.cache
def schema_head() -> str | None:
    """The newest migration, read from the `revision = ...` and `down_revision = ...`
    lines of migrations/versions without importing alembic: the revision no other
    one revises. None when the files do not say it plainly (a branch, a merge, a
    line written otherwise): then alembic decides (`migrate`). A test holds it to
    alembic's own answer."""
    revised: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        lines = _REVISION_LINE.findall(script.read_text("utf-8"))
        found = {down: revision or None for down, revision, _none in lines}
        if set(found) != {"", "down_"} or found[""] is None or found[""] in revised:
            return None
        revised[found[""]] = found["down_"]
    heads = set(revised) - set(revised.values())
    return heads.pop() if len(heads) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent, safe to run always).

    A database that is not a lapor-bridge store, is damaged, or was written by a
    newer bridge is refused first, in one line, and left untouched.

    A store already at the newest schema (every command but the first) costs one
    look at its revision, and alembic is not imported; anything else goes
    through alembic's own list of revisions."""
    from lapor_bridge.store.identity import check_store, inspect_store

    head = schema_head()
    if head is not None and inspect_store(engine).revision == head:
        return  # the newest schema: check_store has nothing to refuse, nothing to upgrade
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = _alembic_config(engine)
    known, head = known_revisions(engine)
    check_store(engine, known, head)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(f"cannot open the database: {exc.orig}") from None
    if current != head:
        command.upgrade(config, "head")


def bind_identity(engine: Engine, *, instansi_id: int | None, api_url: str | None) -> None:
    """With `instansi_id` and `api_url`, the store records that it serves them, or
    refuses when it serves another (ConfigError); without them, nothing happens."""
    if instansi_id is None or not api_url:
        return
    from lapor_bridge.store.identity import bind_store

    with write_session(engine) as session:
        bind_store(session, instansi_id=instansi_id, api_url=api_url)


def open_store(url: str, *, instansi_id: int | None = None, api_url: str | None = None) -> Engine:
    """The engine for `url`, migrated to the newest schema and bound to the
    instansi and API it serves (see `bind_identity`)."""
    engine = create_store_engine(url)
    try:
        migrate(engine)
        bind_identity(engine, instansi_id=instansi_id, api_url=api_url)
    except BaseException:
        engine.dispose()
        raise
    return engine
