"""IVR menus: versions (draft, published, retired) of each menu slot

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('menu_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('menu_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('menu_id', 'version', name='uq_menu_versions_menu_version')
    )
    with op.batch_alter_table('menu_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_menu_versions_menu_id'), ['menu_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_menu_versions_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('menu_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_menu_versions_status'))
        batch_op.drop_index(batch_op.f('ix_menu_versions_menu_id'))

    op.drop_table('menu_versions')
