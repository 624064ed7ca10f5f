"""Spawners: how users' Jupyter servers are started (the contract is ``base.Spawner``).

Built-ins are registered like third-party ones, under the entry-point group
``bindery.spawners`` (``docker``, ``local``), and found through
:data:`bindery.hub.spawners.base.SPAWNERS`; ``[hub.spawner] kind`` names one.
"""
