"""The authenticator registry and ``[hub.auth]``: entry points by name, typed options, typos named."""

from pathlib import Path

import pytest

from bindery.composition import load_settings
from bindery.config import ConfigError
from bindery.hub.auth.anonymous import TemporaryAuthenticator
from bindery.hub.auth.base import AUTHENTICATORS, AuthContext
from bindery.hub.auth.oidc import OIDCAuthenticator
from bindery.hub.auth.password import PasswordAuthenticator, PasswordOptions
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.auth.shared import SharedPasswordAuthenticator
from bindery.plugins import PluginError

BUILTINS = ("anonymous", "password", "shared-password", "oidc", "github")


def settings_from(tmp_path: Path, toml: str, **environ: str):
    path = tmp_path / "bindery.toml"
    path.write_text(toml)
    return load_settings(path, environ=environ)


def test_all_builtins_are_registered() -> None:
    assert set(BUILTINS) <= set(AUTHENTICATORS.names())


def test_load_by_name_with_its_own_options() -> None:
    cls = AUTHENTICATORS.load("shared-password")
    assert cls is SharedPasswordAuthenticator
    options = AUTHENTICATORS.options_for("shared-password", {"shared_password": "workshop-2026"})
    auth = cls(options, AuthContext(blocked_users=frozenset({"eve"})))
    assert auth.blocked_users == {"eve"}


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(PluginError) as err:
        AUTHENTICATORS.load("pasword")
    message = str(err.value)
    assert "'pasword'" in message
    for known in BUILTINS:
        assert known in message


def test_unknown_kind_in_the_config_file_lists_known_ones(tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from(tmp_path, '[hub.auth]\nkind = "pasword"\n')
    message = str(err.value)
    assert "hub.auth.kind" in message and "'pasword'" in message and "bindery.toml, line 2" in message
    for known in BUILTINS:
        assert known in message


def test_settings_build_the_configured_authenticator() -> None:
    settings = load_settings(environ={"BINDERY_HUB__AUTH__KIND": "anonymous"})
    auth = settings.hub.auth.make_authenticator(None, "")
    assert isinstance(auth, TemporaryAuthenticator)


def test_plugin_keys_stay_in_hub_auth(tmp_path, session_factory) -> None:
    """``[hub.auth] min_password_length = 10`` still works: the plugin's keys sit beside ``kind``."""
    settings = settings_from(tmp_path, "[hub.auth]\nmin_password_length = 10\n")
    assert settings.hub.auth.options == PasswordOptions(min_password_length=10)
    auth = settings.hub.auth.make_authenticator(session_factory, "")
    assert isinstance(auth, PasswordAuthenticator) and auth.min_password_length == 10
    from_env = load_settings(environ={"BINDERY_HUB__AUTH__MIN_PASSWORD_LENGTH": "12"})
    assert from_env.hub.auth.options == PasswordOptions(min_password_length=12)


def test_a_typo_in_hub_auth_fails_naming_the_key_and_line(tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from(tmp_path, '[hub.auth]\nkind = "password"\nmin_pasword_length = 10\n')
    message = str(err.value)
    assert "hub.auth.min_pasword_length" in message
    assert "'password' authenticator" in message and "bindery.toml, line 3" in message
    with pytest.raises(ConfigError) as from_env:
        load_settings(environ={"BINDERY_HUB__AUTH__MIN_PASWORD_LENGTH": "12"})
    assert "hub.auth.min_pasword_length" in str(from_env.value)
    assert "environment variable BINDERY_HUB__AUTH__MIN_PASWORD_LENGTH" in str(from_env.value)


def test_a_key_of_another_authenticator_fails_naming_it(tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from(tmp_path, '[hub.auth]\nkind = "password"\ngithub_url = "https://github.example"\n')
    message = str(err.value)
    assert "hub.auth.github_url" in message and "'password' authenticator" in message
    with pytest.raises(ConfigError, match="hub.auth.oidc_issuer"):
        load_settings(environ={"BINDERY_HUB__AUTH__KIND": "github",
                               "BINDERY_HUB__AUTH__OIDC_ISSUER": "http://127.0.0.1:1"})


def test_a_typo_among_the_shared_keys_fails_too(tmp_path) -> None:
    with pytest.raises(ConfigError, match="hub.auth.allowed_user"):
        settings_from(tmp_path, '[hub.auth]\nallowed_user = ["alice"]\n')


def test_a_kind_chosen_after_loading_checks_the_keys_for_it() -> None:
    """``bindery serve`` and ``--authenticator`` set ``kind`` in code; the file's keys must fit it."""
    plain = AuthSettings()
    plain.kind = "anonymous"
    assert isinstance(plain.make_authenticator(None, ""), TemporaryAuthenticator)
    workshop = AuthSettings(kind="password", min_password_length=10)
    with pytest.raises(ConfigError, match="unknown key 'min_password_length'.*'shared-password'"):
        workshop.kind = "shared-password"


def test_secrets_from_env_are_never_printed() -> None:
    oidc = load_settings(environ={"BINDERY_HUB__AUTH__KIND": "oidc",
                                  "BINDERY_HUB__AUTH__CLIENT_SECRET": "super-secret-value"}).hub.auth
    shared = load_settings(environ={"BINDERY_HUB__AUTH__KIND": "shared-password",
                                    "BINDERY_HUB__AUTH__SHARED_PASSWORD": "workshop-pass-123"}).hub.auth
    assert oidc.options.client_secret.get_secret_value() == "super-secret-value"
    shown = "".join(repr(a) + str(a) + a.model_dump_json() + repr(a.options) for a in (oidc, shared))
    assert "super-secret-value" not in shown
    assert "workshop-pass-123" not in shown


def test_default_kind_is_password() -> None:
    assert AuthSettings().kind == "password"


def test_settings_build_oidc_with_secret_unwrapped() -> None:
    settings = AuthSettings(
        kind="oidc",
        oidc_issuer="http://127.0.0.1:9400/",
        client_id="hub",
        client_secret="from-env",
        allowed_groups={"staff"},
    )
    auth = settings.make_authenticator(None, "k" * 32)
    assert isinstance(auth, OIDCAuthenticator)
    assert auth.client_secret == "from-env" and auth.issuer == "http://127.0.0.1:9400"
    assert auth.allowed_groups == {"staff"} and auth.uses_login_form is False
    assert {r.path for r in auth.routes()} == {"/oauth_login", "/oauth_callback"}


def test_login_url_is_part_of_the_contract(session_factory) -> None:
    """The login page asks the authenticator where its button goes; forms have none."""
    oidc = AuthSettings(kind="oidc", oidc_issuer="http://127.0.0.1:9400", client_id="hub")
    auth = oidc.make_authenticator(None, "")
    assert auth.login_url("") == "/hub/oauth_login"
    assert auth.login_url("/hub/spawn?x=1") == "/hub/oauth_login?next=%2Fhub%2Fspawn%3Fx%3D1"
    for kind in ("password", "shared-password", "anonymous"):
        extra = {"shared_password": "workshop-2026"} if kind == "shared-password" else {}
        form = AuthSettings(kind=kind, **extra).make_authenticator(session_factory, "")
        assert form.login_url("/hub/home") is None and form.routes() == []
