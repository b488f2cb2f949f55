"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 17:55:05.355829
"""

import sqlalchemy as sa
from alembic import op

import engine.platform.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("last_id"), sa.column("last_hash")),
        [{"id": 1, "last_id": 0, "last_hash": "0" * 64}],
    )
    op.create_table('process_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('process_ids', sa.JSON(), nullable=False),
    sa.Column('deployed_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.Column('deployed_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('content_hash')
    )
    op.create_table('simulated_time',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('now', engine.platform.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=False),
    sa.Column('agency', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('case_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('pseudonym', sa.String(length=120), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=200), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('serializer_version', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('started_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.Column('completed_at', engine.platform.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['process_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    op.create_table('process_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['process_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'path')
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('task_name', sa.String(length=300), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_instance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_task_id'), ['task_id'], unique=False)

    op.create_table('open_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('bpmn_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('lane', sa.String(length=200), nullable=True),
    sa.Column('form', sa.String(length=500), nullable=True),
    sa.Column('instructions', sa.Text(), nullable=True),
    sa.Column('process_name', sa.String(length=200), nullable=True),
    sa.Column('due_at', engine.platform.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_instance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('open_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open_task_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_open_task_lane_due', ['lane', 'due_at'], unique=False)

    op.create_table('timer',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('bpmn_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('attached_to', sa.String(length=36), nullable=True),
    sa.Column('due_at', engine.platform.models.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lock_owner', sa.String(length=120), nullable=True),
    sa.Column('locked_until', engine.platform.models.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_instance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timer_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_timer_status_due', ['status', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_status_due')
        batch_op.drop_index(batch_op.f('ix_timer_case_id'))

    op.drop_table('timer')
    with op.batch_alter_table('open_task', schema=None) as batch_op:
        batch_op.drop_index('ix_open_task_lane_due')
        batch_op.drop_index(batch_op.f('ix_open_task_case_id'))

    op.drop_table('open_task')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_task_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_case_id'))

    op.drop_table('audit_event')
    op.drop_table('process_file')
    op.drop_table('case_instance')
    op.drop_table('user_account')
    op.drop_table('simulated_time')
    op.drop_table('process_version')
    op.drop_table('audit_head')
