"""Settings of the launch service (``[binder]`` in bindery.toml, ``BINDERY_BINDER__*``)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from bindery.binder.weblinks import is_web_link
from bindery.config import Section


class BinderSettings(Section):
    """How the launch service listens, shares builds and keeps use fair."""

    #: Public port of ``bindery serve`` (the proxy listens here and sends ``/`` to the binder).
    port: int = Field(default=8585, ge=0, le=65535)
    ip: str = "127.0.0.1"
    #: Internal port of the binder web app itself (0 = pick a free one).
    app_port: int = Field(default=0, ge=0, le=65535)
    #: Public base URL users reach (``http://127.0.0.1:8585/``); "" = derived from ip/port.
    public_url: str = ""
    #: Internal base URL of the hub as the binder calls it ("" = set by ``bindery serve``).
    hub_url: str = ""
    #: Admin/service token used to drive the hub's REST API ("" = set by ``bindery serve``).
    hub_api_token: str = ""
    #: Running servers allowed per repository (0 = unlimited); further requests wait in line.
    per_repo_quota: int = Field(default=100, ge=0)
    #: Running servers allowed in total (0 = unlimited); further requests wait in line.
    total_quota: int = Field(default=200, ge=0)
    #: Longest a request waits in line for a free slot before it fails (seconds).
    queue_timeout: float = Field(default=600.0, gt=0)
    #: Launch requests allowed per client address per ``rate_limit_period`` (0 = unlimited).
    rate_limit: int = Field(default=30, ge=0)
    rate_limit_period: float = Field(default=60.0, gt=0)
    #: Regular expressions matched against ``<provider>/<spec>``: a match refuses the launch.
    banned_specs: list[str] = Field(default_factory=list)
    #: When non-empty, only ``<provider>/<spec>`` matching one of these may launch.
    allowed_specs: list[str] = Field(default_factory=list)
    #: Ready-made images that ``/v2/image/<reference>`` may launch without a build (glob
    #: patterns such as ``"quay.io/jupyter/*:2024-*"``). Empty: no such links.
    ready_images: list[str] = Field(default_factory=list)
    #: Builds running at once; more wait (and show they wait).
    concurrent_builds: int = Field(default=4, ge=1)
    #: Seconds between keep-alive comments on the event stream.
    keepalive_interval: float = Field(default=20.0, gt=0)
    #: Seconds the ``/build`` stream stays open after its last event (``ready`` or
    #: ``failed``), as BinderHub does (60 s): EventSource clients reconnect when the
    #: server closes first, and a reconnect would start the launch again. Well-behaved
    #: clients close on ``ready``; the linger ends as soon as they do.
    stream_linger: float = Field(default=60.0, ge=0)
    #: Seconds allowed for a server to start once the image exists.
    launch_timeout: float = Field(default=300.0, gt=0)
    #: Servers kept started ahead of demand per recently launched image (0 = off) ...
    warm_pool_size: int = Field(default=1, ge=0)
    #: ... for this many most recently launched images.
    warm_pool_images: int = Field(default=4, ge=0)
    #: Seconds after a launch before the pool starts a replacement server.
    warm_pool_delay: float = Field(default=15.0, ge=0)
    #: One JSON line per launch is appended here ("" = no file).
    events_log: str = ""
    #: Temporary users are removed after this much inactivity (seconds) ...
    cull_idle_timeout: int = Field(default=600, ge=0)
    #: ... or this age, whichever comes first (seconds; 0 = no age limit).
    cull_max_age: int = Field(default=6 * 3600, ge=0)
    #: How often the culler looks (seconds).
    cull_every: int = Field(default=60, ge=1)
    #: How often the binder compares its quota places with the hub's users (seconds).
    reconcile_every: float = Field(default=15.0, gt=0)
    #: Where ``bindery serve`` keeps the hub database and logs ("" = ~/.local/share/bindery).
    data_dir: str = ""
    #: Heading and blurb of the launch page.
    banner: str = "Turn a repository into a live Jupyter environment."

    @field_validator("public_url")
    @classmethod
    def _web_url(cls, url: str) -> str:
        """Launch links and badges are built on it: only an http(s) URL may become a link."""
        if url and not is_web_link(url):
            raise ValueError(f"{url!r} is not an http:// or https:// URL with a host name")
        return url

    @field_validator("banned_specs", "allowed_specs")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        """A typo in a regular expression should stop the start, not every launch."""
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns

    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser() if self.data_dir else (
            Path.home() / ".local" / "share" / "bindery"
        )
