"""JSON shapes of users and servers, as JupyterHub's REST API returns them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from bindery.hub.db.models import Server, User


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as JupyterHub writes timestamps."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def server_base_url(user: str, server_name: str = "") -> str:
    """``/user/alice/`` or ``/user/alice/proj/``."""
    return f"/user/{quote(user)}/" + (f"{quote(server_name)}/" if server_name else "")


def progress_url(user: str, server_name: str = "") -> str:
    tail = f"servers/{quote(server_name)}/progress" if server_name else "server/progress"
    return f"/hub/api/users/{quote(user)}/{tail}"


def server_model(server: Server, user_name: str, *, include_state: bool = False) -> dict[str, Any]:
    ready = server.started is not None and server.pending is None and server.url is not None
    model: dict[str, Any] = {
        "name": server.name,
        "ready": ready,
        "stopped": server.started is None and server.pending is None,
        "pending": server.pending,
        "url": server_base_url(user_name, server.name),
        "progress_url": progress_url(user_name, server.name),
        "started": iso(server.started),
        "last_activity": iso(server.last_activity or server.started),
        "user_options": server.user_options or {},
        "image": server.image,
    }
    if include_state:
        model["state"] = server.state or {}
    return model


def is_active(server: Server) -> bool:
    """Started or in a transition: what JupyterHub lists in a user's ``servers``."""
    return server.started is not None or server.pending is not None


def user_model(
    user: User, *, activity: bool = True, servers: bool = True, state: bool = False
) -> dict[str, Any]:
    """A user; ``activity``/``servers`` follow what the caller's scopes may read."""
    default = next((s for s in user.servers if s.name == "" and is_active(s)), None)
    model: dict[str, Any] = {
        "kind": "user",
        "name": user.name,
        "admin": user.admin,
        "groups": sorted(g.name for g in user.groups),
        "roles": ["admin"] if user.admin else ["user"],
        "created": iso(user.created),
        "user_kind": user.kind,
    }
    if activity:
        model["last_activity"] = iso(user.last_activity)
    if servers:
        model["server"] = (
            server_base_url(user.name) if default is not None and default.pending is None else None
        )
        model["pending"] = default.pending if default is not None else None
        model["servers"] = {
            s.name: server_model(s, user.name, include_state=state) for s in user.servers if is_active(s)
        }
    return model
