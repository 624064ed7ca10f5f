"""One registry for every plugin contract, read from ``importlib.metadata`` entry points.

Each contract module declares its group once, next to the abstract class::

    SPAWNERS = PluginGroup("bindery.spawners", Spawner, "spawner")

and every caller finds plugins through that object. Built-ins are registered in
Bindery's own ``pyproject.toml`` exactly like a third party's, so there is no
private path: what a built-in can do, a plugin can do.

A plugin declares the options it accepts as ``options_model``, a subclass of
:class:`PluginOptions`. Options are validated when configuration is loaded, so
an unknown key fails at start with the key named, not at the first request.

This module is a leaf: it imports no part of Bindery but :mod:`bindery.errors`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from bindery.errors import BinderyError

log = logging.getLogger(__name__)


class PluginOptions(BaseModel):
    """Base of every plugin's own options: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginError(BinderyError):
    """A plugin cannot be found or is not an implementation of its contract."""


T = TypeVar("T")


@dataclass(frozen=True)
class PluginGroup(Generic[T]):
    """The plugins registered for one contract under one entry-point group."""

    #: Entry-point group, e.g. ``"bindery.spawners"``.
    group: str
    #: The abstract class every plugin of the group must subclass. Typed loosely on
    #: purpose: mypy refuses abstract classes where ``type[T]`` is expected
    #: (python/mypy#4717), so a group's ``T`` comes from its declaration instead.
    contract: type[Any]
    #: What one plugin is called in messages ("spawner", "source", ...).
    noun: str

    def _entries(self) -> list[EntryPoint]:
        return list(entry_points(group=self.group))

    def names(self) -> list[str]:
        """Registered names, sorted (for error messages, ``--help`` and docs)."""
        return sorted({entry.name for entry in self._entries()})

    def load(self, name: str) -> type[T]:
        """The class registered as ``name``; a clear error naming what is installed."""
        matches = [entry for entry in self._entries() if entry.name == name]
        if not matches:
            known = ", ".join(self.names()) or "(none installed)"
            raise PluginError(f"No {self.noun} named {name!r} is installed. Available: {known}.")
        return self._load_entry(matches[0])

    def load_all(self) -> dict[str, type[T]]:
        """Every loadable plugin by name; a broken one is logged and skipped, not fatal."""
        found: dict[str, type[T]] = {}
        for entry in self._entries():
            if entry.name in found:
                continue
            try:
                found[entry.name] = self._load_entry(entry)
            except Exception:  # one broken third-party package must not disable the rest
                log.exception("the %s plugin %r (%s) cannot be loaded; skipping it",
                              self.noun, entry.name, entry.value)
        return found

    def _load_entry(self, entry: EntryPoint) -> type[T]:
        try:
            cls = entry.load()
        except Exception as exc:
            raise PluginError(
                f"The {self.noun} {entry.name!r} ({entry.value}) cannot be imported: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, self.contract)):
            raise PluginError(
                f"The {self.noun} {entry.name!r} ({entry.value}) is not a "
                f"{self.contract.__name__} class."
            )
        # The entry-point name is the plugin's name; a class may serve under several.
        if not getattr(cls, "name", None):
            cls.name = entry.name  # type: ignore[attr-defined]
        return cls

    def options_for(self, name: str, raw: dict[str, Any]) -> PluginOptions:
        """Validate ``raw`` against the options model of the plugin ``name``."""
        cls: Any = self.load(name)
        model: type[PluginOptions] = getattr(cls, "options_model", PluginOptions)
        return model.model_validate(raw)
