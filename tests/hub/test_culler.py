"""The built-in culler: idle servers and too-old servers stop, temporary users go with them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bindery.hub.culler import cull_once
from bindery.hub.db.models import Server, User, utcnow


def _age(api_hub, user: str, *, idle: float = 0, age: float = 0) -> None:
    with api_hub.hub.db() as s:
        server = s.scalars(select(Server).join(User).where(User.name == user)).one()
        server.last_activity = utcnow() - dt.timedelta(seconds=idle)
        server.started = utcnow() - dt.timedelta(seconds=age)
        s.commit()


def test_idle_and_old_servers_are_culled_active_ones_kept(api_hub):
    c, h = api_hub.client, api_hub.headers()
    settings = api_hub.hub.settings.cull
    settings.timeout, settings.max_age = 60, 3600
    c.post("/hub/api/users", json={"usernames": ["idle", "old", "busy"]}, headers=h)
    with api_hub.hub.db() as s:
        s.scalars(select(User).where(User.name == "idle")).one().kind = "temporary"
        s.commit()
    for name in ("idle", "old", "busy"):
        assert c.post(f"/hub/api/users/{name}/server", headers=h).status_code == 201
    _age(api_hub, "idle", idle=120, age=120)
    _age(api_hub, "old", idle=1, age=7200)
    _age(api_hub, "busy", idle=1, age=120)
    culled = api_hub.client.portal.call(cull_once, api_hub.hub)
    assert sorted(culled) == ["idle/", "old/"]
    users = {u["name"]: u for u in c.get("/hub/api/users", headers=h).json()}
    assert "idle" not in users  # temporary user removed with its server
    assert users["old"]["servers"] == {}
    assert users["busy"]["servers"][""]["ready"] is True
    metrics = c.get("/hub/metrics", headers=h).text
    assert 'bindery_hub_culled_servers_total{reason="idle"} 1.0' in metrics
