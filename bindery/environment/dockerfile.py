"""A repository's own Dockerfile: used exactly as given, nothing else applies.

As on mybinder.org, ``binder/Dockerfile`` wins over a root ``Dockerfile`` simply
because a binder directory hides every root configuration file.
"""

from __future__ import annotations

import re

from bindery.environment.repo_files import ConfigFiles

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


def repo_dockerfile(files: ConfigFiles) -> tuple[str, str] | None:
    """(path relative to the root, text) of the Dockerfile, or None."""
    text = files.read_text("Dockerfile")
    if text is None:
        return None
    return files.rel("Dockerfile"), text


def first_base_image(dockerfile_text: str) -> str:
    """The image named by the first FROM line ("" if there is none), for labels and logs."""
    match = _FROM.search(dockerfile_text)
    return match.group(1) if match else ""
