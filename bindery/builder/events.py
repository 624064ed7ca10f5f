"""What a build says while it runs: typed events with BinderHub's field names.

The same events feed the terminal (``bindery build``), JSON logs and the binder's
event stream, so their keys follow BinderHub's build protocol (``phase``,
``message``, ``imageName``) and they stay plain dicts on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NotRequired, TypedDict

#: Phases a build goes through; ``failed`` and ``built`` end it.
BuildPhase = Literal["resolving", "fetching", "building", "built", "failed", "launching", "ready"]


class BuildEvent(TypedDict):
    """One line of build progress."""

    phase: BuildPhase
    message: NotRequired[str]
    #: Set on ``built``: the image that was built or reused.
    imageName: NotRequired[str]
    #: Set on ``built``: True when an existing image was reused without building.
    reused: NotRequired[bool]
    #: Set on ``ready`` (``bindery run``): where the server answers and its token.
    url: NotRequired[str]
    token: NotRequired[str]
    image: NotRequired[str]


EventSink = Callable[[BuildEvent], None]
