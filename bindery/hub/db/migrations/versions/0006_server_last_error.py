"""why a server last stopped on its own or failed to start

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:10:00

``servers.last_error`` keeps the sentence the hub shows a person whose server failed
to start or died (e.g. "it ran out of memory (limit 2g)"), so the reason survives a
restart of the hub; it is cleared when the server is started again.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_column('last_error')
