"""apt.txt: Debian packages to install, one per line.

Names are checked against Debian policy (lowercase letters, digits, ``+ - .``,
at least two characters, starting alphanumeric) with an optional ``=version`` or
``:arch``. The lines end up in a shell command, so anything else -- ``;``, ``$()``,
spaces, options such as ``-o`` -- is refused with the line that caused it.
"""

from __future__ import annotations

import re

from bindery.environment.errors import RepoConfigError
from bindery.environment.repo_files import ConfigFiles

_PACKAGE = re.compile(
    r"^[a-z0-9][a-z0-9+.-]+"  # Debian package name
    r"(:[a-z0-9-]+)?"  # optional architecture qualifier
    r"(=[A-Za-z0-9.+~:-]+)?$"  # optional exact version
)


def parse_apt_txt(text: str, origin: str = "apt.txt") -> tuple[str, ...]:
    """Package names in file order, duplicates removed; invalid lines are errors."""
    packages: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        for word in line.split():
            if not _PACKAGE.match(word):
                raise RepoConfigError(
                    f"{origin} line {number}: {word[:80]!r} is not a Debian package name "
                    "(lowercase letters, digits and + - . only, optionally =version); "
                    "write one package name per line."
                )
            if word not in packages:
                packages.append(word)
    return tuple(packages)


def apt_packages(files: ConfigFiles) -> tuple[str, ...]:
    text = files.read_text("apt.txt")
    return parse_apt_txt(text, files.rel("apt.txt")) if text is not None else ()
