"""Configuration: read once, every unknown key an error that names the key and its origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from bindery.composition import Settings, load_settings
from bindery.config import ConfigError, toml_lines


def _load_toml(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "bindery.toml"
    path.write_text(text)
    return load_settings(path, environ={})


@pytest.mark.parametrize(
    ("toml", "key", "line"),
    [
        ("alow_local_repos = true\n", "alow_local_repos", 1),
        ("[builder]\nimage_prefix = 'x'\nbuild_timout = 5\n", "builder.build_timout", 3),
        ("[hub]\nport = 9000\nprot = 9001\n", "hub.prot", 3),
        ("[hub.cull]\ntimeout = 60\nevrey = 5\n", "hub.cull.evrey", 3),
        ("[hub.proxy]\napi_prot = 1\n", "hub.proxy.api_prot", 2),
        ("[binder]\n\nper_repo_qouta = 3\n", "binder.per_repo_qouta", 3),
        ("[engine]\nkind = 'docker'\ndocker_clii = '/x'\n", "engine.docker_clii", 3),
    ],
)
def test_a_typo_in_the_file_names_the_key_file_and_line(tmp_path, toml, key, line) -> None:
    with pytest.raises(ConfigError) as caught:
        _load_toml(tmp_path, toml)
    message = str(caught.value)
    assert key in message
    assert f"bindery.toml, line {line}" in message


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("BINDERY_HUB__PROTO", "hub.proto"),
        ("BINDERY_BUILDER__IMAGE_PREFIXX", "builder.image_prefixx"),
        ("BINDERY_BINDER__BANER", "binder.baner"),
        ("BINDERY_ENGINE__CLII", "engine.clii"),
        ("BINDERY_ALLOW_LOCAL", "allow_local"),
    ],
)
def test_a_typo_in_a_variable_names_the_variable(tmp_path, variable, key) -> None:
    with pytest.raises(ConfigError) as caught:
        _load_env(tmp_path, {variable: "1"})
    message = str(caught.value)
    assert key in message and f"environment variable {variable}" in message


def _load_env(tmp_path: Path, environ: dict[str, str]) -> Settings:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return load_settings(empty, environ=environ)


def test_priority_is_defaults_then_file_then_environment_then_options(tmp_path) -> None:
    path = tmp_path / "bindery.toml"
    path.write_text("[hub]\nport = 9000\nhub_port = 9001\n[binder]\nport = 9100\n")
    settings = load_settings(path, environ={"BINDERY_HUB__HUB_PORT": "9002"},
                             overrides={"binder": {"port": 9200}})
    assert settings.hub.port == 9000  # file over default
    assert settings.hub.hub_port == 9002  # environment over file
    assert settings.binder.port == 9200  # command-line option over everything
    assert settings.hub.slow_spawn_timeout == Settings().hub.slow_spawn_timeout  # default


def test_lists_in_variables_are_json_and_aliases_fill_their_setting(tmp_path) -> None:
    settings = _load_env(tmp_path, {
        "BINDERY_BINDER__BANNED_SPECS": '["^gh/evil/.*"]',
        "BINDERY_DOCKER_CLI": "/opt/docker",
        "BINDERY_HUB_ADMIN_TOKEN": "t" * 32,
        "BINDERY_NEW_PASSWORD": "not a setting: the passwd command's input",
    })
    assert settings.binder.banned_specs == ["^gh/evil/.*"]
    assert settings.engine.options.model_dump() == {"cli": "/opt/docker"}
    assert settings.hub.admin_token == "t" * 32


def test_a_bad_value_says_what_is_wrong_and_where(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load_toml(tmp_path, "[hub]\nport = 'eighty'\n")
    assert "hub.port" in str(caught.value) and "line 2" in str(caught.value)


def test_an_unknown_engine_lists_the_installed_ones(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load_toml(tmp_path, "[engine]\nkind = 'podmn'\n")
    assert "podmn" in str(caught.value) and "docker" in str(caught.value)


def test_bad_toml_and_a_missing_file_are_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load_toml(tmp_path, "[hub\nport = 1\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_the_config_file_is_found_from_the_variable(tmp_path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[hub]\nport = 9555\n")
    assert load_settings(environ={"BINDERY_CONFIG": str(path)}).hub.port == 9555


def test_line_numbers_follow_headers_and_dotted_keys() -> None:
    lines = toml_lines("a = 1\n[hub.spawner]\n# note\nmem_limit = '1g'\nauth.kind = 'x'\n")
    assert lines[("a",)] == 1
    assert lines[("hub", "spawner")] == 2
    assert lines[("hub", "spawner", "mem_limit")] == 4
    assert lines[("hub", "spawner", "auth", "kind")] == 5


def test_settings_are_checked_on_assignment_too() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.hub.port = "not a port"  # type: ignore[assignment]


def test_a_plugin_chosen_by_a_command_sets_the_files_other_plugin_keys_aside(tmp_path) -> None:
    settings = _load_toml(tmp_path, "[hub.auth]\nkind = 'password'\nmin_password_length = 12\n"
                                    "allowed_users = ['ann']\n")
    anonymous = settings.hub.auth.with_kind("anonymous")
    assert anonymous.kind == "anonymous" and anonymous.allowed_users == {"ann"}
    assert "min_password_length" not in (anonymous.model_extra or {})
    # The original is untouched, and a key the new plugin knows is kept.
    assert settings.hub.auth.options.model_dump()["min_password_length"] == 12
    again = anonymous.with_kind("password")
    assert again.options.model_dump()["min_password_length"] != 12  # it was set aside


def test_changing_a_plugin_key_later_is_checked_and_a_bad_change_leaves_no_trace() -> None:
    settings = Settings()
    with pytest.raises(ConfigError, match="unknown key 'mem_limt'"):
        settings.hub.spawner.mem_limt = "1g"
    with pytest.raises(ConfigError, match="mem_limit"):
        settings.hub.spawner.mem_limit = "lots"
    assert settings.hub.spawner.options.model_dump()["mem_limit"] == "2g"


def test_a_repositorys_pin_file_in_the_working_directory_is_not_read_as_settings(tmp_path):
    """``bindery build .`` inside a repository that pins its builder (``[builder] version``,
    docs/environment.md) must not take that file for the deployment's settings."""
    from bindery.config import find_config_file

    pin = tmp_path / "bindery.toml"
    pin.write_text('[builder]\nversion = "0.1"\npython_policy = "exact"\n')
    assert find_config_file(None, {}, tmp_path) is None
    pin.write_text('[builder]\nimage_prefix = "mine"\n')
    assert find_config_file(None, {}, tmp_path) == pin
