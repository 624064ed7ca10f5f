"""Issue 8: the audit log says who did what, through the real ``bindery hub`` and proxy.

Every action goes through the public HTTP interface (login form, REST API); the test
then reads the JSON lines the hub wrote to its data directory.
"""

from __future__ import annotations

import json
import stat

import httpx
import pytest
from hub.conftest import page_xsrf

pytestmark = pytest.mark.slow


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {
        "BINDERY_HUB__AUTH__KIND": "password",
        "BINDERY_HUB__AUTH__ADMIN_USERS": '["boss"]',
        # Small files, so this test also sees a rotation.
        "BINDERY_HUB__AUDIT__MAX_BYTES": "4096",
        "BINDERY_HUB__AUDIT__BACKUP_COUNT": "3",
    }


def _lines(hub) -> list[dict]:
    files = sorted(hub.tmp_path.glob("hub-audit.jsonl*"), key=lambda p: (len(p.name), p.name),
                   reverse=True)  # oldest rotated file first, the live one last
    found = []
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        found += [json.loads(line) for line in path.read_text().splitlines()]
    return found


def _login(http: httpx.Client, name: str, password: str) -> int:
    xsrf = page_xsrf(http, "/hub/login")
    return http.post("/hub/login", data={"username": name, "password": password, "_xsrf": xsrf},
                     follow_redirects=False).status_code


def test_actions_through_the_api_are_in_the_audit_log(hub_process):
    hub = hub_process
    hub.cli("passwd", "boss", env={"BINDERY_NEW_PASSWORD": "boss-password-1"})
    api, admin = hub.api, hub.headers()
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        assert _login(http, "boss", "not-the-password") == 403
        assert _login(http, "boss", "boss-password-1") == 302
        # The logged-in admin's own actions carry the admin's name.
        xsrf = {"X-XSRFToken": page_xsrf(http)}
        made = http.post("/hub/api/users/carol", json={}, headers=xsrf)
        assert made.status_code == 201, made.text
        assert http.patch("/hub/api/users/carol", json={"admin": True},
                          headers=xsrf).status_code == 200
        token = http.post("/hub/api/users/carol/tokens", json={"scopes": ["read:users"],
                                                               "note": "for the report"},
                          headers=xsrf)
        assert token.status_code == 201, token.text
        token_id = token.json()["id"]
        assert http.delete(f"/hub/api/users/carol/tokens/{token_id}",
                           headers=xsrf).status_code == 204
        assert http.post("/hub/logout", data={"_xsrf": xsrf["X-XSRFToken"]},
                         follow_redirects=False).status_code == 302
    # A service token (the deployment's admin token) starts and stops a server.
    started = httpx.post(f"{api}/users/carol/server", headers=admin, timeout=60)
    assert started.status_code == 201, started.text + hub.log_tail()
    assert httpx.delete(f"{api}/users/carol/server", headers=admin, timeout=60).status_code == 204
    assert httpx.delete(f"{api}/users/carol", headers=admin, timeout=60).status_code == 204
    # Enough activity to rotate the 4 KiB file at least once.
    for i in range(40):
        assert httpx.post(f"{api}/users/filler{i}", headers=admin, timeout=10).status_code == 201

    lines = _lines(hub)
    assert len(list(hub.tmp_path.glob("hub-audit.jsonl.*"))) >= 1  # rotated, and kept private
    events = [(line["event"], line.get("actor"), line.get("user")) for line in lines]
    assert ("login.failed", "boss", "boss") in events
    assert ("login", "boss", "boss") in events
    assert ("user.created", "boss", "carol") in events
    changed = next(line for line in lines if line["event"] == "user.changed")
    assert changed["actor"] == "boss" and changed["changes"]["admin"] == {"from": False, "to": True}
    created = next(line for line in lines if line["event"] == "token.created"
                   and line.get("note") == "for the report")
    assert created["actor"] == "boss" and created["scopes"] == ["read:users"]
    assert created["token_id"] == token_id and created["user"] == "carol"
    revoked = next(line for line in lines if line["event"] == "token.revoked")
    assert revoked["token_id"] == token_id and revoked["actor"] == "boss"
    assert ("logout", "boss", "boss") in events
    start = next(line for line in lines if line["event"] == "server.started")
    stop = next(line for line in lines if line["event"] == "server.stopped")
    assert start["user"] == stop["user"] == "carol" and start["actor"] == "BINDERY_HUB_ADMIN_TOKEN"
    assert "image" in start and "image" in stop
    assert ("user.deleted", "BINDERY_HUB_ADMIN_TOKEN", "carol") in events
    # Timestamps are UTC and in order; no secret is ever written.
    times = [line["time"] for line in lines]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    text = "\n".join(p.read_text() for p in hub.tmp_path.glob("hub-audit.jsonl*"))
    assert "boss-password-1" not in text and token.json()["token"] not in text


def test_bindery_serve_keeps_the_audit_log_in_its_private_data_directory(tmp_path):
    from bindery.commands.serve import prepare_settings
    from bindery.composition import Settings
    from bindery.hub.audit import default_audit_path

    settings = Settings()
    settings.binder.data_dir = str(tmp_path / "data")
    prepared = prepare_settings(settings, port=8585)
    path = default_audit_path(prepared.hub.db_url)
    assert path == tmp_path / "data" / "hub-audit.jsonl"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
