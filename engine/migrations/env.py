"""Alembic environment: the engine comes from `engine.db.upgrade`, never from a file."""

from alembic import context

from engine.access import CaseMember  # noqa: F401  (its module's tables: membership, agencies, lock-out)
from engine.costs import CaseCost  # noqa: F401  (costs and budgets)
from engine.letters import Letter  # noqa: F401  (the letter table)
from engine.meetings import Meeting  # noqa: F401  (Steering Group meetings)
from engine.models import Base
from engine.notifications import OutboxMessage  # noqa: F401  (the outbox table)
from engine.register import Recommendation  # noqa: F401  (the recommendation register)

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
