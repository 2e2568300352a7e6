"""job runs: outcome, exit status and host of every run (ops)

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("exit_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index("ix_sync_run_kind_started", ["kind", "started_at"], unique=False)
    op.execute(
        "UPDATE sync_run SET outcome = CASE WHEN ok THEN 'ok' WHEN ok IS NULL THEN NULL "
        "ELSE 'failed' END"
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_run_kind_started")
        batch_op.drop_column("host")
        batch_op.drop_column("exit_status")
        batch_op.drop_column("outcome")
