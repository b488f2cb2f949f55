"""Recommendation register, stage history, case facts, Steering Group meetings, costs and budgets.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("case_instance") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "case_stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("entered_at", UTC(), nullable=False),
        sa.Column("left_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_stage_case_id"), "case_stage", ["case_id"], unique=False)
    op.create_table(
        "recommendation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("lead_agency", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("national_body", sa.String(length=200), nullable=True),
        sa.Column("smart_action", sa.Text(), nullable=False),
        sa.Column("action_holder", sa.String(length=200), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("awaiting_since", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "number"),
    )
    op.create_index(op.f("ix_recommendation_case_id"), "recommendation", ["case_id"], unique=False)
    op.create_index(op.f("ix_recommendation_lead_agency"), "recommendation", ["lead_agency"], unique=False)
    op.create_index(op.f("ix_recommendation_status"), "recommendation", ["status"], unique=False)
    op.create_table(
        "recommendation_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("progress", sa.Text(), nullable=True),
        sa.Column("update_date", sa.Date(), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_recommendation_event_recommendation_id"), "recommendation_event",
                    ["recommendation_id"], unique=False)
    op.create_table(
        "steering_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("report_from", sa.Date(), nullable=True),
        sa.Column("report_to", sa.Date(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "steering_meeting_attendee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["steering_meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_steering_meeting_attendee_meeting_id"), "steering_meeting_attendee", ["meeting_id"],
                    unique=False)
    op.create_table(
        "case_cost",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_cost_case_id"), "case_cost", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_cost_incurred_on"), "case_cost", ["incurred_on"], unique=False)
    op.create_table(
        "dhr_budget",
        sa.Column("financial_year", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=120), nullable=False),
        sa.Column("set_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("financial_year"),
    )


def downgrade() -> None:
    op.drop_table("dhr_budget")
    op.drop_index(op.f("ix_case_cost_incurred_on"), table_name="case_cost")
    op.drop_index(op.f("ix_case_cost_case_id"), table_name="case_cost")
    op.drop_table("case_cost")
    op.drop_index(op.f("ix_steering_meeting_attendee_meeting_id"), table_name="steering_meeting_attendee")
    op.drop_table("steering_meeting_attendee")
    op.drop_table("steering_meeting")
    op.drop_index(op.f("ix_recommendation_event_recommendation_id"), table_name="recommendation_event")
    op.drop_table("recommendation_event")
    op.drop_index(op.f("ix_recommendation_status"), table_name="recommendation")
    op.drop_index(op.f("ix_recommendation_lead_agency"), table_name="recommendation")
    op.drop_index(op.f("ix_recommendation_case_id"), table_name="recommendation")
    op.drop_table("recommendation")
    op.drop_index(op.f("ix_case_stage_case_id"), table_name="case_stage")
    op.drop_table("case_stage")
    with op.batch_alter_table("case_instance") as batch:
        batch.drop_column("facts")
