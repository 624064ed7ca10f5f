"""The registry of environment modules, and their options from ``[builder.modules.<name>]``.

The contract (:class:`~bindery.environment.modules.EnvironmentModule`) lives in the pure
environment layer; its registry lives here because option validation uses pydantic,
which that layer must not import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bindery.environment.modules import EnvironmentModule
from bindery.errors import BinderyError
from bindery.plugins import PluginGroup

ENVIRONMENT_MODULES: PluginGroup[EnvironmentModule] = PluginGroup(
    "bindery.environment_modules", EnvironmentModule, "environment module"
)


class ModuleOptionsError(BinderyError):
    """A ``[builder.modules.<name>]`` table does not fit the module's options."""


def module_options(cls: type[EnvironmentModule], raw: Mapping[str, Any]) -> Any:
    """``raw`` validated into ``cls.options_type``; unknown keys and bad values are named."""
    options_type = cls.options_type
    known = {f.name for f in dataclasses.fields(options_type)}
    unknown = sorted(set(raw) - known)
    where = f"builder.modules.{cls.name}"
    if unknown:
        allowed = ", ".join(sorted(known)) or "(none)"
        raise ModuleOptionsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the {cls.name} module accepts: {allowed}"
        )
    try:
        return TypeAdapter(options_type).validate_python(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{where}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ModuleOptionsError(problems) from exc


def load_modules(tables: Mapping[str, Mapping[str, Any]]) -> list[EnvironmentModule]:
    """Every installed module, constructed with its options table (empty when absent)."""
    installed = ENVIRONMENT_MODULES.load_all()
    strays = sorted(set(tables) - set(installed))
    if strays:
        known = ", ".join(sorted(installed)) or "(none installed)"
        raise ModuleOptionsError(
            f"builder.modules: no environment module named {', '.join(strays)}; installed: {known}"
        )
    return [cls(module_options(cls, tables.get(name, {}))) for name, cls in sorted(installed.items())]
