"""Alembic environment: the engine comes from `engine.platform.db.upgrade`, never from a file."""

from alembic import context

from engine.platform.access import CaseMember  # noqa: F401  (its module's tables: membership, agencies, lock-out)
from engine.platform.documents import Document  # noqa: F401  (uploaded documents)
from engine.platform.models import Base
from engine.platform.notifications import OutboxMessage  # noqa: F401  (the outbox table)
from engine.review.costs import CaseCost  # noqa: F401  (costs and budgets)
from engine.review.letters import Letter  # noqa: F401  (the letter table)
from engine.review.meetings import Meeting  # noqa: F401  (Steering Group meetings)
from engine.review.register import Recommendation  # noqa: F401  (the recommendation register)

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
