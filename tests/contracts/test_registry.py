"""What every plugin of every group promises the registry, checked over all installed ones.

Registered under its own name, a subclass of its group's contract, and an options
model that has defaults for everything the deployment does not supply, refuses an
unknown key and never changes after start-up.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bindery.engine.base import ENGINES
from bindery.hub.auth.base import AUTHENTICATORS
from bindery.hub.proxy.base import PROXIES
from bindery.hub.spawners.base import SPAWNERS
from bindery.plugins import PluginGroup, PluginOptions
from bindery.sources.base import SOURCES

GROUPS: tuple[PluginGroup[Any], ...] = (SOURCES, ENGINES, SPAWNERS, AUTHENTICATORS, PROXIES)
#: What the deployment always supplies, by group (the hub gives every proxy client these).
SUPPLIED: dict[str, dict[str, Any]] = {PROXIES.group: {"api_url": "http://127.0.0.1:8001"}}
PLUGINS = [pytest.param(group, name, id=f"{group.noun}:{name}")
           for group in GROUPS for name in group.names()]


@pytest.mark.parametrize(("group", "name"), PLUGINS)
def test_registered_under_its_own_name_as_its_contract(group: PluginGroup[Any], name: str) -> None:
    cls = group.load(name)
    assert issubclass(cls, group.contract)
    assert cls.name == name


@pytest.mark.parametrize(("group", "name"), PLUGINS)
def test_options_have_defaults_refuse_unknown_keys_and_never_change(
    group: PluginGroup[Any], name: str
) -> None:
    model = group.load(name).options_model
    assert issubclass(model, PluginOptions)
    defaults = model.model_validate(SUPPLIED.get(group.group, {}))
    with pytest.raises(ValidationError, match="surely_not_an_option"):
        model.model_validate({**SUPPLIED.get(group.group, {}), "surely_not_an_option": 1})
    with pytest.raises(ValidationError):  # frozen: options never change after start-up
        defaults.surely_not_an_option = 1


def test_every_group_has_its_built_ins() -> None:
    assert {"local", "git", "gh"} <= set(SOURCES.names())
    assert "docker" in ENGINES.names()
    assert {"docker", "local"} <= set(SPAWNERS.names())
    assert {"password", "anonymous", "oidc"} <= set(AUTHENTICATORS.names())
    assert "rest" in PROXIES.names()
