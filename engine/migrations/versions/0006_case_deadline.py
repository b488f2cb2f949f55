"""Cases project their deadline date (from the timer the diagram marks `caseDeadlineDate`).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_instance") as batch:
        batch.add_column(sa.Column("deadline_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_instance") as batch:
        batch.drop_column("deadline_on")
