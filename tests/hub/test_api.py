"""The REST API in-process: JupyterHub's shapes, tokens and scopes, clear errors, real servers."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from bindery.hub.db.models import ApiToken, Server, User
from bindery.hub.security import SESSION_COOKIE, XSRF_COOKIE

from .conftest import page_xsrf


def test_root_reports_a_jupyterhub_api_version_and_health(api_hub):
    answer = api_hub.client.get("/hub/api")
    assert answer.status_code == 200
    major = int(answer.json()["version"].split(".")[0])
    assert major >= 2  # the idle culler uses ?state= and pagination from 1.3 / 2.0 on
    assert api_hub.client.get("/hub/health").json() == {"status": "ok"}


def test_users_can_be_created_read_and_deleted(api_hub):
    c, h = api_hub.client, api_hub.headers()
    created = c.post("/hub/api/users", json={"usernames": ["ann", "bob"]}, headers=h)
    assert created.status_code == 201
    assert sorted(u["name"] for u in created.json()) == ["ann", "bob"]
    assert c.post("/hub/api/users", json={"usernames": ["ann"]}, headers=h).status_code == 409
    assert (
        c.post("/hub/api/users/tmp", json={"kind": "temporary"}, headers=h).json()["user_kind"]
        == "temporary"
    )
    assert c.post("/hub/api/users/odd", json={"kind": "robot"}, headers=h).status_code == 400
    assert c.post("/hub/api/users/cy", json={"admin": True}, headers=h).status_code == 201
    cy = c.get("/hub/api/users/cy", headers=h).json()
    assert cy["admin"] is True and cy["servers"] == {} and cy["server"] is None
    assert c.delete("/hub/api/users/cy", headers=h).status_code == 204
    missing = c.get("/hub/api/users/cy", headers=h)
    assert missing.status_code == 404 and "cy" in missing.json()["message"]


@pytest.mark.parametrize("name", ["a" * 129, "x%2Fy", "%20lead", "tab%09in"])
def test_invalid_user_names_are_refused_with_a_reason(api_hub, name):
    answer = api_hub.client.post(f"/hub/api/users/{name}", headers=api_hub.headers())
    assert answer.status_code in (400, 404)
    body = answer.json()
    assert body["status"] == answer.status_code and body["message"]


def test_malformed_json_gets_a_400_that_says_so(api_hub):
    answer = api_hub.client.post("/hub/api/users", content=b"{not json", headers=api_hub.headers())
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["message"]
    wrong = api_hub.client.post("/hub/api/users", json=["x"], headers=api_hub.headers())
    assert wrong.status_code == 400 and "object" in wrong.json()["message"]


def test_missing_invalid_expired_and_revoked_tokens_are_refused(api_hub):
    c = api_hub.client
    assert c.get("/hub/api/users").status_code == 403
    assert c.get("/hub/api/users", headers={"Authorization": "token nope"}).status_code == 403
    assert c.get("/hub/api/users", headers={"Authorization": "Basic abc"}).status_code == 403
    expired = api_hub.token_for("dan", expires_in=0.001)
    import time

    time.sleep(0.01)
    assert c.get("/hub/api/user", headers=api_hub.headers(expired)).status_code == 403
    token = api_hub.token_for("dan")
    assert (
        c.get("/hub/api/user", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "dan"
    )
    tokens = c.get("/hub/api/users/dan/tokens", headers=api_hub.headers(token)).json()["api_tokens"]
    mine = [t for t in tokens if t["prefix"] == token[:4]]
    assert mine and "token" not in mine[0]
    assert (
        c.delete(
            f"/hub/api/users/dan/tokens/{mine[0]['id']}", headers=api_hub.headers(token)
        ).status_code
        == 204
    )
    assert c.get("/hub/api/user", headers=api_hub.headers(token)).status_code == 403


def test_tokens_are_stored_only_as_hashes(api_hub):
    answer = api_hub.client.post(
        "/hub/api/users/eve/tokens",
        json={"note": "laptop"},
        headers=api_hub.headers(api_hub.token_for("eve")),
    )
    assert answer.status_code == 201
    token = answer.json()["token"]
    with api_hub.hub.db() as s:
        rows = s.scalars(select(ApiToken)).all()
        assert all(token not in (r.hashed, r.prefix, r.note) for r in rows)
        assert any(r.prefix == token[:4] and r.note == "laptop" for r in rows)


def test_scopes_limit_what_a_token_can_do(api_hub):
    c = api_hub.client
    api_hub.token_for("bob")
    alice = api_hub.token_for("alice")
    # A user sees themselves, not others, and cannot list everyone.
    assert c.get("/hub/api/users/alice", headers=api_hub.headers(alice)).status_code == 200
    # Of others, only the name (read:users:name, which sharing by name needs).
    other = c.get("/hub/api/users/bob", headers=api_hub.headers(alice))
    assert other.status_code == 200 and set(other.json()) == {"kind", "name", "admin", "user_info"}
    assert c.get("/hub/api/users", headers=api_hub.headers(alice)).status_code == 403
    # ...and cannot mint a token with more power than they have.
    grab = c.post(
        "/hub/api/users/alice/tokens", json={"scopes": ["admin"]}, headers=api_hub.headers(alice)
    )
    assert grab.status_code == 403
    bad = c.post(
        "/hub/api/users/alice/tokens", json={"scopes": ["fly"]}, headers=api_hub.headers(alice)
    )
    assert bad.status_code == 400 and "does not exist" in bad.json()["message"]
    # A culler-like service token lists users with activity but cannot create users.
    culler = api_hub.service_token(
        ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    )
    listed = c.get("/hub/api/users", headers=api_hub.headers(culler))
    assert listed.status_code == 200 and {"alice", "bob"} <= {u["name"] for u in listed.json()}
    assert "last_activity" in listed.json()[0] and "servers" in listed.json()[0]
    assert c.post("/hub/api/users/zed", headers=api_hub.headers(culler)).status_code == 403
    # A narrowed scope works for that user only.
    narrow = api_hub.service_token(["read:users!user=bob"])
    assert c.get("/hub/api/users/bob", headers=api_hub.headers(narrow)).status_code == 200
    # (JupyterHub's 404: the scope is held, for other users only.)
    assert c.get("/hub/api/users/alice", headers=api_hub.headers(narrow)).status_code == 404


def test_pagination_follows_jupyterhub(api_hub):
    c, h = api_hub.client, api_hub.headers()
    c.post("/hub/api/users", json={"usernames": [f"u{i:02d}" for i in range(25)]}, headers=h)
    first = c.get(
        "/hub/api/users?limit=10", headers={**h, "Accept": "application/jupyterhub-pagination+json"}
    )
    page = first.json()
    assert [u["name"] for u in page["items"]][:2] == ["u00", "u01"]
    assert page["_pagination"]["total"] == 25 and page["_pagination"]["next"]["offset"] == 10
    seen, url = [], first.json()["_pagination"]["next"]["url"]
    seen += [u["name"] for u in page["items"]]
    while url:
        nxt = c.get(
            urlparse(url).path + "?" + urlparse(url).query,
            headers={**h, "Accept": "application/jupyterhub-pagination+json"},
        ).json()
        seen += [u["name"] for u in nxt["items"]]
        url = nxt["_pagination"]["next"] and nxt["_pagination"]["next"]["url"]
    assert seen == [f"u{i:02d}" for i in range(25)]
    plain = c.get("/hub/api/users?offset=20", headers=h).json()
    assert isinstance(plain, list) and len(plain) == 5
    assert c.get("/hub/api/users?limit=abc", headers=h).status_code == 400
    assert c.get("/hub/api/users?state=sleepy", headers=h).status_code == 400


def test_activity_updates_user_and_server(api_hub):
    c = api_hub.client
    token = api_hub.token_for("fay")
    import datetime as dt
    import time

    time.sleep(1.1)
    when = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    before = c.get("/hub/api/users/fay", headers=api_hub.headers(token)).json()["last_activity"]
    answer = c.post(
        "/hub/api/users/fay/activity", json={"last_activity": when}, headers=api_hub.headers(token)
    )
    assert answer.status_code == 200
    after = c.get("/hub/api/users/fay", headers=api_hub.headers(token)).json()["last_activity"]
    assert after == when and after > before
    bad = c.post(
        "/hub/api/users/fay/activity",
        json={"last_activity": "yesterday"},
        headers=api_hub.headers(token),
    )
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["message"]
    unknown = c.post(
        "/hub/api/users/fay/activity",
        json={"servers": {"nope": {"last_activity": "2026-01-01T00:00:00Z"}}},
        headers=api_hub.headers(token),
    )
    assert unknown.status_code == 400


def _port_open(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


def _server_target(api_hub, user: str, name: str = "") -> str:
    with api_hub.hub.db() as s:
        return (
            s.scalars(select(Server).join(User).where(User.name == user, Server.name == name))
            .one()
            .url
        )


def test_start_progress_and_stop_a_real_server(api_hub):
    c = api_hub.client
    token = api_hub.token_for("gil")
    h = api_hub.headers(token)
    started = c.post("/hub/api/users/gil/server", json={}, headers=h)
    assert started.status_code == 201, started.text
    model = c.get("/hub/api/users/gil", headers=h).json()
    server = model["servers"][""]
    assert server["ready"] is True and server["pending"] is None and server["url"] == "/user/gil/"
    assert server["started"].endswith("Z") and model["server"] == "/user/gil/"
    target = _server_target(api_hub, "gil")
    assert _port_open(target)
    with c.stream("GET", "/hub/api/users/gil/server/progress", headers=h) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[len("data: ") :])
            for line in stream.iter_lines()
            if line.startswith("data: ")
        ]
    assert events[-1]["ready"] is True and events[-1]["url"] == "/user/gil/"
    again = c.post("/hub/api/users/gil/server", headers=h)
    assert again.status_code == 400 and "already running" in again.json()["message"]
    ready = c.get("/hub/api/users?state=ready", headers=api_hub.headers()).json()
    assert [u["name"] for u in ready] == ["gil"]
    assert c.delete("/hub/api/users/gil/server", headers=h).status_code == 204
    assert not _port_open(target)
    assert c.get("/hub/api/users/gil", headers=h).json()["servers"] == {}
    gone = c.get("/hub/api/users/gil/server/progress", headers=h)
    assert gone.status_code == 400


def test_named_servers_start_stop_and_remove(api_hub):
    c = api_hub.client
    h = api_hub.headers(api_hub.token_for("hal"))
    assert c.post("/hub/api/users/hal/servers/proj", headers=h).status_code == 201
    servers = c.get("/hub/api/users/hal", headers=h).json()["servers"]
    assert servers["proj"]["url"] == "/user/hal/proj/" and servers["proj"]["ready"]
    assert (
        c.request(
            "DELETE", "/hub/api/users/hal/servers/proj", json={"remove": True}, headers=h
        ).status_code
        == 204
    )
    with api_hub.hub.db() as s:
        assert s.scalars(select(Server).where(Server.name == "proj")).first() is None
    assert c.delete("/hub/api/users/hal/servers/ghost", headers=h).status_code == 404
    bad = c.post("/hub/api/users/hal/servers/bad%2Fname", headers=h)
    assert bad.status_code in (400, 404)


def test_disallowed_image_is_refused_before_anything_starts(api_hub):
    h = api_hub.headers(api_hub.token_for("ida"))
    answer = api_hub.client.post(
        "/hub/api/users/ida/server", json={"image": "evil/miner:latest"}, headers=h
    )
    assert answer.status_code == 400 and "not allowed" in answer.json()["message"]


def test_capacity_limit_answers_429_with_retry_after(api_hub):
    api_hub.hub.settings.spawner.max_concurrent_spawns = 1
    api_hub.hub.settings.slow_spawn_timeout = 0
    c, h = api_hub.client, api_hub.headers()
    c.post("/hub/api/users", json={"usernames": ["jo", "kim"]}, headers=h)
    assert c.post("/hub/api/users/jo/server", headers=h).status_code == 202
    refused = c.post("/hub/api/users/kim/server", headers=h)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(api_hub.hub.settings.spawner.retry_after)
    assert "try again" in refused.json()["message"]
    # The pending spawn finishes and is reported as ready by the progress stream.
    with c.stream("GET", "/hub/api/users/jo/server/progress", headers=h) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[0]["progress"] == 0 and events[-1].get("ready") is True


def test_cookie_requests_that_change_state_need_xsrf(api_hub):
    c = api_hub.client
    api_hub.token_for("lee")
    c.cookies.set(SESSION_COOKIE, api_hub.hub.login_cookie("lee"))
    assert c.get("/hub/api/user").json()["name"] == "lee"
    refused = c.post("/hub/api/users/lee/activity", json={"last_activity": "2026-01-01T00:00:00Z"})
    assert refused.status_code == 403 and "XSRF" in refused.json()["message"]
    # A made-up value in a cookie no longer helps: the token is the login's own.
    c.cookies.set(XSRF_COOKIE, "x" * 32)
    forged = c.post("/hub/api/users/lee/activity", json={"last_activity": "2026-01-01T00:00:00Z"},
                    headers={"X-XSRFToken": "x" * 32})
    assert forged.status_code == 403
    ok = c.post(
        "/hub/api/users/lee/activity",
        json={"last_activity": "2026-01-01T00:00:00Z"},
        headers={"X-XSRFToken": page_xsrf(c)},
    )
    assert ok.status_code == 200
    c.cookies.set(SESSION_COOKIE, "forged.value.here")
    assert c.get("/hub/api/user").status_code == 403


def test_security_headers_and_redacted_access_log(api_hub, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="bindery.hub.access"):
        answer = api_hub.client.get(f"/hub/api/user?token={api_hub.admin_token}")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert api_hub.admin_token not in caplog.text and "token=[secret]" in caplog.text


def test_metrics_expose_spawns_servers_users_requests(api_hub):
    api_hub.client.get("/hub/api", headers=api_hub.headers())
    text = api_hub.client.get("/hub/metrics", headers=api_hub.headers()).text
    for name in (
        "bindery_hub_spawn_duration_seconds",
        "bindery_hub_running_servers",
        "bindery_hub_active_users",
        "bindery_hub_request_duration_seconds",
        "bindery_hub_proxy_route_operations_total",
    ):
        assert name in text
    assert 'handler="/hub/api"' in text


def test_a_server_that_cannot_start_fails_clearly(api_hub):
    # A real command that exits at once: the spawn must fail with a message, not hang or 500.
    api_hub.hub.settings.spawner.local_command = ["/bin/false"]
    h = api_hub.headers(api_hub.token_for("max"))
    answer = api_hub.client.post("/hub/api/users/max/server", headers=h)
    assert answer.status_code == 503
    assert answer.json()["message"].startswith("The server could not be started")
    with api_hub.client.stream("GET", "/hub/api/users/max/server/progress", headers=h) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1]["failed"] is True and "Spawn failed" in events[-1]["message"]
    model = api_hub.client.get("/hub/api/users/max", headers=h).json()
    assert model["servers"] == {} and model["pending"] is None


def test_non_ascii_digits_in_ids_are_plain_404s(api_hub):
    """'¹' is a digit to str.isdigit() but not to int(): such ids answer 404, never 500."""
    c, h = api_hub.client, api_hub.headers()
    c.post("/hub/api/users/josé", headers=h)
    assert c.get("/hub/api/users/josé/tokens/¹", headers=h).status_code == 404
    assert c.delete("/hub/api/share-codes/josé/?id=sc_¹", headers=h).status_code == 404
