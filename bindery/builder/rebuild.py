"""``bindery rebuild IMAGE``: the same package set again, from the image's labels alone.

Every Bindery image records what was really installed: ``org.bindery.lock`` (the
Python packages, ``uv pip freeze``), ``org.bindery.python`` (the interpreter),
``org.bindery.apt`` (apt.txt's packages with their Debian versions), ``org.bindery.conda``
(the conda environment: every package by URL and hash on the client path) and
``org.bindery.r.report`` (R). From these alone this module writes a repository
directory that pins all of it — ``requirements.txt`` with ``==``, ``runtime.txt``,
``apt.txt`` with ``=version``, ``environment.yml`` with ``name==version=build`` — then
(unless only the directory is wanted) builds it and compares the new image's lock
with the old one.

What labels cannot give back is said, never guessed: the repository's own files
(notebooks, an editable install of the repository itself), an R environment's exact
CRAN versions, an image built from a repository Dockerfile.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bindery.builder.events import EventSink
from bindery.errors import BinderyError

if TYPE_CHECKING:
    from bindery.builder.build import Builder

LOCK_LABEL = "org.bindery.lock"
APT_LABEL = "org.bindery.apt"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*(\S+)")
_CONDA_FILE = re.compile(r"/([^/#]+?)(?:\.conda|\.tar\.bz2)(?:#.*)?$")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


class RebuildError(BinderyError):
    """The image's labels cannot say what to reinstall."""


@dataclass(frozen=True)
class Reproduction:
    """A repository directory's files (name → text) and what could not be pinned."""

    files: dict[str, str]
    notes: tuple[str, ...]


def normalize(name: str) -> str:
    """PEP 503 name normalization, to compare locks."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock: str) -> tuple[dict[str, str], list[str]]:
    """(normalized name → ``name==version`` line, lines that are not index pins)."""
    pins: dict[str, str] = {}
    other: list[str] = []
    for raw in lock.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        if match:
            pins[normalize(match.group(1))] = line
        else:
            other.append(line)
    return pins, other


def lock_differences(old: str, new: str, expected_new: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(differences, notes): human lines for packages added, removed or at another
    version (no differences = the same set), and notes for ``expected_new`` packages
    that came back only in the new image: those the builder removes after installing
    Jupyter (``builder.jupyter_remove``), which a full pinned list installs again."""
    before, before_other = lock_pins(old)
    after, after_other = lock_pins(new)
    lines: list[str] = []
    notes: list[str] = []
    expected = {normalize(name) for name in expected_new}
    for name in sorted(set(before) | set(after)):
        if name not in before and name in expected:
            notes.append(f"{after[name]} is installed again: the builder removes it after "
                         "installing Jupyter (builder.jupyter_remove), and the pinned list's "
                         "dependencies bring it back")
            continue
        if name not in after:
            lines.append(f"- {before[name]} (missing from the new image)")
        elif name not in before:
            lines.append(f"+ {after[name]} (new in the new image)")
        elif before[name] != after[name]:
            lines.append(f"~ {before[name]} → {after[name]}")
    for line in sorted(set(before_other) ^ set(after_other)):
        lines.append(f"{'-' if line in before_other else '+'} {line}")
    return lines, notes


def _conda_environment(report: Mapping[str, Any]) -> tuple[str, list[str]]:
    """environment.yml pinning every package of a conda-client image exactly."""
    specs, notes = [], []
    channels: list[str] = [str(c) for c in report.get("channels", [])]
    for entry in report.get("packages", []):
        match = _CONDA_FILE.search(str(entry))
        if not match or match.group(1).count("-") < 2:
            notes.append(f"conda package {str(entry)[:100]} has no name-version-build file name; left out")
            continue
        name, version, build = match.group(1).rsplit("-", 2)
        specs.append(f"{name}=={version}={build}")
    lines = ["# Made by `bindery rebuild` from the image's org.bindery.conda label", "channels:"]
    lines += [f"  - {json.dumps(c)}" for c in channels] or ["  - conda-forge"]
    lines.append("dependencies:")
    lines += [f"  - {json.dumps(s)}" for s in specs]
    pip = [str(p) for p in report.get("pip", [])]
    if pip:
        lines.append("  - pip:")
        lines += [f"    - {json.dumps(p)}" for p in pip]
    return "\n".join(lines) + "\n", notes


def reproduction(labels: Mapping[str, str]) -> Reproduction:
    """The pinned repository files that reinstall what ``labels`` record."""
    if labels.get("org.bindery.repo-dockerfile") == "true":
        raise RebuildError("This image was built from the repository's own Dockerfile (or a "
                           "devcontainer.json); its labels do not list what it installed, so it "
                           "cannot be rebuilt from them. Rebuild the repository itself instead.")
    lock = labels.get(LOCK_LABEL, "")
    if not lock or lock.startswith("(not recorded"):
        raise RebuildError(f"The image has no {LOCK_LABEL} label (was it built by Bindery?).")
    files: dict[str, str] = {}
    notes: list[str] = []
    pins, other = lock_pins(lock)
    kept = [p for p in other if " @ " in p and "file:" not in p]
    dropped = [p for p in other if p not in kept]
    if dropped:
        notes.append("not reproducible from labels (they name the repository's own files): "
                     + ", ".join(dropped))
    conda = labels.get("org.bindery.conda")
    conda_report: dict[str, Any] = {}
    if conda:
        try:
            conda_report = json.loads(conda)
        except ValueError:
            notes.append("org.bindery.conda is not JSON; the conda environment is not reproduced")
    if conda_report.get("mode") == "conda":
        files["environment.yml"], conda_notes = _conda_environment(conda_report)
        notes.extend(conda_notes)
        notes.append("conda environment: every package pinned to its version and build; the "
                     "image's own Python packages (Jupyter) come with the builder")
    else:
        if conda_report.get("mode") == "fallback":
            notes.append("the conda environment was installed from PyPI (fallback): its packages "
                         "are in requirements.txt")
        files["requirements.txt"] = ("# Made by `bindery rebuild` from the image's "
                                     f"{LOCK_LABEL} label\n"
                                     + "".join(f"{line}\n" for line in [*pins.values(), *kept]))
    python = labels.get("org.bindery.python", "")
    r_report: dict[str, Any] = {}
    if labels.get("org.bindery.r.report", "").startswith("{"):
        r_report = json.loads(labels["org.bindery.r.report"])
    if r_report:
        version = ".".join(str(r_report.get("r_version", "")).split(".")[:2])
        date = _DATE.search(str(r_report.get("repository", "")))
        files["runtime.txt"] = f"r-{version}" + (f"-{date.group(1)}" if date else "") + "\n"
        names = [str(p).split(" ", 1)[0] for p in r_report.get("installed", [])]
        if names:
            files["install.R"] = "install.packages(c(" + ", ".join(json.dumps(n) for n in names) + "))\n"
        notes.append(f"R {version}: runtime.txt names R, so Python is the default one (the image "
                     f"had Python {python}); R packages are named, their exact versions come from "
                     "the snapshot date" + ("" if date else " (none recorded: the latest)"))
    elif re.fullmatch(r"\d+\.\d+", python):
        files["runtime.txt"] = f"python-{python}\n"
    apt = labels.get("org.bindery.apt", "")
    apt_lines = [line.strip() for line in apt.splitlines()
                 if re.fullmatch(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?=[A-Za-z0-9.+~:-]+", line.strip())]
    if apt_lines:
        files["apt.txt"] = "\n".join(apt_lines) + "\n"
    return Reproduction(files, tuple(notes))


def write_reproduction(found: Reproduction, directory: Path) -> None:
    """Write the files into ``directory`` (created; must be empty if it exists)."""
    if directory.exists() and any(directory.iterdir()):
        raise RebuildError(f"{directory} is not empty; choose a new directory for the rebuild.")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in found.files.items():
        (directory / name).write_text(text)


def apt_differences(old: str, new: str) -> list[str]:
    """apt.txt packages whose installed version differs (``org.bindery.apt`` lines)."""
    before = {line.split("=", 1)[0]: line for line in old.splitlines() if "=" in line}
    after = {line.split("=", 1)[0]: line for line in new.splitlines() if "=" in line}
    return [f"~ apt {before.get(name, '(none)')} → {after.get(name, '(none)')}"
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


@dataclass(frozen=True)
class RebuildResult:
    """The new image, how its packages differ from the old one's, and notes."""

    image: str
    differences: list[str]
    notes: list[str]
    packages: int


def rebuild_image(builder: Builder, image: str, *, on_event: EventSink | None = None,
                  image_name: str | None = None) -> RebuildResult:
    """Build the package set ``image``'s labels record, and compare the result."""
    labels = builder.engine.image_labels(image)
    if labels is None:
        raise RebuildError(f"There is no image named {image} on this engine.")
    found = reproduction(labels)
    builder.settings.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bindery-rebuild-", dir=builder.settings.work_dir) as tmp:
        directory = Path(tmp) / f"rebuild-of-{image.rsplit('/', 1)[-1].split(':', 1)[0]}"
        write_reproduction(found, directory)
        built = builder.build(builder.resolve(str(directory)), on_event=on_event,
                              image_name=image_name)
    new = built.labels if built.labels else (builder.engine.image_labels(built.name) or {})
    differences, notes = lock_differences(labels.get(LOCK_LABEL, ""), new.get(LOCK_LABEL, ""),
                                          tuple(builder.settings.jupyter_remove))
    differences += apt_differences(labels.get(APT_LABEL, ""), new.get(APT_LABEL, ""))
    packages = len(lock_pins(labels.get(LOCK_LABEL, ""))[0])
    return RebuildResult(built.name, differences, [*found.notes, *notes], packages)
