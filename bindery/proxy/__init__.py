"""The built-in reverse proxy (``bindery proxy``): HTTP + WebSocket, CHP's route API, edge auth.

A standalone program that knows the hub only over HTTP (its route API is driven
by the hub, and edge auth asks a hub URL), so it imports nothing from
``bindery.hub`` or ``bindery.binder`` and could run on a machine of its own.
The hub's side (the ``Proxy`` client contract and the code launching this
program) lives in ``bindery.proxy``.
"""
