"""Making the configured spawner for each server the hub starts or finds again.

The hub asks for a spawner per request (start, stop, reconcile after a restart);
the factory gives each one the current options of ``[hub.spawner]`` and the
deployment's :class:`~bindery.hub.spawners.base.SpawnerContext`. The composition
root (:func:`bindery.composition.make_spawner_factory`) supplies the engine and
the default-image build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bindery.hub.spawners.base import SPAWNERS, Spawner, SpawnRequest
from bindery.hub.spawners.settings import SpawnerSettings

if TYPE_CHECKING:
    from bindery.engine.base import Engine

SpawnerFactory = Callable[[SpawnRequest], Spawner]


class SweepingFactory:
    """A :data:`SpawnerFactory` that can also sweep the configured spawner's leftovers."""

    def __init__(self, make: SpawnerFactory, sweep: Callable[[set[tuple[str, str]]], list[str]]
                 ) -> None:
        self._make = make
        self.sweep = sweep

    def __call__(self, request: SpawnRequest) -> Spawner:
        return self._make(request)


def spawner_factory(
    settings: SpawnerSettings,
    hub_id: str,
    engine: Engine | None = None,
    default_image: Callable[[], str] | None = None,
    instance: str = "",
) -> SpawnerFactory:
    """Spawners of the kind ``settings.kind`` names (a clear error if none is installed).

    Options and timeouts are read from ``settings`` for every new spawner, so a
    change made before a start applies to that start.
    """
    cls = SPAWNERS.load(settings.kind)

    def make(request: SpawnRequest) -> Spawner:
        context = settings.context(hub_id, engine=engine, default_image=default_image,
                                   instance=instance)
        return cls(request, settings.options, context)

    def sweep(known: set[tuple[str, str]]) -> list[str]:
        if not instance:
            return []  # no identity: nothing can be told apart from another hub's servers
        context = settings.context(hub_id, engine=engine, default_image=default_image,
                                   instance=instance)
        return cls.sweep_leftovers(known, settings.options, context)

    return SweepingFactory(make, sweep)

