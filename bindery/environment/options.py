"""What the environment layer needs to know about the deployment, as plain frozen data.

The builder's settings section holds these values (``[builder]`` in bindery.toml);
the builder hands them over in this form so that this pure layer depends on no
settings or web library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EnvironmentOptions:
    """Interpreters on offer and the Jupyter packages every image gets."""

    #: Base image by Python version ("3.11" -> "bindery/base:bookworm").
    base_images: Mapping[str, str] = field(
        default_factory=lambda: {"3.11": "bindery/base:bookworm", "3.13": "bindery/base:trixie"})
    #: Python of a repository that asks for none.
    default_python: str = "3.11"
    #: Always installed into the environment's Python.
    jupyter_packages: tuple[str, ...] = (
        "jupyterlab>=4,<5", "notebook>=7,<8", "ipykernel", "jupyter-server>=2", "jupyterhub>=5")
    #: Removed again right after the Jupyter install (see BuilderSettings.jupyter_remove).
    jupyter_remove: tuple[str, ...] = ("rfc3987-syntax",)
