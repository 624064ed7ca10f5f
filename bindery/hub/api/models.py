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


def server_model(server: Server | None, user_name: str, *, include_state: bool = False,
                 name: str = "", public_url: str = "") -> dict[str, Any]:
    """JupyterHub 6's server model; ``server=None`` is a default server that never ran."""
    status = ServerStatus.of(server)
    name = server.name if server is not None else name
    url = server_base_url(user_name, name)
    ready = status is ServerStatus.RUNNING
    model: dict[str, Any] = {
        "name": name,
        "display_name": (server.display_name if server is not None else "") or "",
        "full_name": f"{user_name}/{name}",
        "ready": ready,
        "stopped": status is ServerStatus.STOPPED,
        "pending": status.pending,
        "url": url,
        "progress_url": progress_url(user_name, name),
        "full_url": f"{public_url}{url}" if public_url and ready else None,
        "full_progress_url": (
            f"{public_url}{progress_url(user_name, name)}" if public_url and ready else None
        ),
        "started": iso(server.started) if server is not None else None,
        "last_activity": (
            iso(server.last_activity or server.started) if server is not None else None
        ),
        "user_options": (server.user_options or {}) if server is not None else {},
        # Bindery's own key: the image the server runs (or last ran).
        "image": server.image if server is not None else None,
        # Why it last failed to start or stopped on its own (Bindery's addition).
        "last_error": server.last_error if server is not None else None,
    }
    if include_state:
        model["state"] = (server.state or {}) if server is not None else {}
    return model


def user_model(
    user: User, *, activity: bool = True, servers: bool = True, state: bool = False,
    include_stopped: bool = False, auth_state: bool = False, public_url: str = "",
) -> dict[str, Any]:
    """A user; ``activity``/``servers``/``auth_state`` follow what the caller's scopes may read.

    ``include_stopped`` lists stopped servers too, the default one even if it never ran
    (JupyterHub's ``include_stopped_servers``), with their ``last_error``.
    """
    listed = [s for s in user.servers if include_stopped or ServerStatus.of(s).active]
    default = next((s for s in user.servers if s.name == ""), None)
    default_status = ServerStatus.of(default)
    model: dict[str, Any] = {
        "kind": "user",
        "name": user.name,
        "admin": user.admin,
        "groups": sorted(g.name for g in user.groups),
        "roles": ["admin", "user"] if user.admin else ["user"],
        "created": iso(user.created),
        # Bindery's own key: "user", or "temporary" for a Binder visitor.
        "user_kind": user.kind,
    }
    # Bindery keeps no authenticator state; JupyterHub's clients expect the keys.
    model["user_info"] = None
    if auth_state:
        model["auth_state"] = None
    if activity:
        model["last_activity"] = iso(user.last_activity)
    if servers:
        model["server"] = (
            server_base_url(user.name) if default_status is ServerStatus.RUNNING else None
        )
        model["pending"] = default_status.pending
        model["servers"] = {
            s.name: server_model(s, user.name, include_state=state, public_url=public_url)
            for s in listed
        }
        if include_stopped and "" not in model["servers"]:
            model["servers"][""] = server_model(None, user.name, include_state=state,
                                                public_url=public_url)
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
        "oauth_client": None,
    }
