"""The hub as an OAuth2 provider (JupyterHub's ``/hub/api/oauth2/*``), for services and servers.

A JupyterHub service built on ``jupyterhub.services.auth.HubOAuth`` and a server run by
``jupyterhub-singleuser`` log browsers in through the hub: they send the browser to
``/hub/api/oauth2/authorize``, get a one-time code back on their redirect URI and trade
it at ``/hub/api/oauth2/token`` (with their client secret, the API token the hub gave
them) for a hub API token of the user. See docs/hub.md.
"""
