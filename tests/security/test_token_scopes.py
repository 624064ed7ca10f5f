"""Issue 8, finding 8: a requested token never holds more than its requester (or its owner).

The attack: a token with only the ``tokens`` scope asked for an ``admin`` token and got
it, because the hub granted by "is the requester or the owner an admin" instead of by
the requester's own scopes. JupyterHub's rule holds now: every scope of a new token
must be held by whoever asks for it.
"""

from __future__ import annotations

from hub.conftest import page_xsrf


def _mint(api_hub, user: str, token: str, scopes: list[str] | None = None):
    body = {} if scopes is None else {"scopes": scopes}
    return api_hub.client.post(
        f"/hub/api/users/{user}/tokens", json=body, headers=api_hub.headers(token)
    )


def _whoami_scopes(api_hub, token: str) -> list[str]:
    answer = api_hub.client.get("/hub/api/user", headers=api_hub.headers(token))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["scopes"])


def test_a_tokens_only_token_cannot_mint_admin_or_anything_wider(api_hub):
    """The reproduction: a `tokens` token asked for `admin` and got 201; now 403, clearly."""
    narrow = api_hub.service_token(["tokens"])
    api_hub.token_for("alice")
    refused = _mint(api_hub, "alice", narrow, ["admin"])
    assert refused.status_code == 403
    message = refused.json()["message"]
    assert "scopes you hold yourself" in message and "admin" in message
    for wider in (["self"], ["servers!user=alice"], ["read:users"], ["access:servers"],
                  ["admin:users"], ["tokens", "admin"]):
        assert _mint(api_hub, "alice", narrow, wider).status_code == 403, wider


def test_a_users_own_tokens_only_token_cannot_widen(api_hub):
    """alice's `tokens!user=alice` token cannot get `self` (her servers) nor `admin`."""
    narrow = api_hub.token_for("alice", ["tokens!user=alice"])
    for wider in (["admin"], ["self"], ["access:servers!user=alice"], ["read:users!user=alice"]):
        assert _mint(api_hub, "alice", narrow, wider).status_code == 403, wider
    # What it holds it may hand on, no more.
    same = _mint(api_hub, "alice", narrow, ["read:tokens!user=alice"])
    assert same.status_code == 201 and same.json()["scopes"] == ["read:tokens!user=alice"]


def test_an_admins_narrow_token_is_not_an_admin(api_hub):
    """An admin user's `tokens!user=root` token: `self` of an admin means everything, so no."""
    narrow = api_hub.token_for("root", ["tokens!user=root"], admin=True)
    assert _mint(api_hub, "root", narrow, ["admin"]).status_code == 403
    assert _mint(api_hub, "root", narrow, ["self"]).status_code == 403
    assert _mint(api_hub, "root", narrow).json()["scopes"] == ["tokens!user=root"]


def test_no_scopes_means_self_when_held_else_the_requesters_own(api_hub):
    """JupyterHub's default: the new token inherits, bounded by its requester."""
    api_hub.token_for("alice")
    by_admin = _mint(api_hub, "alice", api_hub.admin_token)
    assert by_admin.status_code == 201 and by_admin.json()["scopes"] == ["self"]
    by_owner = _mint(api_hub, "alice", by_admin.json()["token"])
    assert by_owner.status_code == 201 and by_owner.json()["scopes"] == ["self"]
    by_narrow = _mint(api_hub, "alice", api_hub.service_token(["tokens"]))
    assert by_narrow.status_code == 201 and by_narrow.json()["scopes"] == ["tokens!user=alice"]
    # /user lists scopes expanded, as JupyterHub does: `tokens` grants `read:tokens` too.
    assert _whoami_scopes(api_hub, by_narrow.json()["token"]) == [
        "read:tokens!user=alice", "tokens!user=alice"]


def test_an_admin_still_mints_what_it_holds(api_hub):
    api_hub.token_for("root", admin=True)
    api_hub.token_for("alice")
    made = _mint(api_hub, "root", api_hub.admin_token, ["admin"])
    assert made.status_code == 201 and made.json()["scopes"] == ["admin"]
    for scopes in (["self"], ["servers!user=alice", "read:users!user=alice"]):
        made = _mint(api_hub, "alice", api_hub.admin_token, scopes)
        assert made.status_code == 201 and made.json()["scopes"] == scopes
    # A token never holds more than its owner either (JupyterHub refuses that too).
    beyond_owner = _mint(api_hub, "alice", api_hub.admin_token, ["admin"])
    assert beyond_owner.status_code == 400  # JupyterHub's answer
    assert "cannot hold more than its owner" in beyond_owner.json()["message"]


def test_a_logged_in_user_mints_within_self(api_hub):
    """The cookie session of a plain user: `self` and narrower, never someone else's things."""
    from bindery.hub.security import SESSION_COOKIE

    api_hub.token_for("alice")
    api_hub.token_for("bob")
    c = api_hub.client
    c.cookies.set(SESSION_COOKIE, api_hub.hub.login_cookie("alice"))
    xsrf = page_xsrf(c)
    try:
        headers = {"X-XSRFToken": xsrf}
        ok = c.post("/hub/api/users/alice/tokens", json={"scopes": ["servers!user=alice"]},
                    headers=headers)
        assert ok.status_code == 201, ok.text
        for wider in (["admin"], ["servers!user=bob"], ["read:users"]):
            refused = c.post("/hub/api/users/alice/tokens", json={"scopes": wider},
                             headers=headers)
            assert refused.status_code == 403, wider
    finally:
        c.cookies.clear()


def test_scopes_beyond_expands_what_a_scope_really_allows():
    from bindery.hub.scopes import scopes_beyond

    held = frozenset({"tokens"})
    owner = {"holder_user": None, "holder_admin": False, "owner": "alice", "owner_admin": False}
    assert scopes_beyond(held, ["read:tokens", "tokens!user=alice"], **owner) == []
    assert scopes_beyond(held, ["admin", "self", "read:tokens"], **owner) == ["admin", "self"]
    admin_owner = {**owner, "owner_admin": True}
    assert scopes_beyond(frozenset({"self"}), ["self"], **{**admin_owner, "holder_user": "alice"}) \
        == ["self"]
    assert scopes_beyond(frozenset({"self"}), ["self"],
                         **{**admin_owner, "holder_user": "alice", "holder_admin": True}) == []
