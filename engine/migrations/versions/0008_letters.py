"""Letters written for cases.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", engine.platform.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_letter_case_id"), "letter", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_letter_case_id"), table_name="letter")
    op.drop_table("letter")
