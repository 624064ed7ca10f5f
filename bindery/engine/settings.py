"""Settings of the container engine (``[engine]`` in bindery.toml, ``BINDERY_ENGINE__*``)."""

from __future__ import annotations

from typing import Any, ClassVar

from bindery.config import PluginSection
from bindery.engine.base import ENGINES, Engine
from bindery.plugins import PluginGroup


class EngineSettings(PluginSection):
    """Which engine builds images and runs containers; its own keys sit beside ``kind``."""

    plugin_group: ClassVar[PluginGroup[Any]] = ENGINES

    #: An entry-point name of ``bindery.engines``.
    kind: str = "docker"

    def make_engine(self) -> Engine:
        """The configured engine, constructed with its own options."""
        return ENGINES.load(self.kind)(self.options)
