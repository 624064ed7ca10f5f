"""Settings of spawners (image, limits, timeouts); a section of the hub settings.

``[hub.spawner]`` in bindery.toml, ``BINDERY_HUB__SPAWNER__<FIELD>`` in the environment.
Every field has a default that is safe on a small shared machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from bindery.config import Section
from pydantic import BaseModel, Field, field_validator


def _default_local_root() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / "bindery" / "users"


class SpawnerSettings(Section):
    """How users' servers are started, and how much of the machine each may use."""

    #: Which spawner runs servers: an entry point name of ``bindery.spawners``.
    kind: str = "docker"

    # -- images (docker) ----------------------------------------------------
    #: Image for servers when the request names none; ``None`` = the builder's
    #: default environment (built on first use).
    image: str | None = None
    #: Images a request may name, as shell-style patterns ("bindery-r/*").
    #: The default image is always allowed. Anything else is refused, so a user
    #: cannot run an arbitrary image that happens to be on the machine.
    allowed_images: list[str] = Field(default_factory=lambda: ["bindery-r/*"])

    #: Program (and subcommand) that runs Jupyter inside the image; Bindery adds
    #: ip, port, base_url and default_url flags.
    server_command: list[str] = Field(default_factory=lambda: ["jupyter", "lab"])

    # -- enforced limits per server (docker) -----------------------------------
    #: Memory limit (docker syntax: "512m", "2g").
    mem_limit: str = "2g"
    #: CPUs (fractions allowed: 0.5 = half a core).
    cpu_limit: float = 1.0
    #: Maximum number of processes/threads in one server (stops fork bombs).
    pids_limit: int = 512

    # -- homes (docker) -------------------------------------------------------
    #: Keep each user's home in a named volume ``bindery-home-<user>`` so files
    #: survive a server restart. Off by default: binder sessions are ephemeral.
    persistent_home: bool = False
    #: Home directory inside images built by Bindery (uid 1000).
    home_dir: str = "/home/jovyan"

    # -- timeouts -------------------------------------------------------------
    #: Seconds for the container/process to be running.
    start_timeout: float = 120.0
    #: Seconds for the server to answer ``GET <base_url>api/status`` after start.
    http_timeout: float = 60.0
    #: Seconds between SIGTERM and SIGKILL when stopping a server.
    stop_grace: float = 5.0

    # -- local processes ------------------------------------------------------
    #: Command that starts a Jupyter server (``None`` = this venv's jupyter-lab,
    #: else jupyter-server). Bindery adds ip, port, base_url and root dir flags.
    local_command: list[str] | None = None
    #: Each user's server runs in ``<local_root_dir>/<user>/``.
    local_root_dir: Path = Field(default_factory=_default_local_root)

    # -- capacity ----------------------------------------------------------------
    #: Spawns allowed to run at the same time (starting containers is heavy).
    max_concurrent_spawns: int = 4
    #: Servers allowed to run at once; 0 = no limit.
    max_active_servers: int = 0
    #: Seconds a refused client is told to wait (HTTP Retry-After).
    retry_after: int = 10

    @field_validator("mem_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        from docker.utils import parse_bytes  # the engine's own parser: same reading as docker

        try:
            size = parse_bytes(value)
        except Exception as err:
            raise ValueError(f"mem_limit {value!r} is not a size such as '512m' or '2g'") from err
        if size < 6 * 1024**2:
            raise ValueError(f"mem_limit {value!r} is below Docker's minimum of 6m")
        return value

    @field_validator("cpu_limit")
    @classmethod
    def _positive_cpu(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("cpu_limit must be greater than 0 (e.g. 1.0 for one core)")
        return value

    @field_validator("pids_limit", "max_concurrent_spawns")
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
