"""[[hub.services]] and [[hub.roles]] in bindery.toml: read once, checked with clear errors."""

from __future__ import annotations

import pytest

from bindery.composition import load_settings
from bindery.config import ConfigError


def _load(tmp_path, text: str):
    path = tmp_path / "bindery.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_services_and_roles_are_read_from_the_file(tmp_path) -> None:
    settings = _load(tmp_path, """
[[hub.services]]
name = "formgrader"
url = "http://127.0.0.1:9000/"
api_token = "0123456789abcdef0123"
scopes = ["list:users", "read:users!group=students"]

[[hub.roles]]
name = "teaching"
groups = ["tas"]
scopes = ["shares!user", "access:servers!group=students"]
""").hub
    (service,) = settings.services
    assert service.url == "http://127.0.0.1:9000" and service.prefix == "/services/formgrader/"
    assert settings.roles[0].scopes == ["shares!user", "access:servers!group=students"]


@pytest.mark.parametrize(("toml", "says"), [
    ('[[hub.services]]\nname = "x"\napi_token = "short"\n', "at least 16"),
    ('[[hub.services]]\nname = "x"\nurl = "ftp://host"\n', "http:// or https://"),
    ('[[hub.services]]\nname = "x"\nscopes = ["fly"]\n', "does not exist"),
    ('[[hub.services]]\nname = "a/b"\n', "'/'"),
    ('[[hub.roles]]\nname = "admin"\n', "built-in role"),
    ('[[hub.roles]]\nname = "r"\nscopes = ["servers!nobody=x"]\n', "does not exist"),
])
def test_a_bad_service_or_role_is_refused_with_the_reason(tmp_path, toml, says) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, toml)
    assert says in str(caught.value)
