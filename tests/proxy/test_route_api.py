"""CHP's route API, run identically against the built-in proxy and the real configurable-http-proxy.

Both run as real processes (``ProxyProcess`` = ``python -m bindery.proxy``, ``ChpProcess``
= configurable-http-proxy from npm), driven by the same ``RestProxy`` the hub uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bindery.hub.proxy.base import ProxyError, ProxyOptions
from bindery.hub.proxy.processes import ChpProcess, ProxyProcess
from bindery.hub.proxy.rest import RestProxy

from .conftest import JupyterServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", params=["builtin", "chp"])
def proxy_process(request: pytest.FixtureRequest) -> Iterator[ProxyProcess | ChpProcess]:
    if request.param == "chp":
        process: ProxyProcess | ChpProcess = ChpProcess(
            executable=request.getfixturevalue("chp_executable")
        )
    else:
        process = ProxyProcess()
    with process:
        yield process


@pytest.fixture
async def rest(proxy_process: ProxyProcess | ChpProcess, anyio_backend: str):  # type: ignore[no-untyped-def]
    client = proxy_process.client()
    for routespec in await client.get_all_routes():
        await client.delete_route(routespec)
    yield client
    await client.aclose()


def _api(process: ProxyProcess | ChpProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=process.api_url,
        trust_env=False,
        headers={"Authorization": f"token {process.auth_token}"},
    )


async def test_add_list_get_delete(
    rest: RestProxy, proxy_process: ProxyProcess | ChpProcess
) -> None:
    await rest.add_route(
        "/user/alice/", "http://127.0.0.1:9", {"user": "alice", "server_token": "s3"}
    )
    routes = await rest.get_all_routes()
    assert set(routes) == {"/user/alice/"}
    alice = routes["/user/alice/"]
    assert alice["target"] == "http://127.0.0.1:9"
    assert alice["data"] == {"user": "alice", "server_token": "s3"}
    assert abs((datetime.now(UTC) - alice["last_activity"]).total_seconds()) < 30

    async with _api(proxy_process) as api:
        raw = (await api.get("/api/routes")).json()
        assert raw["/user/alice"]["target"] == "http://127.0.0.1:9"
        assert raw["/user/alice"]["user"] == "alice"
        one = await api.get("/api/routes/user/alice")
        assert one.status_code == 200 and one.json()["target"] == "http://127.0.0.1:9"
        assert (await api.get("/api/routes/user/nobody")).status_code == 404
        assert (await api.delete("/api/routes/user/alice")).status_code == 204
        assert (await api.delete("/api/routes/user/alice")).status_code == 404
    assert await rest.get_all_routes() == {}


async def test_api_requires_the_token(proxy_process: ProxyProcess | ChpProcess) -> None:
    async with httpx.AsyncClient(base_url=proxy_process.api_url, trust_env=False) as api:
        assert (await api.get("/api/routes")).status_code == 403
        assert (
            await api.get("/api/routes", headers={"Authorization": "token wrong"})
        ).status_code == 403
        post = await api.post(
            "/api/routes/user/eve",
            json={"target": "http://127.0.0.1:9"},
            headers={"Authorization": "token wrong"},
        )
        assert post.status_code == 403
    with pytest.raises(ProxyError, match="token"):
        bad = RestProxy(ProxyOptions(api_url=proxy_process.api_url, auth_token="wrong"))
        try:
            await bad.add_route("/user/eve/", "http://127.0.0.1:9")
        finally:
            await bad.aclose()


async def test_bad_input_is_400_with_a_message(
    rest: RestProxy, proxy_process: ProxyProcess | ChpProcess
) -> None:
    async with _api(proxy_process) as api:
        bad_json = await api.post(
            "/api/routes/user/x", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 400
        assert "JSON" in bad_json.text
        no_target = await api.post("/api/routes/user/x", json={"user": "x"})
        assert no_target.status_code == 400
        assert "target" in no_target.text
        bad_date = await api.get("/api/routes", params={"inactive_since": "last tuesday"})
        assert bad_date.status_code == 400
        assert "ISO" in bad_date.text


async def test_inactive_since_and_proxying(
    rest: RestProxy, proxy_process: ProxyProcess | ChpProcess, jupyter_server: JupyterServer
) -> None:
    await rest.add_route("/user/alice/", jupyter_server.url)
    await rest.add_route("/user/idle/", jupyter_server.url)
    await asyncio.sleep(1.2)
    between = datetime.now(UTC)
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(trust_env=False) as http:
        # full path and Host reach jupyter_server (its base_url is /user/alice/):
        # no prefix stripping
        r = await http.get(f"{proxy_process.public_url}/user/alice/api")
        assert r.status_code == 200 and "version" in r.json()
    for _ in range(50):  # CHP records activity asynchronously
        idle = await rest.get_all_routes(inactive_since=between)
        if "/user/alice/" not in idle:
            break
        await asyncio.sleep(0.05)
    assert set(idle) == {"/user/idle/"}
    assert set(await rest.get_all_routes(inactive_since=datetime(2000, 1, 1, tzinfo=UTC))) == set()
