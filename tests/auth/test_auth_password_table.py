"""The password authenticator owns its table: the hub's schema never has it, the plugin makes it."""

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bindery.hub.auth.password import PasswordAuthenticator
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.db.engine import open_database

#: The table as Bindery's first migration used to create it, before the plugin owned it.
OLD_TABLE = """
CREATE TABLE password_credentials (
    user_name VARCHAR(255) NOT NULL,
    hash VARCHAR(255) NOT NULL,
    updated DATETIME NOT NULL,
    PRIMARY KEY (user_name)
)
"""


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_a_fresh_hub_database_gets_the_table_when_the_authenticator_starts(db_url) -> None:
    engine, db = open_database(db_url)
    try:
        assert "password_credentials" not in tables(engine)
        auth = AuthSettings(kind="password").make_authenticator(db, "")
        assert isinstance(auth, PasswordAuthenticator)
        assert "password_credentials" in tables(engine)
        AuthSettings(kind="password").make_authenticator(db, "")  # a second start changes nothing
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_an_existing_table_and_its_passwords_are_kept(db_url, login_request) -> None:
    engine, db = open_database(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(OLD_TABLE))
            connection.execute(
                sa.text("INSERT INTO password_credentials VALUES ('dora', :hash, '2026-11-01 10:00:00')"),
                {"hash": PasswordHasher().hash("doras-old-password")},
            )
        auth = AuthSettings(kind="password").make_authenticator(db, "")
        result = await auth.authenticate(login_request, {"username": "dora", "password": "doras-old-password"})
        assert result is not None and result.name == "dora"
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM password_credentials")).scalar() == 1
    finally:
        engine.dispose()
