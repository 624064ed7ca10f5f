"""Authenticators: who is this person? The contract is :mod:`bindery.hub.auth.base`.

Third parties add an authenticator by declaring an entry point in the group
``bindery.authenticators``; built-ins are registered the same way in Bindery's own
``pyproject.toml``. :data:`~bindery.hub.auth.base.AUTHENTICATORS` finds them all.
"""
