"""Indexes for what the long pages filter and sort on, so that they stay flat at 10,000 cases: the
case list (status, newest first), the dashboard (open cases by deadline), the inbox (a lane, any
capitalisation, soonest due first) and a case's history (its events in order).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_instance_status_started", "case_instance", ["status", "started_at"])
    op.create_index("ix_case_instance_status_deadline", "case_instance", ["status", "deadline_on"])
    op.create_index("ix_open_task_lane_key_due", "open_task", [sa.text("lower(lane)"), "due_at"])
    op.create_index("ix_audit_event_case_id_id", "audit_event", ["case_id", "id"])
    op.drop_index("ix_audit_event_case_id", table_name="audit_event")  # the new index serves its queries


def downgrade() -> None:
    op.create_index("ix_audit_event_case_id", "audit_event", ["case_id"])
    op.drop_index("ix_audit_event_case_id_id", table_name="audit_event")
    op.drop_index("ix_open_task_lane_key_due", table_name="open_task")
    op.drop_index("ix_case_instance_status_deadline", table_name="case_instance")
    op.drop_index("ix_case_instance_status_started", table_name="case_instance")
