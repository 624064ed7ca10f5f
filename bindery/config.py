"""Reading configuration once, at start-up, and saying exactly where a bad value came from.

Values come, in increasing priority, from the defaults of the settings model, one
TOML file (``--config FILE``, ``$BINDERY_CONFIG`` or ``./bindery.toml``), environment
variables (``BINDERY_<FIELD>``, ``BINDERY_<SECTION>__<FIELD>``,
``BINDERY_HUB__SPAWNER__MEM_LIMIT``) and command-line options. Every key is checked:
an unknown key anywhere, a plugin's own keys included, stops the start with the key
named and its origin ("bindery.toml, line 12" or "environment variable ...").

This module knows how to read and check, not what the settings are: the caller (the
composition root, :mod:`bindery.composition`) passes the model. So it imports no part
of Bindery but the plugin registry, and each part owns its own section class.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from bindery.errors import BinderyError
from bindery.plugins import PluginError, PluginGroup, PluginOptions

log = logging.getLogger(__name__)

ENV_PREFIX = "BINDERY_"

Path_ = tuple[str, ...]
M = TypeVar("M", bound=BaseModel)


class ConfigError(BinderyError):
    """The configuration cannot be used; the text names the key and where it came from."""


def plugin_option_error(exc: ValidationError, owner: str, key_prefix: str = "") -> PydanticCustomError:
    """A plugin's options refused ``exc``: one error naming the key, for :func:`describe_errors`.

    ``owner`` completes "not ..." for an unknown key ("an option of the 'rest' proxy
    client"); ``key_prefix`` places the key under its table ("client_options.").
    """
    first = exc.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else ""
    reason = (f"unknown key {key!r} (not {owner})" if first["type"] == "extra_forbidden"
              else str(first["msg"]))
    return PydanticCustomError("plugin_option", "{reason}",
                               {"reason": reason, "key": f"{key_prefix}{key}" or "kind"})


class Section(BaseModel):
    """Base of every settings section: an unknown key is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PluginSection(Section):
    """A section whose ``kind`` picks a plugin; the plugin's own keys sit beside it.

    ``[hub.spawner] kind = "docker"`` with ``mem_limit = "2g"``: the section's own
    fields are the keys every plugin of the group shares; the remaining keys are
    validated against the chosen plugin's ``options_model`` and kept, typed, as
    :attr:`options`. A key that neither knows is an error naming the plugin.
    Setting ``kind`` later checks the keys again against the new plugin. The
    plugin's keys are kept as validated values, so secrets stay wrapped in a repr
    or a dump.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=False)

    #: The registry this section chooses from; set by each subclass.
    plugin_group: ClassVar[PluginGroup[Any]]

    kind: str
    _options: PluginOptions | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _validate_plugin_options(self) -> Self:
        raw = dict(self.model_extra or {})
        group = self.plugin_group
        try:
            self._options = group.options_for(self.kind, raw)
        except PluginError as exc:
            raise PydanticCustomError("plugin_unknown", "{reason}",
                                      {"reason": str(exc), "key": "kind"}) from exc
        except ValidationError as exc:
            raise plugin_option_error(
                exc, f"a setting of the section nor of the {self.kind!r} {group.noun}") from exc
        extra = self.__pydantic_extra__
        if extra:
            for key in extra:
                extra[key] = getattr(self._options, key)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        """A change after loading is checked as at start-up, and the options follow it.

        Commands adjust settings after reading them (``bindery serve`` picks the
        anonymous authenticator); the plugin must then get options checked exactly
        as they would have been in the file. A bad change leaves the section as it was.
        """
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        try:
            checked = type(self).model_validate({**self.model_dump(), name: value})
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from exc
        super().__setattr__(name, getattr(checked, name))
        self._options = checked._options

    def with_kind(self, kind: str) -> Self:
        """This section for another plugin, chosen by a command rather than the file.

        ``bindery serve`` always runs the anonymous authenticator and ``bindery hub
        --spawner local`` overrides the file's spawner: keys the file holds for the
        other plugin are not typos, so they are left out (and logged), not errors.
        """
        known = self.plugin_group.load(kind).options_model.model_fields
        extras = dict(self.model_extra or {})
        dropped = sorted(key for key in extras if key not in known)
        if dropped:
            log.warning("%s = %r: ignoring the keys %s, which belong to the %r %s",
                        type(self).__name__, kind, ", ".join(dropped), self.kind,
                        self.plugin_group.noun)
        own = {name: getattr(self, name) for name in type(self).model_fields}
        kept = {key: value for key, value in extras.items() if key in known}
        try:
            return type(self).model_validate({**own, **kept, "kind": kind})
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from exc

    @property
    def options(self) -> PluginOptions:
        """The chosen plugin's own options, validated against its ``options_model``."""
        if self._options is None:  # pragma: no cover - the validator always sets it
            raise ConfigError(f"{type(self).__name__} was not validated")
        return self._options


# -- where values come from -------------------------------------------------


def find_config_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str],
                     cwd: Path) -> Path | None:
    """``--config`` first, then ``$BINDERY_CONFIG``, then ``./bindery.toml`` if present."""
    named = explicit if explicit is not None else environ.get("BINDERY_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            origin = "--config" if explicit is not None else "BINDERY_CONFIG"
            raise ConfigError(f"{origin} names {path}, which does not exist.")
        return path
    local = cwd / "bindery.toml"
    if not local.is_file() or _is_repository_pin(local):
        return None
    return local


def _is_repository_pin(path: Path) -> bool:
    """A repository's own ``bindery.toml`` (``[builder] version = ...``, docs/environment.md)
    pins the builder for that repository; it is not this deployment's settings, so running
    ``bindery build .`` inside such a repository must not read it as such."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the loader reports what is wrong with it
    builder = data.get("builder")
    return isinstance(builder, dict) and "version" in builder


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _dotted(text: str) -> Path_:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def toml_lines(text: str) -> dict[Path_, int]:
    """The line number of every table header and key, by its full dotted path.

    ``tomllib`` keeps no positions; this scan covers the forms people write
    (``[a.b]`` headers, ``key = ...`` and dotted keys) and is only used to point
    at the line in an error message.
    """
    lines: dict[Path_, int] = {}
    table: Path_ = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(table + _dotted(key.group(1)), number)
    return lines


def _set(tree: dict[str, Any], path: Path_, value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_value(text: str) -> Any:
    """Lists and tables are written as JSON in variables; everything else stays a string."""
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _walk(tree: Mapping[str, Any], prefix: Path_ = ()) -> list[Path_]:
    paths: list[Path_] = []
    for key, value in tree.items():
        path = prefix + (key,)
        paths.append(path)
        if isinstance(value, Mapping):
            paths.extend(_walk(value, path))
    return paths


class _Origins:
    """Where each key's value came from, for error messages."""

    def __init__(self) -> None:
        self.by_path: dict[Path_, str] = {}

    def note(self, path: Path_, origin: str) -> None:
        self.by_path[path] = origin

    def of(self, path: Path_) -> str:
        for length in range(len(path), 0, -1):
            found = self.by_path.get(path[:length])
            if found:
                return found
        return "the defaults"


def load(
    model: type[M],
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    aliases: Mapping[str, Path_] | None = None,
    not_settings: frozenset[str] = frozenset({"BINDERY_CONFIG"}),
    cwd: Path | None = None,
) -> M:
    """Read the file, the environment and ``overrides`` into ``model``, validated once.

    ``aliases`` maps other documented variable names (``CONFIGPROXY_AUTH_TOKEN``)
    to the setting they fill; ``not_settings`` names prefixed variables that are
    not settings (``BINDERY_CONFIG`` itself). Raises :class:`ConfigError` naming the key and its origin.
    """
    env = dict(os.environ if environ is None else environ)
    origins = _Origins()
    values: dict[str, Any] = {}

    path = find_config_file(config_file, env, cwd or Path.cwd())
    if path is not None:
        text = path.read_text(encoding="utf-8")
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        lines = toml_lines(text)
        for key_path in _walk(values):
            line = lines.get(key_path)
            origins.note(key_path, f"{path}, line {line}" if line else str(path))

    from_env: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if name in (aliases or {}):
            key_path = (aliases or {})[name]
        elif name.startswith(ENV_PREFIX) and name not in not_settings:
            key_path = tuple(p.lower() for p in name[len(ENV_PREFIX):].split("__"))
            if not all(key_path):
                raise ConfigError(f"environment variable {name} is not a valid setting name.")
        else:
            continue
        _set(from_env, key_path, _env_value(raw))
        origins.note(key_path, f"environment variable {name}")
    values = _merge(values, from_env)

    if overrides:
        values = _merge(values, overrides)
        for key_path in _walk(overrides):
            origins.note(key_path, "a command-line option")

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, origins)) from exc


def describe_errors(exc: ValidationError, origins: _Origins | None = None) -> str:
    """One line per problem: the dotted key, what is wrong, where the value came from."""
    problems = []
    for error in exc.errors():
        loc: Path_ = tuple(str(part) for part in error["loc"])
        ctx = error.get("ctx") or {}
        if ctx.get("key"):
            loc = loc + tuple(str(ctx["key"]).split("."))
        dotted = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            message = f"unknown key {dotted!r}"
        elif error["type"] in ("plugin_option", "plugin_unknown"):
            message = f"{dotted}: {ctx.get('reason', error['msg'])}"
        else:
            message = f"{dotted}: {error['msg']}"
        where = origins.of(loc) if origins is not None else ""
        problems.append(f"{message} (from {where})" if where else message)
    return "invalid configuration: " + "; ".join(problems)
