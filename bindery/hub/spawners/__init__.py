"""Spawners: how users' Jupyter servers are started (see ``base.Spawner``).

Built-ins are registered like third-party ones, under the entry-point group
``bindery.spawners`` (``docker``, ``local``); :func:`load_spawner_class` finds one
by name so ``hub.spawner.kind = "docker"`` in bindery.toml selects it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnRequest
from bindery.hub.spawners.errors import ImageNotAllowed, SpawnerError, SpawnTimeout, TooManyServers
from bindery.hub.spawners.limits import SpawnLimiter
from bindery.hub.spawners.readiness import status_url, wait_for_http

ENTRY_POINT_GROUP = "bindery.spawners"

#: Used when the package metadata is not installed (e.g. running from a checkout).
_BUILTINS = {
    "docker": "bindery.hub.spawners.docker:DockerSpawner",
    "local": "bindery.hub.spawners.local:LocalProcessSpawner",
}


def available_spawners() -> list[str]:
    """Names that :func:`load_spawner_class` accepts."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | set(_BUILTINS))


def load_spawner_class(name: str) -> type[Spawner]:
    """The Spawner class registered as ``name``; a clear error for unknown names."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            break
    else:
        if name not in _BUILTINS:
            raise SpawnerError(
                f"No spawner named {name!r} is installed. Available: {', '.join(available_spawners())}."
            )
        module_name, _, attr = _BUILTINS[name].partition(":")
        import importlib

        cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Spawner)):
        raise SpawnerError(f"The spawner {name!r} is not a bindery Spawner class.")
    return cls


__all__ = [
    "ENTRY_POINT_GROUP",
    "ImageNotAllowed",
    "ProgressEvent",
    "SpawnLimiter",
    "SpawnRequest",
    "SpawnTimeout",
    "Spawner",
    "SpawnerError",
    "TooManyServers",
    "available_spawners",
    "load_spawner_class",
    "status_url",
    "wait_for_http",
]
