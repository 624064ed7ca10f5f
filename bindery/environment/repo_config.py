"""``bindery.toml`` in a repository: pin the builder, and choose a few of its options.

repo2docker has no way for a repository to say which builder it was made for
(repo2docker #490); a repository that worked last year may build differently, or not
at all, today. A ``bindery.toml`` in the configuration directory (``binder/``,
``.binder/`` or the root, by the usual rule) says so::

    [builder]
    version = "~=0.1"          # PEP 440 specifier against this Bindery's version
    python_policy = "exact"    # a Python that cannot be had is an error, not a substitute

    [builder.modules.conda]
    mode = "fallback"

Only options that change *what the repository gets*, never what the deployment
allows, may be set here (:data:`ALLOWED`): a repository chooses among the builds the
operator already permits. Network, memory and time limits, running as root, channels,
mirrors, CA certificates and base images stay the operator's: anyone can publish a
repository, and a public binder builds it. Every other key is an error naming it.

Pure: reading and checking only; the builder applies the result
(:mod:`bindery.builder.build`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from bindery.environment.errors import RepoConfigError
from bindery.environment.repo_files import ConfigFiles

FILE_NAME = "bindery.toml"

#: ``[builder]`` keys a repository may set, with their allowed values (None: checked
#: elsewhere) and why each is safe to hand to a repository.
ALLOWED: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "version": (None, "which Bindery versions the repository was made for"),
    "python_policy": (("nearest", "exact"),
                      "whether a Python that cannot be had is substituted or an error"),
}
#: ``[builder.modules.<name>]`` keys a repository may set.
ALLOWED_MODULE_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "conda": {"mode": ("auto", "conda", "fallback")},
}
#: Keys refused with a reason of their own (the deployment's, not the repository's).
_OPERATOR_ONLY = (
    "network", "build_memory", "build_timeout", "max_repo_bytes", "allow_root",
    "extra_ca_certificates", "debian_mirror", "python_install_mirror", "base_images",
    "managed_pythons", "apt_ignore_valid_until", "image_prefix", "work_dir",
    "jupyter_packages", "jupyter_remove", "node_requirement", "default_python",
    "channels", "channel_alias", "channel_urls", "cache_dir", "prefix", "probe_timeout",
)


@dataclass(frozen=True)
class RepoConfig:
    """What a repository's ``bindery.toml`` asks of the builder."""

    #: "binder/bindery.toml".
    path: str
    #: The PEP 440 specifier of ``[builder] version`` ("" = any version).
    version: str = ""
    #: ``[builder]`` options to use for this build ({"python_policy": "exact"}).
    options: dict[str, Any] = field(default_factory=dict)
    #: ``[builder.modules.<name>]`` options ({"conda": {"mode": "fallback"}}).
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> str:
        """One build-log line saying what the file changed."""
        parts = [f"builder version {self.version}" if self.version else ""]
        parts += [f"{key} = {value!r}" for key, value in self.options.items()]
        parts += [f"modules.{name}.{key} = {value!r}" for name, values in self.modules.items()
                  for key, value in values.items()]
        shown = ", ".join(p for p in parts if p)
        return f"{self.path}: {shown or 'nothing set'}"

    def version_problem(self, running: str) -> str | None:
        """Why this Bindery (version ``running``) does not match, or None."""
        if not self.version:
            return None
        if Version(running) in SpecifierSet(self.version):
            return None
        return (f"{self.path} asks for Bindery {self.version} ([builder] version); this is "
                f"Bindery {running}. Build it with a matching Bindery, or change the "
                "specifier if the repository works with this one.")


def _operator_key_error(path: str, key: str) -> RepoConfigError:
    return RepoConfigError(
        f"{path}: [builder] {key} cannot be set by a repository: it is the deployment's "
        "setting (limits, network, mirrors, trust and base images stay the operator's). "
        f"A repository may set: {', '.join(sorted(ALLOWED))}, "
        + ", ".join(f"[builder.modules.{m}] {', '.join(k)}" for m, k in ALLOWED_MODULE_KEYS.items())
        + ".")


def parse_repo_config(text: str, path: str) -> RepoConfig:
    """Check ``text`` (the file at ``path``) against the allow-list."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepoConfigError(f"{path} is not valid TOML: {exc}.") from exc
    extra = sorted(set(data) - {"builder"})
    if extra:
        raise RepoConfigError(f"{path}: only a [builder] table is read; found {', '.join(extra)}.")
    builder = data.get("builder", {})
    if not isinstance(builder, dict):
        raise RepoConfigError(f"{path}: builder must be a table ([builder]).")
    version = ""
    options: dict[str, Any] = {}
    modules: dict[str, dict[str, Any]] = {}
    for key, value in builder.items():
        if key == "modules":
            modules = _modules(path, value)
        elif key == "version":
            version = _version(path, value)
        elif key in ALLOWED:
            allowed = ALLOWED[key][0]
            if allowed is not None and value not in allowed:
                raise RepoConfigError(f"{path}: [builder] {key} = {value!r} is not one of "
                                      f"{', '.join(repr(a) for a in allowed)}.")
            options[key] = value
        else:
            if key in _OPERATOR_ONLY:
                raise _operator_key_error(path, key)
            raise RepoConfigError(
                f"{path}: [builder] {key} is not a setting a repository can choose; allowed: "
                f"{', '.join(sorted(ALLOWED))}, modules.")
    return RepoConfig(path=path, version=version, options=options, modules=modules)


def _version(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RepoConfigError(f"{path}: [builder] version must be a PEP 440 specifier string "
                              "such as \"~=0.1\" or \"==0.1.0\".")
    text = value.strip()
    if text[0].isdigit():
        text = f"=={text}.*" if text.count(".") < 2 else f"=={text}"  # "0.1" = any 0.1.x
    try:
        SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise RepoConfigError(f"{path}: [builder] version = {value!r} is not a PEP 440 "
                              "specifier (e.g. \"~=0.1\", \">=0.1,<0.3\", \"0.1\").") from exc
    return text


def _modules(path: str, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise RepoConfigError(f"{path}: [builder.modules] must be a table.")
    found: dict[str, dict[str, Any]] = {}
    for name, options in value.items():
        allowed = ALLOWED_MODULE_KEYS.get(name)
        if allowed is None or not isinstance(options, dict):
            raise RepoConfigError(
                f"{path}: [builder.modules.{name}] cannot be set by a repository; allowed: "
                + ", ".join(f"[builder.modules.{m}]" for m in ALLOWED_MODULE_KEYS) + ".")
        for key, option in options.items():
            if key not in allowed:
                if key in _OPERATOR_ONLY:
                    raise _operator_key_error(path, f"modules.{name}.{key}")
                raise RepoConfigError(f"{path}: [builder.modules.{name}] {key} cannot be set by a "
                                      f"repository; allowed: {', '.join(allowed)}.")
            if option not in allowed[key]:
                raise RepoConfigError(f"{path}: [builder.modules.{name}] {key} = {option!r} is not "
                                      f"one of {', '.join(repr(a) for a in allowed[key])}.")
        found[name] = dict(options)
    return found


def read_repo_config(repo_dir: Path) -> RepoConfig | None:
    """The checkout's ``bindery.toml`` (in its configuration directory), or None."""
    files = ConfigFiles(repo_dir)
    text = files.read_text(FILE_NAME)
    if text is None:
        return None
    return parse_repo_config(text, files.rel(FILE_NAME))


def ignored_root_file(repo_dir: Path) -> str | None:
    """A note when a root ``bindery.toml`` is hidden by a binder directory without one."""
    files = ConfigFiles(repo_dir)
    if files.config_dir and files.root_has(FILE_NAME) and not files.has(FILE_NAME):
        return (f"{FILE_NAME} ignored: {files.config_dir}/ configures the environment; move it to "
                f"{files.rel(FILE_NAME)} to use it")
    return None
