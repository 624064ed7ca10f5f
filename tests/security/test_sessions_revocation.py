"""Issue 8, finding 10 (a): a login can be ended before its cookie expires.

The review found that the ``bindery-session`` cookie (signed, 14 days) kept working
after logout and after a password reset: nothing on the server side could end it.
Now it names a session row in the hub database (migration 0003); logout, a password
change (``bindery hub passwd``) and deleting the user delete that row, and a cookie
without one gets the login page (pages) or 401 (API), like JupyterHub's.
"""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from hub.conftest import page_xsrf
from sqlalchemy import select, update

from bindery.commands.hub import hub_group
from bindery.hub.db.models import LoginSession, User

SESSION_COOKIE = "bindery-session"
XSRF_COOKIE = "_xsrf"
PASSWORD = "anns-long-password"


def _passwd(api_hub, name: str, password: str) -> str:
    result = CliRunner().invoke(
        hub_group, ["passwd", name, "--db-url", api_hub.hub.settings.db_url,
                    "--password", password])
    assert result.exit_code == 0, result.output
    return result.output


def _log_in_with_the_form(api_hub, name: str = "ann", password: str = PASSWORD) -> str:
    """A real login through the password form; returns the session cookie value."""
    c = api_hub.client
    c.cookies.clear()
    xsrf = page_xsrf(c, "/hub/login")
    answer = c.post("/hub/login", data={"username": name, "password": password,
                                        "_xsrf": xsrf},
                    follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return str(answer.cookies[SESSION_COOKIE])


def _works(api_hub, cookie: str) -> bool:
    c = api_hub.client
    c.cookies.clear()
    answer = c.get("/hub/api/user", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert answer.status_code in (200, 403), answer.text
    return answer.status_code == 200


def test_logout_ends_the_session_for_every_copy_of_the_cookie(api_hub):
    _passwd(api_hub, "ann", PASSWORD)
    stolen = _log_in_with_the_form(api_hub)
    assert _works(api_hub, stolen)
    c = api_hub.client
    c.cookies.clear()
    c.cookies.set(SESSION_COOKIE, stolen)
    out = c.post("/hub/logout", data={"_xsrf": page_xsrf(c)}, follow_redirects=False)
    assert out.status_code == 302
    assert not _works(api_hub, stolen)
    # The pages answer an ended login with the login page, not the user's home.
    c.cookies.clear()
    home = c.get("/hub/home", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"},
                 follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"].startswith("/hub/login")


def test_a_password_change_ends_every_login_of_that_user(api_hub):
    _passwd(api_hub, "ann", PASSWORD)
    laptop = _log_in_with_the_form(api_hub)
    phone = _log_in_with_the_form(api_hub)
    _passwd(api_hub, "bob", "bobs-long-password")
    bobs = _log_in_with_the_form(api_hub, "bob", "bobs-long-password")
    output = _passwd(api_hub, "Ann", "anns-new-password")
    assert "2 login(s) ended" in output
    assert not _works(api_hub, laptop) and not _works(api_hub, phone)
    assert _works(api_hub, bobs)  # other users stay logged in
    assert _works(api_hub, _log_in_with_the_form(api_hub, "ann", "anns-new-password"))


def test_deleting_the_user_ends_its_sessions_even_if_the_name_comes_back(api_hub):
    api_hub.token_for("cat")
    cookie = api_hub.hub.login_cookie("cat")
    assert _works(api_hub, cookie)
    assert api_hub.client.delete("/hub/api/users/cat",
                                 headers=api_hub.headers()).status_code == 204
    with api_hub.hub.db() as s:
        assert s.scalars(select(LoginSession)).all() == []
    # A new account of the same name is another person: the old cookie does not open it.
    api_hub.token_for("cat")
    assert not _works(api_hub, cookie)


def test_a_signed_cookie_without_a_session_row_is_refused(api_hub):
    """Cookies signed before sessions were server-side (or forged with a leaked secret
    but no database access) name no row."""
    api_hub.token_for("dan")
    signed_only = api_hub.hub.signer.dumps("dan", "no-such-session-key")
    assert not _works(api_hub, signed_only)
    # A real session of dan's cannot be relabelled for someone else either.
    api_hub.token_for("eve", admin=True)
    real = api_hub.hub.login_cookie("dan")
    key = api_hub.hub.signer.loads(real).key
    assert not _works(api_hub, api_hub.hub.signer.dumps("eve", key))


def test_an_expired_session_row_ends_the_login(api_hub):
    api_hub.token_for("fay")
    cookie = api_hub.hub.login_cookie("fay")
    assert _works(api_hub, cookie)
    with api_hub.hub.db() as s:
        fay = s.scalars(select(User).where(User.name == "fay")).one()
        s.execute(update(LoginSession).where(LoginSession.user_id == fay.id)
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        s.commit()
    assert not _works(api_hub, cookie)
    # The next login anywhere clears expired rows away.
    api_hub.hub.login_cookie("fay")
    with api_hub.hub.db() as s:
        assert len(s.scalars(select(LoginSession)).all()) == 1
