"""Indexes for what the long pages filter and sort on, so that they stay flat at 10,000 cases: the
case list (status, newest first), the dashboard (open cases by deadline; tasks, timers and target
dates by time), the inbox (a lane, any capitalisation, soonest due first; the register's rule on
update tasks, by task) and a case's history (its events in order).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_instance_status_started", "case_instance", ["status", "started_at"])
    op.create_index("ix_case_instance_status_deadline", "case_instance", ["status", "deadline_on"])
    op.create_index("ix_open_task_lane_key_due", "open_task", [sa.text("lower(lane)"), "due_at", "created_at", "id"])
    op.create_index("ix_open_task_due", "open_task", ["due_at", "id"])
    op.create_index("ix_timer_due", "timer", ["due_at", "id"])
    op.create_index("ix_recommendation_target", "recommendation", ["target_date", "id"])
    op.create_index("ix_recommendation_event_task_id", "recommendation_event", ["task_id"])
    op.create_index("ix_audit_event_case_id_id", "audit_event", ["case_id", "id"])
    op.drop_index("ix_audit_event_case_id", table_name="audit_event")  # the new index serves its queries


def downgrade() -> None:
    op.create_index("ix_audit_event_case_id", "audit_event", ["case_id"])
    op.drop_index("ix_audit_event_case_id_id", table_name="audit_event")
    op.drop_index("ix_recommendation_event_task_id", table_name="recommendation_event")
    op.drop_index("ix_recommendation_target", table_name="recommendation")
    op.drop_index("ix_timer_due", table_name="timer")
    op.drop_index("ix_open_task_due", table_name="open_task")
    op.drop_index("ix_open_task_lane_key_due", table_name="open_task")
    op.drop_index("ix_case_instance_status_deadline", table_name="case_instance")
    op.drop_index("ix_case_instance_status_started", table_name="case_instance")
