"""Two Jupyter config files every image carries: JupyterLab knows its hub, and no news prompt.

In a server the hub started (``JUPYTERHUB_USER`` is set), the server config gives
JupyterLab the page config JupyterHub's single-user servers give it (``hubPrefix``,
``hubHost``, ``hubUser``, ``hubServerName``), so JupyterLab's built-in hub extension
puts "Hub Control Panel" and a "Log Out" of the hub in the File menu, and turns off
the "Shut Down" entry (the hub stops servers; a user shutting one down from inside
only leaves a dead route). ``jupyterhub-singleuser`` sets the same values itself; the
file matters for servers run by plain ``jupyter lab`` behind the built-in proxy,
which authenticates users at the edge; there it also sends the server's ``/logout``
(where JupyterLab's "Log Out" goes) on to the hub's. Outside a hub (``bindery run``) it
does nothing.

The settings overrides turn off JupyterLab's "fetch news?" prompt, as mybinder.org does.

Both are plain text, identical for every image, so their layer is shared.
"""

from __future__ import annotations

#: ``jupyter_server_config.py`` in a system-wide Jupyter config directory.
SERVER_CONFIG_NAME = "jupyter_server_config.py"
SERVER_CONFIG = """\
# Written by Bindery: in a server started by a hub, JupyterLab shows the hub's menu.
import os

_hub_user = os.environ.get("JUPYTERHUB_USER")
if _hub_user:
    _app = c.ServerApp  # noqa: F821 - `c` is the config being loaded
    _app.quit_button = False
    # A plain dict (never a lazy value: jupyterhub-singleuser reads this setting as one).
    _settings = dict(_app.tornado_settings) if "tornado_settings" in _app else {}
    _settings["page_config_data"] = {
        **_settings.get("page_config_data", {}),
        "hubPrefix": os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/",
        "hubHost": os.environ.get("JUPYTERHUB_HOST", ""),
        "hubUser": _hub_user,
        "hubServerName": os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
    }
    _app.tornado_settings = _settings

    # JupyterLab's "Log Out" opens the server's own /logout; send that on to the hub's, as
    # jupyterhub-singleuser's handler does (it configures its own identity provider, which
    # this setting of the plain token-based one leaves alone).
    from jupyter_server.auth.logout import LogoutHandler

    class HubLogoutHandler(LogoutHandler):
        def get(self):
            self.redirect(os.environ.get("JUPYTERHUB_HOST", "")
                          + _settings["page_config_data"]["hubPrefix"] + "logout")

    try:
        from jupyter_server.auth.decorator import allow_unauthenticated
        HubLogoutHandler.get = allow_unauthenticated(HubLogoutHandler.get)
    except ImportError:  # jupyter_server before 2.13
        pass
    c.PasswordIdentityProvider.logout_handler_class = HubLogoutHandler  # noqa: F821
"""

#: ``labconfig/default_setting_overrides.json`` in a Jupyter config directory.
LAB_OVERRIDES_NAME = "default_setting_overrides.json"
LAB_OVERRIDES = """\
{
  "@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false"
  }
}
"""

#: Where images keep them: the system-wide Jupyter config directory, which every
#: Jupyter server reads whatever Python environment it runs from.
IMAGE_CONFIG_DIR = "/etc/jupyter"


def config_files() -> dict[str, str]:
    """The files, by path relative to a Jupyter config directory."""
    return {SERVER_CONFIG_NAME: SERVER_CONFIG, f"labconfig/{LAB_OVERRIDES_NAME}": LAB_OVERRIDES}
