"""Web layer: case membership, agencies, sign-in lock-out.

Revision ID: 0004_web
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0004_web"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_instance.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("added_at", engine.platform.models.UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "user_id"),
    )
    op.create_index("ix_case_member_case_id", "case_member", ["case_id"])
    op.create_index("ix_case_member_user_id", "case_member", ["user_id"])
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", engine.platform.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", engine.platform.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_table("agency")
    op.drop_index("ix_case_member_user_id", "case_member")
    op.drop_index("ix_case_member_case_id", "case_member")
    op.drop_table("case_member")
