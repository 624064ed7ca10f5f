"""Every image carries the Jupyter config that makes JupyterLab know its hub (and skip news)."""

from __future__ import annotations

import json

from traitlets.config.loader import PyFileConfigLoader

from bindery.environment.hub_integration import (
    LAB_OVERRIDES,
    SERVER_CONFIG,
    SERVER_CONFIG_NAME,
)

COPY_LINE = "COPY .bindery/jupyter-config/ /etc/jupyter/"


def test_images_get_the_config_files_in_the_shared_system_layer(plan_for) -> None:
    plan = plan_for({})
    assert plan.context_files[f"jupyter-config/{SERVER_CONFIG_NAME}"] == SERVER_CONFIG.encode()
    overrides = json.loads(plan.context_files["jupyter-config/labconfig/"
                                              "default_setting_overrides.json"])
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    # Right after the Jupyter install, before anything of the repository: the layer is the
    # same for every repository, and changing the files rebuilds no install.
    text = plan.dockerfile
    assert text.index("uv pip install") < text.index(COPY_LINE) < text.index("COPY --chown")
    assert LAB_OVERRIDES.encode() in plan.context_files.values()


def _load(tmp_path, monkeypatch, env: dict[str, str]):
    for name in ("JUPYTERHUB_USER", "JUPYTERHUB_SERVER_NAME", "JUPYTERHUB_HOST",
                 "JUPYTERHUB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / SERVER_CONFIG_NAME).write_text(SERVER_CONFIG)
    return PyFileConfigLoader(SERVER_CONFIG_NAME, path=str(tmp_path)).load_config()


def test_in_a_hub_server_the_config_sets_the_hub_page_config_and_hides_shut_down(
        tmp_path, monkeypatch) -> None:
    config = _load(tmp_path, monkeypatch, {"JUPYTERHUB_USER": "alice",
                                           "JUPYTERHUB_SERVER_NAME": "proj"})
    assert config.ServerApp.quit_button is False
    page = config.ServerApp.tornado_settings["page_config_data"]
    assert page == {"hubPrefix": "/hub/", "hubHost": "", "hubUser": "alice",
                    "hubServerName": "proj"}
    assert type(config.ServerApp.tornado_settings) is dict  # jupyterhub-singleuser needs a dict
    # JupyterLab's Log Out goes to the server's /logout: it sends the browser to the hub's.
    handler = config.PasswordIdentityProvider.logout_handler_class
    assert handler.__name__ == "HubLogoutHandler"
    assert "IdentityProvider" not in config  # jupyterhub-singleuser's own one stays as it is


def test_outside_a_hub_the_config_changes_nothing(tmp_path, monkeypatch) -> None:
    config = _load(tmp_path, monkeypatch, {})
    assert "quit_button" not in config.ServerApp and "tornado_settings" not in config.ServerApp
