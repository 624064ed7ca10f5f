"""Differential tests: the same requests to the real JupyterHub and to Bindery's hub.

One ordered script of requests (users, servers, tokens, groups, shares, share codes,
services, proxy, info, errors) runs once against each hub (session-scoped, both with
real single-user servers); then one test per step compares the status codes and the
response keys. Bindery may add the few keys listed in ``BINDERY_EXTRA_KEYS`` (documented
in docs/hub.md); it may not lack any of JupyterHub's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.services import ServiceSettings
from bindery.hub.spawners.factory import spawner_factory
from hub.conftest import make_settings
from hub.jupyterhub_oracle import ADMIN_SERVICE, EXTERNAL_SERVICE, JupyterHubProcess

pytestmark = pytest.mark.slow

#: Keys only Bindery's models have (Bindery's own facts; docs/hub.md lists them).
BINDERY_EXTRA_KEYS = {"user_kind", "image", "service", "prefix", "bindery_version"}
ADMIN = "admin"


@dataclass(frozen=True)
class Step:
    method: str
    path: str
    body: Any = None
    #: "admin", "none", "bad", or the label of an earlier step whose response had a token.
    auth: str = ADMIN
    page: bool = False
    #: Label: later steps can use this step's ``token`` as credentials.
    label: str = ""

    @property
    def id(self) -> str:
        extra = f" as {self.auth}" if self.auth != ADMIN else ""
        return f"{self.method} {self.path}{' [paged]' if self.page else ''}{extra}"


P = "/users"
STEPS = [
    Step("GET", ""),
    Step("GET", "/info"),
    Step("GET", "/user"),
    Step("GET", P, auth="none"),
    Step("GET", P, auth="bad"),
    Step("GET", "/user", auth="bad"),
    Step("POST", P, {"usernames": ["ann", "bob", "alice@example.org", "josé"]}),
    Step("POST", P, {"usernames": ["ann"]}),
    Step("POST", P, {"nonsense": 1}),
    Step("POST", "/users/carl"),
    Step("POST", "/users/carl"),
    Step("GET", "/users/carl"),
    Step("GET", P),
    Step("GET", P, page=True),
    Step("GET", f"{P}?sort=-name"),
    Step("GET", f"{P}?sort=last_activity"),
    Step("GET", f"{P}?sort=bogus"),
    Step("GET", f"{P}?offset=-1"),
    Step("GET", f"{P}?limit=abc"),
    Step("GET", f"{P}?name_filter=%25"),
    Step("GET", f"{P}?name_filter=a"),
    Step("GET", f"{P}?state=ready"),
    Step("GET", f"{P}?state=bogus"),
    Step("GET", f"{P}?limit=2&offset=1", page=True),
    Step("GET", f"{P}?include_stopped_servers"),
    Step("GET", "/users/alice@example.org"),
    Step("GET", "/users/jos%C3%A9"),
    Step("PATCH", "/users/carl", {"name": "carl2"}),
    Step("GET", "/users/carl"),
    Step("GET", "/users/carl2"),
    Step("PATCH", "/users/carl2", {"name": "ann"}),
    Step("PATCH", "/users/carl2", {"admin": True}),
    Step("DELETE", "/users/carl2"),
    Step("GET", "/users/nobody"),
    Step("DELETE", "/users/nobody"),
    # tokens
    Step("GET", "/users/ann/tokens"),
    Step("POST", "/users/ann/tokens", {"note": "n", "scopes": ["read:users!user=ann"]}),
    Step("POST", "/users/ann/tokens", {"scopes": ["bogus"]}),
    Step("POST", "/users/ann/tokens", {"scopes": ["read:users:name"]}),
    Step("POST", "/users/ann/tokens", {"note": "all of ann"}, label="ann"),
    Step("GET", "/users/ann/tokens"),
    Step("GET", "/users/ann/tokens/999999"),
    Step("GET", "/user", auth="ann"),
    Step("GET", "/users/ann", auth="ann"),
    Step("GET", "/users/bob", auth="ann"),
    Step("GET", P, auth="ann"),
    Step("GET", "/groups", auth="ann"),
    Step("GET", "/info", auth="ann"),
    Step("GET", "/proxy", auth="ann"),
    # groups
    Step("GET", "/groups"),
    Step("POST", "/groups", {"groups": ["g1", "g2"], "users": ["ann"]}),
    Step("POST", "/groups", {"groups": ["g1"]}),
    Step("POST", "/groups/g3", {"users": ["ann"]}),
    Step("POST", "/groups/g3"),
    Step("GET", "/groups/g3"),
    Step("POST", "/groups/g3/users", {"users": ["bob"]}),
    Step("DELETE", "/groups/g3/users", {"users": ["bob"]}),
    Step("PUT", "/groups/g3/properties", {"a": 1}),
    Step("GET", "/groups/nope"),
    Step("DELETE", "/groups/g3"),
    Step("GET", "/groups", page=True),
    Step("GET", "/users/ann"),
    # services, proxy
    Step("GET", "/services"),
    Step("GET", f"/services/{EXTERNAL_SERVICE}"),
    Step("GET", "/services/nope"),
    Step("GET", "/proxy", page=True),
    Step("POST", "/proxy"),
    Step("PATCH", "/proxy", {}),
    Step("POST", "/authorizations/token", {"username": "ann"}),
    Step("GET", "/authorizations/token/not-a-token"),
    Step("GET", "/authorizations/cookie/x/y"),
    # named servers (JupyterHub 6)
    Step("GET", "/users/ann/servers/s1"),
    Step("PUT", "/users/ann/servers/s1", {"user_options": {"a": 1}, "display_name": "S one"}),
    Step("PUT", "/users/ann/servers/s1", {}),
    Step("GET", "/users/ann/servers/s1"),
    Step("PATCH", "/users/ann/servers/s1", {"display_name": "S 1"}),
    Step("PATCH", "/users/ann/servers/nope", {"display_name": "x"}),
    Step("GET", "/users/ann?include_stopped_servers=1"),
    Step("DELETE", "/users/ann/servers/s1", {"remove": True}),
    Step("GET", "/users/ann/servers/s1"),
    # real servers
    Step("POST", "/users/nobody/servers/s2"),
    Step("POST", "/users/bob/servers/s2", {"user_options": {}, "display_name": "Two"}),
    Step("GET", "/users/bob/servers/s2"),
    Step("POST", "/users/bob/servers/s2"),
    Step("DELETE", "/users/bob/servers/s2", {"remove": True}),
    Step("POST", "/users/ann/server"),
    Step("GET", "/users/ann"),
    Step("GET", f"{P}?state=ready"),
    Step("GET", f"{P}?state=active", page=True),
    Step("GET", f"{P}?state=inactive"),
    Step("POST", "/users/ann/server"),
    Step("POST", "/users/ann/activity", {"last_activity": "2025-01-01T00:00:00Z"}),
    Step("POST", "/users/ann/activity", {"servers": {"nope": {}}}),
    # sharing (JupyterHub 5)
    Step("POST", "/shares/ann/", {"user": "bob"}),
    Step("POST", "/shares/ann/nope", {"user": "bob"}),
    Step("POST", "/shares/ann/", {"user": "nobody"}),
    Step("POST", "/shares/ann/", {}),
    Step("GET", "/shares/ann"),
    Step("GET", "/shares/ann/"),
    Step("GET", "/users/bob/shared"),
    Step("GET", "/users/bob/shared/ann/"),
    Step("PATCH", "/shares/ann/", {"user": "bob", "scopes": []}),
    Step("GET", "/users/bob/shared/ann/"),
    Step("POST", "/shares/ann/", {"group": "g1"}),
    Step("GET", "/groups/g1/shared"),
    Step("GET", "/groups/g1/shared/ann/"),
    Step("DELETE", "/groups/g1/shared/ann/"),
    Step("GET", "/groups/g1/shared/ann/"),
    Step("POST", "/share-codes/ann/", {}),
    Step("POST", "/share-codes/ann/", {"expires_in": 60}),
    Step("GET", "/share-codes/ann"),
    Step("GET", "/share-codes/ann/"),
    Step("DELETE", "/share-codes/ann/?id=sc_999"),
    Step("DELETE", "/share-codes/ann/"),
    Step("POST", "/shares/ann/", {"user": "bob"}),
    Step("DELETE", "/users/bob/shared/ann/"),
    Step("DELETE", "/users/bob/shared/ann/"),
    Step("POST", "/shares/ann/", {"user": "bob"}),
    Step("DELETE", "/shares/ann/"),
    Step("GET", "/shares/bob", auth="ann"),
    Step("POST", "/shares/ann/", {"user": "bob"}, auth="ann"),
    Step("GET", "/shares/ann/", auth="ann"),
    # stop, progress, clean up
    Step("DELETE", "/users/ann/server"),
    Step("DELETE", "/users/ann/server"),
    Step("GET", "/users/ann/server/progress"),
    Step("DELETE", "/users/ann/tokens/999999"),
    Step("DELETE", "/users/bob"),
    Step("GET", "/user", auth="ann"),
]


@dataclass
class Answer:
    status: int
    body: Any


def _run(client: httpx.Client | TestClient, api: str, admin_token: str) -> list[Answer]:
    tokens = {ADMIN: admin_token, "bad": "not-a-token"}
    out = []
    for step in STEPS:
        headers = {}
        if step.auth != "none":
            headers["Authorization"] = f"token {tokens[step.auth]}"
        if step.page:
            headers["Accept"] = "application/jupyterhub-pagination+json"
        extra = {} if isinstance(client, TestClient) else {"timeout": 90}
        answer = client.request(step.method, f"{api}{step.path}", headers=headers,
                                json=step.body, **extra)
        try:
            body = answer.json()
        except ValueError:
            body = None
        if step.label and isinstance(body, dict) and "token" in body:
            tokens[step.label] = body["token"]
        out.append(Answer(answer.status_code, body))
    return out


@pytest.fixture(scope="session")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[Answer, Answer]]]:
    admin_token = secrets.token_hex(32)
    service_token = secrets.token_hex(32)
    service_url = "http://127.0.0.1:9"  # a service that is declared, never called
    oracle = JupyterHubProcess(tmp_path_factory.mktemp("jupyterhub"), admin_token,
                               service_token, service_url)
    oracle.start()
    try:
        with httpx.Client() as client:
            theirs = _run(client, oracle.api, admin_token)
    finally:
        oracle.stop()
    root = tmp_path_factory.mktemp("bindery-hub")
    settings = make_settings(root, slow_stop_timeout=60)
    settings.slow_spawn_timeout = 60
    settings.services = [
        ServiceSettings(name=ADMIN_SERVICE, api_token=admin_token, scopes=["admin"]),
        ServiceSettings(name=EXTERNAL_SERVICE, url=service_url, api_token=service_token),
    ]
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        ours = _run(client, "/hub/api", admin_token)
    yield list(zip(theirs, ours, strict=True))


def _shape(body: Any) -> Any:
    """The keys of a response, recursively through lists, envelopes and user/server maps."""
    if isinstance(body, list):
        return [_shape(body[0])] if body and isinstance(body[0], (dict, list)) else []
    if not isinstance(body, dict):
        return None
    if "_pagination" in body:
        return {"items": _shape(body["items"]), "_pagination": sorted(body["_pagination"])}
    return sorted(body)


def _missing_and_extra(theirs: Any, ours: Any) -> tuple[set[str], set[str]]:
    """Keys JupyterHub has that we lack, and keys we add, anywhere in the two bodies."""
    missing: set[str] = set()
    extra: set[str] = set()
    if isinstance(theirs, dict) and isinstance(ours, dict):
        if "message" in theirs and "status" in theirs:
            return missing, extra  # errors: the shape {status, message} is checked by status
        missing |= set(theirs) - set(ours)
        extra |= set(ours) - set(theirs)
        for key in set(theirs) & set(ours):
            if key in ("servers", "items") and isinstance(theirs[key], dict):
                for name in set(theirs[key]) & set(ours[key]):
                    m, e = _missing_and_extra(theirs[key][name], ours[key][name])
                    missing |= m
                    extra |= e
            elif key in ("items",):
                m, e = _missing_and_extra(theirs[key], ours[key])
                missing |= m
                extra |= e
    elif (isinstance(theirs, list) and isinstance(ours, list) and theirs and ours
          and isinstance(theirs[0], dict) and isinstance(ours[0], dict)):
        return _missing_and_extra(theirs[0], ours[0])
    return missing, extra


@pytest.mark.parametrize("index", range(len(STEPS)), ids=[s.id for s in STEPS])
def test_bindery_answers_like_jupyterhub(answers, index):
    theirs, ours = answers[index]
    step = STEPS[index]
    assert ours.status == theirs.status, (
        f"{step.id}: JupyterHub {theirs.status} {theirs.body!r:.300}, "
        f"Bindery {ours.status} {ours.body!r:.300}"
    )
    if theirs.body is None:
        return
    assert type(ours.body) is type(theirs.body), f"{step.id}: {theirs.body!r:.200} vs {ours.body!r:.200}"
    missing, extra = _missing_and_extra(theirs.body, ours.body)
    assert not missing, f"{step.id}: Bindery lacks {sorted(missing)}"
    assert extra <= BINDERY_EXTRA_KEYS, f"{step.id}: Bindery adds {sorted(extra - BINDERY_EXTRA_KEYS)}"
    if isinstance(theirs.body, dict) and "message" in theirs.body:
        assert set(ours.body) >= {"status", "message"}


def test_the_script_covers_every_operation_of_the_spec():
    """Every operation of JupyterHub's rest-api.yml appears in the script (except OAuth2,
    covered by the OAuth provider's own tests, and shutdown, which would end the oracle)."""
    import re

    import yaml

    spec = yaml.safe_load((Path(__file__).parent / "data" / "jupyterhub-rest-api.yml").read_text())
    covered = {(s.method, re.sub(r"\?.*", "", s.path) or "/") for s in STEPS}

    def matches(template: str, path: str) -> bool:
        pattern = re.sub(r"\{[^}]+\}", "[^/]*", template)
        return re.fullmatch(pattern, path) is not None

    left = []
    for template, operations in spec["paths"].items():
        for method in operations:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            if template.startswith(("/oauth2", "/shutdown")):
                continue
            if not any(m == method.upper() and matches(template, p) for m, p in covered):
                left.append(f"{method.upper()} {template}")
    assert not left, f"operations missing from the differential script: {left}"
