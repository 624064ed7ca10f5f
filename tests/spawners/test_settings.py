"""``[hub.spawner]``: the hub's common keys, each spawner's own keys beside them, typos refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bindery.composition import Settings, load_settings, make_spawner_factory
from bindery.config import ConfigError
from bindery.engine.docker import DockerEngine
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.base import SpawnRequest
from bindery.hub.spawners.docker import DockerSpawner, DockerSpawnerOptions
from bindery.hub.spawners.factory import spawner_factory
from bindery.hub.spawners.local import LocalProcessSpawner, LocalSpawnerOptions
from bindery.hub.spawners.settings import SpawnerSettings


def _request(user: str = "zed") -> SpawnRequest:
    return SpawnRequest(user=user, server_name="", base_url=f"/user/{user}/", api_token="t" * 32)


def test_keys_stay_where_they_were_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bindery.toml"
    config.write_text('[hub.spawner]\nkind = "docker"\nmem_limit = "4g"\npersistent_home = true\n'
                      'allowed_images = ["lab/*"]\nstart_timeout = 30\n')
    spawner = load_settings(config, environ={}).hub.spawner
    assert isinstance(spawner.options, DockerSpawnerOptions)
    assert spawner.options.mem_limit == "4g" and spawner.options.persistent_home is True
    assert spawner.allowed_images == ["lab/*"] and spawner.start_timeout == 30


def test_a_typo_in_the_spawner_section_names_the_key_and_the_line(tmp_path: Path) -> None:
    config = tmp_path / "bindery.toml"
    config.write_text('[hub]\nport = 8000\n\n[hub.spawner]\nmem_limit = "2g"\ntypo_mem_limt = "4g"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    message = str(info.value)
    assert "typo_mem_limt" in message and "'docker' spawner" in message
    assert f"{config}, line 6" in message


def test_a_typo_in_code_or_the_environment_is_refused_too() -> None:
    with pytest.raises(ValueError, match="typo_mem_limt"):
        Settings(hub={"spawner": {"typo_mem_limt": "4g"}})
    with pytest.raises(ConfigError, match="environment variable BINDERY_HUB__SPAWNER__TYPO_MEM_LIMT"):
        load_settings(environ={"BINDERY_HUB__SPAWNER__TYPO_MEM_LIMT": "4g"})


def test_a_key_of_another_spawner_is_refused() -> None:
    with pytest.raises(ValueError, match="local_command.*'docker' spawner"):
        SpawnerSettings(kind="docker", local_command=["jupyter-server"])
    with pytest.raises(ValueError, match="mem_limit.*'local' spawner"):
        SpawnerSettings(kind="local", mem_limit="2g")


def test_an_unknown_kind_names_the_installed_spawners() -> None:
    with pytest.raises(ValueError, match="No spawner named 'kubernetes' is installed. Available: .*docker"):
        SpawnerSettings(kind="kubernetes")


def test_bad_limit_settings_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="cpu_limit must be greater than 0"):
        SpawnerSettings(cpu_limit=0)
    with pytest.raises(ValueError, match="not a size such as '512m'"):
        SpawnerSettings(mem_limit="lots")
    with pytest.raises(ValueError, match="minimum of 6m"):
        SpawnerSettings(mem_limit="100")
    with pytest.raises(ValueError, match="at least 1"):
        SpawnerSettings(pids_limit=0)
    with pytest.raises(ValueError, match="at least 1"):
        SpawnerSettings(max_concurrent_spawns=0)
    with pytest.raises(ValueError, match="must not be negative"):
        SpawnerSettings(retry_after=-1)


def test_changing_kind_or_a_key_after_loading_checks_the_options_again() -> None:
    """``bindery hub --spawner local`` and ``bindery serve`` adjust loaded settings."""
    settings = SpawnerSettings()
    assert isinstance(settings.options, DockerSpawnerOptions)
    settings.kind = "local"
    assert isinstance(settings.options, LocalSpawnerOptions)
    settings.local_command = ["/bin/false"]
    assert settings.options.local_command == ("/bin/false",)
    with pytest.raises(ConfigError, match="local_command.*'docker' spawner"):
        settings.kind = "docker"
    assert settings.kind == "local", "a refused change leaves the settings as they were"
    with pytest.raises(ConfigError, match="stop_grace"):
        settings.stop_grace = "soon"


def test_the_factory_gives_each_spawner_the_current_options_and_context() -> None:
    hub = HubSettings(hub_id="hub-a")
    hub.spawner.kind = "local"
    factory = spawner_factory(hub.spawner, hub.hub_id)
    hub.spawner.local_command = ["jupyter-server"]
    hub.spawner.start_timeout = 7
    spawner = factory(_request())
    assert isinstance(spawner, LocalProcessSpawner)
    assert spawner.options.local_command == ("jupyter-server",)
    assert spawner.context.hub_id == "hub-a" and spawner.context.start_timeout == 7
    assert spawner.context.engine is None


def test_the_composition_root_gives_the_docker_spawner_its_engine_and_default_image(monkeypatch) -> None:
    from bindery.builder import Builder

    built: list[Builder] = []

    def fake_ensure_default_image(self: Builder, on_event: object = None) -> str:
        built.append(self)
        return "bindery-test-missing-default:1"

    monkeypatch.setattr(Builder, "ensure_default_image", fake_ensure_default_image)
    app = Settings()
    app.hub.hub_id = "h"
    app.hub.spawner.mem_limit = "1g"
    engine = DockerEngine()
    spawner = make_spawner_factory(app, engine)(_request())
    assert isinstance(spawner, DockerSpawner)
    assert spawner.options.mem_limit == "1g"
    assert spawner.context.engine is engine and spawner.context.hub_id == "h"
    assert spawner.context.default_image is not None
    assert spawner.context.default_image() == "bindery-test-missing-default:1"
    assert built[0].engine is engine and built[0].settings is app.builder


def test_a_common_key_is_checked_when_changed_too() -> None:
    settings = SpawnerSettings()
    settings.start_timeout = "30"
    assert settings.start_timeout == 30.0
    with pytest.raises(ConfigError, match="max_concurrent_spawns"):
        settings.max_concurrent_spawns = 0
    assert settings.max_concurrent_spawns == 4
