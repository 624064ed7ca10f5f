"""Temporary users for Binder links."""

import pytest

from bindery.hub.auth.anonymous import TemporaryAuthenticator, TemporaryOptions
from bindery.hub.auth.base import AuthContext
from bindery.hub.auth.names import is_valid_username


@pytest.mark.anyio
async def test_every_visit_gets_a_new_valid_temporary_name(login_request) -> None:
    auth = TemporaryAuthenticator(TemporaryOptions(), AuthContext())
    assert auth.uses_login_form is False and auth.login_on_visit is True
    names = set()
    for _ in range(2000):
        result = await auth.authenticate(login_request, {})
        assert result is not None
        assert result.temporary is True
        assert result.name.startswith("tmp-")
        assert is_valid_username(result.name), result.name
        names.add(result.name)
    assert len(names) == 2000


@pytest.mark.anyio
async def test_temporary_users_are_never_admin(login_request) -> None:
    auth = TemporaryAuthenticator(TemporaryOptions(), AuthContext(admin_users=frozenset({"anyone"})))
    result = await auth.authenticate(login_request, {"username": "anyone"})
    assert result is not None and result.name != "anyone"
    assert auth.is_admin(result) is False
    assert auth.check_allowed(result)


@pytest.mark.anyio
async def test_without_create_on_visit_a_visit_makes_nobody(login_request) -> None:
    """``bindery serve``'s setting: the binder creates visitors' users, not ``/hub/login``."""
    auth = TemporaryAuthenticator(TemporaryOptions(create_on_visit=False), AuthContext())
    assert await auth.authenticate(login_request, {}) is None
