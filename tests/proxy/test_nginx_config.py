"""What may reach nginx's configuration: only values that cannot change its meaning.

Route paths, targets and tokens are written into nginx config files; a quote, a
semicolon or a newline in one of them would let whoever chose it write nginx
directives. These are refused before anything is written.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bindery.hub.proxy.base import ProxyError
from bindery.hub.proxy.nginx_config import (
    check_route_path,
    parse_target,
    render_routes_server,
)
from bindery.hub.proxy.settings import HubProxySettings


@pytest.mark.parametrize("path", [
    '/user/a"; return 200 "x', "/user/a;b", "/user/a\nlocation", "/user/a b", "/user/a{",
    "/user/../hub", "/user//a", "/user/a%2f",
])
def test_route_paths_that_could_rewrite_the_config_are_refused(path: str) -> None:
    with pytest.raises(ProxyError, match="cannot be written into an nginx location"):
        check_route_path(path)


def test_ordinary_route_paths_pass() -> None:
    for path in ("/", "/user/alice", "/user/tmp-3f2a/my.server", "/services/x_y~z"):
        assert check_route_path(path) == path


@pytest.mark.parametrize(("target", "words"), [
    ("https://127.0.0.1:9000", "http://"),
    ("http://example.org:9000", "IP address"),
    ('http://127.0.0.1:9000/a";', "path nginx cannot carry"),
    ("http://127.0.0.1:9000/?x=1", "path nginx cannot carry"),
])
def test_targets_nginx_would_read_differently_are_refused(target: str, words: str) -> None:
    with pytest.raises(ProxyError, match=words):
        parse_target(target)


def test_a_server_token_with_config_characters_is_refused(tmp_path: Path) -> None:
    routes = {"/user/a": {"target": "http://127.0.0.1:9000",
                          "data": {"user": "a", "server_token": 'x"; proxy_pass http://evil;'}}}
    with pytest.raises(ProxyError, match="server token"):
        render_routes_server(routes, tmp_path)


def test_kind_nginx_takes_the_nginx_client_and_checks_its_options() -> None:
    settings = HubProxySettings(kind="nginx", client_options={"config_dir": "/srv/nginx"})
    assert settings.client == "nginx"
    client = settings.make_client(timeout=5)
    assert client.options.config_dir == "/srv/nginx"  # type: ignore[attr-defined]
    asyncio.run(client.aclose())
    with pytest.raises(ValueError, match="surely_not"):
        HubProxySettings(kind="nginx", client_options={"surely_not": 1})
