"""cluster: calls.node_id, the nodes' heartbeat rows, and NOTIFY on every stored event

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 20:00:00.000000

On PostgreSQL a trigger sends ``pg_notify('voice_intake_events', ...)`` for each new
``events`` row, inside the transaction that stores it (so it is delivered at commit, in
commit order). The payload stays far under NOTIFY's 8000-byte limit: the row's id and the
``application_name`` of the writer (``voice-intake/<node id>``), so a node can skip its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION voice_intake_notify_event() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('voice_intake_events', json_build_object(
    'id', NEW.id, 'node', current_setting('application_name'))::text);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    # Calls stored before this revision have no node (NULL): any node may recover them.
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_calls_node_id', ['node_id'], unique=False)
    op.create_table(
        'nodes',
        sa.Column('id', sa.String(length=64), primary_key=True),
        sa.Column('internal_url', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('active_calls', sa.Integer(), nullable=False, server_default='0'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(NOTIFY_FUNCTION)
        op.execute('CREATE TRIGGER events_notify AFTER INSERT ON events '
                   'FOR EACH ROW EXECUTE FUNCTION voice_intake_notify_event()')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS events_notify ON events')
        op.execute('DROP FUNCTION IF EXISTS voice_intake_notify_event()')
    op.drop_table('nodes')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_node_id')
        batch_op.drop_column('node_id')
