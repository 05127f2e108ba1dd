"""push sources, scheduled pulls, where an event came in, the key a roll made, listeners

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 02:30:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PULL_DISABLED = (
    "pull.disabled",
    "A pull was disabled: its runs kept failing (TIDINGS_PULL_DISABLE_AFTER in a row).",
)


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=40), nullable=True))
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("listener_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("pull_id", sa.String(length=40), nullable=True))
    op.create_table(
        "sources",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("event_type", sa.String(length=256), nullable=False),
        sa.Column("event_type_pointer", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("signature_scheme", sa.String(length=20), nullable=True),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sources_account_id", "sources", ["account_id", "id"])
    op.create_table(
        "pulls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password", sa.String(length=500), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("frequency", sa.String(length=200), nullable=False),
        sa.Column("schedule", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=256), nullable=False),
        sa.Column("records_pointer", sa.String(length=512), nullable=True),
        sa.Column("id_pointer", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.String(length=40), nullable=True),
        sa.Column("next_run_at", sa.BigInteger(), nullable=True),
        sa.Column("leased_by", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_run_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pulls_account_id", "pulls", ["account_id", "id"])
    op.create_index("ix_pulls_next_run_at", "pulls", ["next_run_at"])
    op.create_table(
        "pull_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("pull_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("records_seen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("records_new", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("event_ids", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pull_runs_pull_id", "pull_runs", ["pull_id", "id"])
    op.create_table(
        "pull_seen",
        sa.Column("pull_id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=512), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pull_id", "record_id"),
    )
    now = time.time_ns() // 1000
    event_types = sa.table(
        "event_types",
        *(sa.column(name) for name in ("id", "scope", "name", "category", "description")),
        sa.column("schema", sa.JSON),
        sa.column("archived", sa.Boolean),
        sa.column("created_at", sa.BigInteger),
        sa.column("updated_at", sa.BigInteger),
    )
    name, description = PULL_DISABLED
    op.bulk_insert(
        event_types,
        [
            {
                "id": f"et_builtin_{name.replace('.', '_')}",
                "scope": "*",
                "name": name,
                "category": "Operational",
                "description": description,
                "schema": None,
                "archived": False,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM event_types WHERE id = 'et_builtin_pull_disabled'")
    op.drop_table("pull_seen")
    op.drop_index("ix_pull_runs_pull_id", table_name="pull_runs")
    op.drop_table("pull_runs")
    op.drop_index("ix_pulls_next_run_at", table_name="pulls")
    op.drop_index("ix_pulls_account_id", table_name="pulls")
    op.drop_table("pulls")
    op.drop_index("ix_sources_account_id", table_name="sources")
    op.drop_table("sources")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("pull_id")
        batch_op.drop_column("source_id")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("listener_id")
