"""The ``Proxy`` client contract (bindery/hub/proxy/base.py), checked on every registered client.

Parametrised over ``PROXIES.names()``. A client is only meaningful against the proxy
it drives, so each is paired with real proxy processes on loopback (``BACKENDS``):
``rest`` against Bindery's own proxy (``python -m bindery.proxy``, started as the hub
starts it) and configurable-http-proxy, ``nginx`` against the system's nginx. Requests travel
through the proxy's public port to a small upstream, so activity is real traffic.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest
from pydantic import ValidationError

from bindery.hub.proxy.base import PROXIES, Proxy, ProxyError, ProxyOptions
from bindery.hub.proxy.nginx_process import NginxProcess
from bindery.hub.proxy.processes import ChpProcess, ProxyProcess, free_port, install_chp

Process = ProxyProcess | ChpProcess | NginxProcess

NAMES = PROXIES.names()

#: The proxy processes each client is checked against (name → ways to start one).
BACKENDS: dict[str, dict[str, Callable[[], AbstractContextManager[Process]]]] = {
    "rest": {
        "builtin": lambda: ProxyProcess(),
        # The real configurable-http-proxy: setup.sh --dev installs it (npm), so does this.
        "chp": lambda: ChpProcess(executable=install_chp()),
    },
    # Debian's nginx (setup.sh --dev installs it), configured and reloaded by the client.
    "nginx": {"nginx": lambda: NginxProcess()},
}


def _pairs() -> list[tuple[str, str]]:
    pairs = []
    for name in NAMES:
        for backend in BACKENDS.get(name, {"(none)": lambda: pytest.fail("unreachable")}):
            pairs.append((name, backend))
    return pairs


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = f"upstream saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A server the routes point to, on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module", params=_pairs(), ids=lambda pair: f"{pair[0]}-{pair[1]}")
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Process]]:
    """(client name, a running proxy process) for every pair."""
    name, which = request.param
    starters = BACKENDS.get(name)
    if starters is None:
        pytest.fail(f"The proxy client {name!r} is registered but BACKENDS in {__file__} names no "
                    "proxy to check it against: add one.", pytrace=False)
    with starters[which]() as process:
        yield name, process


@pytest.fixture
async def client(backend: tuple[str, Process], anyio_backend: str) -> AsyncIterator[Proxy]:
    """The client built as the hub builds it: ``cls.from_options(ProxyOptions(...))``."""
    name, process = backend
    proxy = PROXIES.load(name).from_options(
        ProxyOptions(api_url=process.api_url, auth_token=process.auth_token, timeout=5))
    yield proxy
    await proxy.aclose()


@pytest.mark.parametrize("name", NAMES)
def test_options_extend_the_hubs_and_refuse_unknown_keys(name: str) -> None:
    model = PROXIES.load(name).options_model
    assert issubclass(model, ProxyOptions)
    common = {"api_url": "http://127.0.0.1:8001"}
    options = model.model_validate(common)  # the hub's keys are enough: the rest have defaults
    with pytest.raises(ValidationError, match="surely_not_an_option"):
        model.model_validate({**common, "surely_not_an_option": 1})
    with pytest.raises(ValidationError):
        options.api_url = "http://127.0.0.1:1"


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_built_from_the_hubs_options_as_its_own_type(name: str) -> None:
    cls = PROXIES.load(name)
    proxy = cls.from_options(ProxyOptions(api_url="http://127.0.0.1:8001", auth_token="t"))
    try:
        assert isinstance(proxy, cls) and isinstance(proxy.options, cls.options_model)
        assert proxy.options.api_url == "http://127.0.0.1:8001"
    finally:
        await proxy.aclose()


@pytest.mark.anyio
async def test_add_get_replace_delete_a_route(client: Proxy, upstream: str) -> None:
    spec = "/user/contract-a/"
    data = {"user": "contract-a", "server_name": "", "server_token": "tok-a"}
    await client.add_route(spec, upstream, data)
    route = await client.get_route(spec)
    assert route is not None
    assert set(route) == {"routespec", "target", "data", "last_activity"}
    assert (route["routespec"], route["target"], route["data"]) == (spec, upstream, data)
    assert route["last_activity"] is None or route["last_activity"].tzinfo is not None
    assert await client.get_route("/user/contract-a") == route, "with or without the slash"
    assert (await client.get_all_routes())[spec] == route

    elsewhere = f"http://127.0.0.1:{free_port()}"
    await client.add_route(spec, elsewhere, data)  # replaces, never duplicates
    replaced = await client.get_route(spec)
    assert replaced is not None and replaced["target"] == elsewhere
    assert [s for s in await client.get_all_routes() if s == spec] == [spec]

    await client.delete_route(spec)
    assert await client.get_route(spec) is None
    await client.delete_route(spec)  # deleting a missing route is not an error
    assert spec not in await client.get_all_routes()


@pytest.mark.anyio
async def test_traffic_through_the_proxy_is_activity(
        client: Proxy, backend: tuple[str, Process], upstream: str) -> None:
    # No "user" in the data: a user's route would also need the hub's login check.
    spec = "/services/contract-b/"
    await client.add_route(spec, upstream, {"service": "contract-b"})
    try:
        await anyio.sleep(1.1)  # activity is recorded at most once a second per route
        before = datetime.now(UTC) - timedelta(milliseconds=50)
        async with httpx.AsyncClient(trust_env=False) as http:
            answer = await http.get(f"{backend[1].public_url}/services/contract-b/lab")
        assert answer.status_code == 200 and "upstream saw /services/contract-b/lab" in answer.text
        route = await client.get_route(spec)
        assert route is not None and route["last_activity"] is not None
        assert route["last_activity"] >= before
        idle_since_before = await client.get_all_routes(inactive_since=before)
        assert spec not in idle_since_before, "it was used after `before`"
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert spec in await client.get_all_routes(inactive_since=later)
        naive = later.replace(tzinfo=None)  # naive times are UTC, the hub's DB convention
        assert spec in await client.get_all_routes(inactive_since=naive)
    finally:
        await client.delete_route(spec)


@pytest.mark.anyio
async def test_failures_are_proxy_errors_a_person_can_read(
        backend: tuple[str, Process]) -> None:
    name, process = backend
    cls = PROXIES.load(name)
    wrong_token = cls.from_options(ProxyOptions(api_url=process.api_url, auth_token="wrong", timeout=5))
    nobody_there = cls.from_options(ProxyOptions(api_url=f"http://127.0.0.1:{free_port()}", timeout=2))
    try:
        for proxy in (wrong_token, nobody_there):
            with pytest.raises(ProxyError) as refused:
                await proxy.add_route("/user/contract-c/", "http://127.0.0.1:9")
            assert "Traceback" not in str(refused.value) and len(str(refused.value)) > 20
            with pytest.raises(ProxyError):
                await proxy.get_all_routes()
    finally:
        await wrong_token.aclose()
        await nobody_there.aclose()
