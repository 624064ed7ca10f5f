"""The environment scripts see: repo2docker's variables and ``PATH``.

Set once as ``ENV`` in the shared first layer, so ``postBuild``, ``start``, the
server, terminals and kernels all see the same values (repo2docker's meanings):

- ``NB_USER`` / ``NB_UID``: the user the image runs as (jovyan, 1000);
- ``NB_PYTHON_PREFIX``: the environment the notebook server runs in;
- ``KERNEL_PYTHON_PREFIX``: the environment the default kernel runs in (the same
  one here: Bindery never splits them);
- ``REPO_DIR``: where the repository's files are (the home directory);
- ``NPM_DIR`` / ``NPM_CONFIG_PREFIX``: where ``npm install --global`` puts packages;
- ``PATH``: ``~/.local/bin`` first (``pip install --user`` tools), then the
  environment, global npm packages and Node.js.
"""

from __future__ import annotations

HOME = "/home/jovyan"
VENV = "/srv/venv"
NPM_DIR = "/srv/npm"
NODE_DIR = "/srv/node"
NB_USER = "jovyan"
NB_UID = "1000"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PATH = f"{HOME}/.local/bin:{VENV}/bin:{NPM_DIR}/bin:{NODE_DIR}/bin:{SYSTEM_PATH}"

#: Name → value, in the order they are written.
VARIABLES: tuple[tuple[str, str], ...] = (
    ("NB_USER", NB_USER),
    ("NB_UID", NB_UID),
    ("HOME", HOME),
    ("REPO_DIR", HOME),
    ("VENV", VENV),
    ("VIRTUAL_ENV", VENV),
    ("NB_PYTHON_PREFIX", VENV),
    ("KERNEL_PYTHON_PREFIX", VENV),
    ("NPM_DIR", NPM_DIR),
    ("NPM_CONFIG_PREFIX", NPM_DIR),
    ("PATH", PATH),
)


def env_lines() -> str:
    """The ``ENV`` continuation lines (after ``ENV LANG=… \\``) for the first layer."""
    return " \\\n".join(f"    {name}={value}" for name, value in VARIABLES)
