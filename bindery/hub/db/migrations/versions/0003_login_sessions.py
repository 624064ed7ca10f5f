"""server-side login sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:45:00

The ``bindery-session`` cookie now names a row here (by the SHA-256 of its key), so a
login can be ended before the cookie expires: on logout, on a password change and when
the user is deleted (``ON DELETE CASCADE``). Cookies from before this revision name no
row: those browsers are asked to log in again once.
"""
import sqlalchemy as sa
from alembic import op

import bindery.hub.db.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hashed', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_hashed'), ['hashed'], unique=True)
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_sessions_hashed'))
    op.drop_table('login_sessions')
