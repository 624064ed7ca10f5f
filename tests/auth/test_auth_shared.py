"""Workshop logins with one shared password."""

import pytest

from bindery.hub.auth.base import AuthContext
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.auth.shared import SharedPasswordAuthenticator, SharedPasswordOptions


def shared_auth(shared_password: str | None, admin_password: str | None = None, **context) -> SharedPasswordAuthenticator:
    options = SharedPasswordOptions(shared_password=shared_password, admin_password=admin_password)
    return SharedPasswordAuthenticator(options, AuthContext(**{k: frozenset(v) for k, v in context.items()}))


@pytest.mark.anyio
async def test_any_name_with_the_shared_password(login_request) -> None:
    auth = shared_auth("workshop-2026")
    result = await auth.authenticate(login_request, {"username": "Dana", "password": "workshop-2026"})
    assert result is not None and result.name == "dana"
    assert auth.check_allowed(result) and not auth.is_admin(result)
    assert await auth.authenticate(login_request, {"username": "dana", "password": "workshop-2025"}) is None
    assert await auth.authenticate(login_request, {"username": "dana", "password": ""}) is None


@pytest.mark.anyio
async def test_allow_and_block_lists(login_request) -> None:
    auth = shared_auth("workshop-2026", allowed_users={"dana", "eve"}, blocked_users={"eve"})
    form = {"password": "workshop-2026"}
    dana = await auth.authenticate(login_request, {**form, "username": "dana"})
    eve = await auth.authenticate(login_request, {**form, "username": "eve"})
    zed = await auth.authenticate(login_request, {**form, "username": "zed"})
    assert auth.check_allowed(dana)
    assert not auth.check_allowed(eve)
    assert not auth.check_allowed(zed)


@pytest.mark.anyio
async def test_admin_password_only_for_admin_users(login_request) -> None:
    auth = shared_auth("workshop-2026", admin_password="instructor-only-9", admin_users={"ines"})
    ines_admin = await auth.authenticate(login_request, {"username": "ines", "password": "instructor-only-9"})
    assert ines_admin is not None and auth.is_admin(ines_admin)
    ines_plain = await auth.authenticate(login_request, {"username": "ines", "password": "workshop-2026"})
    assert ines_plain is not None and not auth.is_admin(ines_plain)
    # someone else who learned the admin password gets nothing
    assert await auth.authenticate(login_request, {"username": "dana", "password": "instructor-only-9"}) is None


@pytest.mark.parametrize("password", [None, "", "short7!"])
def test_refuses_to_start_with_a_short_shared_password(password) -> None:
    with pytest.raises(AuthConfigError, match="shorter than 8 characters"):
        shared_auth(password)


def test_refuses_admin_password_equal_to_shared() -> None:
    with pytest.raises(AuthConfigError, match="must differ"):
        shared_auth("workshop-2026", admin_password="workshop-2026", admin_users={"ines"})


def test_from_settings_with_secret_values() -> None:
    settings = AuthSettings(kind="shared-password", shared_password="workshop-2026")
    auth = settings.make_authenticator(None, "")
    assert isinstance(auth, SharedPasswordAuthenticator)
    assert auth.shared_password == "workshop-2026"


@pytest.mark.anyio
async def test_lists_in_config_match_whatever_case_was_written(login_request) -> None:
    auth = shared_auth("workshop-2026", allowed_users={"Dana "}, blocked_users={"EVE"})
    dana = await auth.authenticate(login_request, {"username": "dana", "password": "workshop-2026"})
    eve = await auth.authenticate(login_request, {"username": "Eve", "password": "workshop-2026"})
    assert auth.check_allowed(dana) and not auth.check_allowed(eve)
