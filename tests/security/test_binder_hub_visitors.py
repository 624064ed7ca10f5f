"""Issue 8, finding 3: anonymous binder visitors cannot bypass the binder through ``/hub/``.

The attack: on a public binder, ``GET /hub/login`` made a temporary user with ``self``;
with its cookie and the XSRF header, ``POST /hub/api/users/<me>/server`` (any allowed
image) and ``.../servers/a``, ``.../servers/b`` all returned 201: containers outside
the binder's quota, rate limit and ban list, and a new user per visit. Now a temporary
user may only see, use and stop what the binder started for it, and ``bindery serve``'s
``/hub/login`` mints no users (the binder creates them itself).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hub.conftest import make_settings, page_xsrf
from sqlalchemy import select
from starlette.testclient import TestClient

from bindery.commands.serve import prepare_settings
from bindery.composition import Settings
from bindery.hub.app import Hub, build_app
from bindery.hub.db.models import User
from bindery.hub.spawners.factory import spawner_factory
from bindery.hub.tokens import create_token

SESSION_COOKIE = "bindery-session"
XSRF_COOKIE = "_xsrf"
XSRF_HEADER = "X-XSRFToken"
ATTACKS = (
    ("POST", "/server", {"image": "bindery-r/anything"}),
    ("POST", "/servers/a", {"image": "bindery-r/anything"}),
    ("POST", "/servers/b", {}),
)


@pytest.fixture
def anonymous_hub(tmp_path) -> Iterator[tuple[Hub, TestClient]]:
    """A hub with the anonymous authenticator as ``bindery hub`` would run it (login on visit)."""
    settings = make_settings(tmp_path)
    settings.auth = settings.auth.with_kind("anonymous")
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        yield hub, client


def _visit(client: TestClient) -> tuple[str, dict[str, str]]:
    """Log in as a visitor; the user's name and the headers a browser script would send."""
    answer = client.get("/hub/login", follow_redirects=False)
    assert answer.status_code == 302 and SESSION_COOKIE in answer.cookies
    xsrf = page_xsrf(client)  # the login's XSRF token, as a hub page gives it
    me = client.get("/hub/api/user")
    assert me.status_code == 200 and me.json()["user_kind"] == "temporary"
    return me.json()["name"], {XSRF_HEADER: xsrf}


def _servers_of(hub: Hub, name: str) -> int:
    with hub.db() as s:
        return len(s.scalars(select(User).where(User.name == name)).one().servers)


def test_a_visitor_cannot_start_servers_through_the_hub_api(anonymous_hub):
    hub, client = anonymous_hub
    name, headers = _visit(client)
    for method, tail, body in ATTACKS:
        answer = client.request(method, f"/hub/api/users/{name}{tail}", json=body,
                                headers=headers)
        assert answer.status_code == 403, (tail, answer.text)
        assert "servers" in answer.json()["message"]
    assert _servers_of(hub, name) == 0


def test_a_visitor_cannot_start_a_server_from_the_hub_pages(anonymous_hub):
    hub, client = anonymous_hub
    name, headers = _visit(client)
    for form in ({}, {"server_name": "a"}):
        answer = client.post("/hub/spawn", data={**form, "_xsrf": headers[XSRF_HEADER]},
                             follow_redirects=False)
        assert answer.status_code == 403, answer.text
    assert _servers_of(hub, name) == 0


def test_a_visitor_cannot_mint_tokens_or_touch_others(anonymous_hub):
    hub, client = anonymous_hub
    name, headers = _visit(client)
    minted = client.post(f"/hub/api/users/{name}/tokens", json={}, headers=headers)
    assert minted.status_code == 403
    narrow = client.post(f"/hub/api/users/{name}/tokens",
                         json={"scopes": [f"access:servers!user={name}"]}, headers=headers)
    assert narrow.status_code == 403
    hub.get_or_create_user("bob")
    assert client.get("/hub/api/users/bob", headers=headers).status_code in (403, 404)
    # What it keeps: its own user, and stopping its own (here: absent) server.
    assert client.get(f"/hub/api/users/{name}").status_code == 200
    assert client.delete(f"/hub/api/users/{name}/server", headers=headers).status_code in (
        202, 204, 400, 404)


def test_a_self_token_of_a_temporary_user_is_no_way_around(anonymous_hub):
    """Even a ``self`` token (made by an admin) of a temporary user cannot start servers."""
    hub, client = anonymous_hub
    name, _ = _visit(client)
    client.cookies.clear()
    with hub.db() as s:
        row = s.scalars(select(User).where(User.name == name)).one()
        token, _ = create_token(s, user=row, scopes=["self"])
        s.commit()
    answer = client.post(f"/hub/api/users/{name}/server", json={},
                         headers={"Authorization": f"token {token}"})
    assert answer.status_code == 403
    assert client.get(f"/hub/api/users/{name}",
                      headers={"Authorization": f"token {token}"}).status_code == 200


def test_what_the_binder_does_for_a_visitor_still_works(anonymous_hub):
    """The binder's own calls (admin token): create the temporary user, give it a token
    for its server only, start its server."""
    hub, client = anonymous_hub
    with hub.db() as s:
        admin, _ = create_token(s, service="binder", scopes=["admin"])
        s.commit()
    auth = {"Authorization": f"token {admin}"}
    name = "tmp-brave-otter-123456"
    assert client.post(f"/hub/api/users/{name}", json={"admin": False, "kind": "temporary"},
                       headers=auth).status_code == 201
    token = client.post(f"/hub/api/users/{name}/tokens",
                        json={"scopes": [f"access:servers!user={name}"], "note": "binder launch"},
                        headers=auth)
    assert token.status_code == 201, token.text
    started = client.post(f"/hub/api/users/{name}/server", json={}, headers=auth)
    try:
        assert started.status_code in (201, 202), started.text
    finally:
        client.delete(f"/hub/api/users/{name}/server", headers=auth)


def test_bindery_serve_mints_no_users_on_login_visits(tmp_path):
    """``bindery serve``: the binder creates visitors' users; ``/hub/login`` makes none."""
    served = Settings()
    served.binder.data_dir = str(tmp_path / "data")
    auth = prepare_settings(served).hub.auth
    assert auth.kind == "anonymous"
    settings = make_settings(tmp_path)
    settings.auth = auth
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        for _ in range(3):
            answer = client.get("/hub/login", follow_redirects=False)
            assert answer.status_code == 403
            assert SESSION_COOKIE not in answer.cookies
            assert "binder" in answer.text
    with hub.db() as s:
        assert s.scalars(select(User)).all() == []
