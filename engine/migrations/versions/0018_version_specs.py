"""Each deployed version's diagrams as parsed, stored when it is deployed, so that loading a version
restores them instead of parsing its XML (versions deployed before keep being parsed).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_version_spec",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["process_version.id"]),
        sa.PrimaryKeyConstraint("version_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("process_version_spec")
