"""A service routed at /services/<name>/ never receives people's hub login cookie.

The built-in proxy forwards the browser's cookies to the service (it may have its own),
but strips ``bindery-session``: otherwise any declared service could replay a visitor's
hub login against the hub API.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hub.conftest import service_url  # noqa: F401 - fixture


@pytest.fixture
def hub_env(service_url: str) -> dict[str, str]:  # noqa: F811 - the imported fixture
    return {"BINDERY_HUB__SERVICES": json.dumps([{"name": "ext", "url": service_url}])}


def test_the_hub_session_cookie_never_reaches_a_service(hub_process):
    hub = hub_process
    httpx.post(f"{hub.api}/users/ann", headers=hub.headers(), timeout=10)
    session = hub.login_cookie("ann")
    seen = httpx.get(f"{hub.url}/services/ext/page", timeout=10,
                     headers={"Cookie": f"bindery-session={session}; theme=dark"}).json()
    assert seen["path"] == "/services/ext/page"
    assert seen["cookie"] == "theme=dark"
