"""store identity: store_meta (instansi and API served), checkpoints keyed by instansi

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import lapor_bridge.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNBOUND = 0  # checkpoints written before the store knew its instansi; bound on first use


def upgrade() -> None:
    meta = op.create_table(
        "store_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("instansi_id", sa.Integer(), nullable=True),
        sa.Column("api_url", sa.Text(), nullable=True),
        sa.Column("created_at", lapor_bridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("bound_at", lapor_bridge.store.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_store_meta_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(meta, [{"id": 1, "created_at": datetime.now(UTC)}])
    op.create_table(
        "sync_checkpoint_new",
        sa.Column("instansi_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("high_water", lapor_bridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("window_to", lapor_bridge.store.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", lapor_bridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instansi_id", "name", name="pk_sync_checkpoint"),
    )
    op.execute(
        "INSERT INTO sync_checkpoint_new (instansi_id, name, high_water, window_to, updated_at) "
        f"SELECT {UNBOUND}, name, high_water, window_to, updated_at FROM sync_checkpoint"
    )
    op.drop_table("sync_checkpoint")
    op.rename_table("sync_checkpoint_new", "sync_checkpoint")


def downgrade() -> None:
    op.create_table(
        "sync_checkpoint_old",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("high_water", lapor_bridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("window_to", lapor_bridge.store.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", lapor_bridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "INSERT INTO sync_checkpoint_old (name, high_water, window_to, updated_at) "
        "SELECT name, MIN(high_water), NULL, MAX(updated_at) FROM sync_checkpoint GROUP BY name"
    )
    op.drop_table("sync_checkpoint")
    op.rename_table("sync_checkpoint_old", "sync_checkpoint")
    op.drop_table("store_meta")
