"""Settings of spawners: ``[hub.spawner]`` in bindery.toml, ``BINDERY_HUB__SPAWNER__<KEY>``.

The section's own fields are what the hub needs whatever the spawner: which one
(``kind``), the image policy it checks requests against, timeouts and capacity.
The chosen spawner's own keys (``mem_limit`` for ``docker``, ``local_command``
for ``local``, ...) sit beside them in the same table and are validated against
that spawner's ``options_model``; an unknown key is an error naming it. Every
field has a default that is safe on a small shared machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from bindery.config import PluginSection
from bindery.hub.spawners.base import SPAWNERS, ImagePolicy, SpawnerContext
from bindery.plugins import PluginGroup

if TYPE_CHECKING:
    from bindery.engine.base import Engine


class SpawnerSettings(PluginSection):
    """How users' servers are started, and how many may run."""

    plugin_group: ClassVar[PluginGroup[Any]] = SPAWNERS

    #: Which spawner runs servers: an entry point name of ``bindery.spawners``.
    kind: str = "docker"

    # -- images ---------------------------------------------------------------
    #: Image for servers when the request names none; ``None`` = the builder's
    #: default environment (built on first use).
    image: str | None = None
    #: Images a request may name, as shell-style patterns ("bindery-r/*").
    #: The default image is always allowed. Anything else is refused, so a user
    #: cannot run an arbitrary image that happens to be on the machine.
    allowed_images: list[str] = Field(default_factory=lambda: ["bindery-r/*"])

    # -- timeouts -------------------------------------------------------------
    #: Seconds for the container/process to be running.
    start_timeout: float = 120.0
    #: Seconds for the server to answer ``GET <base_url>api/status`` after start.
    http_timeout: float = 60.0

    # -- capacity ----------------------------------------------------------------
    #: Spawns allowed to run at the same time (starting containers is heavy).
    max_concurrent_spawns: int = 4
    #: Servers allowed to run at once; 0 = no limit.
    max_active_servers: int = 0
    #: Seconds a refused client is told to wait (HTTP Retry-After).
    retry_after: int = 10

    @field_validator("max_concurrent_spawns")
    @classmethod
    def _positive_int(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("max_active_servers", "retry_after")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    def image_policy(self) -> ImagePolicy:
        """The default image and allowed patterns, as container spawners check them."""
        return ImagePolicy(default=self.image, allowed=tuple(self.allowed_images))

    def context(
        self,
        hub_id: str,
        engine: Engine | None = None,
        default_image: Callable[[], str] | None = None,
        instance: str = "",
    ) -> SpawnerContext:
        """What every spawner of this hub is given besides its own options."""
        return SpawnerContext(hub_id=hub_id, start_timeout=self.start_timeout,
                              images=self.image_policy(), engine=engine, default_image=default_image,
                              instance=instance)
