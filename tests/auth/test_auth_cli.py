"""`bindery hub passwd NAME`, through click's runner on a real SQLite file."""

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bindery.commands.hub import hub_group
from bindery.hub.auth.base import AuthContext
from bindery.hub.auth.password import PasswordAuthenticator, PasswordOptions


@pytest.mark.anyio
async def test_passwd_sets_a_password_that_logs_in(db_url, login_request) -> None:
    result = CliRunner().invoke(
        hub_group, ["passwd", "Erin", "--db-url", db_url], input="erins-password\nerins-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password set for erin" in result.output
    engine = create_engine(db_url)
    auth = PasswordAuthenticator(PasswordOptions(), AuthContext(session_factory=sessionmaker(engine)))
    assert await auth.authenticate(login_request, {"username": "erin", "password": "erins-password"})
    engine.dispose()


def test_passwd_refuses_a_short_password_clearly(db_url) -> None:
    result = CliRunner().invoke(hub_group, ["passwd", "erin", "--db-url", db_url], input="short\nshort\n")
    assert result.exit_code != 0
    assert "too short" in result.output and "Traceback" not in result.output
