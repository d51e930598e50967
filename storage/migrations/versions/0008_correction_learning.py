"""correction learning: pairs (heard → corrected) from agents' edits, alias decisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'correction_pairs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('draft_id', sa.String(length=32), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=True),
        sa.Column('field', sa.String(length=16), nullable=False),
        sa.Column('heard', sa.String(length=64), nullable=True),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.Column('drafted', sa.String(length=64), nullable=True),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['draft_id'], ['drafts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('correction_pairs', schema=None) as batch_op:
        batch_op.create_index('ix_correction_pairs_draft_id', ['draft_id'], unique=False)
        batch_op.create_index('ix_correction_pairs_key', ['field', 'heard', 'value'],
                              unique=False)
    op.create_table(
        'alias_decisions',
        sa.Column('id', sa.String(length=16), nullable=False),
        sa.Column('field', sa.String(length=16), nullable=False),
        sa.Column('heard', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('alias_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_alias_decisions_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alias_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_alias_decisions_status')
    op.drop_table('alias_decisions')
    with op.batch_alter_table('correction_pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_correction_pairs_key')
        batch_op.drop_index('ix_correction_pairs_draft_id')
    op.drop_table('correction_pairs')
