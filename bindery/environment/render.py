"""Environment → :class:`BuildPlan`: the Dockerfile text and its support files. Pure.

Layer order is the whole performance story. Everything up to and including the
Jupyter install depends only on the base image, the CA bundle and
``settings.jupyter_packages``, so it is byte-identical for every repository on the
same base and BuildKit reuses it across builds. Then, from least to most often
changed: apt.txt, the dependency files alone, the repository contents. Editing a
notebook therefore only re-runs the steps after ``COPY repo/``.

The build context (made by the builder) holds ``repo/`` (the checkout) and
``.bindery/`` (``context_files``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from bindery.environment.dockerfile import first_base_image
from bindery.environment.errors import RepoConfigError
from bindery.environment.model import BuildPlan, Environment, Requirements
from bindery.environment.options import EnvironmentOptions
from bindery.environment.scripts import BINDERY_START

HOME = "/home/jovyan"
VENV = "/srv/venv"
LOCK_FILE = "/srv/bindery-lock.txt"
#: Where dependency files are copied before the repository (outside $HOME on purpose).
DEPS_DIR = "/tmp/bindery-deps"
CA_CONTEXT_NAME = "extra-ca.crt"
CA_TARGET = "/usr/local/share/ca-certificates/bindery-extra-ca.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
START_CONTEXT_NAME = "bindery-start"
#: The builder host's uv binary, copied in so builds need not download it (see render()).
UV_CONTEXT_NAME = "uv"
PIPFILE_CONTEXT_NAME = "pipfile-requirements.txt"
SYSTEM_PACKAGES = ("python3", "python3-venv", "ca-certificates", "tini", "git", "less")

_APT_CACHE = (
    "--mount=type=cache,target=/var/cache/apt,sharing=locked "
    "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked"
)
_UV = "--mount=type=cache,target=/tmp/uv-cache,uid=1000,gid=1000,id=bindery-uv"
_UV_ENV = "UV_CACHE_DIR=/tmp/uv-cache UV_LINK_MODE=copy"
# Jupyter's bytecode is compiled at install time: otherwise every new container
# compiles its ~3,000 modules again before the server can answer (5.4 s → 1.6 s to
# ready, measured). That layer is shared by every image, so this is paid once per
# machine. The repository's own packages keep uv's default (compiled on first import),
# which keeps cold builds fast; see docs/builder.md.
_COMPILE = "UV_COMPILE_BYTECODE=1"
_PIP = "--mount=type=cache,target=/tmp/pip-cache,uid=1000,gid=1000,id=bindery-pip"


def render(
    env: Environment, settings: EnvironmentOptions, *, ca_bundle: bytes | None, bundled_uv: bool = False
) -> BuildPlan:
    """The build plan for ``env``; ``ca_bundle`` (PEM) is trusted inside the image.

    With ``bundled_uv`` the builder puts its own uv binary in the context as
    ``.bindery/uv`` and the image uses it (saves a venv-with-pip plus a download of
    uv on every cold build); without, uv is installed from PyPI with pip.
    """
    if env.dockerfile is not None:
        return _repo_dockerfile_plan(env)
    base = settings.base_images.get(env.python_version)
    if base is None:
        raise RepoConfigError(
            f"Python {env.python_version} has no base image; available: "
            f"{', '.join(sorted(settings.base_images))}."
        )
    context_files: dict[str, bytes] = {START_CONTEXT_NAME: BINDERY_START.encode()}
    labels: dict[str, str] = {}
    for c in env.contributions:
        for rel, data in c.context_files.items():
            if rel in context_files:
                raise RepoConfigError(f"environment module {c.module} reuses context file {rel}")
            context_files[rel] = data
        labels.update(c.labels)
    if ca_bundle:
        context_files[CA_CONTEXT_NAME] = ca_bundle
    req = env.requirements
    if req is not None and req.generated is not None:
        context_files[PIPFILE_CONTEXT_NAME] = req.generated.encode()

    replaced_jupyter = next((c.jupyter_section for c in env.contributions if c.jupyter_section), "")
    sections = [
        _base_section(base),
        _ca_section() if ca_bundle else "",
        _system_section(),
        replaced_jupyter
        or _jupyter_section(settings.jupyter_packages, settings.jupyter_remove, bundled_uv),
        # Modules come after the Jupyter layer so that it stays shared by every image
        # on the same base, and so runtimes can register kernels with Jupyter.
        _module_env_section(env),
        *(_as_root(c.root_setup) for c in env.contributions if c.root_setup),
        _apt_section(env.apt_packages) if env.apt_packages else "",
        _dependency_section(req) if req is not None and not req.needs_repo else "",
        *(_as_user(c.dependency_section) for c in env.contributions if c.dependency_section),
        _repo_section(env),
        _final_section(),
    ]
    dockerfile = "\n".join(s for s in sections if s)
    return BuildPlan(
        dockerfile=dockerfile,
        context_files=context_files,
        base_image=base,
        python_version=env.python_version,
        uses_repo_dockerfile=False,
        summary=summarize(env, settings, ca_bundle=ca_bundle),
        labels=labels,
    )


def _repo_dockerfile_plan(env: Environment) -> BuildPlan:
    text = env.dockerfile_text or ""
    if not first_base_image(text):
        raise RepoConfigError(f"{env.dockerfile} has no FROM line; it cannot be built.")
    return BuildPlan(
        dockerfile=text,
        context_files={},
        base_image=first_base_image(text),
        python_version="unknown",
        uses_repo_dockerfile=True,
        summary=[
            f"{env.dockerfile}: used as given (no other configuration file applies)",
            *env.notes,
        ],
    )


# -- sections, in layer order --------------------------------------------------


def _base_section(base: str) -> str:
    return f"""\
FROM {base}
ENV LANG=C.UTF-8 \\
    LC_ALL=C.UTF-8 \\
    DEBIAN_FRONTEND=noninteractive \\
    NB_USER=jovyan \\
    NB_UID=1000 \\
    HOME={HOME} \\
    VENV={VENV} \\
    VIRTUAL_ENV={VENV} \\
    PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


def _module_env_section(env: Environment) -> str:
    """ENV contributed by environment modules, PATH additions in front of the default."""
    values: dict[str, str] = {}
    prepend: list[str] = []
    for c in env.contributions:
        values.update(c.env)
        prepend.extend(p for p in c.path_prepend if p not in prepend)
    if prepend:
        values["PATH"] = ":".join(prepend) + ":$PATH"
    if not values:
        return ""
    body = " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
    return f"ENV {body}\n"


def _as_root(fragment: str) -> str:
    return f"USER root\n{fragment.rstrip()}\nUSER 1000\n"


def _as_user(fragment: str) -> str:
    return f"USER 1000\nWORKDIR {HOME}\n{fragment.rstrip()}\n"


def _ca_section() -> str:
    # Networks that intercept TLS: apt, pip, uv, npm, curl and the running server
    # must trust the same roots as the host.
    return f"""\
COPY .bindery/{CA_CONTEXT_NAME} {CA_TARGET}
ENV SSL_CERT_FILE={SYSTEM_BUNDLE} \\
    PIP_CERT={SYSTEM_BUNDLE} \\
    REQUESTS_CA_BUNDLE={SYSTEM_BUNDLE} \\
    CURL_CA_BUNDLE={SYSTEM_BUNDLE} \\
    NODE_EXTRA_CA_CERTS={CA_TARGET} \\
    UV_NATIVE_TLS=1 \\
    UV_SYSTEM_CERTS=1
"""


def _system_section() -> str:
    packages = " ".join(SYSTEM_PACKAGES)
    return f"""\
COPY .bindery/{START_CONTEXT_NAME} /usr/local/bin/bindery-start
RUN {_APT_CACHE} \\
    rm -f /etc/apt/apt.conf.d/docker-clean \\
 && apt-get update -q \\
 && apt-get install -y -q --no-install-recommends {packages} \\
 && update-ca-certificates \\
 && chmod 0755 /usr/local/bin/bindery-start \\
 && useradd --create-home --home-dir {HOME} --uid 1000 --user-group --shell /bin/bash jovyan \\
 && install -d -o 1000 -g 1000 {VENV} \\
 && install -o 1000 -g 1000 -m 0644 /dev/null {LOCK_FILE}
"""


def _jupyter_section(
    jupyter_packages: Sequence[str], remove: Sequence[str], bundled_uv: bool
) -> str:
    packages = " ".join(shlex.quote(p) for p in jupyter_packages)
    if bundled_uv:
        # --seed: pip stays available to postBuild scripts and users, as in any venv.
        venv = f"""\
COPY .bindery/{UV_CONTEXT_NAME} /usr/local/bin/uv
USER 1000
WORKDIR {HOME}
RUN {_UV} \\
    {_UV_ENV} uv venv --quiet --seed --python /usr/bin/python3 {VENV}
"""
    else:
        venv = f"""\
USER 1000
WORKDIR {HOME}
RUN {_PIP} \\
    python3 -m venv {VENV} \\
 && PIP_CACHE_DIR=/tmp/pip-cache {VENV}/bin/pip install -q uv
"""
    uninstall = f" \\\n && uv pip uninstall {' '.join(shlex.quote(p) for p in remove)}" if remove else ""
    return f"""{venv}RUN {_UV} \\
    {_UV_ENV} {_COMPILE} uv pip install {packages}{uninstall}
"""


def _apt_section(packages: tuple[str, ...]) -> str:
    return f"""\
USER root
RUN {_APT_CACHE} \\
    apt-get update -q \\
 && apt-get install -y -q --no-install-recommends {" ".join(packages)}
USER 1000
"""


def _requirements_target(req: Requirements) -> tuple[str, str]:
    """(COPY source in the context, path inside the image) of a requirements file."""
    if req.generated is not None:
        return f".bindery/{PIPFILE_CONTEXT_NAME}", f"{DEPS_DIR}/{PIPFILE_CONTEXT_NAME}"
    return f"repo/{req.repo_path}", f"{DEPS_DIR}/requirements.txt"


def _dependency_section(req: Requirements) -> str:
    """Only the dependency file, so changes elsewhere in the repo keep this layer cached."""
    source, target = _requirements_target(req)
    return f"""\
COPY --chown=1000:1000 {source} {target}
RUN {_UV} \\
    {_UV_ENV} uv pip install -r {target}
"""


def _repo_section(env: Environment) -> str:
    lines = [f"COPY --chown=1000:1000 repo/ {HOME}/"]
    req = env.requirements
    if req is not None and req.needs_repo:
        # Refers to repository files (-e ., -r other.txt, ./pkg): install from the
        # repository root after the copy; correct, but not cacheable on its own.
        if req.generated is not None:
            source, target = _requirements_target(req)
            lines.append(f"COPY --chown=1000:1000 {source} {target}")
        else:
            target = req.repo_path or "requirements.txt"
        lines.append(f"RUN {_UV} \\\n    {_UV_ENV} uv pip install -r {shlex.quote(target)}")
    if env.install_repo is not None:
        lines.append(f"RUN {_UV} \\\n    {_UV_ENV} uv pip install -e .")
    lines.extend(c.repo_section.rstrip() for c in env.contributions if c.repo_section)
    if env.start is not None:
        lines.append(f"ENV BINDERY_START_SCRIPT={HOME}/{env.start}")
    scripts = [shlex.quote(p) for p in (env.start, env.post_build) if p is not None]
    if env.post_build is not None:
        # As the user, from $HOME, with the uv cache available to `uv pip install`s inside.
        script = shlex.quote(env.post_build)
        run = f"/bin/bash ./{script}" if env.post_build_needs_shell else f"./{script}"
        lines.append(f"RUN {_UV} \\\n    chmod +x {' '.join(scripts)} && {_UV_ENV} {run}")
    elif scripts:
        lines.append(f"RUN chmod +x {' '.join(scripts)}")
    return "\n".join(lines) + "\n"


def _final_section() -> str:
    entrypoint = json.dumps(["/usr/bin/tini", "-g", "--", "/usr/local/bin/bindery-start"])
    cmd = json.dumps(["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"])
    return f"""\
RUN uv pip freeze --python {VENV}/bin/python > {LOCK_FILE}
USER 1000
WORKDIR {HOME}
EXPOSE 8888
ENTRYPOINT {entrypoint}
CMD {cmd}
"""


# -- the human summary ---------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summarize(env: Environment, settings: EnvironmentOptions, *, ca_bundle: bytes | None) -> list[str]:
    """Lines a person reads in the build log to see what Bindery understood."""
    source = "default" if env.python_source == "default" else env.python_source
    lines = [f"Python {env.python_version} ({source})"]
    if env.config_dir:
        lines.append(f"Configuration from {env.config_dir}/")
    lines.append("Jupyter: " + ", ".join(settings.jupyter_packages))
    if env.apt_packages:
        lines.append(
            f"{env.config_dir + '/' if env.config_dir else ''}apt.txt: "
            f"{_plural(len(env.apt_packages), 'package')} ({' '.join(env.apt_packages)})"
        )
    req = env.requirements
    if req is not None:
        how = (
            "installed after the repository copy (it refers to repository files)"
            if req.needs_repo
            else "cached separately from the repository contents"
        )
        lines.append(f"{req.source}: {_plural(req.count, 'requirement')}, {how}")
    if env.install_repo is not None:
        lines.append(
            f"{env.install_repo}: the repository is installed as a package (uv pip install -e .)"
        )
    if env.post_build is not None:
        lines.append(f"{env.post_build}: runs once at build time")
    if env.start is not None:
        lines.append(f"{env.start}: wraps every command started in the image")
    for c in env.contributions:
        lines.extend(c.summary)
    if ca_bundle:
        lines.append("Extra CA certificates: trusted by apt, pip, uv, npm and the server")
    for c in env.contributions:
        lines.extend(c.notes)
    lines.extend(env.notes)
    return lines
