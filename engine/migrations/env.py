"""Alembic environment: the engine comes from `engine.db.upgrade`, never from a file."""

from alembic import context

from engine.access import CaseMember  # noqa: F401  (its module's tables: membership, agencies, lock-out)
from engine.letters import Letter  # noqa: F401  (the letter table)
from engine.models import Base
from engine.notifications import OutboxMessage  # noqa: F401  (the outbox table)

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
