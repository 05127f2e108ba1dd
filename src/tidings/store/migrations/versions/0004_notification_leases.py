"""notification leases: which worker holds a claimed notification

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN of a nullable column: no table rewrite, safe while processes run.
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_by", sa.String(length=40), nullable=True))
    op.create_index(
        "ix_notifications_leased",
        "notifications",
        ["webhook_id"],
        sqlite_where=sa.text("leased_by IS NOT NULL"),
        postgresql_where=sa.text("leased_by IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_leased", table_name="notifications")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("leased_by")
