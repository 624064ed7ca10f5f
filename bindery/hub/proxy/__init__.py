"""The hub's side of the proxy: the ``Proxy`` client contract, its REST client, and launching.

The proxy program itself is ``bindery.proxy``; the hub only starts it as a process
and talks to it over its route API, so the two never share code beyond the wire
names in ``bindery.proxy.protocol``.
"""
