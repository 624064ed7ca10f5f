"""Source → environment → plan → engine: one repository becomes one image.

The public face of the builder: :class:`Builder` (build or reuse an image),
:class:`BuiltImage` (its result), :class:`BuilderSettings` (its section of the
settings) and the typed :class:`BuildEvent` it reports progress with.
"""

from bindery.builder.build import LABEL, LOCK_PATH, Builder, BuiltImage, host_uv_binary
from bindery.builder.events import BuildEvent, BuildPhase, EventSink
from bindery.builder.settings import BuilderSettings, default_ca_bundle

__all__ = [
    "LABEL",
    "LOCK_PATH",
    "BuildEvent",
    "BuildPhase",
    "Builder",
    "BuilderSettings",
    "BuiltImage",
    "EventSink",
    "default_ca_bundle",
    "host_uv_binary",
]
