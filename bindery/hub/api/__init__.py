"""The hub's REST API under ``/hub/api`` (JupyterHub's paths and shapes)."""
