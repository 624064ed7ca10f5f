"""groups, shares, share codes and server display names

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:00:00

JupyterHub's groups (with members and properties) come back, now used by the API;
shares and share codes (JupyterHub 5's sharing) grant other users and groups access
to one server; servers get JupyterHub 6's ``display_name``.
"""
import sqlalchemy as sa
from alembic import op

import bindery.hub.db.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_groups_name'), ['name'], unique=True)
    op.create_table('group_members',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )
    op.create_table('shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('server_name', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_id', 'server_name', 'user_id', 'group_id')
    )
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shares_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_user_id'), ['user_id'], unique=False)
    op.create_table('share_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hashed', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('server_name', sa.String(length=255), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exchange_count', sa.Integer(), nullable=False),
    sa.Column('last_exchanged_at', bindery.hub.db.models.UTCDateTime(timezone=True),
              nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('share_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_codes_hashed'), ['hashed'], unique=True)
        batch_op.create_index(batch_op.f('ix_share_codes_owner_id'), ['owner_id'], unique=False)
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=255), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_column('display_name')
    op.drop_table('share_codes')
    op.drop_table('shares')
    op.drop_table('group_members')
    op.drop_table('groups')
