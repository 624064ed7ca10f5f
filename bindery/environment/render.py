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
import posixpath
import shlex
from collections.abc import Sequence

from bindery.environment import grade, node, variables
from bindery.environment.dockerfile import first_base_image
from bindery.environment.errors import RepoConfigError
from bindery.environment.hub_integration import IMAGE_CONFIG_DIR, config_files
from bindery.environment.lockfiles import UV_LOCK, Lockfile
from bindery.environment.model import BuildPlan, Environment, Requirements
from bindery.environment.options import EnvironmentOptions
from bindery.environment.scripts import BINDERY_START
from bindery.environment.variables import HOME, VENV

LOCK_FILE = "/srv/bindery-lock.txt"
#: apt.txt's packages as installed (``name=version`` lines), read back into a label.
APT_REPORT = "/srv/bindery-apt.txt"
APT_LABEL = "org.bindery.apt"
#: Where dependency files are copied before the repository (outside $HOME on purpose).
DEPS_DIR = "/tmp/bindery-deps"
CA_CONTEXT_NAME = "extra-ca.crt"
CA_TARGET = "/usr/local/share/ca-certificates/bindery-extra-ca.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
START_CONTEXT_NAME = "bindery-start"
#: The builder host's uv binary, copied in so builds need not download it (see render()).
UV_CONTEXT_NAME = "uv"
PIPFILE_CONTEXT_NAME = "pipfile-requirements.txt"
SYSTEM_PACKAGES = ("ca-certificates", "tini", "git", "less")
#: Where uv puts CPython it installs from the mirror (uv-managed Pythons only).
MANAGED_PYTHON_DIR = "/opt/bindery-python"

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
    env: Environment, settings: EnvironmentOptions, *, ca_bundle: bytes | None,
    bundled_uv: bool = False, uv_image: str = "",
) -> BuildPlan:
    """The build plan for ``env``; ``ca_bundle`` (PEM) is trusted inside the image.

    With ``bundled_uv`` the builder puts its own uv binary in the context as
    ``.bindery/uv`` and the image uses it (saves a venv-with-pip plus a download of
    uv on every cold build); without, uv is installed from PyPI with pip. With
    ``uv_image`` (a local image holding that binary as ``/uv``, made once by the
    builder) it is copied from there instead, so the 40 MB binary is not sent with
    every build's context (half a second of every notebook-only rebuild).
    """
    if env.dockerfile is not None:
        return _repo_dockerfile_plan(env)
    if env.python_managed:
        if not settings.python_install_mirror:
            raise RepoConfigError(f"Python {env.python_version} needs builder.python_install_mirror.")
        base = settings.base_images.get(settings.default_python)
    else:
        base = settings.base_images.get(env.python_version)
    if base is None:
        raise RepoConfigError(
            f"Python {env.python_version} has no base image; available: "
            f"{', '.join(sorted(settings.base_images))}."
        )
    context_files: dict[str, bytes] = {START_CONTEXT_NAME: BINDERY_START.encode()}
    labels: dict[str, str] = {}
    report_files: dict[str, str] = {APT_LABEL: APT_REPORT} if env.apt_packages else {}
    for c in env.contributions:
        report_files.update(c.report_files)
        for rel, data in c.context_files.items():
            if rel in context_files:
                raise RepoConfigError(f"environment module {c.module} reuses context file {rel}")
            context_files[rel] = data
        labels.update(c.labels)
    context_files.update({f"jupyter-config/{name}": text.encode()
                          for name, text in config_files().items()})
    if ca_bundle:
        context_files[CA_CONTEXT_NAME] = ca_bundle
    req = env.requirements
    if req is not None and req.generated is not None:
        context_files[PIPFILE_CONTEXT_NAME] = req.generated.encode()
    lock = env.lockfile

    steps: list[tuple[str, str]] = []
    # A module whose environment carries Jupyter itself (conda) replaces the venv + Jupyter.
    replaced_jupyter = next((c.jupyter_section for c in env.contributions if c.jupyter_section), "")
    sections = [
        _base_section(base),
        _ca_section() if ca_bundle else "",
        _system_section(env, settings, bundled_uv or bool(uv_image), steps),
        _uv_section(bundled_uv or bool(uv_image), steps, uv_image),
        _node_section(settings.node_requirement, steps),
        replaced_jupyter
        or _python_section(env, settings, steps)
        + _jupyter_section(settings.jupyter_packages, settings.jupyter_remove, steps),
        # Modules come after the Jupyter layer so that it stays shared by every image
        # on the same base, and so runtimes can register kernels with Jupyter.
        _module_env_section(env),
        *(_as_root(c.root_setup) for c in env.contributions if c.root_setup),
        _apt_section(env.apt_packages, settings, steps) if env.apt_packages else "",
        _dependency_section(req, steps) if req is not None and not req.needs_repo else "",
        _lock_section(lock, steps) if lock is not None and not lock.needs_repo else "",
        *(_as_user(c.dependency_section) for c in env.contributions if c.dependency_section),
        _freeze_section(steps) if _nothing_installed_after_copy(env) else "",
        _repo_section(env, steps),
        _final_section(steps, freeze=not _nothing_installed_after_copy(env)),
    ]
    dockerfile = "\n".join(s for s in sections if s)
    warnings = (env.python_warning,) if env.python_warning else ()
    graded = grade.grade(env)
    labels[grade.LABEL] = graded.letter
    return BuildPlan(
        dockerfile=dockerfile,
        context_files=context_files,
        base_image=base,
        python_version=env.python_version,
        uses_repo_dockerfile=False,
        summary=[*summarize(env, settings, ca_bundle=ca_bundle), graded.line()],
        labels={**labels, **python_labels(env)},
        warnings=warnings,
        steps=tuple(_module_steps(env) + steps),
        report_files=report_files,
    )


def _module_steps(env: Environment) -> list[tuple[str, str]]:
    """Each RUN line of a module's fragments names that module in failure messages."""
    found: list[tuple[str, str]] = []
    for c in env.contributions:
        for fragment in (c.jupyter_section, c.root_setup, c.dependency_section, c.repo_section):
            for line in fragment.splitlines():
                text = line.strip().removeprefix("RUN ").strip().rstrip("\\").strip()
                if line.strip().startswith("RUN ") and len(text) > 8 and not text.startswith("--mount"):
                    found.append((text[:80], f"the {c.module} environment ({', '.join(c.sources)})"))
    return found


def python_labels(env: Environment) -> dict[str, str]:
    """Image labels: which Python was asked for, where, and which one was provided."""
    labels = {
        "org.bindery.python-requested": env.python_requested or "(none)",
        "org.bindery.python-source": env.python_source,
        "org.bindery.python-provider": "uv-managed" if env.python_managed else "debian",
    }
    if env.python_warning:
        labels["org.bindery.python-warning"] = env.python_warning
    return labels


def _repo_dockerfile_plan(env: Environment) -> BuildPlan:
    text = env.dockerfile_text or ""
    if not first_base_image(text):
        raise RepoConfigError(f"{env.dockerfile} has no FROM line; it cannot be built.")
    graded = grade.dockerfile_grade(env.dockerfile or "Dockerfile")
    if env.devcontainer:
        what = (f"image {env.required_image}" if env.required_image
                else f"{env.dockerfile} (context: {env.docker_context or 'the repository root'})")
        first = [f"{env.devcontainer}: building {what}, with its environment and "
                 "lifecycle commands (no Binder configuration file exists)"]
        if env.build_args:
            first.append(f"{env.devcontainer}: build arguments {', '.join(env.build_args)}")
    else:
        first = [f"{env.dockerfile}: used as given (no other configuration file applies)"]
    return BuildPlan(
        dockerfile=text,
        context_files={},
        base_image=first_base_image(text),
        python_version="unknown",
        uses_repo_dockerfile=True,
        summary=[*first, *env.notes, graded.line()],
        labels={grade.LABEL: graded.letter,
                **({"org.bindery.devcontainer": env.devcontainer} if env.devcontainer else {})},
        context_dir=env.docker_context,
        build_args=dict(env.build_args),
        required_image=env.required_image,
    )


# -- sections, in layer order --------------------------------------------------


def _base_section(base: str) -> str:
    return f"""\
FROM {base}
ENV LANG=C.UTF-8 \\
    LC_ALL=C.UTF-8 \\
    DEBIAN_FRONTEND=noninteractive \\
{variables.env_lines()}
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
    NPM_CONFIG_CAFILE={SYSTEM_BUNDLE} \\
    UV_NATIVE_TLS=1 \\
    UV_SYSTEM_CERTS=1
"""


def _python_packages(env: Environment, bundled_uv: bool) -> tuple[str, ...]:
    """Debian packages of the interpreter (none for a uv-managed one), plus Debian's
    python3 when uv must be bootstrapped with pip."""
    own = () if env.python_managed else (f"python{env.python_version}", f"python{env.python_version}-venv")
    return own if bundled_uv else (*own, "python3", "python3-venv")


def _apt_update_options(options: EnvironmentOptions) -> str:
    """Snapshots and stale mirrors serve suites (sid) whose Release is past Valid-Until."""
    return " -o Acquire::Check-Valid-Until=false" if options.apt_ignore_valid_until else ""


def _system_section(env: Environment, env_options: EnvironmentOptions, bundled_uv: bool,
                    steps: list[tuple[str, str]]) -> str:
    packages = " ".join((*_python_packages(env, bundled_uv), *SYSTEM_PACKAGES))
    managed_dir = (f" \\\n && install -d -o 1000 -g 1000 {MANAGED_PYTHON_DIR}"
                   if env.python_managed else "")
    steps.append(("useradd --create-home", "system packages (Debian: Python, git, tini)"))
    return f"""\
COPY .bindery/{START_CONTEXT_NAME} /usr/local/bin/bindery-start
RUN {_APT_CACHE} \\
    rm -f /etc/apt/apt.conf.d/docker-clean \\
 && apt-get update -q{_apt_update_options(env_options)} \\
 && apt-get install -y -q --no-install-recommends {packages} \\
 && update-ca-certificates \\
 && chmod 0755 /usr/local/bin/bindery-start \\
 && useradd --create-home --home-dir {HOME} --uid 1000 --user-group --shell /bin/bash jovyan \\
 && install -d -o 1000 -g 1000 {VENV} {variables.NPM_DIR} {variables.NODE_DIR} \\
 && install -o 1000 -g 1000 -m 0644 /dev/null {LOCK_FILE}{managed_dir}
"""


def _uv_section(bundled_uv: bool, steps: list[tuple[str, str]], uv_image: str = "") -> str:
    """uv on PATH for every later step: the builder's own binary, or one from PyPI."""
    if uv_image:
        return f"COPY --from={uv_image} /uv /usr/local/bin/uv\n"
    if bundled_uv:
        return f"COPY .bindery/{UV_CONTEXT_NAME} /usr/local/bin/uv\n"
    steps.append(("/opt/bindery-uv/bin/pip install", "installing uv"))
    return f"""\
RUN {_PIP} \\
    python3 -m venv /opt/bindery-uv \\
 && PIP_CACHE_DIR=/tmp/pip-cache /opt/bindery-uv/bin/pip install -q uv \\
 && ln -s /opt/bindery-uv/bin/uv /usr/local/bin/uv
"""


def _python_section(env: Environment, settings: EnvironmentOptions, steps: list[tuple[str, str]]) -> str:
    """The environment's venv, with pip (``--seed``) and system site packages, so that
    ``pip install --user`` works (tools land in ``~/.local/bin``, which is on PATH)."""
    version = env.python_version
    if env.python_managed:
        mirror = shlex.quote(settings.python_install_mirror)
        steps.append(("uv python install", f"installing Python {version} from the Python mirror"))
        return (
            f"RUN {_UV} \\\n    {_UV_ENV} UV_PYTHON_INSTALL_MIRROR={mirror} "
            f"UV_PYTHON_INSTALL_DIR={MANAGED_PYTHON_DIR} uv python install {version} \\\n"
            f" && UV_PYTHON_INSTALL_DIR={MANAGED_PYTHON_DIR} uv venv --quiet --seed "
            f"--system-site-packages --managed-python --python {version} {VENV}\n"
        )
    interpreter = f"/usr/bin/python{version}"
    steps.append((f"--python {interpreter}", f"creating the Python {version} environment"))
    return (f"RUN {_UV} \\\n    {_UV_ENV} uv venv --quiet --seed "
            f"--system-site-packages --python {interpreter} {VENV}\n")


def _node_section(requirement: str, steps: list[tuple[str, str]]) -> str:
    """As the user, before any Python environment (a module may replace that one)."""
    steps.append((node.STEP_NEEDLE, "installing Node.js and npm"))
    return (f"USER 1000\nWORKDIR {HOME}\n"
            f"RUN {_UV} \\\n    {_UV_ENV} {node.node_commands(requirement)}\n")


def _jupyter_section(
    jupyter_packages: Sequence[str], remove: Sequence[str], steps: list[tuple[str, str]]
) -> str:
    packages = " ".join(shlex.quote(p) for p in jupyter_packages)
    steps.append((f"uv pip install {packages}", "installing Jupyter"))
    uninstall = f" \\\n && uv pip uninstall {' '.join(shlex.quote(p) for p in remove)}" if remove else ""
    # The hub integration files (hub_integration.py) come right after: shared by every
    # image, and a change to them rebuilds no install.
    return f"""RUN {_UV} \\
    {_UV_ENV} {_COMPILE} uv pip install {packages}{uninstall}
COPY .bindery/jupyter-config/ {IMAGE_CONFIG_DIR}/
"""


def _apt_section(packages: tuple[str, ...], env_options: EnvironmentOptions,
                 steps: list[tuple[str, str]]) -> str:
    steps.append((f"--no-install-recommends {' '.join(packages)}", "apt.txt (Debian packages)"))
    return f"""\
USER root
RUN {_APT_CACHE} \\
    apt-get update -q{_apt_update_options(env_options)} \\
 && apt-get install -y -q --no-install-recommends {" ".join(packages)} \
 && dpkg-query -W -f='${{Package}}=${{Version}}\\n' {" ".join(_apt_names(packages))} > {APT_REPORT}
USER 1000
"""


def _apt_names(packages: tuple[str, ...]) -> list[str]:
    """Package names without their ``=version`` (dpkg-query wants names)."""
    return [p.split("=", 1)[0] for p in packages]


def _requirements_target(req: Requirements) -> tuple[str, str]:
    """(COPY source in the context, path inside the image) of a requirements file."""
    if req.generated is not None:
        return f".bindery/{PIPFILE_CONTEXT_NAME}", f"{DEPS_DIR}/{PIPFILE_CONTEXT_NAME}"
    return f"repo/{req.repo_path}", f"{DEPS_DIR}/requirements.txt"


def _dependency_section(req: Requirements, steps: list[tuple[str, str]]) -> str:
    """Only the dependency file, so changes elsewhere in the repo keep this layer cached."""
    source, target = _requirements_target(req)
    steps.append((f"uv pip install -r {target}", f"installing {req.source}"))
    return f"""\
COPY --chown=1000:1000 {source} {target}
RUN {_UV} \\
    {_UV_ENV} uv pip install -r {target}
"""


_UV_SYNC = "uv sync --frozen --inexact --python " + VENV + "/bin/python"
_UV_PROJECT = f"UV_PROJECT_ENVIRONMENT={VENV} UV_PYTHON_DOWNLOADS=never"


def _lock_section(lock: Lockfile, steps: list[tuple[str, str]]) -> str:
    """The lockfile alone (uv.lock with its pyproject.toml), installed exactly."""
    sources = " ".join(f"repo/{shlex.quote(f)}" for f in lock.files)
    if lock.kind == UV_LOCK:
        target = f"{DEPS_DIR}/uv-project"
        steps.append(("uv sync", f"installing {lock.source} (uv sync --frozen)"))
        return f"""\
COPY --chown=1000:1000 {sources} {target}/
RUN {_UV} \\
    cd {target} && {_UV_ENV} {_UV_PROJECT} {_UV_SYNC} --no-install-project
"""
    target = f"{DEPS_DIR}/pylock.toml"
    steps.append((f"uv pip install -r {target}", f"installing {lock.source}"))
    return f"""\
COPY --chown=1000:1000 {sources} {target}
RUN {_UV} \\
    {_UV_ENV} uv pip install -r {target}
"""


def _lock_after_copy(lock: Lockfile, steps: list[tuple[str, str]]) -> str | None:
    """Installs that need the repository: local paths in the lock, or the uv project."""
    if lock.kind == UV_LOCK:
        if not (lock.needs_repo or lock.install_project):
            return None
        workdir = shlex.quote(posixpath.dirname(lock.source) or ".")
        steps.append(("uv sync", f"installing {lock.source} (uv sync --frozen)"))
        return f"RUN {_UV} \\\n    cd {workdir} && {_UV_ENV} {_UV_PROJECT} {_UV_SYNC}"
    if not lock.needs_repo:
        return None
    steps.append((f"uv pip install -r {shlex.quote(lock.source)}", f"installing {lock.source}"))
    return f"RUN {_UV} \\\n    {_UV_ENV} uv pip install -r {shlex.quote(lock.source)}"


def _repo_section(env: Environment, steps: list[tuple[str, str]]) -> str:
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
        steps.append((f"uv pip install -r {shlex.quote(target)}", f"installing {req.source}"))
        lines.append(f"RUN {_UV} \\\n    {_UV_ENV} uv pip install -r {shlex.quote(target)}")
    if env.lockfile is not None:
        after = _lock_after_copy(env.lockfile, steps)
        if after:
            lines.append(after)
    if env.install_repo is not None:
        steps.append(("uv pip install -e .", f"installing the repository as a package ({env.install_repo})"))
        lines.append(f"RUN {_UV} \\\n    {_UV_ENV} uv pip install -e .")
    lines.extend(c.repo_section.rstrip() for c in env.contributions if c.repo_section)
    if env.start is not None:
        lines.append(f"ENV BINDERY_START_SCRIPT={HOME}/{env.start}")
    scripts = [shlex.quote(p) for p in (env.start, env.post_build) if p is not None]
    if env.post_build is not None:
        # As the user, from $HOME, with the uv cache available to `uv pip install`s inside.
        script = shlex.quote(env.post_build)
        run = f"/bin/bash ./{script}" if env.post_build_needs_shell else f"./{script}"
        steps.insert(0, (f"&& {_UV_ENV} {run}", env.post_build))
        lines.append(f"RUN {_UV} \\\n    chmod +x {' '.join(scripts)} && {_UV_ENV} {run}")
    elif scripts:
        lines.append(f"RUN chmod +x {' '.join(scripts)}")
    return "\n".join(lines) + "\n"


def _nothing_installed_after_copy(env: Environment) -> bool:
    """Whether every package is installed before the repository copy, so the package
    list can be recorded there: a notebook edit then keeps that step cached too."""
    return (not (env.requirements is not None and env.requirements.needs_repo)
            and not (env.lockfile is not None and _lock_after_copy(env.lockfile, []) is not None)
            and env.install_repo is None and env.post_build is None
            and not any(c.repo_section for c in env.contributions))


def _freeze_section(steps: list[tuple[str, str]]) -> str:
    steps.append(("uv pip freeze", "recording the installed packages"))
    return f"RUN uv pip freeze --python {VENV}/bin/python > {LOCK_FILE}\n"


def _final_section(steps: list[tuple[str, str]], *, freeze: bool = True) -> str:
    entrypoint = json.dumps(["/usr/bin/tini", "-g", "--", "/usr/local/bin/bindery-start"])
    cmd = json.dumps(["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"])
    return f"""\
{_freeze_section(steps) if freeze else ""}USER 1000
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
    if env.python_requested and env.python_requested != env.python_version:
        lines[0] = f"Python {env.python_version} ({source} asks for {env.python_requested})"
    if env.python_managed:
        lines.append(f"Python {env.python_version}: CPython installed by uv from "
                     f"{settings.python_install_mirror}")
    lines.append(f"Node.js and npm: {settings.node_requirement} (npm install --global → "
                 f"{variables.NPM_DIR})")
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
    lock = env.lockfile
    if lock is not None:
        how = ("installed after the repository copy (it names local paths)" if lock.needs_repo
               else "cached separately from the repository contents")
        lines.append(f"{lock.source}: {_plural(lock.count, 'pinned package')}, installed "
                     f"exactly, {how}")
        if lock.install_project:
            lines.append(f"{lock.source}: the project itself is installed by uv sync")
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
    if env.python_warning:
        lines.append(f"WARNING: {env.python_warning}")
    return lines
