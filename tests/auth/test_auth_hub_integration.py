"""The OIDC login through the REAL hub app (bindery.hub.app) and a real OIDC provider.

Checks the seam between the two areas: the hub mounts our routes under /hub,
our callback hands the identified person to the hub, the hub sets its login
cookie and creates the user. Skipped while the hub app is not importable.
"""

from __future__ import annotations

import httpx
import pytest

from bindery.hub.auth.settings import AuthSettings
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.factory import spawner_factory

from .test_auth_oidc import CLIENT_ID, pick_user

hub_app = pytest.importorskip("bindery.hub.app")


def make_hub(tmp_path, issuer: str, **auth_options) -> tuple[object, object]:
    settings = HubSettings(
        db_url=f"sqlite:///{tmp_path / 'hub.sqlite'}",
        cookie_secret="c" * 64,
        auth=AuthSettings(
            kind="oidc", oidc_issuer=issuer, client_id=CLIENT_ID, client_secret="x-secret", **auth_options
        ),
    )
    hub = hub_app.Hub(settings, proxy=False, spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    return hub, hub_app.build_app(hub)


@pytest.mark.anyio
async def test_oidc_login_through_the_real_hub(tmp_path, oidc_issuer) -> None:
    hub, app = make_hub(tmp_path, oidc_issuer, admin_groups={"physics"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as browser:
        login_page = await browser.get("/hub/login", params={"next": "/hub/home"})
        assert login_page.status_code == 200 and "/hub/oauth_login" in login_page.text
        to_provider = await browser.get("/hub/oauth_login", params={"next": "/hub/home"})
        assert to_provider.status_code == 302
        done = await browser.get(await pick_user(to_provider.headers["location"], "alice-sub"))
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/hub/home"
        assert "set-cookie" in done.headers
        home = await browser.get("/hub/home")
    assert home.status_code == 200
    assert "alice" in home.text
    from bindery.hub.db.models import User

    with hub.db() as session:
        alice = session.query(User).filter_by(name="alice").one()
        assert alice.admin is True


@pytest.mark.anyio
async def test_real_hub_refuses_user_outside_allowed_groups(tmp_path, oidc_issuer) -> None:
    hub, app = make_hub(tmp_path, oidc_issuer, allowed_groups={"staff"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as browser:
        to_provider = await browser.get("/hub/oauth_login")
        refused = await browser.get(await pick_user(to_provider.headers["location"], "bob-sub"))
    assert refused.status_code == 403
    from bindery.hub.db.models import User

    with hub.db() as session:
        assert session.query(User).filter_by(name="bob").first() is None


def _xsrf(page_html: str) -> str:
    import re

    match = re.search(r'name="_xsrf" value="([^"]+)"', page_html)
    assert match, "login form without an XSRF field"
    return match.group(1)


@pytest.mark.anyio
async def test_password_login_and_rate_limit_through_the_real_hub(tmp_path) -> None:
    """Right password logs in; 5 wrong ones lock the name with 429 + Retry-After, even for the right one."""
    from bindery.hub.auth.password_store import set_password_cli

    db_url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    set_password_cli(db_url, "alice", "correct horse battery")
    set_password_cli(db_url, "bob", "bobs-own-password")
    settings = HubSettings(db_url=db_url, cookie_secret="c" * 64, auth=AuthSettings(kind="password"))
    hub = hub_app.Hub(settings, proxy=False, spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    app = hub_app.build_app(hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as browser:
        async def attempt(name: str, password: str) -> httpx.Response:
            page = await browser.get("/hub/login")
            return await browser.post(
                "/hub/login", data={"username": name, "password": password, "_xsrf": _xsrf(page.text)}
            )

        assert (await attempt("bob", "bobs-own-password")).status_code == 302
        browser.cookies.clear()
        statuses = [(await attempt("alice", f"guess-{i}")).status_code for i in range(5)]
        assert statuses == [403] * 5
        locked = await attempt("alice", "correct horse battery")
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
