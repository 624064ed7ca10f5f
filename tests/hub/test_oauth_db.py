"""Migration 0005 (the OAuth provider's tables) on SQLite and PostgreSQL: up, cascades, down."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bindery.hub.db.engine import alembic_config, make_engine, upgrade
from bindery.hub.db.models import ApiToken, User, utcnow
from bindery.hub.oauth_provider.models import OAuthClient, OAuthTokenClient
from bindery.hub.oauth_provider.provider import register_server_client, server_client_id
from hub.test_db import db_url, postgres_url  # noqa: F401 - fixtures

TABLES = {"oauth_clients", "oauth_codes", "oauth_token_clients"}


def test_oauth_tables_migrate_up_and_down_and_go_with_their_user(db_url):  # noqa: F811
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0003")
        assert not TABLES & set(sa.inspect(engine).get_table_names())
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        db = sessionmaker(engine, expire_on_commit=False)
        with db() as s:
            ann = User(name="ann", created=utcnow())
            s.add(ann)
            register_server_client(s, ann, "", "t" * 64, "/user/ann/")
            s.commit()
            client = s.scalars(select(OAuthClient)).one()
            assert client.identifier == server_client_id("ann") == "jupyterhub-user-ann"
            token = s.scalars(select(ApiToken)).one()
            s.add(OAuthTokenClient(token_id=token.id, client_id=client.id))
            s.commit()
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE name = 'ann'"))
        with db() as s:
            for table in (OAuthClient, OAuthTokenClient, ApiToken):
                assert s.scalar(select(sa.func.count()).select_from(table)) == 0
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        assert not TABLES & set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
