"""The hub finds its proxy client in the ``bindery.proxies`` registry and builds it from options."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from pydantic import ValidationError

from bindery import plugins
from bindery.hub.proxy.base import PROXIES, Proxy, ProxyOptions
from bindery.hub.proxy.rest import RestProxy
from bindery.hub.proxy.settings import HubProxySettings


def test_rest_is_the_registered_default() -> None:
    assert "rest" in PROXIES.names()
    assert PROXIES.load(HubProxySettings().client) is RestProxy


@pytest.mark.anyio
async def test_a_client_is_built_from_options() -> None:
    client = RestProxy.from_options(
        ProxyOptions(api_url="http://127.0.0.1:8001/", auth_token="t", timeout=3)
    )
    try:
        assert client.api_url == "http://127.0.0.1:8001"
        assert client.options.timeout == 3
    finally:
        await client.aclose()


class _WiderOptions(ProxyOptions):
    namespace: str = "bindery"


class _Recorder(Proxy):
    """A third-party-style client with its own options model."""

    options_model = _WiderOptions

    async def add_route(
        self, routespec: str, target: str, data: dict[str, Any] | None = None
    ) -> None:
        pass

    async def delete_route(self, routespec: str) -> None:
        pass

    async def get_all_routes(
        self, inactive_since: datetime | None = None
    ) -> dict[str, dict[str, Any]]:
        return {}


def test_a_plugin_gets_its_own_options_type() -> None:
    client = _Recorder.from_options(ProxyOptions(api_url="http://127.0.0.1:8001"))
    assert isinstance(client.options, _WiderOptions) and client.options.namespace == "bindery"


def test_an_unknown_client_fails_when_settings_are_read() -> None:
    with pytest.raises(
        ValidationError, match="no proxy client named 'nginx-typo'.*available: .*rest"
    ):
        HubProxySettings(client="nginx-typo")
    with pytest.raises(ValidationError, match="extra"):
        HubProxySettings(typo_port=1)  # type: ignore[call-arg]


def test_a_clients_own_keys_come_from_client_options(monkeypatch) -> None:
    real = plugins.entry_points

    def with_recorder(group: str) -> list[EntryPoint]:
        found = list(real(group=group))
        if group == PROXIES.group:  # as if a distribution registered it
            found.append(EntryPoint("recorder", f"{__name__}:_Recorder", group))
        return found

    monkeypatch.setattr(plugins, "entry_points", with_recorder)
    settings = HubProxySettings(client="recorder", client_options={"namespace": "course-42"},
                                auth_token="secret-token")
    client = settings.make_client(timeout=4)
    assert isinstance(client, _Recorder) and isinstance(client.options, _WiderOptions)
    assert client.options.namespace == "course-42" and client.options.timeout == 4
    assert "secret-token" not in repr(client.options)  # the route-API token never prints


def test_a_wrong_client_option_is_named_when_settings_are_read(tmp_path) -> None:
    from bindery.composition import load_settings
    from bindery.config import ConfigError

    path = tmp_path / "bindery.toml"
    path.write_text("[hub.proxy]\nclient = 'rest'\n[hub.proxy.client_options]\nnamespace = 'x'\n")
    with pytest.raises(ConfigError, match=r"hub\.proxy\.client_options\.namespace.*line 4"):
        load_settings(path, environ={})
    path.write_text("[hub.proxy.client_options]\napi_url = 'http://elsewhere'\n")
    with pytest.raises(ConfigError, match="the hub sets them"):
        load_settings(path, environ={})
