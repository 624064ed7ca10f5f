"""the OAuth provider's tables

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:00:00

OAuth clients (configured services, users' servers), pending authorization codes
and the client each OAuth-issued API token belongs to (bindery.hub.oauth_provider).
Everything cascades from users and tokens, so deleting either cleans up.
"""
import sqlalchemy as sa
from alembic import op

import bindery.hub.db.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.String(length=1024), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('allowed_scopes', sa.JSON(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('service', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('server_name', sa.String(length=255), nullable=True),
    sa.Column('no_confirm', sa.Boolean(), nullable=False),
    sa.Column('created', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_clients_identifier'), ['identifier'], unique=True)
        batch_op.create_index(batch_op.f('ix_oauth_clients_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hashed', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('redirect_uri', sa.String(length=1024), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=16), nullable=True),
    sa.Column('expires_at', bindery.hub.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_codes_hashed'), ['hashed'], unique=True)
        batch_op.create_index(batch_op.f('ix_oauth_codes_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_codes_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_token_clients',
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('oauth_token_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_token_clients_client_id'), ['client_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oauth_token_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_token_clients_client_id'))
    op.drop_table('oauth_token_clients')
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_codes_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_codes_client_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_codes_hashed'))
    op.drop_table('oauth_codes')
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_clients_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_clients_identifier'))
    op.drop_table('oauth_clients')
