"""The security suite reuses the hub's fixtures (an in-process hub and a real hub process)
and the binder's (a binder app on the real builder with a stand-in hub)."""

from __future__ import annotations

from binder.conftest import binder, binder_settings, fake_hub, serve  # noqa: F401 - pytest fixtures
from hub.conftest import api_hub, hub_env, hub_process  # noqa: F401 - pytest fixtures
