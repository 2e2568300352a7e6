"""Alembic environment: runs against the engine handed over by store.db."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import lapor_bridge.store.tables  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata
config = context.config
engine = config.attributes.get("engine")
if engine is None:  # the alembic command line: `alembic -x url=... revision --autogenerate`
    from lapor_bridge.store.db import create_store_engine

    engine = create_store_engine(context.get_x_argument(as_dictionary=True).get("url", "sqlite://"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
