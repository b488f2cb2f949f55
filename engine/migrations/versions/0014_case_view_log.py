"""Case views in a log of their own (written without the audit chain's lock, sealed into it in batches).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "case_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_instance.id"), nullable=False),
        sa.Column("page", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=120), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_in", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_view_case_id", "case_view", ["case_id"])
    op.create_index("ix_case_view_sealed_in", "case_view", ["sealed_in"])


def downgrade() -> None:
    op.drop_index("ix_case_view_sealed_in", "case_view")
    op.drop_index("ix_case_view_case_id", "case_view")
    op.drop_table("case_view")
