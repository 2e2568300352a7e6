"""recent transfers and citizens' replies indexed by time (the time pass of every sync)

Every sync's time pass asks which reports left the regency and which citizens
replied in the last days (notify/events.py): without these partial indexes both
are scans of every report and every follow-up ever stored, so a no-op sync grew
with the store's history (0.11 s at 1,000,000 reports for the transfers alone).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRANSFERRED = sa.text("transferred_at IS NOT NULL")
PELAPOR = sa.text("author = 'PELAPOR'")


def upgrade() -> None:
    op.create_index(
        "ix_report_transferred_at",
        "report",
        ["transferred_at"],
        sqlite_where=TRANSFERRED,
        postgresql_where=TRANSFERRED,
    )
    op.create_index(
        "ix_upstream_followup_pelapor_seen",
        "upstream_followup",
        ["first_seen_at"],
        sqlite_where=PELAPOR,
        postgresql_where=PELAPOR,
    )


def downgrade() -> None:
    op.drop_index("ix_upstream_followup_pelapor_seen", table_name="upstream_followup")
    op.drop_index("ix_report_transferred_at", table_name="report")
