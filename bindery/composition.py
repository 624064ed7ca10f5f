"""The composition root: the whole settings tree, and the parts made from it.

This is the one place that knows every part. It reads the configuration once
(:func:`load_settings`) and constructs each part with its own typed options
(:func:`make_engine`, :func:`make_builder`, ...); the commands (``bindery build``,
``bindery hub``, ``bindery serve``) call these instead of wiring parts themselves,
and no part reads files or environment variables after start-up.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from bindery import config
from bindery.binder.settings import BinderSettings
from bindery.builder.settings import BuilderSettings
from bindery.config import Section
from bindery.engine.settings import EngineSettings
from bindery.hub.settings import HubSettings
from bindery.sources.settings import SourcesSettings

if TYPE_CHECKING:  # keeps start-up imports light
    from bindery.builder import Builder
    from bindery.engine.base import Engine
    from bindery.hub.app import Hub
    from bindery.hub.spawners.base import Spawner, SpawnRequest

#: Documented variables with other names than ``BINDERY_<SECTION>__<KEY>``.
ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "BINDERY_DOCKER_CLI": ("engine", "cli"),
    "BINDERY_HUB_ADMIN_TOKEN": ("hub", "admin_token"),
    "CONFIGPROXY_AUTH_TOKEN": ("hub", "proxy", "auth_token"),
}
#: Variables with the ``BINDERY_`` prefix that are not settings: the config file's
#: name, the password input of ``bindery hub passwd``, and what the hub sets in
#: user servers (a ``bindery`` run inside one must not trip over them).
NOT_SETTINGS = frozenset({
    "BINDERY_CONFIG", "BINDERY_NEW_PASSWORD", "BINDERY_USER", "BINDERY_SERVER_NAME",
    "BINDERY_START_SCRIPT",
})


class Settings(Section):
    """Every section; see :mod:`bindery.config` for where values come from."""

    #: Where this instance keeps its state (hub database, cookie secret, launch log, proxy
    #: record, lock): ``--data-dir`` or ``$BINDERY_DATA_DIR``. "" = the command's default
    #: (``bindery hub``: the current directory; ``bindery serve``: ~/.local/share/bindery).
    data_dir: str = ""
    #: Allow local paths, file:// URLs and git hosts on loopback/private addresses
    #: as launch sources in the *web* service (the CLI always allows them).
    allow_local_repos: bool = False
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    builder: BuilderSettings = Field(default_factory=BuilderSettings)
    hub: HubSettings = Field(default_factory=HubSettings)
    binder: BinderSettings = Field(default_factory=BinderSettings)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read and validate every section once; raises :class:`~bindery.config.ConfigError`."""
    return config.load(Settings, config_file, environ=environ, overrides=overrides,
                       aliases=ENV_ALIASES, not_settings=NOT_SETTINGS)


def resolve_data_dir(settings: Settings, default: Path) -> Path:
    """Fix this instance's state directory and move the default state paths into it.

    ``data_dir`` (else ``[binder] data_dir``, its older name, else ``default``) becomes
    absolute and is handed to the parts as ``hub.data_dir`` and ``binder.data_dir``;
    relative paths of the hub's SQLite database and cookie-secret file are resolved
    against it, so two instances with two directories never share a file.
    """
    chosen = settings.data_dir or settings.binder.data_dir
    data = (Path(chosen).expanduser() if chosen else default).absolute()
    settings.data_dir = str(data)
    settings.binder.data_dir = str(data)
    hub = settings.hub
    hub.data_dir = str(data)
    prefix = "sqlite:///"
    if hub.db_url.startswith(prefix) and hub.db_url != f"{prefix}:memory:":
        db_file = Path(hub.db_url[len(prefix):])
        if not db_file.is_absolute():
            hub.db_url = f"{prefix}{data / db_file}"
    if not Path(hub.cookie_secret_file).is_absolute():
        hub.cookie_secret_file = str(data / hub.cookie_secret_file)
    return data


def make_engine(settings: Settings) -> Engine:
    """The configured container engine (``[engine] kind``)."""
    return settings.engine.make_engine()


def make_builder(settings: Settings, engine: Engine | None = None, *,
                 public: bool = False) -> Builder:
    """A builder on the configured engine.

    ``public``: it builds what anyone can launch (``bindery serve``). Unless
    ``allow_local_repos`` is set, its sources then follow a public service's rules
    (git submodules on this machine or a private network refused, as such a
    repository URL is), and a repository Dockerfile may not make the engine
    download anything itself (remote ``ADD``, ``# syntax=``); ``bindery build``
    trusts its user.
    """
    from bindery.builder import Builder
    from bindery.sources import SourceCatalog

    catalog = SourceCatalog(settings.sources.options(),
                            public_service=public and not settings.allow_local_repos)
    return Builder(settings.builder, engine if engine is not None else make_engine(settings),
                   catalog, public=public)


def make_hub(settings: Settings, engine: Engine | None = None) -> Hub:
    """The hub with the configured spawner, proxy client and authenticator."""
    from bindery.hub.app import Hub

    return Hub(settings.hub, spawner_factory=make_spawner_factory(settings, engine))
def make_spawner_factory(
    settings: Settings, engine: Engine | None = None
) -> Callable[[SpawnRequest], Spawner]:
    """The hub's spawners, given the configured engine and the default-image build.

    A request naming no image, on a hub with no ``hub.spawner.image``, runs the
    builder's default environment, built the first time it is needed; the spawner
    only sees a callable, never the builder or the settings.
    """
    from bindery.hub.spawners.factory import spawner_factory

    shared_engine = engine if engine is not None else make_engine(settings)

    def default_image() -> str:
        return make_builder(settings, shared_engine).ensure_default_image()

    # The database is the instance: two instances side by side never share one.
    instance = hashlib.sha256(settings.hub.db_url.encode()).hexdigest()[:16]
    return spawner_factory(settings.hub.spawner, settings.hub.hub_id,
                           engine=shared_engine, default_image=default_image, instance=instance)
