"""What a user's server is told about its hub: JupyterHub's ``JUPYTERHUB_*`` variables.

Names and meanings follow JupyterHub's ``Spawner.get_env`` (read from its source), so
``jupyterhub-singleuser`` and any JupyterHub-aware extension find the hub: the API URL
and the server's own API token (also its OAuth client secret), its OAuth client id
(``jupyterhub-user-<name>[-<server>]``) and callback, the scopes a visitor needs, and
where the hub's pages are. The spawner adds ``JUPYTERHUB_SERVICE_URL`` (where the
server itself listens), which only it knows.
"""

from __future__ import annotations

import json

from bindery.hub.oauth_provider.provider import server_access_scope, server_client_id
from bindery.hub.settings import HubSettings


def hub_connect_url(settings: HubSettings) -> str:
    """The hub's API as servers reach it (``[hub] hub_connect_url``, else the hub's own URL)."""
    return (settings.hub_connect_url or settings.hub_url).rstrip("/")


def singleuser_env(settings: HubSettings, user: str, server_name: str, token: str,
                   base_url: str) -> dict[str, str]:
    api_url = f"{hub_connect_url(settings)}/hub/api"
    access = [server_access_scope(user, server_name), f"access:servers!user={user}"]
    public = settings.effective_public_url
    return {
        "JUPYTERHUB_API_TOKEN": token,
        "JPY_API_TOKEN": token,
        "JUPYTERHUB_CLIENT_ID": server_client_id(user, server_name),
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{base_url}oauth_callback",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps(access),
        "JUPYTERHUB_OAUTH_SCOPES": json.dumps(access),
        "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]",
        "JUPYTERHUB_USER": user,
        "JUPYTERHUB_SERVER_NAME": server_name,
        "JUPYTERHUB_API_URL": api_url,
        "JUPYTERHUB_ACTIVITY_URL": f"{api_url}/users/{user}/activity",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_PREFIX": base_url,
        # Pages of the hub are on the same origin as the server (one public proxy).
        "JUPYTERHUB_HOST": "",
        "JUPYTERHUB_PUBLIC_URL": f"{public}{base_url}",
        "JUPYTERHUB_PUBLIC_HUB_URL": f"{public}/hub/",
        "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "0",
    }
