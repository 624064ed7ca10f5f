"""Issue 8, finding 1: a ``?token=`` link never turns a narrow token into a hub session.

The attack: alice made a token with only ``access:servers!user=alice`` and shared a link
``/user/alice/api/status?token=T``. Opening it set ``bindery-session`` for alice, after
which ``/hub/api/user`` said ``self`` and the visitor minted a full token; an admin's
narrow token gave a full admin session. Now such a link leaves only a ``bindery-server``
pass, valid under ``/user/alice/``, that names the token and is re-checked (scopes,
expiry, revocation) on every request.
"""

from __future__ import annotations

import time

import httpx
import pytest

from bindery.hub.security import SessionSigner

# Spelled out (not imported) so this file also runs against the code before the fix.
SESSION_COOKIE = "bindery-session"
SERVER_COOKIE = "bindery-server"

PROXY_SECRET = "proxy-secret-for-security-tests-0123456789"
AUTHORIZE = "/hub/api/proxy/authorize?user=alice&path=/user/alice/api/status"


# -- the hub's side, in process ------------------------------------------------------------


def _ask(api_hub, url: str = AUTHORIZE, **headers: str) -> httpx.Response:
    api_hub.client.cookies.clear()
    return api_hub.client.get(url, headers={"X-Bindery-Proxy-Token": PROXY_SECRET, **headers})


def _pass_from_link(api_hub, token: str) -> str:
    linked = _ask(api_hub, **{"X-Bindery-Token": token})
    assert linked.status_code == 200, linked.text
    set_cookie = linked.headers["set-cookie"]
    assert SESSION_COOKIE not in set_cookie
    assert set_cookie.startswith(f"{SERVER_COOKIE}=") and "Path=/user/alice/" in set_cookie
    assert "HttpOnly" in set_cookie and linked.headers["cache-control"] == "no-store"
    return linked.cookies[SERVER_COOKIE]


@pytest.fixture
def hub_with_proxy_secret(api_hub):
    api_hub.hub.settings.proxy.auth_token = PROXY_SECRET
    return api_hub


def test_a_link_token_gives_a_server_pass_not_a_session(hub_with_proxy_secret):
    api_hub = hub_with_proxy_secret
    narrow = api_hub.token_for("alice", ["access:servers!user=alice"])
    value = _pass_from_link(api_hub, narrow)
    cookie = f"{SERVER_COOKIE}={value}"
    # The pass opens alice's server ...
    assert _ask(api_hub, Cookie=cookie).status_code == 200
    # ... and nothing of the hub: no identity, no token minting.
    c = api_hub.client
    c.cookies.clear()
    assert c.get("/hub/api/user", headers={"Cookie": cookie}).status_code == 403
    minted = c.post("/hub/api/users/alice/tokens", json={}, headers={"Cookie": cookie})
    assert minted.status_code in (401, 403)
    # Nor does it open other users' servers, or paths outside /user/alice/.
    other = AUTHORIZE.replace("user=alice", "user=bob").replace("/user/alice/", "/user/bob/")
    api_hub.token_for("bob")
    assert _ask(api_hub, other, Cookie=cookie).status_code == 401
    outside = AUTHORIZE.replace("path=/user/alice/api/status", "path=/hub/api/user")
    assert _ask(api_hub, outside, Cookie=cookie).status_code == 401


def test_an_admins_link_token_gives_no_admin_session(hub_with_proxy_secret):
    api_hub = hub_with_proxy_secret
    api_hub.token_for("alice")
    narrow = api_hub.token_for("root", ["access:servers!user=alice"], admin=True)
    value = _pass_from_link(api_hub, narrow)
    cookie = f"{SERVER_COOKIE}={value}"
    c = api_hub.client
    c.cookies.clear()
    assert c.get("/hub/api/user", headers={"Cookie": cookie}).status_code == 403
    assert c.get("/hub/api/users", headers={"Cookie": cookie}).status_code == 403
    assert c.get("/hub/admin", headers={"Cookie": cookie}, follow_redirects=False).status_code \
        in (302, 401, 403)


def test_revoking_the_token_ends_its_server_pass(hub_with_proxy_secret):
    api_hub = hub_with_proxy_secret
    narrow = api_hub.token_for("alice", ["access:servers!user=alice"])
    cookie = f"{SERVER_COOKIE}={_pass_from_link(api_hub, narrow)}"
    assert _ask(api_hub, Cookie=cookie).status_code == 200
    tokens = api_hub.client.get("/hub/api/users/alice/tokens", headers=api_hub.headers()).json()
    (row,) = [t for t in tokens["api_tokens"] if t["prefix"] == narrow[:4]]
    revoked = api_hub.client.delete(f"/hub/api/users/alice/tokens/{row['id']}",
                                    headers=api_hub.headers())
    assert revoked.status_code == 204
    assert _ask(api_hub, Cookie=cookie).status_code == 401
    # A later token with the same row id does not revive the old pass.
    api_hub.token_for("alice", ["access:servers!user=alice"])
    assert _ask(api_hub, Cookie=cookie).status_code == 401


def test_an_expired_token_or_a_forged_pass_opens_nothing(hub_with_proxy_secret):
    api_hub = hub_with_proxy_secret
    short = api_hub.token_for("alice", ["access:servers!user=alice"], expires_in=1)
    cookie = f"{SERVER_COOKIE}={_pass_from_link(api_hub, short)}"
    time.sleep(1.2)
    assert _ask(api_hub, Cookie=cookie).status_code == 401
    forged = SessionSigner("not-the-hub-secret", 3600).server_passes
    from bindery.hub.security import ServerPass

    fake = forged.dumps(ServerPass(token_id=1, fingerprint="0" * 16, user="alice"))
    assert _ask(api_hub, Cookie=f"{SERVER_COOKIE}={fake}").status_code == 401


def test_a_link_token_without_access_gets_no_pass(hub_with_proxy_secret):
    api_hub = hub_with_proxy_secret
    api_hub.token_for("alice")
    readonly = api_hub.token_for("alice", ["read:users!user=alice"])
    refused = _ask(api_hub, **{"X-Bindery-Token": readonly})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers


def test_the_normal_ways_in_still_work(hub_with_proxy_secret):
    """A logged-in user's session, and a scoped token in the header, reach the server."""
    api_hub = hub_with_proxy_secret
    api_hub.token_for("alice")
    session = f"{SESSION_COOKIE}={api_hub.hub.login_cookie('alice')}"
    assert _ask(api_hub, Cookie=session).status_code == 200
    scoped = api_hub.token_for("alice", ["access:servers!user=alice"])
    by_header = _ask(api_hub, Authorization=f"token {scoped}")
    assert by_header.status_code == 200 and "set-cookie" not in by_header.headers
    # A header token wins over a link token and never turns into a cookie either.
    both_tokens = _ask(api_hub, Authorization=f"token {scoped}", **{"X-Bindery-Token": scoped})
    assert both_tokens.status_code == 200 and "set-cookie" not in both_tokens.headers
    # bob's session with alice's pass: the pass still lets him into alice's server only.
    api_hub.token_for("bob")
    value = _pass_from_link(api_hub, scoped)
    both = f"{SESSION_COOKIE}={api_hub.hub.login_cookie('bob')}; {SERVER_COOKIE}={value}"
    assert _ask(api_hub, Cookie=both).status_code == 200


# -- through the real proxy, with a real hub process and a real server ------------------------


def _start(hub, user: str, admin: bool = False) -> None:
    made = httpx.post(f"{hub.api}/users/{user}", json={"admin": admin}, headers=hub.headers(),
                      timeout=10)
    assert made.status_code in (201, 409), made.text


def _token(hub, user: str, scopes: list[str]) -> str:
    made = httpx.post(f"{hub.api}/users/{user}/tokens", json={"scopes": scopes},
                      headers=hub.headers(), timeout=10)
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


@pytest.mark.slow
def test_the_reproduction_through_the_proxy(hub_process):
    hub = hub_process
    _start(hub, "alice")
    _start(hub, "root", admin=True)
    started = httpx.post(f"{hub.api}/users/alice/server", headers=hub.headers(), timeout=90)
    assert started.status_code == 201, started.text
    status_url = f"{hub.url}/user/alice/api/status"
    narrow = _token(hub, "alice", ["access:servers!user=alice"])
    admin_narrow = _token(hub, "root", ["access:servers!user=alice"])

    for token in (narrow, admin_narrow):
        with httpx.Client(timeout=10) as fresh:
            linked = fresh.get(f"{status_url}?token={token}")
            assert linked.status_code == 200, linked.text
            assert SESSION_COOKIE not in fresh.cookies
            assert SERVER_COOKIE in fresh.cookies
            # The pass alone keeps the server open (the token left the URL) ...
            assert fresh.get(status_url).status_code == 200
            # ... and is no hub session: the reported 'self' and the full token are gone.
            assert fresh.get(f"{hub.api}/user").status_code == 403
            pass_cookie = {"Cookie": f"{SERVER_COOKIE}={fresh.cookies[SERVER_COOKIE]}"}
            assert fresh.get(f"{hub.api}/user", headers=pass_cookie).status_code == 403
            minted = fresh.post(f"{hub.api}/users/alice/tokens", json={}, headers=pass_cookie)
            assert minted.status_code in (401, 403)
            assert fresh.get(f"{hub.api}/users", headers=pass_cookie).status_code == 403
        # The token itself may not mint either (it has no 'tokens' scope).
        minted = httpx.post(f"{hub.api}/users/alice/tokens", json={},
                            headers=hub.headers(token), timeout=10)
        assert minted.status_code == 403

    # Revoking the token ends the pass at once (the proxy does not cache such answers).
    with httpx.Client(timeout=10) as fresh:
        assert fresh.get(f"{status_url}?token={narrow}").status_code == 200
        for _ in range(3):
            assert fresh.get(status_url).status_code == 200
        tokens = httpx.get(f"{hub.api}/users/alice/tokens", headers=hub.headers(),
                           timeout=10).json()["api_tokens"]
        (row,) = [t for t in tokens if t["prefix"] == narrow[:4]]
        revoked = httpx.delete(f"{hub.api}/users/alice/tokens/{row['id']}",
                               headers=hub.headers(), timeout=10)
        assert revoked.status_code == 204
        assert fresh.get(status_url).status_code == 401

    # The normal ways in keep working: alice's login session, a scoped token in the header.
    session = hub.login_cookie("alice")
    assert httpx.get(status_url, cookies={SESSION_COOKIE: session}, timeout=10).status_code == 200
    scoped = _token(hub, "alice", ["access:servers!user=alice"])
    assert httpx.get(status_url, headers=hub.headers(scoped), timeout=10).status_code == 200
    _start(hub, "bob")
    bobs = _token(hub, "bob", ["access:servers!user=bob"])
    assert httpx.get(status_url, headers=hub.headers(bobs), timeout=10).status_code == 403
