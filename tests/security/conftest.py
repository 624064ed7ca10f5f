"""The security suite reuses the hub's fixtures: an in-process hub and a real hub process."""

from __future__ import annotations

from hub.conftest import api_hub, hub_env, hub_process  # noqa: F401 - pytest fixtures

