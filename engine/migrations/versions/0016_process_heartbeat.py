"""Heartbeats of the running scheduler processes, for /readyz.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "process_heartbeat",
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("beat_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("process"),
    )
    op.create_index("ix_process_heartbeat_kind", "process_heartbeat", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_process_heartbeat_kind", "process_heartbeat")
    op.drop_table("process_heartbeat")
