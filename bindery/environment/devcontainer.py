"""``devcontainer.json`` (VS Code / GitHub Codespaces) as a build input.

The Development Containers specification (containers.dev) describes an environment
as an ``image`` to start from, or a ``build.dockerfile`` to build, plus ``features``
(add-ons published to a registry), lifecycle commands (``onCreateCommand``,
``postCreateCommand``, ...), ``containerEnv``/``remoteEnv`` and ``forwardPorts``.
repo2docker has no support for it (repo2docker #1142, open); Bindery reads it as follows.

**Precedence.** Binder configuration always wins, so a repository behaves as on
mybinder.org: a ``binder/``/``.binder/`` directory, or any root configuration file
(``requirements.txt``, ``environment.yml``, ``Dockerfile``, ...), means the
devcontainer is ignored (the summary says so). Only a repository with no Binder
configuration at all is built from ``.devcontainer/devcontainer.json`` (else
``.devcontainer.json``).

**What becomes what.** The result is a repository Dockerfile (the same path, the same
public-build rules: no remote ``ADD``, no ``# syntax=``; the same run-time user rules):

- ``build.dockerfile`` (+ ``context``, ``args``; paths relative to the
  devcontainer.json, kept inside the repository) is built as given, with Bindery's
  additions appended to its last stage;
- ``image`` becomes ``FROM <image>``; the image must already be on this machine (no
  registry is asked), and public builders accept only images matching
  ``builder.devcontainer_images``;
- ``containerEnv`` and ``remoteEnv`` → ``ENV``; ``${localEnv:...}`` is never read from
  the builder host (its default, or empty, with a note);
- the repository is copied to the workspace folder (``workspaceFolder``, default
  ``/workspaces/project``), which becomes the working directory — when the build
  context is the repository root, or always for ``image``;
- ``onCreateCommand``, ``updateContentCommand``, ``postCreateCommand`` (string: a shell
  command; array: a command without a shell; object: each entry in order) run at build
  time, as ``remoteUser``/``containerUser`` when given, else as the image's user;
- ``features`` need their registry (ghcr.io): a note listing them, or an error when
  ``builder.devcontainer_features = "error"``;
- ``forwardPorts``: a note (reach such a port through jupyter-server-proxy's
  ``/proxy/<port>/`` when the image has it);
- host-side or privileged settings (``initializeCommand``, ``runArgs``, ``mounts``,
  ``privileged``, ``capAdd``, ``securityOpt``) are never applied: a note.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from bindery.environment.errors import RepoConfigError
from bindery.environment.jsonc import load_jsonc
from bindery.environment.repo_files import ConfigFiles

#: Where the specification looks, in order (the first found is used).
LOCATIONS = (".devcontainer/devcontainer.json", ".devcontainer.json")
DEFAULT_WORKSPACE = "/workspaces/project"
LIFECYCLE = ("onCreateCommand", "updateContentCommand", "postCreateCommand")
_NOT_APPLIED = ("initializeCommand", "runArgs", "mounts", "privileged", "capAdd",
                "securityOpt", "postStartCommand", "postAttachCommand", "appPort")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}(:[a-z0-9_-]{1,32})?$|^[0-9]{1,10}(:[0-9]{1,10})?$")
_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z]+)(?::([^}:]*))?(?::([^}]*))?\}")


@dataclass(frozen=True)
class DevContainer:
    """What ``devcontainer.json`` asks for, ready to build."""

    #: ".devcontainer/devcontainer.json".
    path: str
    #: The Dockerfile to build (the repository's, with Bindery's additions).
    dockerfile_text: str
    #: The repository Dockerfile ("" for ``image``).
    dockerfile: str = ""
    #: Build context, relative to the repository root ("" = the root).
    context: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    #: ``image``: must exist on this machine (and be allowed on a public builder).
    image: str = ""
    features: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def find(files: ConfigFiles) -> tuple[str, str] | None:
    """(path, text) of the repository's devcontainer.json, or None (root only)."""
    if files.config_dir:
        return None
    for path in LOCATIONS:
        text = files.read_text(path)
        if text is not None:
            return path, text
    return None


def _inside(base_dir: str, relative: Any, origin: str, what: str) -> str:
    """``relative`` (from the devcontainer.json's folder) as a path from the root."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise RepoConfigError(f"{origin}: {what} must be a relative path.")
    if relative.startswith("/"):
        raise RepoConfigError(f"{origin}: {what} {relative!r} is absolute; it must be "
                              "relative to the devcontainer.json and inside the repository.")
    joined = posixpath.normpath(posixpath.join(base_dir, relative))
    if joined == ".." or joined.startswith("../"):
        raise RepoConfigError(f"{origin}: {what} {relative!r} points outside the repository.")
    return "" if joined == "." else joined


class _Substitution:
    """The specification's ``${...}`` variables, resolved without the builder host."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self.notes: list[str] = []

    def __call__(self, text: str, where: str, *, container_env: str = "${{{}}}") -> str:
        """``text`` with variables resolved; ``${containerEnv:X}`` becomes
        ``container_env.format(X)`` (``${X}``: expanded by the shell or by ENV)."""
        def replace(match: re.Match[str]) -> str:
            kind, name, default = match.group(1), match.group(2) or "", match.group(3)
            if kind == "localEnv" or kind == "env":
                self.notes.append(f"{where}: ${{{kind}:{name}}} is not read from the builder "
                                  f"host; {'its default' if default is not None else 'empty'} is used")
                return default or ""
            if kind == "containerEnv":
                if not _NAME.match(name):
                    return ""
                return container_env.format(name)
            if kind in ("localWorkspaceFolder", "containerWorkspaceFolder"):
                return self.workspace
            if kind in ("localWorkspaceFolderBasename", "containerWorkspaceFolderBasename"):
                return posixpath.basename(self.workspace)
            if kind == "devcontainerId":
                return "bindery"
            self.notes.append(f"{where}: ${{{kind}}} is not known; replaced by nothing")
            return ""

        return _VARIABLE.sub(replace, text)


def _env_lines(values: Any, origin: str, key: str, subst: _Substitution) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, dict):
        raise RepoConfigError(f"{origin}: {key} must be an object of names and values.")
    lines = []
    for name, value in values.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise RepoConfigError(f"{origin}: {key} name {str(name)[:60]!r} is not a valid "
                                  "environment variable name.")
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text or "\r" in text or "\0" in text:
            raise RepoConfigError(f"{origin}: {key}.{name} spans several lines; "
                                  "environment values must be one line.")
        # Variables first (``${containerEnv:X}`` → a marker), then escaping for a
        # double-quoted Dockerfile ENV value (no other ``$`` is expanded), then the
        # markers become Docker's own ``${X}``.
        resolved = subst(text, f"{key}.{name}", container_env="\0{}\0")
        quoted = resolved.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        quoted = re.sub("\0([A-Za-z_][A-Za-z0-9_]*)\0", r"${\1}", quoted)
        lines.append(f'ENV {name}="{quoted}"')
    return lines


def _commands(value: Any, origin: str, key: str, subst: _Substitution) -> list[str]:
    """RUN lines (JSON form: no Dockerfile quoting pitfalls) for one lifecycle key."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [f"RUN {json.dumps(['/bin/sh', '-c', subst(value, key)])}"]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [f"RUN {json.dumps([subst(v, key) for v in value])}"]
    if isinstance(value, dict):
        lines: list[str] = []
        for name, entry in value.items():
            lines += _commands(entry, origin, f"{key}.{name}", subst)
        return lines
    raise RepoConfigError(f"{origin}: {key} must be a string, an array of strings or an "
                          "object of those.")


def read(files: ConfigFiles, path: str, text: str, *, features_policy: str = "note",
         ) -> DevContainer:
    """``devcontainer.json`` → :class:`DevContainer`; invalid content names the key."""
    data = load_jsonc(text, path)
    if not isinstance(data, dict):
        raise RepoConfigError(f"{path} must hold a JSON object.")
    if "dockerComposeFile" in data:
        raise RepoConfigError(f"{path} uses dockerComposeFile; Bindery builds one image and "
                              "does not run Docker Compose. Use \"image\" or \"build\" instead.")
    base_dir = posixpath.dirname(path)
    notes: list[str] = []
    workspace = data.get("workspaceFolder") or DEFAULT_WORKSPACE
    if not isinstance(workspace, str) or not _PATH.match(workspace) or ".." in workspace.split("/"):
        raise RepoConfigError(f"{path}: workspaceFolder must be an absolute path of letters, "
                              "digits and . _ - / only.")
    subst = _Substitution(workspace)

    build = data.get("build")
    image = data.get("image")
    dockerfile_path = ""
    context = ""
    args: dict[str, str] = {}
    if build is not None:
        if not isinstance(build, dict) or "dockerfile" not in build:
            raise RepoConfigError(f"{path}: build must be an object with a dockerfile.")
        dockerfile_path = _inside(base_dir, build["dockerfile"], path, "build.dockerfile")
        context = _inside(base_dir, build.get("context", "."), path, "build.context")
        raw_args = build.get("args") or {}
        if not isinstance(raw_args, dict):
            raise RepoConfigError(f"{path}: build.args must be an object.")
        for name, value in raw_args.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise RepoConfigError(f"{path}: build.args name {str(name)[:60]!r} is not valid.")
            args[name] = subst(str(value), f"build.args.{name}")
        for ignored in ("target", "cacheFrom", "options"):
            if build.get(ignored):
                notes.append(f"{path}: build.{ignored} is not used")
        source = files.read_text(dockerfile_path)
        if source is None:
            raise RepoConfigError(f"{path}: build.dockerfile {dockerfile_path} does not exist.")
        head = source.rstrip("\n") + "\n"
        if image:
            notes.append(f"{path}: image is ignored because build.dockerfile is given")
        image = ""
    elif image is not None:
        if not isinstance(image, str) or not _IMAGE.match(image):
            raise RepoConfigError(f"{path}: image {str(image)[:80]!r} is not an image reference.")
        head = f"FROM {image}\n"
    else:
        raise RepoConfigError(f"{path} names neither an image nor a build.dockerfile; one of "
                              "them says what to build.")

    features = data.get("features") or {}
    if not isinstance(features, dict):
        raise RepoConfigError(f"{path}: features must be an object.")
    feature_names = tuple(str(name) for name in features)
    if feature_names:
        message = (f"{path}: features {', '.join(feature_names)} are not installed: they come "
                   "from their registry (ghcr.io), which this Bindery does not reach")
        if features_policy == "error":
            raise RepoConfigError(message + " (builder.devcontainer_features is 'error'). Install "
                                  "what they provide in the Dockerfile instead.")
        notes.append(message)

    ports = data.get("forwardPorts") or []
    if ports:
        shown = ", ".join(str(p) for p in ports) if isinstance(ports, list) else str(ports)
        notes.append(f"{path}: forwardPorts {shown} are not forwarded; with jupyter-server-proxy "
                     "in the image, open /proxy/<port>/ on the server instead")
    for key in _NOT_APPLIED:
        if data.get(key):
            notes.append(f"{path}: {key} is not applied (Bindery never runs host commands or "
                         "grants extra container privileges)")

    tail = [f"# Added by Bindery from {path}"]
    tail += _env_lines(data.get("containerEnv"), path, "containerEnv", subst)
    tail += _env_lines(data.get("remoteEnv"), path, "remoteEnv", subst)
    copy_repo = bool(image) or context == ""
    if copy_repo:
        tail.append(f"COPY --chown=1000:100 . {workspace}")
        tail.append(f"WORKDIR {workspace}")
    else:
        notes.append(f"{path}: the build context is {context}/, so the repository is not "
                     "copied into the image (use the repository root as context to have it)")
    user = data.get("remoteUser") or data.get("containerUser")
    if user is not None:
        if not isinstance(user, str) or not _USER.match(user):
            raise RepoConfigError(f"{path}: remoteUser/containerUser {str(user)[:40]!r} is not "
                                  "a user name or uid.")
        tail.append(f"USER {user}")
    for key in LIFECYCLE:
        tail += _commands(data.get(key), path, key, subst)
    notes.extend(dict.fromkeys(subst.notes))
    return DevContainer(
        path=path,
        dockerfile_text=head + "\n".join(tail) + "\n",
        dockerfile=dockerfile_path,
        context=context,
        build_args=args,
        image=image or "",
        features=feature_names,
        notes=tuple(notes),
    )
