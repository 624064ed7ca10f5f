"""Reading conda's ``environment.yml`` and conda match specs, as plain data. Pure.

Only what Bindery uses is understood: ``channels``, ``dependencies`` (conda match specs
and one ``pip:`` list) and ``variables``; ``name`` and ``prefix`` are accepted and
ignored (the environment always lives at one place in the image). Anything else in the
file is an error that names the file and the key, because silently building a different
environment than the file describes is worse than refusing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from bindery.environment.errors import RepoConfigError

_KNOWN_KEYS = {"name", "prefix", "channels", "dependencies", "variables"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CondaSpec:
    """One conda match spec, split into the parts Bindery needs."""

    #: The spec as written in the file ("matplotlib-base=3.8").
    text: str
    name: str
    #: The version part in conda syntax ("=3.8", ">=1.2,<2", "1.26.*"), or "".
    version: str = ""
    #: A build string ("py311h1234_0"), or "".
    build: str = ""
    #: A channel named in front of the spec ("conda-forge::numpy"), or "".
    channel: str = ""


@dataclass(frozen=True)
class CondaEnvFile:
    """The parts of one ``environment.yml`` Bindery uses."""

    path: str
    channels: tuple[str, ...] = ()
    dependencies: tuple[CondaSpec, ...] = ()
    #: The ``pip:`` list, as pip requirement lines.
    pip: tuple[str, ...] = ()
    #: ``variables:``: environment variables set in the image.
    variables: tuple[tuple[str, str], ...] = ()

    @property
    def python_version(self) -> str | None:
        """``X.Y`` when ``python`` is pinned to a minor version (``python=3.10``,
        ``python 3.10.*``, ``python>=3.10,<3.11``), else None."""
        for spec in self.dependencies:
            if spec.name == "python" and spec.version:
                found = re.search(r"(\d+)\.(\d+)", spec.version)
                if found:
                    return f"{found.group(1)}.{found.group(2)}"
        return None


def parse_environment_file(text: str, path: str) -> CondaEnvFile:
    """``text`` of the file at ``path`` (for messages) → :class:`CondaEnvFile`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise RepoConfigError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RepoConfigError(
            f"{path} must be a mapping with 'channels' and 'dependencies' keys, "
            f"not a {type(data).__name__}."
        )
    unknown = sorted(str(k) for k in data if k not in _KNOWN_KEYS)
    if unknown:
        raise RepoConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; environment files have "
            f"{', '.join(sorted(_KNOWN_KEYS))}."
        )
    channels = tuple(_strings(data.get("channels"), f"{path}: channels"))
    dependencies: list[CondaSpec] = []
    pip: list[str] = []
    raw_deps = data.get("dependencies") or []
    if not isinstance(raw_deps, list):
        raise RepoConfigError(f"{path}: dependencies must be a list.")
    for index, item in enumerate(raw_deps, start=1):
        if isinstance(item, dict):
            if set(item) != {"pip"}:
                raise RepoConfigError(
                    f"{path}: dependency {index} is a mapping with {', '.join(map(str, item))}; "
                    "only a 'pip:' list is allowed there."
                )
            pip.extend(_strings(item["pip"], f"{path}: the pip: list"))
        elif isinstance(item, str | int | float):
            dependencies.append(parse_spec(str(item), f"{path}: dependency {index}"))
        else:
            raise RepoConfigError(f"{path}: dependency {index} must be a text entry like 'numpy=1.26'.")
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise RepoConfigError(f"{path}: variables must be a mapping of NAME: value.")
    for key, value in variables.items():
        if not _VARIABLE.fullmatch(str(key)) or isinstance(value, dict | list):
            raise RepoConfigError(f"{path}: variables: {key!r} must be a NAME: text value.")
    return CondaEnvFile(
        path=path,
        channels=channels,
        dependencies=tuple(dependencies),
        pip=tuple(pip),
        variables=tuple((str(k), "" if v is None else str(v)) for k, v in variables.items()),
    )


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise RepoConfigError(f"{where} must be a list of text entries.")
    return [str(v).strip() for v in value if str(v).strip()]


def parse_spec(text: str, where: str) -> CondaSpec:
    """One conda match spec: ``name``, ``name=1.2``, ``name 1.2.*``, ``name>=1,<2``,
    ``name=1.2=build``, ``channel::name``, ``name[version='>=1']``."""
    original = text.strip()
    rest = original
    channel = ""
    if "::" in rest:
        channel, rest = (part.strip() for part in rest.split("::", 1))
    version = build = ""
    bracket = re.fullmatch(r"([^\[\]]+)\[(.*)\]", rest)
    if bracket:
        rest = bracket.group(1).strip()
        for key, value in re.findall(r"(\w+)\s*=\s*['\"]?([^,'\"\]]+)['\"]?", bracket.group(2)):
            if key == "version":
                version = value.strip()
            elif key == "build":
                build = value.strip()
    found = _NAME.match(rest)
    if not found:
        raise RepoConfigError(f"{where}: {original!r} is not a conda package spec.")
    name = found.group(0).lower()
    tail = rest[found.end():].strip()
    if tail:
        if " " in tail and tail[0] not in "=<>!~":
            version, build = (part.strip() for part in tail.split(None, 1))
        elif tail.startswith("=") and not tail.startswith("=="):
            pieces = tail[1:].split("=")
            version = "=" + pieces[0].strip()
            build = "=".join(pieces[1:]).strip()
        elif tail.startswith("==") and "=" in tail[2:]:
            pieces = tail[2:].split("=")
            version, build = "==" + pieces[0].strip(), "=".join(pieces[1:]).strip()
        else:
            version = tail.replace(" ", "")
    if not re.fullmatch(r"[0-9A-Za-z_.*+!=<>,|~-]*", version):
        raise RepoConfigError(f"{where}: {original!r} has a version conda cannot read ({version!r}).")
    return CondaSpec(text=original, name=name, version=version, build=build, channel=channel)
