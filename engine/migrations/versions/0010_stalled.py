"""Stalled cases: an open case that waits on nothing a person or a timer can do is marked.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("case_instance") as batch:
        batch.add_column(sa.Column("stalled_at", UTC(), nullable=True))
        batch.add_column(sa.Column("stalled_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_instance") as batch:
        batch.drop_column("stalled_reason")
        batch.drop_column("stalled_at")
