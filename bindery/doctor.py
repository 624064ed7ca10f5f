"""``bindery doctor``: a working engine and base images on a fresh machine.

Each check returns a :class:`Check`; with ``fix=True`` a failing check tries to
repair itself: install ``docker.io`` from the OS packages and start ``dockerd``
(root only; otherwise the message says exactly what to install), and build each
configured base image from the Debian mirror with ``debootstrap`` when no
registry can provide it, tagged with the name the builder's Dockerfiles use, so
the same Dockerfile works online and air-gapped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bindery.composition import Settings, make_builder
from bindery.engine.debian_base import (
    DEFAULT_MIRROR,
    BaseImageError,
    apt_mirror,
    make_debian_image,
    suite_of,
)
from bindery.engine.docker import DockerEngine, DockerEngineOptions, find_docker_cli
from bindery.errors import EngineUnavailable

Say = Callable[[str], None]
DOCKERD_LOG = Path("/var/log/bindery-dockerd.log")
__all__ = ["DEFAULT_MIRROR", "apt_mirror", "run_doctor"]


def _docker(settings: Settings) -> DockerEngine:
    """The local Docker engine: doctor installs and checks Docker whatever ``[engine]`` says
    (with the configured CLI when ``[engine]`` is Docker)."""
    options = settings.engine.options
    return DockerEngine(options if isinstance(options, DockerEngineOptions) else None)


def _docker_cli(settings: Settings) -> str:
    options = settings.engine.options
    return find_docker_cli(options.cli if isinstance(options, DockerEngineOptions) else "")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(cmd: list[str], say: Say, timeout: float = 900) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def check_engine(settings: Settings, fix: bool, say: Say) -> Check:
    """Is a Docker engine answering? With ``fix``: install and start one."""
    engine = _docker(settings)
    try:
        return Check("engine", True, engine.check())
    except EngineUnavailable as exc:
        if not fix:
            return Check("engine", False, str(exc))
    if not _is_root():
        return Check("engine", False,
                     "No Docker engine answers and fixing it needs root. As root run: "
                     "'apt-get install -y docker.io && dockerd &' (Debian/Ubuntu), or install "
                     "Docker Engine from docs.docker.com, then re-run 'bindery doctor'.")
    if shutil.which("dockerd") is None or not os.path.exists("/usr/bin/docker"):
        if shutil.which("apt-get") is None:
            return Check("engine", False, "No dockerd and no apt-get: install Docker Engine by hand.")
        say("Installing docker.io from the OS packages…")
        _run(["apt-get", "update"], say)
        _run(["apt-get", "install", "-y", "docker.io"], say)
    say(f"Starting dockerd (log: {DOCKERD_LOG})…")
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return Check("engine", True, _docker(settings).check())
        except EngineUnavailable:
            time.sleep(1)
    return Check("engine", False, f"dockerd did not answer within 60 s; see {DOCKERD_LOG}")


def _suite_of(image: str) -> str:
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "bookworm"
    return tag.split("-")[0]


def check_base_images(settings: Settings, fix: bool, say: Say) -> list[Check]:
    """The default Python's base image exists locally (pulled, or made with debootstrap);
    the others are reported, and made by the builder when a build first needs one."""
    engine = _docker(settings)
    checks = []
    default_image = settings.builder.base_images.get(settings.builder.default_python)
    by_image: dict[str, list[str]] = {}
    for python, image in settings.builder.base_images.items():
        by_image.setdefault(image, []).append(python)
    for image, pythons in sorted(by_image.items()):
        python = ", ".join(pythons)
        if engine.image_labels(image) is not None:
            checks.append(Check(f"base image {image}", True, f"present (Python {python})"))
            continue
        if image != default_image and suite_of(image) is not None:
            checks.append(Check(f"base image {image}", True,
                                f"not made yet (Python {python}); made when a build first needs it"))
            continue
        if not fix:
            checks.append(Check(f"base image {image}", False,
                                "missing; 'bindery doctor --fix' makes it"))
            continue
        try:
            how = _make_base_image(image, say, settings)
            checks.append(Check(f"base image {image}", True, how))
        except (subprocess.SubprocessError, OSError, BaseImageError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            checks.append(Check(f"base image {image}", False,
                                f"could not be made: {exc} {detail.decode(errors='replace')[-300:]}"))
    return checks


def _make_base_image(image: str, say: Say, settings: Settings) -> str:
    suite = suite_of(image) or _suite_of(image)
    return make_debian_image(_docker_cli(settings), image, suite, settings.builder.debian_mirror, say)


def check_default_image(settings: Settings, fix: bool, say: Say) -> Check:
    """The default environment image, so the first launch does not wait for a build."""
    builder = make_builder(settings)  # the configured engine builds it, as on first use
    name = builder.default_image_name()
    if builder.engine.image_labels(name) is not None:
        return Check("default image", True, name)
    if not fix:
        return Check("default image", False, f"{name} not built yet (built on first use)")
    say(f"Building the default environment {name}…")
    builder.ensure_default_image(lambda e: None)
    return Check("default image", True, f"{name} built")


def run_doctor(settings: Settings, fix: bool, say: Say, default_image: bool = True) -> list[Check]:
    """All checks in order; later ones are skipped when the engine is missing."""
    checks = [check_engine(settings, fix, say)]
    if not checks[0].ok:
        return checks
    checks += check_base_images(settings, fix, say)
    if default_image and all(c.ok for c in checks):
        checks.append(check_default_image(settings, fix, say))
    return checks
