"""``example:<name>``: a Source whose repositories are made here, from the name alone.

A real source would ask a server; this one renders a README and a notebook, so it
shows every part of the contract without any network:

* ``accepts`` reads the syntax only;
* ``resolve`` pins the spec to an exact, reproducible identity (a hash of exactly
  the files ``fetch`` will write), refusing malformed names with ``SpecError``;
* ``fetch`` writes exactly that into an empty directory, within ``max_bytes``,
  leaving nothing behind when it refuses;
* ``launch_provider`` makes ``/v2/example/<name>/HEAD`` a binder link.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bindery.errors import RefNotFound, SourceError, SpecError
from bindery.plugins import PluginOptions
from bindery.sources.base import DEFAULT_LINK_REF, LaunchProvider, LinkSpec, Ref, Source
from bindery.sources.links import check_link_ref, encode_ref
from bindery.sources.validation import check_ref

PREFIX = "example:"
#: Names of example repositories: short, lowercase, safe in paths and image names.
NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
#: Where people would read about the repository (documentation only: never contacted).
HOME = "https://example.org/bindery-example"


class ExampleSourceOptions(PluginOptions):
    """The source's own settings; every one has a default, as the contract asks."""

    #: First line of every README (and the notebook's first cell).
    greeting: str = "Hello from the example plugin"


def repository_files(name: str, greeting: str) -> dict[str, bytes]:
    """The files of the repository ``name``, by relative path (pure)."""
    readme = f"# {name}\n\n{greeting}, {name}!\n\nMade by the bindery-example-plugin source.\n"
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "greeting", "metadata": {},
             "source": [f"{greeting}, {name}!"]},
            {"cell_type": "code", "execution_count": None, "id": "answer", "metadata": {},
             "outputs": [], "source": ["print(6 * 7)"]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return {
        "README.md": readme.encode(),
        f"{name}.ipynb": (json.dumps(notebook, indent=1) + "\n").encode(),
    }


def content_id(files: dict[str, bytes]) -> str:
    """A 40-hex identity of exactly these files, like a commit sha names a tree."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path] + b"\0")
    return digest.hexdigest()[:40]


def check_name(name: str, spec: str) -> str:
    if not NAME.match(name):
        raise SpecError(
            f"{spec[:100]!r} is not an example repository: the name after 'example:' must be "
            "1-40 lowercase letters, digits or '-', starting with a letter (like example:hello)."
        )
    return name


@dataclass(frozen=True)
class ExampleLinks(LaunchProvider):
    """``example/<name>[/<ref>]``: the same grammar as GitHub's, one name instead of two."""

    def parse(self, spec: str) -> LinkSpec:
        name, _, ref = spec.strip("/").partition("/")
        check_name(name, PREFIX + name)
        ref = check_link_ref(ref) if ref else DEFAULT_LINK_REF
        return LinkSpec(
            spec=f"{name}/{encode_ref(ref)}",
            repository=name,
            source_spec=PREFIX + name,
            ref=ref,
            repo_url=f"{HOME}/{name}",
        )

    def spec_for(self, repository: str, ref: str) -> str:
        return f"{repository.strip('/')}/{encode_ref(ref)}"


class ExampleSource(Source):
    """``example:<name>`` → a README and ``<name>.ipynb`` greeting ``<name>``."""

    name: ClassVar[str] = "example"
    options_model: ClassVar[type[PluginOptions]] = ExampleSourceOptions
    launch_provider: ClassVar[LaunchProvider | None] = ExampleLinks(
        "example", "Example plugin", "Example repository name", "hello", order=200)

    def __init__(self, options: ExampleSourceOptions | None = None) -> None:
        self.options = options or ExampleSourceOptions()

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        """Bindery passes the ``[sources.example]`` table, checked against our model."""
        return cls(options if isinstance(options, ExampleSourceOptions) else None)

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith(PREFIX)

    def files(self, name: str) -> dict[str, bytes]:
        return repository_files(name, self.options.greeting)

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        if not self.accepts(spec):
            raise SpecError(f"{spec[:100]!r} is not an example repository (expected example:<name>).")
        name = check_name(spec[len(PREFIX):], spec)
        if ref is not None:
            check_ref(ref)  # git's rules for ref names, so every source refuses the same
        resolved = content_id(self.files(name))
        # Like a git server: the default branch, or the exact identity it points to.
        if ref not in (None, DEFAULT_LINK_REF, resolved):
            raise RefNotFound(
                f"The example repository {name!r} has no ref {ref!r}: it has only its default "
                f"branch (HEAD, now {resolved[:12]})."
            )
        return Ref(source=self.name, url=PREFIX + name, resolved=resolved,
                   requested=ref or DEFAULT_LINK_REF, display_name=f"example/{name}")

    def fetch(self, ref: Ref, dest: Path, max_bytes: int | None = None) -> Path:
        name = check_name(ref.url.removeprefix(PREFIX), ref.url)
        files = self.files(name)
        if content_id(files) != ref.resolved:
            raise RefNotFound(
                f"The example repository {name!r} no longer has {ref.resolved[:12]} "
                "(its greeting changed); resolve it again."
            )
        dest = Path(dest)
        existed = dest.exists()
        if existed and any(dest.iterdir()):
            raise SourceError(f"cannot write the example repository into {dest}: it is not empty")
        size = sum(len(data) for data in files.values())
        if max_bytes is not None and size > max_bytes:
            # Known before writing anything, so nothing is left behind.
            raise SourceError(
                f"the example repository {name!r} is {size} bytes, more than the limit of "
                f"{max_bytes} bytes"
            )
        try:
            dest.mkdir(parents=True, exist_ok=True)
            for path, data in files.items():
                (dest / path).write_bytes(data)
        except OSError as exc:
            shutil.rmtree(dest, ignore_errors=True)
            if existed:
                dest.mkdir(parents=True, exist_ok=True)
            raise SourceError(f"could not write the example repository into {dest}: {exc}") from exc
        return dest
