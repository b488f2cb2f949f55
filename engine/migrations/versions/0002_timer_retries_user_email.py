"""Timer retries with backoff (and a stuck state); users get an e-mail address.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timer") as batch:
        batch.drop_column("lock_owner")
        batch.drop_column("locked_until")
        batch.add_column(sa.Column("next_attempt_at", engine.platform.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("email")
    with op.batch_alter_table("timer") as batch:
        batch.drop_column("next_attempt_at")
        batch.add_column(sa.Column("locked_until", engine.platform.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("lock_owner", sa.String(length=120), nullable=True))
