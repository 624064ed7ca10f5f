"""``RestProxy``: the built-in proxy client, speaking configurable-http-proxy's REST API.

It works unchanged against Bindery's own proxy (``bindery.proxy``), configurable-http-proxy,
or anything else serving that API; it translates the hub's route specs
(``/user/alice/``) to CHP's stored form (``/user/alice``) and back.

    proxy = RestProxy(ProxyOptions(api_url="http://127.0.0.1:8001", auth_token=token))
    await proxy.add_route("/user/alice/", "http://127.0.0.1:9001",
                          {"user": "alice", "server_token": server_token})
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from bindery.hub.proxy.base import (
    Proxy,
    ProxyError,
    ProxyOptions,
    path_to_routespec,
    routespec_to_path,
)
from bindery.request_id import outgoing_headers


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def _pass_request_id(request: httpx.Request) -> None:
    """The hub request that changes a route names itself to the proxy (its logs show it)."""
    request.headers.update(outgoing_headers())


class RestProxy(Proxy):
    """Talks configurable-http-proxy's REST API (the built-in proxy speaks the same)."""

    name: ClassVar[str] = "rest"

    def __init__(self, options: ProxyOptions) -> None:
        super().__init__(options)
        self.api_url = options.api_url.rstrip("/")
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"token {options.auth_token}"},
            timeout=options.timeout,
            trust_env=False,
            event_hooks={"request": [_pass_request_id]},
        )

    def _url(self, routespec: str) -> str:
        path = routespec_to_path(routespec)
        return f"{self.api_url}/api/routes{'' if path == '/' else path}"

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            raise ProxyError(
                f"The proxy's route API at {self.api_url} cannot be reached: {err}"
            ) from err
        if response.status_code == 403:
            raise ProxyError(
                "The proxy refused the route API token (check CONFIGPROXY_AUTH_TOKEN)."
            )
        return response

    async def add_route(
        self, routespec: str, target: str, data: dict[str, Any] | None = None
    ) -> None:
        body = {**(data or {}), "target": target}
        response = await self._call("POST", self._url(routespec), json=body)
        if response.status_code != 201:
            raise ProxyError(
                f"Adding route {routespec} failed ({response.status_code}): {response.text}"
            )

    async def delete_route(self, routespec: str) -> None:
        response = await self._call("DELETE", self._url(routespec))
        if response.status_code not in (204, 404):
            raise ProxyError(
                f"Removing route {routespec} failed ({response.status_code}): {response.text}"
            )

    async def get_all_routes(
        self, inactive_since: datetime | None = None
    ) -> dict[str, dict[str, Any]]:
        params = None
        if inactive_since is not None:
            if (
                inactive_since.tzinfo is None
            ):  # naive = UTC (the hub's DB convention); say so explicitly
                inactive_since = inactive_since.replace(tzinfo=UTC)
            params = {"inactive_since": inactive_since.isoformat()}
        response = await self._call("GET", f"{self.api_url}/api/routes", params=params)
        if response.status_code != 200:
            raise ProxyError(f"Listing routes failed ({response.status_code}): {response.text}")
        routes: dict[str, dict[str, Any]] = {}
        for path, entry in response.json().items():
            entry = dict(entry)
            target = entry.pop("target", None)
            last_activity = _parse_time(entry.pop("last_activity", None))
            routespec = path_to_routespec(path)
            routes[routespec] = {
                "routespec": routespec,
                "target": target,
                "data": entry,
                "last_activity": last_activity,
            }
        return routes

    async def aclose(self) -> None:
        await self._http.aclose()
