"""open clocks indexed by their due and at-risk times (the time pass of every sync)

Every sync's time pass asks which open clocks passed a level (notify/events.py):
without these partial indexes that is a scan of every clock ever stored, so a
no-op sync grew with the store's history. With them it reads only open clocks.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN = sa.text("stopped_at IS NULL")


def upgrade() -> None:
    for name, column in (("ix_sla_clock_open_due", "due_at"), ("ix_sla_clock_open_at_risk", "at_risk_at")):
        op.create_index(name, "sla_clock", [column], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_sla_clock_open_at_risk", table_name="sla_clock")
    op.drop_index("ix_sla_clock_open_due", table_name="sla_clock")
