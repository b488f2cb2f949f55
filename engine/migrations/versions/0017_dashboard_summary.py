"""The dashboard's stage figures without counting every case (issue #15): each stay's length once it
has ended (`case_stage.stay_us`, indexed by stage so a stage's median stay is found by index), and
each stage's counts (`stage_summary`), both filled here from the stays already recorded and kept
from now on by the unit of work that moves a case. And on `case_instance`: the open cases' ids from
an index alone (what falls due is counted over open cases), the deadlines in the dashboard's whole
order (a page of them without sorting every open case), the few stalled cases; and what falls due
(tasks, timers, target dates) counted from their indexes alone.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime
BATCH = 1000
# what the dashboard counts as falling due, each index (0015's) extended to hold what the count reads
COVERING = [("ix_open_task_due", "open_task", ["due_at", "id", "case_id"]),
            ("ix_timer_due", "timer", ["due_at", "id", "case_id", "attached_to"]),
            ("ix_recommendation_target", "recommendation", ["target_date", "id", "status", "case_id"])]


def upgrade() -> None:
    op.add_column("case_stage", sa.Column("stay_us", sa.BigInteger(), nullable=True))
    op.create_index("ix_case_stage_stage_stay", "case_stage", ["stage", "stay_us", "entered_at", "left_at"])
    op.create_index("ix_case_instance_stalled", "case_instance", ["stalled_at"])
    op.create_index("ix_case_instance_status_id", "case_instance", ["status", "id"])
    op.drop_index("ix_case_instance_status_deadline", table_name="case_instance")
    op.create_index("ix_case_instance_status_deadline", "case_instance", ["status", "deadline_on", "started_at", "id"])
    for name, table, columns in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_table(
        "stage_summary",
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage"),
    )
    stays = sa.table("case_stage", sa.column("id", sa.Integer()), sa.column("stage", sa.String()),
                     sa.column("case_id", sa.Integer()), sa.column("entered_at", UTC()),
                     sa.column("left_at", UTC()), sa.column("stay_us", sa.BigInteger()))
    connection = op.get_bind()
    # the lengths in Python, exactly as the runtime writes them (engine.platform.models.stay_us)
    ended = connection.execute(sa.select(stays.c.id, stays.c.entered_at, stays.c.left_at)
                               .where(stays.c.left_at.is_not(None)).order_by(stays.c.id)).all()
    update = (sa.update(stays).where(stays.c.id == sa.bindparam("stay_id"))
              .values(stay_us=sa.bindparam("length")))
    for first in range(0, len(ended), BATCH):
        connection.execute(update, [{"stay_id": row.id, "length": engine.platform.models.stay_us(row.entered_at,
                                                                                                   row.left_at)}
                                    for row in ended[first:first + BATCH]])
    summary = sa.table("stage_summary", sa.column("stage", sa.String()), sa.column("cases", sa.Integer()),
                       sa.column("running", sa.Integer()), sa.column("finished", sa.Integer()))
    connection.execute(summary.insert().from_select(
        ["stage", "cases", "running", "finished"],
        sa.select(stays.c.stage, sa.func.count(stays.c.case_id.distinct()),
                  sa.func.count() - sa.func.count(stays.c.left_at), sa.func.count(stays.c.left_at))
        .group_by(stays.c.stage)))


def downgrade() -> None:
    for name, table, columns in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns[:2])
    op.drop_table("stage_summary")
    op.drop_index("ix_case_instance_status_deadline", table_name="case_instance")
    op.create_index("ix_case_instance_status_deadline", "case_instance", ["status", "deadline_on"])
    op.drop_index("ix_case_instance_status_id", table_name="case_instance")
    op.drop_index("ix_case_instance_stalled", table_name="case_instance")
    op.drop_index("ix_case_stage_stage_stay", table_name="case_stage")
    op.drop_column("case_stage", "stay_us")
