"""each webhook's pending notifications in due order

A claim reaches a webhook's backlog without reading past a hung webhook's pile.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_webhook_due",
        "notifications",
        ["webhook_id", "next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_webhook_due", table_name="notifications")
