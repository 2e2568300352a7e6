"""What a command needs to run: settings, the store, the upstream client.

Built once per process from the settings; each piece is made on first use so
a command that needs no upstream never asks for a token. Jobs (sync,
backfill, push, remap) get their store from lapor_bridge.job, which opens it
after taking the job lock; other commands open it here, migrating under the
schema lock. A read-only runtime never creates a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from lapor_bridge.config import Settings, load_settings
from lapor_bridge.errors import BridgeError


class StoreMissing(BridgeError):
    """A read-only command found no store: nothing to read, and none is created."""

    exit_code = 1


@dataclass
class Runtime:
    settings: Settings = field(default_factory=load_settings)
    read_only: bool = False  # status, export, lists: never create the store

    @cached_property
    def engine(self) -> Engine:
        from lapor_bridge.lock import schema_lock
        from lapor_bridge.store.db import bind_identity, create_store_engine, migrate

        engine = create_store_engine(self.settings.database_url)
        if self.read_only and (missing := missing_sqlite_file(engine)) is not None:
            raise StoreMissing(
                f"no store at {missing}: nothing synced yet. Run `lapor-bridge sync` first "
                "(or check LAPOR_BRIDGE_DATABASE_URL and the folder you run in)"
            )
        with schema_lock(engine, lock_dir=self.settings.lock_dir):
            migrate(engine)
        s = self.settings
        bind_identity(engine, instansi_id=s.instansi_id, api_url=s.api_url)
        return engine

    def client(self):  # -> LaporClient (imported late: the client module is heavy-ish)
        from lapor_bridge.upstream.client import LaporClient, RequestRetryPolicy

        api_url, token, _ = self.settings.require_upstream()
        s = self.settings
        return LaporClient(
            api_url,
            token,
            timeout=(s.connect_timeout_s, s.read_timeout_s),
            retry=RequestRetryPolicy(
                max_attempts=s.max_attempts,
                max_elapsed_s=s.max_retry_elapsed_s,
                max_retry_after_s=s.max_retry_after_s,
            ),
            rate_limit_per_s=s.rate_limit_per_s,
        )

    @property
    def instansi_id(self) -> int:
        return self.settings.require_upstream()[2]


def missing_sqlite_file(engine: Engine) -> Path | None:
    """The SQLite file `engine` would create, when it does not exist yet."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    path = Path(database)
    return None if path.is_file() else path.resolve()
