"""JSON shapes of users and servers, as JupyterHub's REST API returns them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from bindery.hub.db.models import ApiToken, Server, User
from bindery.hub.server_state import ServerStatus, server_base_url


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as JupyterHub writes timestamps."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def progress_url(user: str, server_name: str = "") -> str:
    tail = f"servers/{quote(server_name)}/progress" if server_name else "server/progress"
    return f"/hub/api/users/{quote(user)}/{tail}"


def server_model(server: Server, user_name: str, *, include_state: bool = False) -> dict[str, Any]:
    status = ServerStatus.of(server)
    model: dict[str, Any] = {
        "name": server.name,
        "ready": status is ServerStatus.RUNNING,
        "stopped": status is ServerStatus.STOPPED,
        "pending": status.pending,
        "url": server_base_url(user_name, server.name),
        "progress_url": progress_url(user_name, server.name),
        "started": iso(server.started),
        "last_activity": iso(server.last_activity or server.started),
        "user_options": server.user_options or {},
        "image": server.image,
        # Why it last failed to start or stopped on its own (Bindery's addition).
        "last_error": server.last_error,
    }
    if include_state:
        model["state"] = server.state or {}
    return model


def user_model(
    user: User, *, activity: bool = True, servers: bool = True, state: bool = False,
    include_stopped: bool = False,
) -> dict[str, Any]:
    """A user; ``activity``/``servers`` follow what the caller's scopes may read.

    ``include_stopped`` (JupyterHub's ``?include_stopped_servers``) also lists stopped
    servers, with their ``last_error``.
    """
    listed = [s for s in user.servers if include_stopped or ServerStatus.of(s).active]
    default = next((s for s in user.servers if s.name == ""), None)
    default_status = ServerStatus.of(default)
    model: dict[str, Any] = {
        "kind": "user",
        "name": user.name,
        "admin": user.admin,
        # Groups are not implemented; JupyterHub's clients expect the key.
        "groups": [],
        "roles": ["admin"] if user.admin else ["user"],
        "created": iso(user.created),
        "user_kind": user.kind,
    }
    if activity:
        model["last_activity"] = iso(user.last_activity)
    if servers:
        model["server"] = (
            server_base_url(user.name) if default_status is ServerStatus.RUNNING else None
        )
        model["pending"] = default_status.pending
        model["servers"] = {s.name: server_model(s, user.name, include_state=state) for s in listed}
    return model


def token_model(row: ApiToken) -> dict[str, object]:
    """JupyterHub's token model (never the token itself)."""
    return {
        "kind": "api_token",
        "id": str(row.id),
        "user": row.user.name if row.user else None,
        "service": row.service,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "note": row.note,
        "created": iso(row.created),
        "expires_at": iso(row.expires_at),
        "last_activity": iso(row.last_activity),
        "roles": [],
        "session_id": None,
    }
