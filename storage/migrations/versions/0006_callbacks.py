"""callbacks: 回访 survey callbacks per order, and the 重办 flag on drafts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rework', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'callbacks',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('draft_id', sa.String(length=32), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('resolved', sa.Boolean(), nullable=True),
        sa.Column('satisfaction', sa.String(length=16), nullable=True),
        sa.Column('call_id', sa.String(length=32), nullable=True),
        sa.Column('log', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['draft_id'], ['drafts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('draft_id'),
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index('ix_callbacks_status', ['status'], unique=False)
        batch_op.create_index('ix_callbacks_due_at', ['due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_callbacks_due_at')
        batch_op.drop_index('ix_callbacks_status')
    op.drop_table('callbacks')
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_column('rework')
