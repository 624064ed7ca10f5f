"""The authenticator registry: entry points by name, a helpful error for typos."""

import pytest

from bindery.hub.auth import available_authenticators, load_authenticator
from bindery.hub.auth.anonymous import TemporaryAuthenticator
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.auth.shared import SharedPasswordAuthenticator


def test_all_builtins_are_registered() -> None:
    assert {"anonymous", "password", "shared-password", "oidc", "github"} <= set(
        available_authenticators()
    )


def test_load_by_name_passes_options() -> None:
    auth = load_authenticator("shared-password", shared_password="workshop-2026", blocked_users={"eve"})
    assert isinstance(auth, SharedPasswordAuthenticator)
    assert auth.blocked_users == {"eve"}


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(AuthConfigError) as err:
        load_authenticator("pasword")
    message = str(err.value)
    assert "'pasword'" in message
    for known in ("anonymous", "password", "shared-password", "oidc", "github"):
        assert known in message


def test_settings_build_the_configured_authenticator(monkeypatch) -> None:
    monkeypatch.setenv("BINDERY_HUB__AUTH__KIND", "anonymous")
    from bindery.composition import load_settings

    auth = load_settings().hub.auth.build_authenticator(session_factory=object())
    assert isinstance(auth, TemporaryAuthenticator)


def test_secrets_from_env_are_never_printed(monkeypatch) -> None:
    monkeypatch.setenv("BINDERY_HUB__AUTH__CLIENT_SECRET", "super-secret-value")
    monkeypatch.setenv("BINDERY_HUB__AUTH__SHARED_PASSWORD", "workshop-pass-123")
    from bindery.composition import load_settings

    auth = load_settings().hub.auth
    assert auth.client_secret.get_secret_value() == "super-secret-value"
    shown = repr(auth) + str(auth) + auth.model_dump_json()
    assert "super-secret-value" not in shown
    assert "workshop-pass-123" not in shown


def test_default_kind_is_password() -> None:
    assert AuthSettings().kind == "password"


def test_settings_build_oidc_with_secret_unwrapped() -> None:
    from bindery.hub.auth.oauth import OIDCAuthenticator

    settings = AuthSettings(
        kind="oidc",
        oidc_issuer="http://127.0.0.1:9400/",
        client_id="hub",
        client_secret="from-env",
        allowed_groups={"staff"},
    )
    auth = settings.build_authenticator(session_factory=object(), cookie_secret="k" * 32)
    assert isinstance(auth, OIDCAuthenticator)
    assert auth.client_secret == "from-env" and auth.issuer == "http://127.0.0.1:9400"
    assert auth.allowed_groups == {"staff"} and auth.uses_login_form is False
    assert {r.path for r in auth.routes()} == {"/oauth_login", "/oauth_callback"}
