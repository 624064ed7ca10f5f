"""The ``bindery hub`` and ``bindery serve`` commands: they load settings and start parts.

Commands sit above the composition root (:mod:`bindery.composition`); the parts they
start (hub, binder, proxy) never import them.
"""
