"""Debian base images without a registry: ``debootstrap`` from the Debian mirror.

``bindery/base:<suite>`` is a minimal Debian (``--variant=minbase``) imported as
an image. The builder asks for one the first time a build needs it (a Python
from another release), and ``bindery doctor --fix`` makes the default one ahead
of time; both run this code, so the same Dockerfiles work online and air-gapped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from bindery.errors import BinderyError

Say = Callable[[str], None]
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: Releases debootstrap knows and whose Python Bindery uses.
SUITES = ("bullseye", "bookworm", "trixie", "forky", "sid")
_IMAGE = re.compile(r"^bindery/base:(?P<suite>[a-z]+)$")


class BaseImageError(BinderyError):
    """A base image could not be made; the text says what to do instead."""


def suite_of(image: str) -> str | None:
    """The Debian suite of ``bindery/base:<suite>``; None for any other image name."""
    match = _IMAGE.match(image)
    return match.group("suite") if match and match.group("suite") in SUITES else None


def apt_mirror() -> str:
    """The Debian mirror this machine's own apt sources name (so debootstrap can reach it)."""
    candidates: list[str] = []
    sources_dir = Path("/etc/apt/sources.list.d")
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        text = path.read_text(errors="replace")
        for block in text.split("\n\n"):
            suite = re.search(r"^Suites:.*\b(bookworm|trixie|bullseye|sid)\b", block, re.M)
            if suite and (m := re.search(r"^URIs:\s*(\S+)", block, re.M)):
                candidates.append(m.group(1))
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text(errors="replace").splitlines():
            m = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(bookworm|trixie|bullseye)\s", line)
            if m:
                candidates.append(m.group(1))
    for url in candidates:
        if "security" not in url:
            return url.rstrip("/")
    return DEFAULT_MIRROR


def _stream(cmd: list[str], say: Say, timeout: float) -> None:
    """Run ``cmd``, passing each output line to ``say``; BaseImageError on failure."""
    say("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    assert proc.stdout is not None
    last: list[str] = []
    timer = threading.Timer(timeout, proc.kill)  # a hung mirror must not hang the build
    timer.daemon = True
    timer.start()
    try:
        for line in proc.stdout:
            say(line.rstrip("\n"))
            last = (last + [line.rstrip("\n")])[-5:]
        status = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if status != 0:
        raise BaseImageError(f"{cmd[0]} failed (exit status {status}): " + " / ".join(last))


def make_debian_image(cli: str, image: str, suite: str, mirror: str, say: Say) -> str:
    """Make ``image`` from ``suite``: a registry's ``debian:<suite>-slim`` if one answers,
    else debootstrap from ``mirror`` ("" = this machine's). Returns how it was made."""
    pull = subprocess.run([cli, "pull", f"debian:{suite}-slim"], capture_output=True, timeout=120)
    if pull.returncode == 0:
        subprocess.run([cli, "tag", f"debian:{suite}-slim", image], check=True)
        return f"pulled debian:{suite}-slim"
    if os.geteuid() != 0:
        raise BaseImageError(
            f"The base image {image} is missing, no registry answers, and making it with "
            f"debootstrap needs root. As root run 'bindery doctor --fix', or make it by hand: "
            f"debootstrap --variant=minbase {suite} DIR MIRROR && tar -C DIR -c . | "
            f"docker import - {image}"
        )
    if shutil.which("debootstrap") is None:
        say("Installing debootstrap…")
        _stream(["apt-get", "install", "-y", "-q", "debootstrap"], say, 600)
    source = mirror or apt_mirror()
    say(f"No registry reachable: making {image} with debootstrap {suite} from {source}…")
    with tempfile.TemporaryDirectory(prefix="bindery-rootfs-") as root:
        _stream(["debootstrap", "--variant=minbase", suite, root, source], say, 1800)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([cli, "import", "-", image], stdin=tar.stdout,
                                  capture_output=True, text=True)
        tar.wait()
        if imported.returncode != 0:
            raise BaseImageError(f"docker import of {image} failed: {imported.stderr.strip()[-300:]}")
    return f"built from {source} ({suite}) with debootstrap"
