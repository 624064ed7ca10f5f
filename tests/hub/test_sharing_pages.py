"""The home page's sharing section (beyond JupyterHub) and accepting an invitation link."""

from __future__ import annotations

import re

from bindery.hub.security import SESSION_COOKIE
from hub.conftest import page_xsrf


def _as(api_hub, name: str) -> str:
    """Log the test client in as ``name``; the XSRF token its pages give their forms."""
    c = api_hub.client
    c.cookies.clear()
    c.cookies.set(SESSION_COOKIE, api_hub.hub.login_cookie(name))
    return page_xsrf(c)


def test_share_with_a_user_from_the_home_page_then_end_it(api_hub):
    c = api_hub.client
    api_hub.token_for("bob")
    api_hub.token_for("ann")
    xsrf = _as(api_hub, "ann")
    home = c.get("/hub/home")
    assert home.status_code == 200 and 'id="sharing"' in home.text
    shared = c.post("/hub/share", data={"_xsrf": xsrf, "server_name": "", "kind": "user",
                                        "with": "Bob"}, follow_redirects=False)
    assert shared.status_code == 303 and "note=" in shared.headers["location"]
    assert "user bob" in c.get("/hub/home").text
    # bob sees it, and holds access to ann's default server now.
    _as(api_hub, "bob")
    assert 'href="/user/ann/"' in c.get("/hub/home").text
    mine = c.get("/hub/api/users/bob/shared").json()["items"]
    assert [s["scopes"] for s in mine] == [["access:servers!server=ann/"]]
    # Sharing needs the form's XSRF value, and only one's own servers can be shared.
    forged = c.post("/hub/share", data={"server_name": "", "kind": "user", "with": "ann"})
    assert forged.status_code == 403
    # ann ends it.
    xsrf = _as(api_hub, "ann")
    share_id = re.search(r'name="share" value="(\d+)"', c.get("/hub/home").text).group(1)
    ended = c.post("/hub/unshare", data={"_xsrf": xsrf, "share": share_id},
                   follow_redirects=False)
    assert ended.status_code == 303
    _as(api_hub, "bob")
    assert c.get("/hub/api/users/bob/shared").json()["items"] == []


def test_an_invitation_link_is_shown_once_and_accepted_by_someone_logged_in(api_hub):
    c = api_hub.client
    api_hub.token_for("cy")
    api_hub.token_for("dee")
    xsrf = _as(api_hub, "cy")
    page = c.post("/hub/share-code", data={"_xsrf": xsrf, "server_name": ""})
    assert page.status_code == 200
    link = re.search(r'id="share-link" readonly value="([^"]+)"', page.text).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    code = path.split("code=", 1)[1]
    # Not logged in: the login page first, coming back to the invitation.
    c.cookies.clear()
    first = c.get(f"/{path}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/hub/login?next=")
    xsrf = _as(api_hub, "dee")
    assert 'id="accept-share"' in c.get(f"/{path}").text
    accepted = c.post("/hub/accept-share", data={"_xsrf": xsrf, "code": code},
                      follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/user/cy/"
    assert c.get("/hub/api/users/dee/shared").json()["items"][0]["server"]["user"] == {
        "name": "cy"}
    # A wrong code is refused plainly.
    wrong = c.post("/hub/accept-share", data={"_xsrf": xsrf, "code": "nope"})
    assert wrong.status_code == 404


def test_user_redirect_goes_to_the_same_path_in_my_server(api_hub):
    c = api_hub.client
    api_hub.token_for("alice@example.org")
    c.cookies.clear()
    away = c.get("/hub/user-redirect/lab/tree/intro.ipynb?x=1", follow_redirects=False)
    assert away.status_code == 302 and away.headers["location"].startswith("/hub/login?next=")
    _as(api_hub, "alice@example.org")
    there = c.get("/hub/user-redirect/lab/tree/intro.ipynb?x=1", follow_redirects=False)
    assert there.headers["location"] == "/user/alice@example.org/lab/tree/intro.ipynb?x=1"
