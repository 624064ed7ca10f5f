"""Reading the keyword options a hub passes to ``Spawner(request, **options)``.

Recognised options (all optional):

- ``settings``: a :class:`SpawnerSettings`, or the whole ``bindery.config.Settings``
  (its ``hub.spawner`` section is used and it serves the default-image build);
- ``app_settings``: the whole ``Settings`` (needed only to build the default image);
- ``hub_id``: label value that marks this hub's containers (default ``"bindery"``).
"""

from __future__ import annotations

from typing import Any

from bindery.hub.spawners.settings import SpawnerSettings

DEFAULT_HUB_ID = "bindery"


def spawner_settings(options: dict[str, Any]) -> SpawnerSettings:
    """The spawner section, whichever form the hub passed."""
    value = options.get("settings")
    if value is None:
        app = options.get("app_settings")
        return app.hub.spawner if app is not None else SpawnerSettings()
    if isinstance(value, SpawnerSettings):
        return value
    hub = getattr(value, "hub", None)
    if hub is not None and isinstance(getattr(hub, "spawner", None), SpawnerSettings):
        return hub.spawner
    raise TypeError(f"settings must be SpawnerSettings or Settings, not {type(value).__name__}")


def app_settings(options: dict[str, Any]) -> Any | None:
    """The whole ``Settings`` object if the hub gave one (else ``None``)."""
    app = options.get("app_settings")
    if app is not None:
        return app
    value = options.get("settings")
    return value if getattr(value, "hub", None) is not None else None
