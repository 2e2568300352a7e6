"""The local store: tables (a stored row's class ends in Row when another
package has a thing of the same name: ReportRow, TopicRow, UpstreamFollowUpRow),
column types, engines, sessions, migrations, and (store.bulk) the bulk
statements of both engines: the only place that knows SQLite from PostgreSQL."""

from lapor_bridge.store.db import (
    create_store_engine,
    migrate,
    open_store,
    read_session,
    write_session,
)

__all__ = ["create_store_engine", "migrate", "open_store", "read_session", "write_session"]
