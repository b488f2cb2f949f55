"""Open tasks can be claimed; task forms can be saved as drafts.

Revision ID: 0005
Revises: 0004_web
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0005"
down_revision = "0004_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("open_task") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("claimed_at", engine.platform.models.UTCDateTime(), nullable=True))
    op.create_table(
        "task_draft",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("saved_at", engine.platform.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
        sa.PrimaryKeyConstraint("task_id", "username"),
    )
    op.create_index(op.f("ix_task_draft_case_id"), "task_draft", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_task_draft_case_id"), table_name="task_draft")
    op.drop_table("task_draft")
    with op.batch_alter_table("open_task") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
