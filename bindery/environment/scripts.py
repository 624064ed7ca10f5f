"""postBuild (run once when the image is built) and start (wraps every command).

Both follow repo2docker: postBuild runs as the user from the home directory after
the repository is copied; start must end with ``exec "$@"`` so the server (or any
command) runs inside the environment it prepared.
"""

from __future__ import annotations

from bindery.environment.repo_files import ConfigFiles


def post_build(files: ConfigFiles) -> tuple[str | None, bool]:
    """(path of postBuild relative to the root, whether it lacks a ``#!`` line)."""
    path = files.path("postBuild")
    if path is None:
        return None, False
    with path.open("rb") as handle:
        has_shebang = handle.read(2) == b"#!"
    return files.rel("postBuild"), not has_shebang


def start_script(files: ConfigFiles) -> str | None:
    """Path of the start wrapper relative to the root, if the repository has one."""
    return files.rel("start") if files.has("start") else None


#: Installed as /usr/local/bin/bindery-start, the image's entrypoint (after tini).
#: Generic on purpose: identical for every image, so its layer is shared; the
#: repository's wrapper is named by $BINDERY_START_SCRIPT, set late in the image.
BINDERY_START = """\
#!/bin/sh
# Bindery entrypoint: run the repository's start wrapper (if any) around the command.
if [ "$#" -eq 0 ]; then
    set -- jupyter lab --ip=0.0.0.0 --port=8888 --no-browser
fi
if [ -n "${BINDERY_START_SCRIPT:-}" ] && [ -f "$BINDERY_START_SCRIPT" ]; then
    if [ -x "$BINDERY_START_SCRIPT" ]; then
        exec "$BINDERY_START_SCRIPT" "$@"
    fi
    exec /bin/bash "$BINDERY_START_SCRIPT" "$@"
fi
exec "$@"
"""
