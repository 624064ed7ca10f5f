"""Settings of the builder (``[builder]`` in bindery.toml, ``BINDERY_BUILDER__*``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from bindery.config import Section
from bindery.environment.options import (
    DEBIAN_PYTHONS,
    MANAGED_PYTHONS,
    NODE_REQUIREMENT,
    EnvironmentOptions,
)

#: Where the host keeps its trusted roots on Debian/Ubuntu; RHEL-likes use the second.
HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def default_ca_bundle() -> str | None:
    """The host's CA bundle, so builds trust the same roots as the host (TLS interception)."""
    for candidate in HOST_CA_BUNDLES:
        if Path(candidate).is_file():
            return candidate
    return None


class BuilderSettings(Section):
    """How repositories become images."""

    #: Base images by Python version. The distribution's own Python is used, so
    #: these work without any registry. A missing ``bindery/base:<suite>`` is made
    #: with debootstrap when a build first needs it (``bindery doctor --fix`` makes
    #: the default one ahead of time).
    base_images: dict[str, str] = Field(default_factory=lambda: dict(DEBIAN_PYTHONS))
    default_python: str = "3.11"
    #: A Python that cannot be had: "nearest" newer one with a warning, or "exact" (an error).
    python_policy: Literal["nearest", "exact"] = "nearest"
    #: python-build-standalone mirror for uv-managed CPython (uv's
    #: UV_PYTHON_INSTALL_MIRROR), e.g. "https://mirror.example/python-build-standalone/releases/download";
    #: "" = Debian's Pythons only.
    python_install_mirror: str = ""
    #: Minors uv may install from that mirror.
    managed_pythons: list[str] = Field(default_factory=lambda: list(MANAGED_PYTHONS))
    #: The PyPI requirement that puts Node.js and npm into every image.
    node_requirement: str = NODE_REQUIREMENT
    #: Debian mirror for base images made on demand ("" = the one this machine's apt uses).
    debian_mirror: str = ""
    #: Accept a suite's Release file past its Valid-Until date (a mirror snapshot, or a
    #: mirror that lags: sid's Release is valid for about a week). Off by default: it
    #: weakens apt's protection against being served stale metadata.
    apt_ignore_valid_until: bool = False
    #: PEM bundle(s) trusted by apt/pip/uv/npm inside builds; empty disables.
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
    #: Packages always installed into the environment's Python (``jupyterhub`` brings
    #: ``jupyterhub-singleuser``: servers behind configurable-http-proxy log users in with it).
    jupyter_packages: list[str] = Field(
        default_factory=lambda: ["jupyterlab>=4,<5", "notebook>=7,<8", "ipykernel", "jupyter-server>=2",
                                 "jupyterhub>=5"]
    )
    #: Removed again right after the Jupyter install. ``rfc3987-syntax`` (pulled in by
    #: ``jsonschema[format-nongpl]``) compiles ~35 Lark parsers when imported, which
    #: costs every server start 1-2 s; jsonschema works without it (no Jupyter schema
    #: uses the ``iri`` formats it checks).
    jupyter_remove: list[str] = Field(default_factory=lambda: ["rfc3987-syntax"])
    #: Where git checkouts and build contexts are made.
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "bindery")
    #: A repository's bindery.toml asks for another Bindery version ([builder] version):
    #: "error" refuses to build it, "warn" builds it with a warning on the launch page.
    repo_version_mismatch: Literal["error", "warn"] = "error"
    #: devcontainer.json ``features`` need their registry (ghcr.io): "note" builds
    #: without them and lists them, "error" refuses such repositories.
    devcontainer_features: Literal["note", "error"] = "note"
    #: Images a devcontainer.json ``image`` may name on a public builder (glob patterns,
    #: as ``[binder] ready_images``); empty = none. ``bindery build`` allows any local image.
    devcontainer_images: list[str] = Field(default_factory=list)
    #: Options of each environment module (``[builder.modules.conda]``, ...), checked
    #: against the module's own options when the settings are loaded.
    modules: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_modules(self) -> BuilderSettings:
        from bindery.builder.modules import ModuleOptionsError, load_modules

        if self.modules:
            try:
                load_modules(self.modules)
            except ModuleOptionsError as exc:
                raise ValueError(str(exc)) from exc
        return self

    def environment_options(self) -> EnvironmentOptions:
        """The part of these settings the (pure) environment layer reads."""
        return EnvironmentOptions(
            base_images=dict(self.base_images),
            default_python=self.default_python,
            jupyter_packages=tuple(self.jupyter_packages),
            jupyter_remove=tuple(self.jupyter_remove),
            python_policy=self.python_policy,
            python_install_mirror=self.python_install_mirror,
            managed_pythons=tuple(self.managed_pythons),
            node_requirement=self.node_requirement,
            apt_ignore_valid_until=self.apt_ignore_valid_until,
            devcontainer_features=self.devcontainer_features,
        )
