"""The events of a launch, as BinderHub's ``/build/<provider>/<spec>`` stream sends them.

Binder clients (the launch page, ``repo2docker-action``, JupyterLab's and VS Code's
binder extensions) read these JSON objects by field name, so the names are
BinderHub's (``phase``, ``message``, ``imageName``, ``binder_ref_url``...) and the
objects are sent exactly as typed here: each type is one phase's fields.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class WaitingEvent(TypedDict):
    """Waiting for a build slot, a running build, or a free place (``position`` in line)."""

    phase: Literal["waiting"]
    message: str
    position: NotRequired[int]


class BuildLogEvent(TypedDict):
    """A line of the build's own log (fetching the repository, building the image)."""

    phase: Literal["fetching", "building"]
    message: str


class BuiltEvent(TypedDict):
    """The image exists (just built, or found in the cache)."""

    phase: Literal["built"]
    imageName: str
    message: str
    #: Bindery's addition, on a cached image: its reproducibility grade line
    #: ("Reproducibility grade: B (...)"); a fresh build says it in its log instead.
    grade: NotRequired[str]


class LaunchingEvent(TypedDict):
    """The server is being started; ``progress`` is the hub's percentage when it gave one."""

    phase: Literal["launching"]
    message: str
    progress: NotRequired[int | None]


class BuiltOnlyEvent(TypedDict):
    """The end of a ``build_only`` request: the image is built and nothing was launched."""

    phase: Literal["ready"]
    imageName: str
    message: str


class ReadyEvent(TypedDict):
    """The end of a launch: where the server is and the token that opens it."""

    phase: Literal["ready"]
    message: str
    url: str
    token: str
    image: str
    repo_url: str
    binder_ref_url: str
    binder_launch_host: str
    binder_request: str
    binder_persistent_request: str
    binder_client_ip: str


class FailedEvent(TypedDict):
    """The end of a failed launch; the message says what a person can do about it."""

    phase: Literal["failed"]
    message: str


#: Any event of the stream.
LaunchEvent = (WaitingEvent | BuildLogEvent | BuiltEvent | LaunchingEvent | BuiltOnlyEvent
               | ReadyEvent | FailedEvent)
#: Events a shared build says to everyone following it.
BuildEvent = WaitingEvent | BuildLogEvent


def is_final(event: LaunchEvent) -> bool:
    """True for the event that ends a stream (``ready`` or ``failed``)."""
    return event["phase"] in ("ready", "failed")
