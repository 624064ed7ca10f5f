"""schemathesis: requests generated from JupyterHub's own rest-api.yml never make the hub fail.

A bounded run (a few examples per operation) against a real ``bindery hub`` process
with an admin token: any answer is fine except a 5xx. What the hub answers differently
from the spec on purpose is listed in docs/hub.md; the status codes and keys of every
operation are compared with the real JupyterHub in test_jupyterhub_differential.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from hub.conftest import HubProcess

pytestmark = pytest.mark.slow

SPEC = Path(__file__).parent / "data" / "jupyterhub-rest-api.yml"
# /shutdown would end the hub under test; everything else is exercised.
SCHEMA = schemathesis.openapi.from_path(SPEC).exclude(path="/shutdown")


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    # Starts answer at once (202) so generated start requests never wait for a server.
    hub = HubProcess(tmp_path_factory.mktemp("schemathesis"),
                     extra_env={"BINDERY_HUB__SLOW_SPAWN_TIMEOUT": "0",
                                "BINDERY_HUB__SLOW_STOP_TIMEOUT": "0"})
    hub.start()
    try:
        yield hub
    finally:
        hub.stop_all_servers()
        hub.stop()


@SCHEMA.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_generated_requests_get_no_server_error(case, live_hub):
    response = case.call(base_url=f"{live_hub.url}/hub/api", headers=live_hub.headers(),
                         timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
