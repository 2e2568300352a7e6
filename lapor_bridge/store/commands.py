"""`lapor-bridge db current` and `db upgrade`: the store's schema, and whom it serves."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext

from lapor_bridge.config import Settings
from lapor_bridge.store.db import create_store_engine, known_revisions, migrate, read_session
from lapor_bridge.store.identity import check_store, store_meta


def _revision(engine) -> str | None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def db_current(settings: Settings) -> str:
    """What the store at LAPOR_BRIDGE_DATABASE_URL is, without changing it."""
    engine = create_store_engine(settings.database_url)
    try:
        where = engine.url.render_as_string(hide_password=True)
        known, head = known_revisions(engine)
        state = check_store(engine, known, head)
        if not state.exists:
            return f"{where}: no store yet (the first command creates it at schema {head})"
        revision = state.revision
        lines = [
            f"{where}: schema {revision}"
            + (" (the newest)" if revision == head else f" (this bridge upgrades it to {head})")
        ]
        if "store_meta" in state.tables:
            with read_session(engine) as session:
                meta = store_meta(session)
            if meta is not None and meta.instansi_id is not None:
                lines.append(f"serves instansi {meta.instansi_id} at {meta.api_url}")
            else:
                lines.append("serves no instansi yet (the first sync records it)")
        return "\n".join(lines)
    finally:
        engine.dispose()


def db_upgrade(settings: Settings) -> str:
    """Migrate the store to the newest schema (every command also does it on start)."""
    engine = create_store_engine(settings.database_url)
    try:
        where = engine.url.render_as_string(hide_password=True)
        known, head = known_revisions(engine)
        before = check_store(engine, known, head).revision
        migrate(engine)
        if before == head:
            return f"{where}: already at schema {head}"
        return f"{where}: upgraded from schema {before or 'none'} to {head}"
    finally:
        engine.dispose()
