"""One typed settings object for all of Bindery.

Values come, in increasing priority, from the defaults below, a TOML file
(``--config FILE``, ``$BINDERY_CONFIG`` or ``./bindery.toml`` when present) and
environment variables: ``BINDERY_<FIELD>`` for top-level fields and
``BINDERY_<SECTION>__<FIELD>`` for sections (``BINDERY_HUB__PORT=9000``).
Everything is validated once at start, so a typo fails loudly before any work.
Each part owns its section class (``bindery.hub.settings``, ``bindery.binder.settings``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bindery.binder.settings import BinderSettings
from bindery.hub.settings import HubSettings

#: Where the host keeps its trusted roots on Debian/Ubuntu; RHEL-likes use the second.
HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def default_ca_bundle() -> str | None:
    """The host's CA bundle, so builds trust the same roots as the host (TLS interception)."""
    for candidate in HOST_CA_BUNDLES:
        if Path(candidate).is_file():
            return candidate
    return None


class BuilderSettings(BaseModel):
    """How repositories become images."""

    #: Base images by Python version. The distribution's own Python is used, so
    #: these work without any registry once ``bindery doctor --fix`` made them.
    base_images: dict[str, str] = Field(
        default_factory=lambda: {"3.11": "bindery/base:bookworm", "3.13": "bindery/base:trixie"}
    )
    default_python: str = "3.11"
    #: PEM bundle(s) trusted by apt/pip/uv/npm inside builds; ``None`` disables.
    extra_ca_certificates: list[str] = Field(
        default_factory=lambda: [b] if (b := default_ca_bundle()) else []
    )
    #: Prefix for image names derived from the source ("bindery-r/owner-repo:<sha>").
    image_prefix: str = "bindery-r"
    #: Kill a build after this many seconds.
    build_timeout: float = 1800.0
    #: Memory limit for build steps (docker build --memory), e.g. "4g"; None = unlimited.
    build_memory: str | None = "6g"
    #: Refuse repositories whose checkout is larger than this (bytes).
    max_repo_bytes: int = 1_000_000_000
    #: Packages always installed into the environment's Python.
    jupyter_packages: list[str] = Field(
        default_factory=lambda: ["jupyterlab>=4,<5", "notebook>=7,<8", "ipykernel", "jupyter-server>=2"]
    )
    #: Removed again right after the Jupyter install. ``rfc3987-syntax`` (pulled in by
    #: ``jsonschema[format-nongpl]``) compiles ~35 Lark parsers when imported, which
    #: costs every server start 1-2 s; jsonschema works without it (no Jupyter schema
    #: uses the ``iri`` formats it checks).
    jupyter_remove: list[str] = Field(default_factory=lambda: ["rfc3987-syntax"])
    #: Where git checkouts and build contexts are made.
    work_dir: Path = Field(default_factory=lambda: Path(os.environ.get("TMPDIR", "/tmp")) / "bindery")


class Settings(BaseSettings):
    """All settings; see the module docstring for where they come from."""

    model_config = SettingsConfigDict(
        env_prefix="BINDERY_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    #: Allow local paths, file:// URLs and git hosts on loopback/private addresses
    #: as launch sources in the *web* service (the CLI always allows them).
    allow_local_repos: bool = False
    #: Path of the docker CLI used for BuildKit builds ("" = find one).
    docker_cli: str = ""
    builder: BuilderSettings = Field(default_factory=BuilderSettings)
    hub: HubSettings = Field(default_factory=HubSettings)
    binder: BinderSettings = Field(default_factory=BinderSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _config_path() -> Path | None:
    explicit = os.environ.get("BINDERY_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"BINDERY_CONFIG names {path}, which does not exist")
        return path
    local = Path("bindery.toml")
    return local if local.is_file() else None


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read and validate settings; ``config_file`` wins over ``$BINDERY_CONFIG``."""
    if config_file is not None:
        os.environ["BINDERY_CONFIG"] = str(config_file)
    return Settings(**overrides)
